"""Lines → entries: which lines continue the entry before them (tracebacks) and which begin one.

A line continues the entry above it when it is indented, is a traceback marker
(``Traceback (most recent call last):``, "During handling of the above exception ...",
Java's ``Caused by:`` and ``... 5 more``), is an exception line (``KeyError: 'x'``,
``java.io.IOException: closed``), or comes after a ``Traceback`` header and before the
next line that looks like an entry of the log's shape (so an exception whose name fits no
pattern still lands in its traceback). A blank line between two continuation lines (Python
puts them around "During handling ...") belongs to the entry too; any other blank line
belongs to nothing. Every other line begins an entry, readable or not.

Only the few lines that do not look like an entry start are examined one by one as a
frame of their own: on a log without tracebacks that frame is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.applog.shapes import AppFormat, is_blank, starts_entry

_HEADER = (
    r"^(?:Traceback \(most recent call last\)|During handling of the above exception"
    r"|The above exception was the direct cause)"
)
# A Rails log tag (TaggedLogging writes ``[request-id]`` before every line of a record).
_TAG = r"\[[0-9A-Fa-f-]{16,}\]"
# ``KeyError: 'x'``, ``java.io.IOException: closed``, Node's ``Error: boom``, Ruby's
# ``RuntimeError (boom):``.
_EXCEPTION = (
    rf"^(?:{_TAG}\s+)?(?:[A-Za-z_$][\w$]*\.)*"
    r"(?:[A-Z][\w$]*(?:Error|Exception|Throwable|Exit|Interrupt|Warning)|Error|Exception)"
    r"(?::|$|\s\()"
)
# A Ruby backtrace line: ``app.rb:27:in `handle'``, ``rack (2.2.22) lib/rack/etag.rb:27:in `call'``.
_RUBY_FRAME = rf"^(?:{_TAG}\s+)?(?:\S+ \([\w.-]+\) )?\S+:\d+:in [`'‘]"
_CONTINUES = (
    rf"{_HEADER}|^[ \t]|^Caused by: |^Suppressed: |^\.\.\. \d+ (?:more|common frames omitted)"
    rf"|^Exception in thread |{_EXCEPTION}|{_RUBY_FRAME}|^{_TAG}"
)
# Lines that make the attached block a traceback (and the entry an error), as opposed to
# a message that merely goes on over an indented line.
_TRACEBACK = rf"{_HEADER}|^\s+File \"|^\s+at [\w$.<>/]+[ (]|^Caused by: |{_EXCEPTION}|{_RUBY_FRAME}"
# Lines of a block that are not the exception it ends with: frames and bare tags.
_NOT_EXCEPTION = rf"^\s|{_HEADER}|{_RUBY_FRAME}|^{_TAG}\s*$"
# java.util.logging writes each record on two lines: "Dec 03, 2026 10:40:39 AM Class method"
# then "INFO: message". The second line is joined to the first.
_JUL_HEAD = r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M(?: |$)"
_JUL_TIME = r"^([A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M)"
_JUL_LEVEL = r"^(?:SEVERE|WARNING|INFO|CONFIG|FINE|FINER|FINEST): "


@dataclass(frozen=True)
class Leading:
    """Continuation lines at the very top of a chunk: the previous chunk's last entry goes on.

    ``lines`` counts them (blank lines between them included); ``exception`` is the last
    exception line among them, if any.
    """

    lines: int = 0
    traceback: bool = False
    exception: str | None = None


@dataclass(frozen=True)
class Entries:
    """A chunk cut into entries."""

    starts: pl.DataFrame  # line_no, line: the first line of each entry
    attached: pl.DataFrame  # line_no (of the entry), extra_lines, traceback, exception
    attached_lines: pl.DataFrame  # line_no, line, entry: each continuation line and its entry
    blanks: pl.DataFrame  # line_no, line: blank lines that belong to no entry
    leading: Leading


ATTACHED_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.UInt32(),
    "extra_lines": pl.UInt32(),
    "traceback": pl.Boolean(),
    "exception": pl.String(),
}


def split_entries(lines: pl.DataFrame, fmt: AppFormat) -> Entries:
    """Cut a frame of ``line_no``/``line`` into entries of the given shape."""
    lines = (
        _join_two_line_records(lines)
        if fmt is AppFormat.TEXT
        else lines.with_columns(pl.lit(False).alias("_second"))
    )
    looks = lines.select(starts_entry(fmt).fill_null(False)).to_series()
    line_no_type = lines.schema["line_no"]
    if looks.all():  # the usual case for JSON and logfmt: nothing to attach
        lines = lines.select("line_no", "line")
        empty = lines.clear()
        return Entries(
            lines,
            pl.DataFrame(schema=ATTACHED_SCHEMA).cast({"line_no": line_no_type}),
            empty.with_columns(pl.col("line_no").alias("entry")),
            empty,
            Leading(),
        )
    others = (
        lines.with_columns(looks.cum_sum().alias("_block"))
        .filter(~looks)
        .with_columns(_line_flags())
        .with_columns(_block_flags())
    )
    entry_starts = (
        pl.concat(
            [
                lines.filter(looks).select("line_no", "line"),
                others.filter(~pl.col("_blank") & ~pl.col("_cont")).select("line_no", "line"),
            ]
        )
        .sort("line_no")
        .with_columns(pl.col("line_no").set_sorted())
    )
    joined = others.filter(pl.col("_joined"))
    before = entry_starts["line_no"].search_sorted(joined["line_no"], side="left")
    owner = pl.Series("entry", [None], dtype=line_no_type).extend(entry_starts["line_no"])
    joined = joined.with_columns(owner.gather(before).alias("entry"))
    exception = (
        pl.when(
            ~pl.col("_blank") & ~pl.col("_second") & ~pl.col("line").str.contains(_NOT_EXCEPTION)
        )
        .then(pl.col("line").str.strip_chars())
        .drop_nulls()
        .last()
    )
    attached = (
        joined.filter(pl.col("entry").is_not_null())
        .group_by("entry")
        .agg(
            pl.len().cast(pl.UInt32).alias("extra_lines"),
            pl.col("_traceback").any().alias("traceback"),
            exception.alias("exception"),
        )
        .rename({"entry": "line_no"})
    )
    top = joined.filter(pl.col("entry").is_null())
    leading = Leading()
    if top.height:
        agg = top.select(pl.col("_traceback").any(), exception).row(0)
        leading = Leading(top.height, bool(agg[0]), agg[1])
    return Entries(
        entry_starts,
        attached,
        joined.filter(pl.col("entry").is_not_null()).select("line_no", "line", "entry"),
        others.filter(pl.col("_blank") & ~pl.col("_joined")).select("line_no", "line"),
        leading,
    )


def _join_two_line_records(lines: pl.DataFrame) -> pl.DataFrame:
    """java.util.logging's records as one line: "<time> LEVEL: message" (the class and
    method of the first line dropped); ``_second`` marks the line that was joined, which
    stays as the entry's continuation. Lines of other logs come back as they are."""
    line = pl.col("line")
    second = pl.lit(False).alias("_second")
    if not lines["line"].str.contains(_JUL_HEAD).any():
        return lines.with_columns(second)
    head = line.str.contains(_JUL_HEAD).fill_null(False)
    joins = head & line.shift(-1).str.contains(_JUL_LEVEL).fill_null(False)
    joined = pl.concat_str(line.str.extract(_JUL_TIME), pl.lit(" "), line.shift(-1))
    return lines.with_columns(
        pl.when(joins).then(joined).otherwise(line).alias("line"),
        joins.shift(1, fill_value=False).alias("_second"),
    )


def _line_flags() -> list[pl.Expr]:
    line = pl.col("line")
    return [
        is_blank().alias("_blank"),
        line.str.contains(_HEADER).fill_null(False).alias("_header"),
        (line.str.contains(_CONTINUES).fill_null(False) | pl.col("_second")).alias("_marker"),
        line.str.contains(_TRACEBACK).fill_null(False).alias("_traceback"),
    ]


def _block_flags() -> list[pl.Expr]:
    """Flags that depend on the lines around: inside a traceback, blank inside a block."""
    in_traceback = pl.col("_header").cum_sum().over("_block") > 0
    # Before the chunk's first entry the header may be in the previous chunk: once a line
    # has continued that entry, so does every line up to this chunk's first entry.
    in_traceback |= (pl.col("_block") == 0) & (pl.col("_marker").cum_sum().over("_block") > 0)
    cont = ~pl.col("_blank") & (pl.col("_marker") | in_traceback)
    next_cont = (
        pl.when(~pl.col("_blank")).then(cont).backward_fill().over("_block").fill_null(False)
    )
    return [
        cont.alias("_cont"),
        (cont | (pl.col("_blank") & next_cont)).alias("_joined"),
    ]
