"""Every app log shape by name (`SHAPES`), with the genuine sample each one reproduces.

`corpus` names a file in tests/fixtures/app-log-shapes (lines captured from the real
library); `frame` is a pattern that the library's record lines match, in that sample and
in what the shape writes. The first six shapes are hand-rolled app formats.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from topology.applogs import Shape, ShapeContext
from topology.appshapes import (
    EventJsonShape,
    JsonShape,
    LogfmtMsShape,
    LogfmtShape,
    PythonLoggingContextShape,
    PythonLoggingShape,
    TextShape,
)
from topology.libshapes_go import LogrusText, SlogJson, SlogText, Zap, Zerolog
from topology.libshapes_py import Gunicorn, StructlogConsole, StructlogJson
from topology.libshapes_web import Logback, Pino, Rails, Winston

ISO_S = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


@dataclass(frozen=True)
class ShapeSpec:
    """One log shape: how to make it and what it reproduces."""

    make: Callable[[ShapeContext], Shape]
    library: str
    corpus: str | None = None
    frame: str | None = None


SHAPES: dict[str, ShapeSpec] = {
    "json": ShapeSpec(JsonShape, "JSON lines, `msg` and `duration_ms` (hand-rolled)"),
    "logfmt": ShapeSpec(LogfmtShape, "logfmt with `req_id` and `took=8.2ms` (hand-rolled)"),
    "logfmt-ms": ShapeSpec(LogfmtMsShape, "logfmt with `duration_ms` (hand-rolled)"),
    "event-json": ShapeSpec(
        EventJsonShape, "JSON events request_start / downstream_call / request_end"
    ),
    "python-logging": ShapeSpec(
        PythonLoggingShape, "Python logging `%(asctime)s %(levelname)s %(name)s %(message)s`"
    ),
    "python-logging-ctx": ShapeSpec(
        PythonLoggingContextShape,
        "Python logging with the id from a filter (django-log-request-id)",
    ),
    "text": ShapeSpec(TextShape, "free text with key=value pairs"),
    "structlog-json": ShapeSpec(
        StructlogJson,
        "structlog 26 JSONRenderer chain",
        "python-structlog-json.log",
        r'^\{.*"event": "[^"]+", "request_id": "[^"]+", "level": "(info|error)", '
        rf'"timestamp": "{ISO_S}\.\d{{6}}Z"\}}$',
    ),
    "structlog-console": ShapeSpec(
        StructlogConsole,
        "structlog 26 ConsoleRenderer(colors=False)",
        "python-structlog-console.log",
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(info     |error    )\] \S.{29} "
        r"[a-z_]+=\S+( [a-z_]+=\S+)*$",
    ),
    "gunicorn": ShapeSpec(
        Gunicorn,
        "gunicorn 27 access log + ` %(D)s %({x-request-id}i)s`, app lines via gunicorn.error",
        "python-gunicorn-reqid-duration.log",
        r'^(127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "[A-Z]+ \S+ HTTP/1\.[01]" '
        r'\d{3} \d+ "[^"]*" "[^"]*" \d+ \S+'
        r"|\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000\] \[\d+\] \[(INFO|ERROR)\] outgoing call .+)$",
    ),
    "slog-text": ShapeSpec(
        SlogText,
        "Go log/slog TextHandler",
        "go-slog-text.log",
        rf'^time={ISO_S}\.\d{{3}}Z level=(INFO|ERROR) msg="[^"]*"( [a-z_]+=("[^"]*"|\S+))+$',
    ),
    "slog-json": ShapeSpec(
        SlogJson,
        "Go log/slog JSONHandler",
        "go-slog-json.log",
        rf'^\{{"time":"{ISO_S}(\.\d{{1,9}})?Z","level":"(INFO|ERROR)","msg":"[^"]*"(,"[a-z_]+":.+)+\}}$',
    ),
    "zap": ShapeSpec(
        Zap,
        "Go zap.NewProduction()",
        "go-zap-production.log",
        r'^\{"level":"(info|error)","ts":\d{10}(\.\d+)?,"caller":"[^"]+\.go:\d+","msg":"[^"]*",.+\}$',
    ),
    "zerolog": ShapeSpec(
        Zerolog,
        "Go zerolog global logger",
        "go-zerolog.log",
        rf'^\{{"level":"(info|error)","request_id":"[^"]+",.*"time":"{ISO_S}Z"(,"message":"[^"]*")?\}}$',
    ),
    "logrus-text": ShapeSpec(
        LogrusText,
        "Go logrus TextFormatter",
        "go-logrus-text.log",
        rf'^time="{ISO_S}Z" level=(info|error) msg="[^"]*"( [a-z_#.]+=("[^"]*"|[^" ]*))+$',
    ),
    "pino": ShapeSpec(
        Pino,
        "Node pino() defaults",
        "node-pino.log",
        r'^\{"level":(30|50),"time":\d{13},"pid":\d+,"hostname":"[^"]+","reqId":"[^"]+",'
        r'.*"msg":"[^"]*"\}$',
    ),
    "winston": ShapeSpec(
        Winston,
        "Node winston combine(timestamp(), json())",
        "node-winston-timestamp-json.log",
        rf'^\{{.*"level":"(info|error)","message":"[^"]*",.*"service":"[^"]+",'
        rf'(.*,)?"timestamp":"{ISO_S}\.\d{{3}}Z".*\}}$',
    ),
    "logback": ShapeSpec(
        Logback,
        "Java logback with Spring Boot 3's console pattern",
        "java-logback-spring-like.log",
        rf"^{ISO_S}\.\d{{3}}Z (ERROR| INFO) \d+ --- \[[\w-]+\] \[[ \w-]{{15}}\] "
        r"\[[0-9a-f]{32}-[0-9a-f]{16}\] [\w.$ ]{40} : .+$",
    ),
    "rails": ShapeSpec(
        Rails,
        "Ruby on Rails 6.1 production logger (log_tags = [:request_id])",
        "ruby-rails-production.log",
        r"^[IEWF], \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} #\d+\] ( INFO|ERROR| WARN|FATAL) -- : "
        r"\[[0-9a-f-]+\] .+$",
    ),
}


def make_shape(
    name: str, *, path: Path, host: str, service: str, skew_s: float, id_key: str | None
) -> Shape:
    """The log writer of a host."""
    ctx = ShapeContext(path, host, service, skew_s, id_key, os.getpid())
    return SHAPES[name].make(ctx)
