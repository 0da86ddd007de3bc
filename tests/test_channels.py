"""Channels against real endpoints: a real HTTP server, closed ports, a silent server, a file outbox."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from executor_service.automations import Contact, RenderedMessage
from executor_service.channel_registry import ChannelRegistry
from executor_service.channels import LogChannel, NullChannel, WebhookChannel
from executor_service.mail import EmailChannel
from executor_service.sms import SmsChannel
from shared.automation_settings import Senders
from shared.config import Settings
from shared.errors import ChannelError, SettingsError
from tests.support.http_receiver import HttpReceiver

PHONE = "+14155550123"
EMAIL = "ana.lopez@example.com"
JOB_ID = "job-0001"
IDEMPOTENCY_KEY = "bookingConfirmation:client:bk-1:1"

MESSAGE = RenderedMessage(
    automation_type="bookingConfirmation",
    recipient="client",
    to=Contact(phone=PHONE, email=EMAIL),
    subject="Your booking is confirmed",
    body="Hi Ana, your Drop-in visit for Rex is confirmed.",
)
# What both channels write for MESSAGE: the message plus the job's ids (spelled out, not derived).
EXPECTED_PAYLOAD = {
    "job_id": JOB_ID,
    "idempotency_key": IDEMPOTENCY_KEY,
    "automation_type": "bookingConfirmation",
    "recipient": "client",
    "to": {"phone": PHONE, "email": EMAIL},
    "subject": "Your booking is confirmed",
    "body": "Hi Ana, your Drop-in visit for Rex is confirmed.",
}


def send(channel, message: RenderedMessage = MESSAGE) -> dict:
    return channel.send(message, job_id=JOB_ID, idempotency_key=IDEMPOTENCY_KEY)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """``start(handle) -> url``: a raw TCP server calling ``handle(conn)`` for each connection in a thread.

    Connections stay open until the handler closes them or the test ends.
    """
    servers: list[socket.socket] = []
    conns: list[socket.socket] = []
    stop = threading.Event()

    def start(handle: Callable[[socket.socket], None]) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.05)
        servers.append(server)

        def loop() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conns.append(conn)
                handle(conn)

        threading.Thread(target=loop, name="raw-server", daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/hook"

    yield start
    stop.set()
    for sock in conns + servers:
        sock.close()


# --- WebhookChannel -------------------------------------------------------------------------------


def test_webhook_200_posts_the_message(http_receiver: HttpReceiver) -> None:
    result = send(WebhookChannel(http_receiver.url, timeout_s=2))
    assert result == {"channel": "webhook", "http_status": 200}
    [request] = http_receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["idempotency-key"] == IDEMPOTENCY_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.body == EXPECTED_PAYLOAD


def test_webhook_url_credentials_go_as_basic_auth_not_into_the_host(http_receiver: HttpReceiver) -> None:
    # http://user:password@host/path, as curl and browsers take it; the password may be percent-encoded
    url = http_receiver.url.replace("http://", "http://hook%40user:p%3Ass%2Fword@") + "?sig=abc"
    result = send(WebhookChannel(url, timeout_s=2))
    assert result == {"channel": "webhook", "http_status": 200}
    (request,) = http_receiver.wait_for(1)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"hook@user:p:ss/word").decode()
    assert request.path == "/hook?sig=abc"


@pytest.mark.parametrize("status", [201, 202, 204])
def test_webhook_other_2xx_succeed(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.respond_with([status])
    assert send(WebhookChannel(http_receiver.url, timeout_s=2)) == {
        "channel": "webhook",
        "http_status": status,
    }
    assert len(http_receiver.wait_for(1)) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_webhook_server_errors_and_429_are_retryable(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.respond_with([status])
    with pytest.raises(ChannelError, match=f"HTTP {status}") as excinfo:
        send(WebhookChannel(http_receiver.url, timeout_s=2))
    assert excinfo.value.retryable is True
    assert len(http_receiver.requests) == 1, "the channel itself does not retry"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_webhook_client_errors_are_permanent(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.respond_with([status])
    with pytest.raises(ChannelError, match=f"HTTP {status}") as excinfo:
        send(WebhookChannel(http_receiver.url, timeout_s=2))
    assert excinfo.value.retryable is False
    assert len(http_receiver.requests) == 1


def test_webhook_unreachable_port_is_retryable() -> None:
    channel = WebhookChannel(f"http://127.0.0.1:{closed_port()}/hook", timeout_s=1)
    with pytest.raises(ChannelError, match="unreachable") as excinfo:
        send(channel)
    assert excinfo.value.retryable is True


def test_webhook_silent_server_times_out_retryable(raw_server) -> None:
    received = threading.Event()

    def hold(conn: socket.socket) -> None:  # read the request, never answer, keep the connection open
        conn.recv(65536)
        received.set()

    url = raw_server(hold)
    started = time.monotonic()
    with pytest.raises(ChannelError) as excinfo:
        send(WebhookChannel(url, timeout_s=0.3))
    elapsed = time.monotonic() - started
    assert excinfo.value.retryable is True
    assert received.is_set(), "the request reached the server"
    assert 0.25 <= elapsed < 1.0


def test_webhook_connection_closed_without_answer_is_retryable(raw_server) -> None:
    def hang_up(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.close()

    with pytest.raises(ChannelError) as excinfo:
        send(WebhookChannel(raw_server(hang_up), timeout_s=1))
    assert excinfo.value.retryable is True


def test_webhook_non_http_answer_is_a_retryable_channel_error(raw_server) -> None:
    def babble(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"garbage\r\n\r\n")
        conn.close()

    with pytest.raises(ChannelError) as excinfo:
        send(WebhookChannel(raw_server(babble), timeout_s=1))
    assert excinfo.value.retryable is True


# --- LogChannel -----------------------------------------------------------------------------------


def test_log_channel_appends_one_json_line_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "nested" / "outbox.jsonl"  # the folder is created on first send
    channel = LogChannel(outbox)
    second = RenderedMessage(
        "ownerNewBookingAlert", "owner", Contact(phone="+14155559876"), "New booking", "Body"
    )
    assert send(channel) == {"channel": "log", "outbox": str(outbox)}
    channel.send(second, job_id="job-0002", idempotency_key="k2")
    lines = outbox.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, other = (json.loads(line) for line in lines)
    assert first == EXPECTED_PAYLOAD
    assert other["job_id"] == "job-0002" and other["to"] == {"phone": "+14155559876", "email": ""}


def test_log_channel_logs_masked_contacts_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="executor_service.channels")
    send(LogChannel(tmp_path / "outbox.jsonl"))
    [record] = [r for r in caplog.records if r.name == "executor_service.channels"]
    assert record.getMessage() == "message sent"
    assert record.job_id == JOB_ID
    assert record.to_phone == "+1********23"
    assert record.to_email == "a***@example.com"
    everything = json.dumps(record.__dict__, default=str)
    assert PHONE not in everything and "4155550123" not in everything
    assert EMAIL not in everything and "ana.lopez" not in everything


def test_log_channel_unwritable_outbox_is_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the outbox folder should be")
    with pytest.raises(ChannelError, match="outbox write failed") as excinfo:
        send(LogChannel(blocker / "outbox.jsonl"))
    assert excinfo.value.retryable is True


# --- the registry ---------------------------------------------------------------------------------


def registry(tmp_path: Path, **overrides) -> ChannelRegistry:
    settings = Settings(var_dir=tmp_path, **overrides)
    return ChannelRegistry(settings, Senders(sms_from="+14155550100", email_from="hi@example.com"))


@pytest.mark.parametrize("url", [None, ""])
def test_registry_webhook_needs_a_url(tmp_path: Path, url: str | None) -> None:
    with pytest.raises(SettingsError, match="AUTOMATION_WEBHOOK_URL"):
        registry(tmp_path, webhook_url=url).get("webhook")


def test_registry_sms_needs_an_account(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AUTOMATION_SMS_ACCOUNT_SID"):
        registry(tmp_path).get("sms")


def test_registry_builds_each_channel_once(tmp_path: Path) -> None:
    channels = registry(
        tmp_path,
        webhook_url="http://x/h",
        sms_account_sid="AC1",
        sms_auth_token=SecretStr("t"),
        smtp_host="127.0.0.1",
        default_channel="null",
    )
    expected = {"webhook": WebhookChannel, "log": LogChannel, "null": NullChannel, "sms": SmsChannel}
    expected["email"] = EmailChannel
    for name, kind in expected.items():
        channel = channels.get(name)
        assert isinstance(channel, kind) and channel.name == name
        assert channels.get(name) is channel
    assert channels.get("default") is channels.get("null")
    with pytest.raises(SettingsError, match="unknown channel"):
        channels.get("pigeon")
