"""Push traces to an OpenTelemetry receiver: OTLP over HTTP with JSON bodies.

Collectors, Tempo and Jaeger (v2) take it on ``:4318/v1/traces``. An endpoint without a
path (``http://localhost:4318``) gets ``/v1/traces``, as the OTel SDKs do; one with a path
is used as given. Standard library only (``http.client``): JSON is OTLP/HTTP's other
encoding, so no protobuf runtime is needed.

How it behaves (OTLP/HTTP spec, "Failures" and "Throttling"):

* spans are sent in requests of at most ``batch_spans`` spans (a trace may straddle two);
* 429, 502, 503 and 504 and connection errors (refused, reset, timed out: a receiver that
  got the body but answered too late may then store those spans twice) are retried up
  to ``max_retries`` times, waiting ``Retry-After`` when the receiver sends it (seconds or
  an HTTP date, capped at ``max_retry_after_s``), else an exponential backoff from
  ``backoff_s`` with jitter (x0.5 to x1.5), capped at ``max_backoff_s``;
* any other status (400 bad data, 401, 404, 413, 500...) is final: the request's spans
  are counted as failed with the reason, never retried;
* a 2xx answer may carry ``partialSuccess`` (``rejectedSpans``, ``errorMessage``): those
  spans count as rejected.

The result says what was sent, accepted, rejected and failed, with reasons; the caller
decides what to do (:meth:`PushSummary.error` gives the ``DeliveryError`` to raise).
"""

from __future__ import annotations

import gzip as gzip_lib
import http.client
import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import polars as pl

from logtrace.errors import DeliveryError, UsageError
from logtrace.export.batch import ExportInfo, TraceBatch
from logtrace.export.ids import Tally, Warnings, parts, prepare
from logtrace.export.model import model
from logtrace.export.otlp import DOCUMENT, otlp_spans, resource_spans
from logtrace.plural import plural

RETRYABLE = frozenset({429, 502, 503, 504})
DEFAULT_PATH = "/v1/traces"
_REASON_CHARS = 300


@dataclass(frozen=True)
class PushSummary:
    """What a push delivered. ``accepted + rejected + failed == spans``."""

    endpoint: str
    traces: int
    spans: int
    accepted: int
    rejected: int  # refused by the receiver in a partialSuccess answer
    failed: int  # in requests that never succeeded
    requests: int  # HTTP requests made, retries included
    retries: int
    bytes_sent: int
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> spans it cost
    warnings: tuple[str, ...] = ()  # what was fixed on the way (see ExportSummary)

    @property
    def delivered(self) -> bool:
        """Every span was accepted."""
        return self.rejected == 0 and self.failed == 0

    def error(self) -> DeliveryError | None:
        """The error to raise when anything was not delivered, else None."""
        if self.delivered:
            return None
        lost = self.rejected + self.failed
        reasons = "; ".join(f"{r} ({plural(n, 'span')})" for r, n in self.reasons.items())
        return DeliveryError(
            f"{lost:,} of {plural(self.spans, 'span')} {'was' if lost == 1 else 'were'} not "
            f"delivered to {self.endpoint}: {reasons}",
            "check the receiver's logs; retry later, or send fewer spans per request "
            "(batch size) if it refused large bodies",
        )


@dataclass(frozen=True)
class Chunk:
    """One OTLP request body's worth of spans (for push)."""

    body: bytes  # an ExportTraceServiceRequest as JSON (UTF-8)
    spans: int


def chunks(
    batches: Iterable[TraceBatch],
    info: ExportInfo,
    max_spans: int,
    warnings: Warnings,
    tally: Tally,
) -> Iterator[Chunk]:
    """``ExportTraceServiceRequest`` bodies of at most ``max_spans`` spans each.

    Whole traces are kept together (tail-sampling collectors want them whole); only a
    trace bigger than ``max_spans`` is split, which OTLP allows (receivers join spans by
    trace id).
    """
    pending = pl.DataFrame(
        schema={"trace_id": pl.String, "service": pl.String, "host": pl.String, "json": pl.String}
    )
    for batch in parts(batches):
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        spans = otlp_spans(model(prepared)).with_row_index("_row")
        # Spans of one trace side by side, traces in order of first appearance.
        row = pl.col("_row")
        spans = spans.sort(row.min().over("trace_id"), row).drop("_row")
        pending = pl.concat([pending, spans])
        while pending.height >= max_spans:
            head, pending = _take(pending, max_spans)
            yield _chunk(head, info)
    while pending.height:
        head, pending = _take(pending, max_spans)
        yield _chunk(head, info)


