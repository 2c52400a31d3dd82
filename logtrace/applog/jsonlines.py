"""JSON-lines entries → RAW fields.

The lines are handed to polars' NDJSON reader in one go, with a schema of only the keys
that matter and that the chunk uses (found on a sample: the first 1000 lines and every
13th line after), each read as text so a number keeps its digits. Reading fewer columns
is what makes this fast: the reader's cost grows with the schema. A key found only on
lines outside the sample is not read, except the request id, which is looked for in the
raw text of every line that came out without one (``keys.fill_missing_ids``; that also
finds an id nested a level down, ``{"ctx": {"request_id": ...}}``).

When every line of the chunk is an object, the chunk's own bytes are what the reader
reads (``text``); else the objects' lines are written out for it.

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
    normal_key,
    role_keys,
    sample_of,
)

NOT_JSON = "not valid JSON"
# A JSON key as written: "name" followed by a colon.
_KEY = r'"(?:[^"\\]|\\.)*"\s*:'


def json_fields(
    starts: pl.DataFrame, id_fields: tuple[str, ...], *, text: bytes | None = None
) -> pl.DataFrame:
    """RAW fields of JSON entries (``line_no``/``line``, one line each). ``text``: the
    bytes ``starts`` was read from, if at hand (lines.text_and_frame)."""
    shaped = pl.col("line").str.starts_with("{") & pl.col("line").str.contains(r"\}\s*$")
    objects = starts.filter(shaped.fill_null(False))
    keys = _keys_in(objects)
    schema: dict[str, pl.DataType] = {k: pl.String() for k in _wanted(keys, id_fields)}
    whole = text if objects.height == starts.height else None
    decoded, broken = _read(objects, schema, whole)
    objects_in = {
        k for k in schema if normal_key(k) in _HEADS and decoded[k].str.starts_with("{").any()
    }
    raw = decoded.select(
        "line_no",
        *(
            _role(role, keys, id_fields, objects_in).alias(name)
            for name, role in _ROLE_COLUMNS.items()
        ),
        *_duration(keys),
        pl.lit(None, pl.String).alias("logger"),
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


# The objects a dotted alias looks into (req, res, http ...).
_HEADS = frozenset(
    normal_key(k.split(".")[0]) for keys in ROLE_KEYS.values() for k in keys if "." in k
)
_ROLE_COLUMNS = {
    "time_raw": "time",
    "level": "level",
    "message": "message",
    "request_id": "request_id",
    "method": "method",
    "url": "url",
    "target": "target",
    "status": "status",
    "peer": "peer",
    "caller": "caller",
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
    """The keys worth reading: those of a role, the objects that may hold one a level down
    (``req`` for ``req.method``) and the duration keys (always "time")."""
    aliases = [k for role in (*ROLE_KEYS, "request_id") for k in role_keys(role, id_fields)]
    known = {normal_key(k) for k in aliases} | {normal_key(k.split(".")[0]) for k in aliases}
    wanted = [k for k in keys if normal_key(k) in known or key_unit_seconds(k) is not None]
    return wanted if "time" in wanted else ["time", *wanted]


def _role(role: str, keys: list[str], id_fields: tuple[str, ...], objects: set[str]) -> pl.Expr:
    """The first key of the role that an entry has (in the role's order of preference):
    a top-level key, or for a dotted alias (``req.method``) a member of an object."""
    present = keys_of(role, keys, id_fields)
    heads = {normal_key(k): k for k in objects}
    values: list[pl.Expr] = [pl.col(k) for k in present]
    for alias in role_keys(role, id_fields):
        head, _, path = alias.partition(".")
        if path and normal_key(head) in heads:
            values.append(pl.col(heads[normal_key(head)]).str.json_path_match(f"$.{path}"))
    if not values:
        return pl.lit(None, pl.String)
    if role == "url":  # only a path or an absolute URL ({"url": {...}} is ECS's object)
        values = [
            pl.when(v.str.contains(r"^(?:/|[a-zA-Z][a-zA-Z0-9+.-]*://)")).then(v) for v in values
        ]
    value = pl.coalesce(values)
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
    objects: pl.DataFrame, schema: dict[str, pl.DataType], text: bytes | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(decoded rows with their ``line_no``, ``line_no``/``line`` of the lines that are not
    valid JSON). ``text``: the bytes of exactly these lines, if at hand (writing them out
    again cost 23 ms of a 16 MB chunk's 214)."""
    if objects.height:
        if text is None:
            buffer = io.BytesIO()
            objects.select("line").write_csv(buffer, include_header=False, quote_style="never")
            text = buffer.getvalue()
        try:
            decoded = pl.read_ndjson(text, schema=schema)
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
