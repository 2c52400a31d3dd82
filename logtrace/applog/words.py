"""The words an app log entry uses for what happened, as vocabularies (data) and the
expressions that find them.

An entry's *words* are its message without leading ``[tags]`` and ``key=value`` pairs,
with ``snake_case`` and ``camelCase`` split and lower-cased: ``downstream_call``,
``requestEnd`` and ``"request completed"`` become "downstream call", "request end",
"request completed". Words are matched whole (``call`` is not in "recall").
"""

from __future__ import annotations

import polars as pl

from logtrace.applog.values import METHODS

# An outgoing call: the entry is the caller's.
CALL_WORDS = (
    "call",
    "calls",
    "called",
    "calling",
    "outgoing",
    "outbound",
    "egress",
    "downstream",
    "upstream",
    "dependency",
    "fetch",
    "fetched",
    "fetching",
    "invoke",
    "invoked",
    "invoking",
)
CALL_PHRASES = (
    r"request(?:ing)? to",
    r"response from",
    r"->",
    r"http request:",  # httpx: "HTTP Request: GET http://... "HTTP/1.1 200 OK""
    r"(?:http|api|rest|grpc) client",
    r"client (?:request|call)",
    r"sending (?:an? |the )?(?:http )?request",
    # "users responded 200 in 7.1ms", "inventory replied": the called service answering
    r"^[a-z][a-z0-9_.-]*\s+(?:responded|replied|answered)",
)
# A request this service served: the entry is the callee's.
SERVED_WORDS = (
    "served",
    "serving",
    "handled",
    "handling",
    "incoming",
    "inbound",
    "ingress",
)
# Words of a request arriving: served, unless the entry says what came back from a call
# ("received response from X" is a call's end).
SERVED_WEAK_WORDS = ("received", "receiving", "accepted", "accepting", "responded")
SERVED_PHRASES = (
    rf"^started (?:{METHODS.lower()}) ",  # Rails: Started GET "/x" for 127.0.0.1 at ...
    r"^completed [1-5]\d\d ",  # Rails: Completed 200 OK in 26ms
    r"send(?:s|ing)? (?:the |a )?response",
    r"sent (?:the |a )?response",
)
# The start or the end of a request or a call.
START_WORDS = (
    "start",
    "started",
    "starting",
    "begin",
    "begins",
    "beginning",
    "received",
    "receiving",
    "incoming",
    "accepted",
    "handling",
    "calling",
    "sending",
    "fetching",
    "invoking",
)
END_WORDS = (
    "end",
    "ended",
    "finish",
    "finished",
    "complete",
    "completed",
    "done",
    "served",
    "handled",
    "responded",
    "response",
)
# A call that failed has ended; a served request that "failed" is a log line about it
# (its end is the line with the status).
FAILURE_WORDS = (
    "fail",
    "failed",
    "failure",
    "errored",
    "error",
    "timeout",
    "timed out",
    "refused",
    "unreachable",
    "aborted",
    "gave up",
)
# "request started", "finished request", "request_end": the request is the service's own.
_PHASE_NOUN = "request|req"
# Words that are no peer after "call" / "calling" / "request to" ...
NOT_PEERS = frozenset(
    {
        *START_WORDS,
        *END_WORDS,
        *FAILURE_WORDS,
        *(m.lower() for m in METHODS.split("|")),
        "to",
        "from",
        "the",
        "a",
        "an",
        "with",
        "for",
        "of",
        "on",
        "out",
        "request",
        "service",
        "server",
        "app",
        "backend",
        "returned",
        "succeeded",
        "ok",
    }
)


# ASCII classes: a Unicode \w or \b keeps polars' regex off its fast engine.
_NOT_WORD = "[^0-9A-Za-z_]"


def _words_regex(words: tuple[str, ...], phrases: tuple[str, ...] = ()) -> str:
    alternatives = "|".join([*(w.replace(" ", r"\s+") for w in words), *phrases])
    return rf"(?:^|{_NOT_WORD})(?:{alternatives})(?:{_NOT_WORD}|$)"


