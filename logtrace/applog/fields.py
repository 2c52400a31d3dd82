"""The fields of an app log's entries, read by the shape of the log."""

from __future__ import annotations

import polars as pl

from logtrace.applog.jsonlines import json_fields
from logtrace.applog.keyvalue import keyvalue_fields
from logtrace.applog.shapes import AppFormat, AppLogOptions


def entry_fields(
    starts: pl.DataFrame, fmt: AppFormat, options: AppLogOptions, *, text: bytes | None = None
) -> pl.DataFrame:
    """The fields of each entry's first line (``time_raw``, ids, ...; ``reason`` where it
    cannot be read); ``text``: JSON lines' bytes, when each line is an entry."""
    if fmt is AppFormat.JSON:
        return json_fields(starts, options.id_fields, text=text)
    return keyvalue_fields(starts, fmt, options.id_fields)
