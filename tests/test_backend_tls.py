"""TLS to Redis from configuration alone: a real redis-server with TLS only, certificates made in the
test, and the executor's dedup table and the trigger's idempotency store talking to it over rediss://."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from devtools.embedded import free_port, wait_for_port
from executor_service.dedup import DedupTable, Entry
from shared.redis_client import make_redis
from tests.support.certs import CertAuthority
from trigger_service.idempotency import IdempotencyStore


@pytest.fixture
def tls_redis(tmp_path) -> Iterator[tuple[str, str]]:
    """(rediss:// URL with the CA, plaintext URL that must be refused) of a TLS-only redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on this machine")
    ca = CertAuthority("test-redis-ca")
    ca_file = ca.write(tmp_path)
    cert, key = ca.issue("127.0.0.1", ips=("127.0.0.1",), dns=("localhost",), server=True).write(
        tmp_path, "redis"
    )
    port = free_port()
    args = [binary, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert)]
    args += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, 10, proc)
        yield (
            f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca_file}&ssl_cert_reqs=required",
            f"redis://127.0.0.1:{port}/0",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dedup_and_idempotency_work_over_rediss(tls_redis):
    url, _ = tls_redis
    client = make_redis(url, timeout_s=2.0)
    assert client.ping()
    table = DedupTable(client, worker="w", lease_s=30, ttl_s=60)
    assert table.claim(["k1"]) == {"k1": None}
    table.mark_sent_many([("k1", "job-1", {"body": "hi"})])
    assert DedupTable(client, worker="w2", lease_s=30, ttl_s=60).claim(["k1"]) == {
        "k1": Entry("sent", "job-1", outputs={"body": "hi"})
    }
    store = IdempotencyStore(client, lease_ms=5000, accepted_ttl_s=60)
    assert store.claim_many({"key": "job-1"}) == {"key": None}


def test_a_plaintext_client_cannot_talk_to_the_tls_port(tls_redis):
    _, plaintext = tls_redis
    client = redis.Redis.from_url(plaintext, socket_timeout=1, socket_connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(redis.RedisError):
        client.ping()
    assert time.monotonic() - started < 10


def test_a_server_certificate_from_another_ca_is_refused(tls_redis, tmp_path):
    url, _ = tls_redis
    other = CertAuthority("someone-else").write(tmp_path, "other-ca")
    wrong = url.split("?")[0] + f"?ssl_ca_certs={other}&ssl_cert_reqs=required"
    with pytest.raises(redis.RedisError):
        redis.Redis.from_url(wrong, socket_timeout=2, socket_connect_timeout=2).ping()
