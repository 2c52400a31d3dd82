"""Push over OTLP/HTTP JSON, against a real receiver on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from logtrace.errors import DeliveryError, UsageError
from logtrace.export.push import PushSummary, push, rejected_spans, retry_after_s
from tests.fixtures.export.traces import INFO, realistic_batch
from tests.fixtures.export.validators import validate_otlp

BATCHES = (realistic_batch(), realistic_batch(("abc", "7")))  # 40 spans
FAST = {"backoff_s": 0.001, "max_backoff_s": 0.01, "timeout_s": 5.0}  # seconds


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """An OTLP/HTTP receiver: decodes each body with opentelemetry-proto, records spans."""

    url: str
    script: list[Answer] = field(default_factory=list)  # answers for the first requests
    requests: list[dict[str, str]] = field(default_factory=list)  # headers of each request
    spans: list[bytes] = field(default_factory=list)  # span ids of accepted requests
    lock: threading.Lock = field(default_factory=threading.Lock)


def _push(url: str, **options: Any) -> PushSummary:
    """``push`` of the test batches, with tiny waits unless the test says otherwise."""
    return push(BATCHES, url, info=INFO, **{**FAST, **options})


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real collectors do

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            message = validate_otlp(json.loads(body), whole_traces=False)
            ids = [
                s.span_id
                for rs in message.resource_spans
                for ss in rs.scope_spans
                for s in ss.spans
            ]
            with receiver.lock:
                receiver.requests.append(dict(self.headers))
                answer = receiver.script.pop(0) if receiver.script else Answer()
                if answer.status == 200:
                    receiver.spans.extend(ids)
            self.send_response(answer.status)
            for key, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver("")))
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_every_span_is_delivered_in_batches(receiver: Receiver) -> None:
    summary = _push(receiver.url, batch_spans=16)
    assert summary.delivered and summary.error() is None
    assert (summary.spans, summary.accepted, summary.traces) == (40, 40, 5)
    assert summary.requests == len(receiver.requests) == 3  # 16 + 16 + 8
    assert len(set(receiver.spans)) == 40
    headers = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "logtrace/0.1.0"
    assert summary.endpoint == receiver.url + "/v1/traces"


def test_traces_stay_whole_unless_one_is_bigger_than_a_request(receiver: Receiver) -> None:
    summary = _push(receiver.url, batch_spans=12)
    assert summary.delivered
    assert summary.requests == 5  # one 8-span trace per request
    split = _push(receiver.url, batch_spans=5)
    assert split.delivered
    assert split.requests == 10  # each trace as 5 + 3
    assert len(set(receiver.spans)) == 40


def test_gzip_and_extra_headers_are_sent(receiver: Receiver) -> None:
    summary = _push(receiver.url + "/v1/traces", gzip=True, headers={"X-Scope-OrgID": "t1"})
    assert summary.delivered
    assert receiver.requests[0]["Content-Encoding"] == "gzip"
    assert receiver.requests[0]["X-Scope-OrgID"] == "t1"
    assert summary.bytes_sent < 40 * 500


@pytest.mark.parametrize(
    "retry_after", ["0", format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)]
)
def test_a_busy_receiver_gets_everything_after_retries(
    receiver: Receiver, retry_after: str
) -> None:
    receiver.script = [
        Answer(503, b'{"code":14,"message":"busy"}', {"Retry-After": retry_after}),
        Answer(429),
        Answer(502),
    ]
    summary = _push(receiver.url, batch_spans=20)
    assert summary.delivered
    assert (summary.accepted, summary.retries, summary.requests) == (40, 3, 6)
    assert len(set(receiver.spans)) == 40


def test_bad_data_is_not_retried_and_is_reported(receiver: Receiver) -> None:
    receiver.script = [Answer(400, b'{"code":3,"message":"invalid span: \\"x\\""}')]
    summary = _push(receiver.url, batch_spans=20)
    assert (summary.accepted, summary.failed, summary.retries, summary.requests) == (24, 16, 0, 3)
    assert summary.reasons == {'HTTP 400 Bad Request: invalid span: "x"': 16}
    error = summary.error()
    assert isinstance(error, DeliveryError)
    assert "16 of 40 spans were not delivered" in error.message


def test_partial_success_rejections_are_counted(receiver: Receiver) -> None:
    body = json.dumps({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "too old"}})
    receiver.script = [Answer(200, body.encode())]
    summary = _push(receiver.url)
    assert (summary.accepted, summary.rejected, summary.failed) == (37, 3, 0)
    assert summary.reasons == {"rejected by the receiver: too old": 3}
    assert not summary.delivered


def test_retries_give_up_after_max_retries(receiver: Receiver) -> None:
    receiver.script = [Answer(503)] * 3
    summary = _push(receiver.url, max_retries=2)
    assert (summary.failed, summary.requests, summary.retries) == (40, 3, 2)
    assert list(summary.reasons) == ["HTTP 503 Service Unavailable (after 2 retries)"]


def test_a_receiver_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:  # listens, never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        summary = _push(url, max_retries=1, backoff_s=0.001, timeout_s=0.2)
    assert (summary.failed, summary.requests) == (40, 2)
    assert list(summary.reasons) == ["no answer within 0.2 s (after 1 retry)"]


def test_a_closed_port_is_a_connection_failure() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    summary = _push(f"http://127.0.0.1:{port}", max_retries=1)
    assert summary.failed == 40
    assert next(iter(summary.reasons)).startswith("connection failed: ")


def test_a_bad_endpoint_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        _push("localhost:4318")
    with pytest.raises(UsageError):
        _push("http://localhost:4318", batch_spans=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("7", 7.0),
        ("3600", 60.0),  # capped
        ("soon", None),
        (format_datetime(datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC), usegmt=True), 30.0),
        (format_datetime(datetime(2024, 1, 1, tzinfo=UTC), usegmt=True), 0.0),
    ],
)
def test_retry_after_takes_seconds_or_a_date(value: str | None, expected: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after_s(value, cap_s=60.0, now=now) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", (0, "")),
        (b"{}", (0, "")),
        (b'{"partialSuccess":{}}', (0, "")),
        (b'{"partialSuccess":{"rejectedSpans":2,"errorMessage":"x"}}', (2, "x")),
        (b"<html>ok</html>", (0, "")),
    ],
)
def test_partial_success_is_read_leniently(body: bytes, expected: tuple[int, str]) -> None:
    assert rejected_spans(body) == expected


def test_nothing_is_left_running() -> None:
    assert [t.name for t in threading.enumerate() if t is not threading.main_thread()] == []
