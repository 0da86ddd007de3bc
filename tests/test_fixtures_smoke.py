"""Smoke tests proving the shared fixtures and devtools.embedded work against real backends."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
import redis
from confluent_kafka import Producer
from sqlalchemy import create_engine, text

from devtools.embedded import redis_answers, start_tansu, start_valkey


def _port_answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_produce_and_read_back_keyed_message(kafka_bootstrap, kafka_topic, read_topic):
    topic = kafka_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=b"booking-1", value=b'{"n": 1}', headers=[("kind", b"smoke")])
    assert producer.flush(10) == 0

    [msg] = read_topic(topic, 1)
    assert (msg.key(), msg.value(), msg.headers()) == (b"booking-1", b'{"n": 1}', [("kind", b"smoke")])


def test_group_id_format(group_id):
    assert group_id.startswith("test-group-") and len(group_id) == len("test-group-") + 10


def test_redis_ping_set_get(redis_db_url):
    with redis.Redis.from_url(redis_db_url) as client:
        assert client.ping()
        assert client.dbsize() == 0
        client.set("smoke", "value")
        assert client.get("smoke") == b"value"


def test_database_url_connects(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()


def _post(url: str, payload: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_http_receiver_script_and_recording(http_receiver):
    http_receiver.respond_with([500, 500, 200])
    statuses = [_post(http_receiver.url, {"attempt": i}) for i in range(4)]
    assert statuses == [500, 500, 200, 200]

    received = http_receiver.wait_for(4, timeout_s=5)
    assert [r.body for r in received] == [{"attempt": i} for i in range(4)]
    assert [r.status for r in received] == statuses
    assert received[0].path == "/hook"
    assert received[0].headers["content-type"] == "application/json"


def test_http_receiver_wait_for_times_out(http_receiver):
    with pytest.raises(AssertionError, match="expected at least 1 POST"):
        http_receiver.wait_for(1, timeout_s=0.2)


def test_start_valkey_and_stop(tmp_path):
    server = start_valkey(log_path=tmp_path / "valkey.log", dir=tmp_path)
    try:
        assert server.address.startswith("redis://127.0.0.1:")
        assert redis_answers(server.address)
    finally:
        server.stop()
    assert not redis_answers(server.address)
    server.stop()  # idempotent


def test_start_tansu_and_kill(tmp_path):
    broker = start_tansu(log_path=tmp_path / "tansu.log")
    try:
        assert _port_answers(broker.address)
        broker.kill()
        assert broker.proc.returncode is not None
        assert not _port_answers(broker.address)
    finally:
        broker.stop()


def test_start_tansu_stops_promptly_with_connected_client(tmp_path):
    broker = start_tansu(log_path=tmp_path / "tansu.log")
    producer = Producer({"bootstrap.servers": broker.address})
    producer.produce("smoke", b"v")
    assert producer.flush(10) == 0
    started = time.monotonic()
    broker.stop(timeout_s=5)
    assert broker.proc.returncode == 0  # graceful, not the SIGKILL fallback
    assert time.monotonic() - started < 2
