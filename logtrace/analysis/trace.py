"""``logtrace trace REQUEST_ID``: one request as a trace, ready to render or export."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from logtrace.analysis.critical_path import critical_path
from logtrace.analysis.trace_view import RequestTrace
from logtrace.errors import NotFoundError
from logtrace.plural import plural
from logtrace.schema import CRITICAL, EXPORT_SPANS
from logtrace.sources import Source, read_lines
from logtrace.timelines.assemble import MAX_TRACE_SPANS
from logtrace.timelines.load import Loaded

SHOWN_MATCHES = 5  # ids named when a prefix starts several


_HEX4 = pl.Series([f"{v:04x}" for v in range(1 << 16)], dtype=pl.String)


def hex_id(column: str) -> pl.Expr:
    """A UInt64 span id as the 16 lowercase hex digits other tools expect (null stays null):
    four lookups of 16 bits each, no Python per row."""
    sid = pl.col(column).cast(pl.UInt64)
    quarters = [pl.lit(_HEX4).gather((sid // (1 << (16 * i))) % (1 << 16)) for i in (3, 2, 1, 0)]
    return pl.concat_str(quarters).alias(column)


def hex_ids(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """UInt64 span ids as 16 hex digits."""
    return frame.with_columns(hex_id(c) for c in columns)


def resolve_request_id(loaded: Loaded, wanted: str) -> str:
    """The full request id for ``wanted``, which may be a unique prefix of one."""
    return match_request_id(loaded.timelines.spans.get_column("request_id"), wanted)


def match_request_id(ids: pl.Series, wanted: str) -> str:
    """The id of ``ids`` that is ``wanted`` or the only one that starts with it (a prefix
    of any length); a NotFoundError naming a few when several do, or none."""
    if ids.is_in([wanted]).any():
        return wanted
    matches = ids.filter(ids.str.starts_with(wanted)).unique().sort()
    if matches.len() == 1:
        return str(matches[0])
    if matches.len() > 1:
        shown = ", ".join(matches.head(SHOWN_MATCHES).to_list())
        more = ", ..." if matches.len() > SHOWN_MATCHES else ""
        raise NotFoundError(
            f"{wanted!r} is the start of {matches.len():,} request ids",
            f"give more of the id: {shown}{more}",
        )
    raise NotFoundError(
        f"request id {wanted!r} is not in these logs",
        "`logtrace analyze` lists the slowest requests with their ids",
    )


def _tree_order(spans: pl.DataFrame) -> list[int]:
    """Row indices depth-first: a parent before its children, siblings by start."""
    rows = list(
        spans.select("sid", "parent_sid", "start", pl.col("attempt").fill_null(0)).iter_rows()
    )
    ids = {row[0] for row in rows}
    children: dict[int | None, list[int]] = {}
    for i, (_sid, parent, _start, _attempt) in enumerate(rows):
        children.setdefault(parent if parent in ids else None, []).append(i)

    def by_start(indices: list[int]) -> list[int]:
        # Back-to-back upstream attempts can share a start: keep them in attempt order.
        return sorted(indices, key=lambda i: (rows[i][2], rows[i][3]), reverse=True)

    order: list[int] = []
    seen: set[int] = set()
    stack = by_start(children.get(None, []))
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        order.append(i)
        stack.extend(by_start(children.get(rows[i][0], [])))
    order += [i for i in range(len(rows)) if i not in seen]  # cycles in bad input
    return order


def span_view(spans: pl.DataFrame) -> pl.DataFrame:
    """Internal spans of one request → the public EXPORT_SPANS shape, in tree order."""
    return public_spans(spans[_tree_order(spans)])


def public_spans(spans: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """Internal spans (any number of requests) → the public EXPORT_SPANS shape, same order.

    ``extra`` names columns to keep after the EXPORT_SPANS ones (``line`` for exports).
    """
    ordered = spans
    name = pl.concat_str(
        [pl.col("method").fill_null(""), pl.coalesce("route", "path", "target").fill_null("")],
        separator=" ",
    ).str.strip_chars()
    status_error = pl.col("status").fill_null(0) >= 500
    view = ordered.with_columns(
        pl.when(name == "").then(pl.col("kind").str.to_lowercase()).otherwise(name).alias("name"),
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s"),
        status_error.alias("error"),
        pl.col("sid").alias("span_id"),
        pl.col("parent_sid").alias("parent_span_id"),
    )
    view = hex_ids(view, ["span_id", "parent_span_id"])
    return view.select(
        *(
            pl.col(c).cast(t) if c in view.columns else pl.lit(None, t).alias(c)
            for c, t in EXPORT_SPANS.items()
        ),
        *(c for c in extra if c in view.columns),
    )


def trace(
    loaded: Loaded, request_id: str, *, with_lines: bool = False, sources: Sequence[Source] = ()
) -> RequestTrace:
    """The trace of one request (a unique prefix of its id is enough)."""
    rid = resolve_request_id(loaded, request_id)
    tl = loaded.timelines
    spans = tl.spans.filter(pl.col("request_id") == rid)
    if spans.height > MAX_TRACE_SPANS:  # a parent precedes its children: the cut is a tree
        spans = spans[_tree_order(spans)[:MAX_TRACE_SPANS]]
    view = span_view(spans)
    root = view.row(0, named=True)
    tuples = list(view.select("span_id", "parent_span_id", "start", "end").iter_rows())
    sections = critical_path(tuples, str(root["span_id"]))
    critical = pl.DataFrame(
        {
            "request_id": [rid] * len(sections),
            "span_id": [s.span_id for s in sections],
            "section_start": [s.start for s in sections],
            "section_end": [s.end for s in sections],
        },
        schema=CRITICAL,
    )
    hosts = set(view.get_column("host").to_list())
    skew = {h: o.offset_s for h, o in tl.offsets.items() if h in hosts and abs(o.offset_s) >= 0.001}
    coarse = (view.get_column("precision_s").max() or 0.0) >= 0.5  # type: ignore[operator]
    notes = list(tl.notes) if coarse else []
    guessed = int(view.get_column("parent_guessed").sum())
    if guessed:
        notes.append(
            f"{guessed:,} of {plural(view.height, 'parent')} {'is' if guessed == 1 else 'are'} "
            "guessed from time containment alone (?)"
        )
    ambiguous = int(spans.get_column("parent_ambiguous").sum())
    if ambiguous:
        notes.append(
            f"{ambiguous} span(s) could hang under more than one call: identical calls ran at "
            "the same time and the logs cannot tell which reached which (paired in order)"
        )
    if rid in tl.oversized:
        notes.append(
            f"this request id is on {tl.oversized[rid]:,} spans, too many for one request "
            "(an X-Request-ID reused by clients?): they were not joined, each hangs under "
            f"the first request (guessed); showing the first {view.height:,}"
        )
    applied = view.filter(pl.col("skew_s").abs() >= 0.001)
    if applied.height:
        notes.append(
            "clock offsets were applied to spans that did not nest as logged; "
            "raw times are kept (--no-skew-correction shows them)"
        )
    if loaded.sampled_requests is not None:
        notes.append(
            f"clock offsets and path mappings were estimated from "
            f"{plural(loaded.sampled_requests, 'request')}: this one and a sample of the "
            "others, chosen by their ids (`logtrace analyze` uses all of them)"
        )
    skipped = sum(s.lines_skipped for s in loaded.ingest.sources)
    if skipped:
        read = sum(s.lines_total for s in loaded.ingest.sources)
        if loaded.sampled_requests is None:  # one service's logs: no sample is read
            notes.append(
                f"{skipped:,} of the {plural(read, 'line')} read are other requests' and "
                "were not parsed (one service's logs: no clock offsets or path mappings to "
                "learn from them)"
            )
        else:
            notes.append(
                f"{skipped:,} of the {plural(read, 'line')} read hold neither this id nor a "
                "sampled one and were not parsed"
            )
    lines = _lines(loaded, spans, view, sources) if with_lines else {}
    return RequestTrace(
        request_id=rid, spans=view, critical=critical, skew_s=skew, notes=tuple(notes), lines=lines
    )


def _lines(
    loaded: Loaded, spans: pl.DataFrame, view: pl.DataFrame, sources: Sequence[Source]
) -> dict[str, tuple[str, ...]]:
    """The original log lines of each span: its own line and the app lines inside it."""
    wanted = spans.select("sid", "source", "line_no")
    app = loaded.app
    if not app.is_empty() and "request_id" in app.columns:
        logs = app.filter(
            (pl.col("request_id") == view.get_column("request_id")[0]) & (pl.col("event") == "log")
        )
        if logs.height:
            # A plain log line belongs to the span of its source that contains it.
            owner = (
                logs.select("source", "line_no", "time")
                .join(spans.select("sid", "source", "start", "end"), on="source")
                .filter((pl.col("time") >= pl.col("start")) & (pl.col("time") <= pl.col("end")))
                .sort(pl.col("end") - pl.col("start"), "sid")  # ties: the same each run
                .group_by(["source", "line_no"], maintain_order=True)
                .first()
                .select("sid", "source", "line_no")
            )
            wanted = pl.concat([wanted, owner], how="vertical_relaxed")
    by_source: dict[str, list[int]] = {}
    for _sid, source, line_no in wanted.iter_rows():
        by_source.setdefault(source, []).append(int(line_no))
    texts: dict[tuple[str, int], str] = {}
    for frame in (loaded.nginx, loaded.app):
        if "line" in frame.columns:  # kept in memory (stdin cannot be read twice)
            hits = frame.join(wanted.select("source", "line_no").unique(), on=["source", "line_no"])
            for source, line_no, text in hits.select("source", "line_no", "line").iter_rows():
                texts[(source, int(line_no))] = text
    for source in sources:
        if source.read_once:
            continue
        numbers = by_source.get(source.label)
        if numbers:
            for n, text in read_lines(source, set(numbers)).items():
                texts[(source.label, n)] = text
    out: dict[str, list[str]] = {}
    for sid, source, line_no in wanted.sort("line_no").iter_rows():
        text = texts.get((source, int(line_no)))
        if text is not None:
            out.setdefault(f"{sid:016x}", []).append(f"{source}:{line_no}: {text}")
    return {k: tuple(v) for k, v in out.items()}