CALL_RE = _words_regex(CALL_WORDS, CALL_PHRASES)
SERVED_RE = _words_regex(SERVED_WORDS)
SERVED_PHRASES_RE = "|".join(SERVED_PHRASES)
SERVED_WEAK_RE = _words_regex(SERVED_WEAK_WORDS)
START_RE = _words_regex(START_WORDS)
END_RE = _words_regex(END_WORDS)
FAILURE_RE = _words_regex(FAILURE_WORDS)
_PHASES = "|".join(w for w in (*START_WORDS, *END_WORDS) if w not in {"calling", "sending"})
REQUEST_PHASE_RE = (
    rf"(?:^|{_NOT_WORD})(?:(?:{_PHASE_NOUN})\s+(?:{_PHASES})|(?:{_PHASES})\s+(?:{_PHASE_NOUN}))"
    rf"(?:{_NOT_WORD}|$)"
)
# The message begins with the request it is the access log of ("GET /x 200 12ms",
# "HTTP GET /x", after the logger's name: "feed-svc: GET /x 200 12ms"), or quotes a request
# line ('"GET /x HTTP/1.1" 200', chi's '"GET http://host/x HTTP/1.1" from 10.0.0.1'): the
# form of a server's access log.
ACCESS_FORM = rf"^(?:[\w.-]+:\s+)?(?:HTTP\s+)?\"?(?:{METHODS})\s+\"?/|\"(?:{METHODS})\s+\S+\s+HTTP/"
# An absolute URL right before the request line: the form of a client's log (urllib3:
# 'http://host:8080 "GET /x HTTP/1.1" 200 28').
CLIENT_FORM = rf"[a-zA-Z][a-zA-Z0-9+.-]*://\S+\s+\"(?:{METHODS})\s"
# The service an entry names after a call word: "call users-svc GET ...", "calling billing",
# "request to payments", "response from inventory".
PEER_IN_WORDS = (
    r"(?i)(?:^|\s)(?:calls?|called|calling|request(?:ing)?\s+to|call\s+to|response\s+from)"
    r"\s+(?:to\s+)?([^\s,;:()\[\]{}\"'=]+)"
)
# "users responded 200 in 7.1ms": the service that answered a call, named before it.
PEER_BEFORE_REPLY = r"^([^\s,;:()\[\]{}\"'=]+)\s+(?:responded|replied|answered)(?:\s|$)"
URL_IN_TEXT = r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+)"

_LEADING_TAGS = r"^(?:\[[^\]]*\]\s*)+"
_PAIRS = r'[\w.@-]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'


def with_word_features(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with ``word_features`` of its ``message``. The phrase and its words are
    columns for the while (dropped after): as expressions, each feature that uses them
    would work them out again."""
    return (
        frame.with_columns(phrase(pl.col("message")).alias("_phrase"))
        .with_columns(words(pl.col("_phrase")).alias("_words"))
        .with_columns(word_features(pl.col("_phrase"), pl.col("_words")))
        .drop("_phrase", "_words")
    )


def word_features(text: pl.Expr, said: pl.Expr) -> list[pl.Expr]:
    """What an entry's words say, from its phrase (``text``) and its words (``said``): the
    call, served, start, end and failure words, the access-line and client-library forms,
    the peer named after a call word (``_named_raw``) and an absolute URL in the text."""

    def has(regex: str, of: pl.Expr = said) -> pl.Expr:
        return of.str.contains(regex).fill_null(False)

    client_form = has(CLIENT_FORM, text)
    return [
        has(CALL_RE).alias("_call_words"),
        (has(SERVED_RE) | has(SERVED_PHRASES_RE)).alias("_served_words"),
        (has(REQUEST_PHASE_RE) | has(SERVED_WEAK_RE)).alias("_arrived"),
        (has(ACCESS_FORM, text) & ~client_form).alias("_access_form"),
        client_form.alias("_client_form"),
        has(START_RE).alias("_started"),
        has(END_RE).alias("_ended"),
        has(FAILURE_RE).alias("_failed"),
        _named_peer(text).alias("_named"),
        text.str.extract(URL_IN_TEXT, 1).alias("_url_in_text"),
    ]


def _named_peer(text: pl.Expr) -> pl.Expr:
    """The X of "call X", "calling X", "request to X" ... (an absolute URL: its host and
    port; a path or a word of the vocabularies: none)."""
    named = pl.coalesce(text.str.extract(PEER_IN_WORDS, 1), text.str.extract(PEER_BEFORE_REPLY, 1))
    named = pl.when(~named.str.to_lowercase().is_in(list(NOT_PEERS))).then(named)
    url = named.str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?([^/?#\s\"]+)")
    return pl.when(url.is_not_null()).then(url).when(~named.str.starts_with("/")).then(named)


def phrase(message: pl.Expr) -> pl.Expr:
    """The message without leading ``[tags]`` and ``key=value`` pairs, case kept."""
    return message.str.replace(_LEADING_TAGS, "").str.replace_all(_PAIRS, "").str.strip_chars()


def words(phrase_expr: pl.Expr) -> pl.Expr:
    """A phrase's words: snake_case and camelCase split, lower case."""
    return (
        phrase_expr.str.replace_all(r"([a-z0-9])([A-Z])", "${1} ${2}")
        .str.replace_all("_", " ", literal=True)
        .str.to_lowercase()
    )
