"""Named log formats, each shipped with genuine sample lines and what they parse to.

A preset is data: adding one means adding an entry here, and the parametrized test in
tests/test_presets.py checks its samples. The sample lines in samples/<name>.jsonl were
written by a real nginx (scripts/capture_preset_samples.py), never typed by hand, with the
values the requests that produced them imply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from logtrace.errors import NotFoundError
from logtrace.log_format.compiler import CompiledFormat, compile_format
from logtrace.log_format.grammar import parse_log_format
from logtrace.log_format.variables import suggest


@dataclass(frozen=True)
class Sample:
    """A genuine log line and some of the values it must parse to."""

    line: str
    expected: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A named nginx log_format."""

    name: str
    format: str
    description: str
    samples: tuple[Sample, ...]

    def compiled(self) -> CompiledFormat:
        return _compiled(self.name)


_SAMPLES = Path(__file__).parent / "samples"

COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)

_DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("combined", COMBINED, "nginx's predefined format (Debian's default access_log)"),
    (
        "main",
        COMBINED + ' "$http_x_forwarded_for"',
        "the 'main' format of nginx.org packages' /etc/nginx/nginx.conf",
    ),
    (
        "trace",
        COMBINED + " $request_time $upstream_response_time $request_id",
        "combined plus request time, upstream time and request id",
    ),
    (
        "timing",
        COMBINED + ' rt=$request_time msec=$msec rid=$request_id ua="$upstream_addr" '
        'us="$upstream_status" urt="$upstream_response_time" '
        'uct="$upstream_connect_time" uht="$upstream_header_time"',
        "trace with millisecond timestamps and per-attempt upstream timings",
    ),
    (
        "upstreaminfo",
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $request_length $request_time '
        "[$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr "
        "$upstream_response_length $upstream_response_time $upstream_status $req_id",
        "ingress-nginx's default log format",
    ),
)


def _samples(name: str) -> tuple[Sample, ...]:
    """The genuine lines captured for a preset (samples/<name>.jsonl)."""
    path = _SAMPLES / f"{name}.jsonl"
    if not path.exists():
        return ()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return tuple(Sample(row["line"], row["expected"]) for row in rows)


PRESETS: dict[str, Preset] = {
    name: Preset(name=name, format=fmt, description=doc, samples=_samples(name))
    for name, fmt, doc in _DEFINITIONS
}


@cache
def _compiled(name: str) -> CompiledFormat:
    preset = PRESETS[name]
    return compile_format(parse_log_format(preset.format, name=preset.name))


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a NotFoundError naming the ones that exist."""
    preset = PRESETS.get(name.lower())
    if preset is not None:
        return preset
    close = [p for p in PRESETS if suggest(name) == p or p.startswith(name.lower()[:3])]
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise NotFoundError(
        f"unknown preset {name!r}",
        f"{guess}presets: {', '.join(PRESETS)} (see `logtrace formats`)",
    )
