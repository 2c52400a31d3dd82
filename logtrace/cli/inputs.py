"""The options every command that reads logs takes, declared once.

``@reads_logs()`` gives a command the log files and the input, format and join options
(and, unless it looks up one request, the filters) and hands them to it as one frozen
:class:`Inputs`: a command cannot lose one of them, and they mean the same everywhere.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from logtrace.cli import options as opt
from logtrace.cli.app import catch_interrupts

if TYPE_CHECKING:
    from logtrace.analysis.analyze import AnalyzeOptions
    from logtrace.analysis.derive import Filters
    from logtrace.ingest import FormatOptions
    from logtrace.offsets import LogOffsets
    from logtrace.render.commands import TraceArgs
    from logtrace.sources import Source
    from logtrace.timelines.load import Loaded, TimelineOptions
    from logtrace.timelines.partitioned import Joined
    from logtrace.timelines.select import RequestSelection
    from logtrace.when import Zone


@dataclass(frozen=True)
class Inputs:
    """The logs a command reads and how: the command line's input options as one value."""

    files: tuple[str, ...]  # FILES as given; none: stdin when it is piped
    labels: tuple[str, ...]  # --source HOST=PATH
    formats: FormatOptions
    filters: Filters  # the filters given (none for a command that takes none)
    id_field: str | None = None
    skew_correction: bool = True
    tz: Zone | None = None  # --tz: the zone to show times in (None: as the logs write)

    @cached_property
    def offsets(self) -> LogOffsets:
        """The UTC offset each log writes (read once: stdin is only peeked at)."""
        from logtrace.offsets import log_offsets

        return log_offsets(self.sources)

    def specs(self) -> list[str]:
        """FILES, or ``-`` (stdin) when nothing is named and stdin is a pipe."""
        if not self.files and not self.labels and not sys.stdin.isatty():
            return ["-"]
        return list(self.files)

    @cached_property
    def selection(self) -> Filters:
        """The filters, with times given without a zone read as the logs show theirs."""
        return self.filters.for_offsets(self.offsets) if self.filters.zoneless else self.filters

    @cached_property
    def zone(self) -> Zone:
        """The zone to show times in: --tz, else the offset every log that writes one
        writes, else UTC."""
        return self.tz or self.zone_of(self.offsets)

    def zone_of(self, found: LogOffsets) -> Zone:
        """--tz, else the zone the logs of ``found`` agree on, else UTC."""
        from logtrace.when import offset_zone

        if self.tz is not None:
            return self.tz
        if found.agreed is not None:
            return offset_zone(found.agreed, "the offset the logs write")
        why = "the logs write different offsets" if found.by_source else "the logs write none"
        return offset_zone(None, why)

    @cached_property
    def sources(self) -> list[Source]:
        """The sources named on the command line (paths, globs, directories expanded)."""
        from logtrace.sources import resolve_sources

        return resolve_sources(self.specs(), self.labels, read_whole=True)

    def trace_args(self) -> TraceArgs:
        """These inputs and options as ``logtrace trace`` takes them: what a printed
        ``logtrace trace ID ...`` needs to read the same requests the same way."""
        from logtrace.render.commands import TraceArgs

        fmt = self.formats
        options: list[str] = []
        for conf in fmt.nginx_confs:
            options += ["--nginx-conf", conf]
        for flag, value in (
            ("--format-name", fmt.format_name),
            ("--log-format", fmt.log_format),
            ("--preset", fmt.preset),
            ("--app-format", fmt.app_format),
            ("--timezone", None if fmt.timezone == "UTC" else fmt.timezone),
            ("--id-field", self.id_field),
            ("--tz", None if self.tz is None else self.tz.name if self.tz.tz else "local"),
        ):
            if value is not None:
                options += [flag, value]
        for spec in self.labels:
            options += ["--source", spec]
        if not self.skew_correction:
            options.append("--no-skew-correction")
        return TraceArgs(files=tuple(self.specs()), options=tuple(options))

    def timeline_options(
        self,
        *,
        keep_lines: bool = False,
        progress: Callable[[int], None] | None = None,
        select: RequestSelection | None = None,
    ) -> TimelineOptions:
        from logtrace.timelines.load import TimelineOptions

        return TimelineOptions(
            formats=self.formats,
            skew_correction=self.skew_correction,
            id_field=self.id_field,
            keep_lines=keep_lines,
            progress=progress,
            select=select,
        )

    def analyze_options(
        self, progress: Callable[[int], None] | None, **given: Any
    ) -> AnalyzeOptions:
        """What ``analyze`` reads these inputs with (formats, filters, clocks, ids, and
        time buckets on the zone shown), and the command's own options in ``given``."""
        from logtrace.analysis.analyze import AnalyzeOptions

        return AnalyzeOptions(
            formats=self.formats,
            filters=self.selection,
            skew_correction=self.skew_correction,
            id_field=self.id_field,
            progress=progress,
            bucket_offset_s=self.zone.offset_s(),
            **given,
        )

    @contextmanager
    def reading(self) -> Iterator[Callable[[int], None]]:
        """A progress callback: a bar on stderr for long reads when it is a terminal."""
        from logtrace.render.progress import progress_bar

        _ = self.zone  # the logs' offsets, before stdin is read
        with progress_bar(self.sources) as update:
            yield update

    @contextmanager
    def load_parts(self, *, keep_lines: bool = False) -> Iterator[Joined]:
        """Every request's timeline, a part at a time when the input is large (the
        progress bar covers the reading); valid inside the ``with`` block."""
        from logtrace.timelines.partitioned import joined_parts

        with ExitStack() as stack:
            with self.reading() as progress:
                options = self.timeline_options(keep_lines=keep_lines, progress=progress)
                parts = stack.enter_context(joined_parts(self.sources, options))
            yield parts

    def load(self, *, keep_lines: bool = False, select: RequestSelection | None = None) -> Loaded:
        """Every request's timeline (``select``: only those requests' and a sample's),
        with a progress bar while reading."""
        from logtrace.timelines.load import load

        with self.reading() as progress:
            options = self.timeline_options(keep_lines=keep_lines, progress=progress, select=select)
            return load(self.sources, options)


