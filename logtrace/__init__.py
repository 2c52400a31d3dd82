"""logtrace: turn nginx and application logs into per-request traces and latency reports.

The library API is what the commands call (see README, "Use as a library")::

    from logtrace import AnalyzeOptions, FormatOptions, analyze, resolve_sources

    result = analyze(resolve_sources(["access.log"]), AnalyzeOptions(FormatOptions(preset="trace")))
    print(result.latency.latency)

Heavy modules (polars) load on first use, so ``import logtrace`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "logtrace.analysis.analyze",
    "AnalyzeOptions": "logtrace.analysis.analyze",
    "Analysis": "logtrace.analysis.analyze",
    "Filters": "logtrace.analysis.derive",
    "FormatOptions": "logtrace.ingest",
    "resolve_sources": "logtrace.sources",
    "Source": "logtrace.sources",
    "parse_log_format": "logtrace.log_format.grammar",
    "compile_format": "logtrace.log_format.compiler",
    "read_nginx_conf": "logtrace.log_format.nginx_conf",
    "PRESETS": "logtrace.log_format.presets",
    "slowest_requests": "logtrace.analysis.slowest",
    "LogtraceError": "logtrace.errors",
}

if TYPE_CHECKING:
    from logtrace.analysis.analyze import Analysis, AnalyzeOptions, analyze
    from logtrace.analysis.derive import Filters
    from logtrace.analysis.slowest import slowest_requests
    from logtrace.errors import LogtraceError
    from logtrace.ingest import FormatOptions
    from logtrace.log_format.compiler import compile_format
    from logtrace.log_format.grammar import parse_log_format
    from logtrace.log_format.nginx_conf import read_nginx_conf
    from logtrace.log_format.presets import PRESETS
    from logtrace.sources import Source, resolve_sources

__all__ = [
    "PRESETS",
    "Analysis",
    "AnalyzeOptions",
    "Filters",
    "FormatOptions",
    "LogtraceError",
    "Source",
    "__version__",
    "analyze",
    "compile_format",
    "parse_log_format",
    "read_nginx_conf",
    "resolve_sources",
    "slowest_requests",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'logtrace' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
