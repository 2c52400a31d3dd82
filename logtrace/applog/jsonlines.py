"""JSON-lines entries → RAW fields.

The lines are handed to polars' NDJSON reader in one go, with a schema of only the keys
that matter and that the chunk uses (found on a sample: the first 1000 lines and every
13th line after), each read as text so a number keeps its digits. Reading fewer columns
is what makes this fast: the reader's cost grows with the schema. A key found only on
lines outside the sample is not read, except the request id, which is looked for in the
raw text of every line that came out without one (``keys.fill_missing_ids``; that also
finds an id nested a level down, ``{"ctx": {"request_id": ...}}``).

The reader fails a whole batch on one malformed line, so a failing batch is halved until
the bad lines are found alone; a truncated line (the usual damage) never gets that far.
"""

from __future__ import annotations

import io

import polars as pl

from logtrace.applog.keys import (
    RAW,
    ROLE_KEYS,
    fill_missing_ids,
    key_unit_seconds,
    keys_of,
    role_keys,
    sample_of,
)

NOT_JSON = "not valid JSON"
# A JSON key as written: "name" followed by a colon.
_KEY = r'"(?:[^"\\]|\\.)*"\s*:'


def json_fields(starts: pl.DataFrame, id_fields: tuple[str, ...]) -> pl.DataFrame:
    """RAW fields of JSON entries (``line_no``/``line``, one line each)."""
    shaped = pl.col("line").str.starts_with("{") & pl.col("line").str.contains(r"\}\s*$")
    objects = starts.filter(shaped.fill_null(False))
    keys = _keys_in(objects)
    schema: dict[str, pl.DataType] = {k: pl.String() for k in _wanted(keys, id_fields)}
    decoded, broken = _read(objects, schema)
    raw = decoded.select(
        "line_no",
        *(_role(role, keys, id_fields).alias(name) for name, role in _ROLE_COLUMNS.items()),
        *_duration(keys),
        pl.lit(None, pl.String).alias("reason"),
    )
    # "-" and "" are no id, as in logfmt (and as nginx logs a missing header).
    rid = pl.col("request_id")
    raw = raw.with_columns(pl.when(~rid.is_in(["", "-"])).then(rid).alias("request_id"))
    raw = fill_missing_ids(raw, objects, id_fields)
    raw = raw.cast(pl.Schema(RAW))
    bad = pl.concat([starts.join(objects, on="line_no", how="anti"), broken])
    if bad.is_empty():
        return raw
    rejected = bad.select("line_no", pl.lit(NOT_JSON).alias("reason"))
    return pl.concat([raw, rejected], how="diagonal_relaxed").cast(pl.Schema(RAW)).sort("line_no")


_ROLE_COLUMNS = {
    "time_raw": "time",
    "level": "level",
    "message": "message",
    "request_id": "request_id",
    "method": "method",
    "url": "url",
    "status": "status",
    "peer": "peer",
    "service": "service",
    "host": "host",
}


def _keys_in(objects: pl.DataFrame) -> list[str]:
    """Every key (at any depth) on the chunk's sample lines, in order of first appearance."""
    found = sample_of(objects).select(
        pl.col("line").str.extract_all(_KEY).explode().drop_nulls().unique(maintain_order=True)
    )
    keys = (k.rstrip().removesuffix(":").rstrip()[1:-1] for k in found.to_series().to_list())
    return [k for k in keys if "\\" not in k]


def _wanted(keys: list[str], id_fields: tuple[str, ...]) -> list[str]:
    """The keys worth reading: those of a role and the duration keys (always "time")."""
    known = {k.lower() for role in (*ROLE_KEYS, "request_id") for k in role_keys(role, id_fields)}
    wanted = [k for k in keys if k.lower() in known or key_unit_seconds(k) is not None]
    return wanted if "time" in wanted else ["time", *wanted]


def _role(role: str, keys: list[str], id_fields: tuple[str, ...]) -> pl.Expr:
    """The first key of the role that an entry has (in the role's order of preference)."""
    present = keys_of(role, keys, id_fields)
    if not present:
        return pl.lit(None, pl.String)
    value = pl.coalesce([pl.col(k) for k in present])
    if role in ("service", "host"):  # {"service": {"name": "api"}}: OpenTelemetry's layout
        nested = value.str.extract(r'"name"\s*:\s*"([^"\\]*)"')
        value = pl.when(value.str.starts_with("{")).then(nested).otherwise(value)
    return value


def _duration(keys: list[str]) -> list[pl.Expr]:
    """The first duration key an entry has, and its value."""
    present = keys_of("duration", keys, ())
    if not present:
        return [pl.lit(None, pl.String).alias(c) for c in ("duration_key", "duration_raw")]
    key = pl.coalesce([pl.when(pl.col(k).is_not_null()).then(pl.lit(k)) for k in present])
    return [key.alias("duration_key"), pl.coalesce(present).alias("duration_raw")]


def _read(
    objects: pl.DataFrame, schema: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(decoded rows with their ``line_no``, ``line_no``/``line`` of the lines that are not
    valid JSON)."""
    if objects.height:
        buffer = io.BytesIO()
        objects.select("line").write_csv(buffer, include_header=False, quote_style="never")
        try:
            decoded = pl.read_ndjson(buffer.getvalue(), schema=schema)
        except pl.exceptions.PolarsError:
            decoded = None
        if decoded is not None and decoded.height == objects.height:
            return decoded.with_columns(objects["line_no"]), objects.clear()
    if objects.height <= 1:
        empty = pl.DataFrame(schema=schema).with_columns(objects["line_no"].clear())
        return empty, objects
    half = objects.height // 2
    parts = [_read(objects.slice(0, half), schema), _read(objects.slice(half), schema)]
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])
