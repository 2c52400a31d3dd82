"""What a log format lacks for a command: a request time to rank requests by and measure
spans with, a request id to tie lines into traces. A command that cannot work without
them says so (exit 5) rather than printing nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from logtrace.errors import NoMatchError
from logtrace.ingest_report import IngestReport
from logtrace.log_format.compiler import CompiledFormat, is_id_column

TRACE_HINT = (
    "log in the `trace` preset's format (`logtrace formats` shows it: it adds "
    "$request_time, $msec, $request_id and the upstream timings), and give it with "
    "--preset trace, --log-format or --nginx-conf"
)
# What each need is called in a message.
NEEDS = {"request_time_s": "no $request_time", "request_id": "no request id"}


def lacks(cf: CompiledFormat, needs: Sequence[str]) -> list[str]:
    """What of ``needs`` (``request_time_s``, ``request_id``) the format does not log."""
    out = []
    for need in needs:
        if need == "request_id":
            has = any(is_id_column(c) for c in cf.columns)
        else:
            has = cf.has_column(need)
        if not has:
            out.append(NEEDS[need])
    return out


def what_formats_lack(formats: Mapping[str, CompiledFormat], needs: Sequence[str]) -> str | None:
    """``the log format 'combined' (of a.log) has no $request_time and no request id`` when
    no format of the nginx sources logs every need; None when one does (or none was read)."""
    missing: dict[str, tuple[list[str], list[str]]] = {}
    for label, cf in formats.items():
        lacked = lacks(cf, needs)
        if not lacked:
            return None
        missing.setdefault(cf.name, (lacked, []))[1].append(label)
    if not missing:
        return None
    return _describe(
        {name: (" and ".join(lacked), labels) for name, (lacked, labels) in missing.items()}
    )


def _describe(missing: Mapping[str, tuple[str, list[str]]]) -> str:
    """``the log format 'combined' (of a.log and 2 more) has no $request_time; ...`` from
    what each format (by name) lacks and the sources read in it."""
    return "; ".join(
        f"the log format {name!r} (of {', '.join(labels[:2])}"
        f"{f' and {len(labels) - 2} more' if len(labels) > 2 else ''}) has {lacked}"
        for name, (lacked, labels) in missing.items()
    )


def require(ingest: IngestReport, needs: Sequence[str], task: str) -> None:
    """Raise NoMatchError (exit 5) saying what the formats lack for ``task``, when no
    format of the nginx sources read logs every one of ``needs``."""
    why = what_formats_lack(ingest.formats, needs)
    if why is not None:
        raise NoMatchError(f"{task}: {why}", TRACE_HINT)


def require_spans(spans: pl.DataFrame, task: str) -> None:
    """Raise NoMatchError (exit 5) when there is no trace to look at, or no span of any
    lasts any time: the logs carry no request ids, or no request times."""
    if spans.is_empty():
        raise NoMatchError(
            f"{task}: no request could be traced: no line read has a request id (a log "
            "format with no $request_id, or ids all '-')",
            TRACE_HINT,
        )
    start, end = ("start", "end") if "start" in spans.columns else ("raw_start", "raw_end")
    if not spans.select((pl.col(end) > pl.col(start)).any()).item():
        raise NoMatchError(
            f"{task}: no request lasts any time: no line read has a request time (a log "
            "format with no $request_time, and no app log with durations)",
            TRACE_HINT,
        )


def require_columns(ingest: IngestReport, column: str, lacked: str, task: str, hint: str) -> None:
    """Raise NoMatchError (exit 5) when no nginx format read logs ``column`` (``lacked``
    says what is missing: ``no $remote_addr``); as :func:`require`, for any column."""
    missing: dict[str, list[str]] = {}
    for label, cf in ingest.formats.items():
        if cf.has_column(column):
            return
        missing.setdefault(cf.name, []).append(label)
    if missing:
        described = _describe({name: (lacked, labels) for name, labels in missing.items()})
        raise NoMatchError(f"{task}: {described}", hint)