# The shared parameters, in the order --help lists them: (name, annotated type, default).
FILES = ("files", opt.Files, None)
INPUT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("log_format", opt.LogFormatOpt, None),
    ("preset", opt.PresetOpt, None),
    ("nginx_conf", opt.NginxConfOpt, None),
    ("format_name", opt.FormatNameOpt, None),
    ("app_format", opt.AppFormatOpt, None),
    ("timezone", opt.TimezoneOpt, "UTC"),
    ("source", opt.SourceOpt, None),
    ("id_field", opt.IdFieldOpt, None),
    ("no_skew_correction", opt.NoSkewOpt, False),
    ("tz", opt.TzOpt, None),
)
FILTER_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("since", opt.SinceOpt, None),
    ("until", opt.UntilOpt, None),
    ("route", opt.RouteOpt, None),
    ("path", opt.PathOpt, None),
    ("status", opt.StatusOpt, None),
)


def _inputs(values: dict[str, Any], with_filters: bool) -> Inputs:
    """The shared values (taken out of ``values``) as one :class:`Inputs`."""
    from logtrace.when import parse_zone

    shared = {name: values.pop(name) for name, _, _ in (FILES, *INPUT_OPTIONS)}
    wanted: dict[str, Any] = {name: None for name, _, _ in FILTER_OPTIONS}
    if with_filters:
        wanted = {name: values.pop(name) for name in wanted}
    return Inputs(
        files=tuple(shared["files"] or ()),
        labels=tuple(shared["source"] or ()),
        formats=opt.format_options(
            shared["log_format"],
            shared["preset"],
            shared["nginx_conf"],
            shared["format_name"],
            shared["app_format"],
            shared["timezone"],
        ),
        id_field=shared["id_field"],
        skew_correction=not shared["no_skew_correction"],
        filters=opt.filters(**wanted, now=opt.clock()),
        tz=parse_zone(shared["tz"]) if shared["tz"] is not None else None,
    )


def _is_argument(param: inspect.Parameter) -> bool:
    import typer

    return any(isinstance(m, typer.models.ArgumentInfo) for m in _metadata(param.annotation))


def _metadata(annotation: Any) -> tuple[Any, ...]:
    return tuple(getattr(annotation, "__metadata__", ()))


def reads_logs(*, filters: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command ``FILES``, the input options and (``filters``) the filters, as one
    ``inputs: Inputs`` argument. Its own arguments come first, then ``FILES``, its own
    options, and the shared ones."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.name != "inputs"
        ]
        shared = [*INPUT_OPTIONS, *(FILTER_OPTIONS if filters else ())]
        params = [
            *(p for p in own if _is_argument(p)),
            _param(*FILES),
            *(p for p in own if not _is_argument(p)),
            *(_param(*spec) for spec in shared),
        ]
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise TypeError(f"{command.__name__}: a parameter shadows a shared option")

        def run(**values: Any) -> None:
            import polars  # noqa: F401  (the command needs it; first, for catch_interrupts)

            catch_interrupts()
            command(inputs=_inputs(values, filters), **values)

        run.__name__ = command.__name__
        run.__qualname__ = command.__qualname__
        run.__doc__ = command.__doc__
        run.__module__ = command.__module__
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
        )
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )
