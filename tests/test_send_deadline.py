"""A channel's timeout caps the whole send (executor_service/send_deadline.py), against real sockets: a
receiver that drips its answer a byte at a time, each byte well within the socket timeout, no longer holds
a send (and the batch and the bookings behind it) for minutes; and a webhook's 3xx is never followed."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from executor_service.automations import Contact, RenderedMessage
from executor_service.channels import WebhookChannel
from executor_service.mail import EmailChannel
from executor_service.send_deadline import Watchdog
from executor_service.sms import SmsChannel
from shared.errors import ChannelError
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import running_executor, running_trigger, wait_rows, wait_until
from tests.support.sample import sample_request

TIMEOUT_S = 1.0
DRIP_EVERY_S = 0.3  # well within the socket timeout: only a cap on the whole send ends it
MESSAGE = RenderedMessage(
    automation_type="bookingConfirmation",
    recipient="client",
    to=Contact(phone="+14155550123", email="ana.lopez@example.com"),
    subject="Your booking is confirmed",
    body="Hi Ana, your Drop-in visit for Rex is confirmed.",
)


@pytest.fixture
def drip_server() -> Iterator[Callable[..., int]]:
    """``start(answer, speak_first=False, at_once=b"") -> port``: a TCP server that, per connection, reads
    the request (unless it speaks first, like an SMTP greeting), sends ``at_once``, then ``answer`` one
    byte every DRIP_EVERY_S."""
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(answer: bytes, *, speak_first: bool = False, at_once: bytes = b"") -> int:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def drip(conn: socket.socket) -> None:
            with conn, contextlib.suppress(OSError):
                if not speak_first:
                    conn.recv(65536)
                conn.sendall(at_once)
                for i in range(len(answer)):
                    if stop.wait(DRIP_EVERY_S):
                        return
                    conn.sendall(answer[i : i + 1])

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:  # closed at teardown
                    return
                threading.Thread(target=drip, args=(conn,), daemon=True).start()

        threading.Thread(target=serve, name="drip-server", daemon=True).start()
        return server.getsockname()[1]

    yield start
    stop.set()
    for server in servers:
        server.close()


def timed(send: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result: object = send()
    except ChannelError as exc:
        result = exc
    return time.monotonic() - started, result


def webhook(port: int) -> WebhookChannel:
    return WebhookChannel(f"http://u:secret@127.0.0.1:{port}/hook", timeout_s=TIMEOUT_S)


def send(channel: WebhookChannel | SmsChannel | EmailChannel) -> object:
    return channel.send(MESSAGE, job_id="job-1", idempotency_key="k-1")


def assert_cut_at_the_deadline(took_s: float, result: object, service: str) -> None:
    assert isinstance(result, ChannelError), result
    assert (result.retryable, result.error_class) == (True, "timeout")
    assert str(result) == f"{service} did not finish within 1 s"
    assert TIMEOUT_S <= took_s < TIMEOUT_S + 0.6, f"took {took_s:.2f} s"


def test_a_webhook_dripping_its_status_line_is_cut_at_the_timeout(drip_server) -> None:
    port = drip_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # ~11 s at this pace
    took_s, result = timed(lambda: send(webhook(port)))
    assert_cut_at_the_deadline(took_s, result, "webhook")


def test_a_webhook_that_answered_200_then_drips_its_body_succeeded_at_the_timeout(drip_server) -> None:
    """The status is the answer: the receiver took the message; a body still dripping is cut, not
    retried (a retry would send the message again)."""
    port = drip_server(b"x" * 40, at_once=b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
    took_s, result = timed(lambda: send(webhook(port)))
    assert result == {"channel": "webhook", "http_status": 200}
    assert TIMEOUT_S <= took_s < TIMEOUT_S + 0.6, f"took {took_s:.2f} s"


@pytest.fixture
def redirecting_server() -> Iterator[tuple[str, list[str]]]:
    """``(url, seen)``: a POST is answered 302 to another path of the same server; ``seen`` lists every
    request as ``"METHOD path"``."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            seen.append(f"POST {self.path}")
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{server.server_port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            seen.append(f"GET {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://u:secret@127.0.0.1:{server.server_port}/hook", seen
    server.shutdown()
    server.server_close()


def test_a_webhook_redirect_is_a_permanent_failure_and_never_followed(redirecting_server) -> None:
    """urllib would follow a 302 as a GET without the body, to wherever Location says, with the
    Authorization header, and report success: nothing was delivered and the credentials went elsewhere."""
    url, seen = redirecting_server
    with pytest.raises(ChannelError) as failed:
        send(WebhookChannel(url, timeout_s=TIMEOUT_S))
    assert (failed.value.retryable, failed.value.error_class) == (False, "http_3xx")
    assert seen == ["POST /hook"]


def test_an_sms_api_dripping_its_answer_is_cut_at_the_timeout(drip_server) -> None:
    port = drip_server(b'HTTP/1.1 201 Created\r\nContent-Length: 15\r\n\r\n{"sid": "SM1"}\n')
    channel = SmsChannel(f"http://127.0.0.1:{port}", "AC1", SecretStr("token"), "+14155550100", TIMEOUT_S)
    took_s, result = timed(lambda: send(channel))
    assert_cut_at_the_deadline(took_s, result, "sms API")


def test_an_smtp_server_dripping_its_greeting_is_cut_at_the_timeout(drip_server) -> None:
    port = drip_server(b"220 tarpit.example ESMTP at your service\r\n", speak_first=True)
    channel = EmailChannel("127.0.0.1", port, "bookings@example.com", timeout_s=TIMEOUT_S)
    took_s, result = timed(lambda: send(channel))
    assert_cut_at_the_deadline(took_s, result, "SMTP server")


def test_the_watchdog_cuts_only_a_send_still_running_at_its_deadline() -> None:
    watchdog = Watchdog()
    left, right = socket.socketpair()
    with left, right:
        with watchdog.deadline(0.3) as cut:
            cut.watch(lambda: left)
            started = time.monotonic()
            assert left.recv(1) == b""  # blocked until the watchdog shut the socket down
            took_s = time.monotonic() - started
        assert cut.fired and 0.3 <= took_s < 0.7
    left, right = socket.socketpair()
    with left, right:
        with watchdog.deadline(0.2) as kept:
            kept.watch(lambda: left)
        time.sleep(0.5)  # well past its deadline: finished in time, so never cut
        assert not kept.fired
        right.sendall(b"still open")
        assert left.recv(64) == b"still open"


@pytest.fixture
def tarpit_for_one_booking() -> Iterator[tuple[str, list[tuple[str, float]], threading.Event]]:
    """``(url, delivered, slow_arrived)``: a webhook receiver that answers 200 at once, except to booking
    ``b-slow``, whose answer it drips a byte every DRIP_EVERY_S (about 11 s in all); ``delivered`` lists
    each answered booking id with the time of its answer."""
    delivered: list[tuple[str, float]] = []
    stop, slow_arrived = threading.Event(), threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            key = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["idempotency_key"]
            booking = key.split(":")[2]
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            if booking == "b-slow":
                slow_arrived.set()
                for i in range(len(answer)):
                    if stop.wait(DRIP_EVERY_S):
                        return
                    with contextlib.suppress(OSError):
                        self.wfile.write(answer[i : i + 1])
                        self.wfile.flush()
                return
            self.wfile.write(answer)
            delivered.append((booking, time.monotonic()))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", delivered, slow_arrived
    stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_tarpit_receiver_holds_the_pipeline_no_longer_than_the_timeout(settings, tarpit_for_one_booking):
    """End to end: one booking's receiver trickles its answer; the send is cut at the webhook timeout
    (retried later as ``timeout``), and another booking's job enqueued behind it is delivered within
    that time, not after the ~11 s the trickle would last."""
    url, delivered, slow_arrived = tarpit_for_one_booking
    settings = settings.model_copy(update={"webhook_url": SecretStr(url), "webhook_timeout_s": TIMEOUT_S})
    with running_trigger(settings) as (stub, _), running_executor(settings):
        stub.EnqueueAutomation(sample_request("b-slow", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION), timeout=10)
        assert slow_arrived.wait(15), "the slow booking's send reached the receiver"
        enqueued = time.monotonic()
        stub.EnqueueAutomation(sample_request("b-fast", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION), timeout=10)
        wait_until(lambda: any(b == "b-fast" for b, _ in delivered), 15, 0.02, "the other booking delivered")
        [(_, at)] = [d for d in delivered if d[0] == "b-fast"]
        assert at - enqueued < TIMEOUT_S + 1.0, f"delivered {at - enqueued:.2f} s after its call"
        [cut] = wait_rows(settings.sqlalchemy_url, 1, status="retry_scheduled")
    assert cut.booking_id == "b-slow" and cut.error_class == "timeout"
