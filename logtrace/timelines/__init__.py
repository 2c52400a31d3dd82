"""LINES → SPANS → traces: per-request timelines across hosts (see assemble.py)."""

from logtrace.timelines.assemble import Timelines, assemble
from logtrace.timelines.skew import HostOffset
from logtrace.timelines.spans import app_spans, nginx_spans

__all__ = ["HostOffset", "Timelines", "app_spans", "assemble", "nginx_spans"]