def _take(pending: pl.DataFrame, max_spans: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The longest run of whole traces that fits in ``max_spans`` (or ``max_spans`` spans
    of a trace too big to fit), and the rest."""
    ends = pending.group_by("trace_id", maintain_order=True).len()["len"].cum_sum()
    fitting = ends.filter(ends <= max_spans)
    n = int(fitting[-1]) if len(fitting) else max_spans
    return pending.head(n), pending.slice(n)


def _chunk(spans: pl.DataFrame, info: ExportInfo) -> Chunk:
    body = resource_spans(spans, info).join(DOCUMENT)
    return Chunk(body, spans.height)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{host}{port}{self.path}"


def _target(endpoint: str) -> _Target:
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UsageError(
            f"not an OTLP/HTTP endpoint: {endpoint!r}",
            "give a URL such as http://localhost:4318 (the path /v1/traces is added)",
        )
    try:
        port = url.port
    except ValueError as exc:
        raise UsageError(f"bad port in {endpoint!r}", "e.g. http://localhost:4318") from exc
    path = url.path if url.path not in ("", "/") else DEFAULT_PATH
    if url.query:
        path += "?" + url.query
    return _Target(url.scheme, url.hostname, port, path)


def retry_after_s(value: str | None, *, cap_s: float, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), capped; None if absent."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap_s)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), cap_s)


def rejected_spans(body: bytes) -> tuple[int, str]:
    """``partialSuccess`` of an OTLP/JSON response: (rejectedSpans, errorMessage)."""
    try:
        answer = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return 0, ""  # not JSON (a proxy's page): a 2xx still means accepted
    partial = answer.get("partialSuccess") if isinstance(answer, dict) else None
    if not isinstance(partial, dict):
        return 0, ""
    try:
        rejected = int(partial.get("rejectedSpans") or 0)
    except (TypeError, ValueError):
        rejected = 0
    return max(rejected, 0), str(partial.get("errorMessage") or "")


def _describe(status: int, reason: str, body: bytes) -> str:
    """``HTTP 400 Bad Request: <message>`` (google.rpc.Status ``message`` when JSON)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        text = str(answer.get("message") or "")
    text = " ".join(text.split())[:_REASON_CHARS]
    return f"HTTP {status} {reason}".strip() + (f": {text}" if text else "")


class _Client:
    """One keep-alive connection, reopened after any error."""

    def __init__(self, target: _Target, timeout_s: float, headers: Mapping[str, str]) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.headers = dict(headers)
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.target.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.target.host, self.target.port, timeout=self.timeout_s)
        try:
            self._conn.request("POST", self.target.path, body=body, headers=self.headers)
            response = self._conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        return response.status, response.reason, response.headers, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class _Policy:
    max_retries: int
    backoff_s: float
    max_backoff_s: float
    max_retry_after_s: float
    timeout_s: float

    def backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter so that many clients do not retry in step."""
        base = min(self.max_backoff_s, self.backoff_s * 2.0**attempt)
        return base * random.uniform(0.5, 1.5)


@dataclass
class _Sender:
    """Sends one body at a time, retrying as the policy says, and keeps the counts."""

    client: _Client
    policy: _Policy
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    bytes_sent: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def send(self, body: bytes, spans: int) -> None:
        for attempt in range(self.policy.max_retries + 1):
            problem, wait = self._attempt(body, spans, attempt)
            if problem is None:
                return
            if wait is None or attempt == self.policy.max_retries:
                if wait is not None:
                    problem += f" (after {plural(attempt, 'retry', 'retries')})"
                self.failed += spans
                self.reasons[problem] += spans
                return
            self.retries += 1
            time.sleep(wait)

    def _attempt(self, body: bytes, spans: int, attempt: int) -> tuple[str | None, float | None]:
        """One request: (None, None) when done, else the problem and the wait before a
        retry (None: do not retry)."""
        self.requests += 1
        self.bytes_sent += len(body)
        try:
            status, reason, headers, answer = self.client.post(body)
        except TimeoutError:
            return f"no answer within {self.policy.timeout_s:g} s", self.policy.backoff(attempt)
        except (OSError, http.client.HTTPException) as exc:
            problem = f"connection failed: {exc or type(exc).__name__}"
            return problem, self.policy.backoff(attempt)
        if 200 <= status < 300:
            rejected, message = rejected_spans(answer)
            rejected = min(rejected, spans)
            self.accepted += spans - rejected
            self.rejected += rejected
            if rejected:
                self.reasons[f"rejected by the receiver: {message or 'no reason given'}"] += (
                    rejected
                )
            return None, None
        problem = _describe(status, reason, answer)
        if status not in RETRYABLE:
            return problem, None
        later = retry_after_s(headers.get("Retry-After"), cap_s=self.policy.max_retry_after_s)
        return problem, self.policy.backoff(attempt) if later is None else later


def push(
    batches: Iterable[TraceBatch],
    endpoint: str,
    *,
    info: ExportInfo | None = None,
    timeout_s: float = 10.0,
    max_retries: int = 5,
    batch_spans: int = 2000,
    headers: Mapping[str, str] | None = None,
    gzip: bool = False,
    backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    max_retry_after_s: float = 60.0,
) -> PushSummary:
    """Send every span to ``endpoint`` over OTLP/HTTP JSON; report what was delivered."""
    if batch_spans < 1 or max_retries < 0 or timeout_s <= 0:
        raise UsageError(
            "batch_spans must be at least 1, max_retries at least 0, and timeout_s positive"
        )
    info = info or ExportInfo(version="unknown")
    target = _target(endpoint)
    sent_headers = {
        "Content-Type": "application/json",
        "User-Agent": f"logtrace/{info.version}",
        **({"Content-Encoding": "gzip"} if gzip else {}),
        **(headers or {}),
    }
    policy = _Policy(max_retries, backoff_s, max_backoff_s, max_retry_after_s, timeout_s)
    sender = _Sender(_Client(target, timeout_s, sent_headers), policy)
    warnings, tally = Warnings(), Tally()
    try:
        for chunk in chunks(batches, info, batch_spans, warnings, tally):
            sender.send(gzip_lib.compress(chunk.body) if gzip else chunk.body, chunk.spans)
    finally:
        sender.client.close()
    return PushSummary(
        endpoint=target.url,
        traces=tally.traces,
        spans=tally.spans,
        accepted=sender.accepted,
        rejected=sender.rejected,
        failed=sender.failed,
        requests=sender.requests,
        retries=sender.retries,
        bytes_sent=sender.bytes_sent,
        reasons=dict(sender.reasons),
        warnings=warnings.summary(),
    )
