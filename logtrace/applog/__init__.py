"""Application logs → LINES: JSON lines, logfmt, Python ``logging`` text and free text.

One row per log *entry* (a traceback belongs to the entry above it), with the request id
that joins it to the other hosts' lines of the same request, and what the entry says
about that request: the event (``server``/``client``/``start``/``log``, see
``events.py``), its time, duration, method, target, status and peer.

Keys. A field is found under any of its keys (``keys.ROLE_KEYS``; the request id under
``AppLogOptions.id_fields``), compared without regard to case: in a JSON object's top
level (the request id also one level down), or as ``key=value`` / ``key="quoted \\" value"``
anywhere in a logfmt or text line. ``service``/``service.name``/``app`` (or a Python
logger's name) and ``host``/``hostname`` fill the ``service`` and ``host`` columns, null
when the entry names none (``service_from_line`` puts the file name's defaults there).

Timestamps (``times.SHAPES``): ISO 8601 / RFC 3339 with ``T`` or a space, with or
without a fraction and a zone (``Z``, ``+00:00``, ``+0000``); logging's
``YYYY-MM-DD HH:MM:SS,mmm``; ``YYYY/MM/DD HH:MM:SS[.ffffff]``; nginx's
``26/Nov/2026:08:00:51 -0330``; epoch seconds (``1795696633.49``) and epoch integers in
ms (≥ 1e11), µs (≥ 1e14) or ns (≥ 1e17). A time without a zone is in
``AppLogOptions.timezone``. ``time_precision_s`` is 10^-(digits of the fraction), 1.0
without one, 1e-3 for epoch milliseconds: the finest seen on a chunk's first lines of
that timestamp shape, so a logger that trims trailing zeros does not look coarse.

Durations. A duration is a value under a duration key (duration, elapsed, latency,
took, response_time, request_time, dur, time_taken, in any case, camelCase or not) or
the words "in 8.2ms" / "took 12ms" in a message. Its unit is, in this order:

1. a unit written after the number: ``took=8.2ms``, ``"latency": "1.5s"``, ``350us``,
   ``350µs``, ``2m`` (ns, us/µs, ms, s/sec/seconds, m/min, h);
2. a unit suffix of the key: ``duration_ms=45.2``, ``elapsedMs``, ``latency_us``, ``took_s``;
3. otherwise seconds: ``elapsed=0.0042`` is 4.2 ms.

Multi-line entries (``entries.py``): indented lines, Python tracebacks (the header, the
``File`` lines, the exception line, "During handling of the above exception" blocks) and
Java stack traces (``\\tat``, ``Caused by:``, ``... 5 more``) attach to the entry above:
``extra_lines`` counts them, a traceback makes ``error`` true and its exception line is
appended to the message after `` | ``. Continuation lines at the top of a chunk belong to
the previous chunk's last entry: ``AppChunk.leading`` reports them and
``attach_leading`` adds them to that entry.

Keys are learnt per chunk from a sample (its first 1000 lines and every 13th line after):
a key used only on lines outside the sample is not read, except a request id, which is
looked for in every line that came out without one.

Speed: every step is a vectorised polars expression over the chunk; Python runs per
chunk, per role and per distinct duration key or timestamp shape, never per line. JSON
goes through polars' NDJSON reader; logfmt and text through one targeted regex per role.
"""

from logtrace.applog.chunk import (
    BAD_TIMESTAMP,
    NO_TIMESTAMP,
    REJECTED_ENTRY,
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
    "AppChunk",
    "AppFormat",
    "AppLogOptions",
    "Leading",
    "attach_leading",
    "detect_app_format",
    "parse_app_chunk",
    "service_from_line",
]
