"""Application logs → LINES: JSON lines, logfmt, Python ``logging`` text and free text.

One row per log *entry* (a traceback belongs to the entry above it), with the request id
that joins it to the other hosts' lines of the same request, and what the entry says
about that request: the event (``server``/``server_start``/``client``/``client_start``/
``unclassified``/``log``; the rules are in ``events.py``, the words in ``words.py``), its
time, duration, method, target, status and peer.

Keys. A field is found under any of its keys (``keys.ROLE_KEYS``; the request id under
``AppLogOptions.id_fields``), compared without regard to case or to ``_ . -``
(``peerService`` is ``peer_service``): in a JSON object's top level or one object down
(``req.method``, ``res.statusCode``; the request id at any depth, so pino-http's
``req.headers["x-request-id"]`` is found and its counter ``req.id`` is not), or as
``key=value`` / ``key="quoted \\" value"`` anywhere in a logfmt or text line.
``service``/``service.name``/``app`` (or a logger's name) and ``host``/``hostname`` fill
the ``service`` and ``host`` columns, null when the entry names none
(``service_from_line`` puts the file name's defaults there). A request id may also come
from the words (``values.py``): a leading ``[uuid]`` tag (Rails' ``log_tags``), the id an
access line's format appends; a W3C ``traceparent`` stands for its trace id.

Text headers (``shapes.TEXT_HEADERS``): "[time] LEVEL", Spring Boot's console pattern,
logback's and log4j2's "time [thread] LEVEL logger -", Ruby's Logger, access lines
('client - user [time] "GET /x HTTP/1.1" ...'), "logger LEVEL time"; java.util.logging's
two-line records are joined (``entries.py``).

Timestamps (``times.SHAPES``): ISO 8601 / RFC 3339 with ``T`` or a space, with or
without a fraction of any length and a zone (``Z``, ``+00:00``, ``+0000``); logging's
``YYYY-MM-DD HH:MM:SS,mmm``; ``YYYY/MM/DD HH:MM:SS[.ffffff]``; nginx's
``26/Nov/2026:08:00:51 -0330`` and werkzeug's ``03/Dec/2026 10:40:10``; JUL's
``Dec 03, 2026 10:37:19 AM``; epoch seconds (``1795696633.49``) and epoch integers in ms
(≥ 1e11), µs (≥ 1e14) or ns (≥ 1e17). A time without a zone is in
``AppLogOptions.timezone``. A time of day without a date (logback's and log4j2's
defaults) is rejected with its own reason (``chunk.TIME_OF_DAY``): a date taken from
elsewhere would be silently wrong before any midnight. ``time_precision_s`` is
10^-(digits of the fraction), 1.0 without one, 1e-3 for epoch milliseconds: the finest
seen on a chunk's first lines of that timestamp shape, so a logger that trims trailing
zeros does not look coarse. Entries rejected for want of a time are read and classified
all the same (``AppChunk.untimed``) so that a report can say what they would have given.

Durations (``durations.py``): a value under a duration key, or the words of a message
("in 8.2ms", ``GET /x 200 198.7ms``, gunicorn's ``%D``); its unit written with it, else
in the key, else decided per key from what the chunk shows (Go's integer nanoseconds,
zap's seconds, zerolog's and pino-http's milliseconds).

Multi-line entries (``entries.py``): indented lines, Python tracebacks (the header, the
``File`` lines, the exception line, "During handling of the above exception" blocks),
Java stack traces (``\\tat``, ``Caused by:``, ``... 5 more``), Ruby backtraces
(``app.rb:27:in `handle'``, Rails' ``[request-id]``-tagged lines) and Node's ``Error:``
lines attach to the entry above: ``extra_lines`` counts them, a traceback makes ``error``
true and its exception line is appended to the message after `` | ``. Continuation lines
at the top of a chunk belong to the previous chunk's last entry: ``AppChunk.leading``
reports them and ``attach_leading`` adds them to that entry.

Keys are learnt per chunk from a sample (its first 1000 lines and every 13th line after):
a key used only on lines outside the sample is not read, except a request id, which is
looked for in every line that came out without one.

Speed: every step is a vectorised polars expression over the chunk; Python runs per
chunk, per role and per distinct duration key or timestamp shape, never per line. JSON
goes through polars' NDJSON reader; logfmt and text through one targeted regex per role
(``keyvalue.py`` says why not one pass over all pairs). What a message says in words is
worked out once per distinct message, from its phrase and words computed once.
"""

from logtrace.applog.chunk import (
    BAD_TIMESTAMP,
    NO_TIMESTAMP,
    REJECTED_ENTRY,
    TIME_OF_DAY,
    AppChunk,
    attach_leading,
    parse_app_chunk,
    service_from_line,
)
from logtrace.applog.detect import detect_app_format
from logtrace.applog.entries import Leading
from logtrace.applog.events import LINES_APP_OUT
from logtrace.applog.jsonlines import NOT_JSON
from logtrace.applog.shapes import DEFAULT_ID_FIELDS, AppFormat, AppLogOptions

__all__ = [
    "BAD_TIMESTAMP",
    "DEFAULT_ID_FIELDS",
    "LINES_APP_OUT",
    "NOT_JSON",
    "NO_TIMESTAMP",
    "REJECTED_ENTRY",
    "TIME_OF_DAY",
    "AppChunk",
    "AppFormat",
    "AppLogOptions",
    "Leading",
    "attach_leading",
    "detect_app_format",
    "parse_app_chunk",
    "service_from_line",
]
