"""``logtrace formats``: the presets and the formats of an nginx.conf."""

from __future__ import annotations

from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app, command


@command(app, example="logtrace formats --nginx-conf /etc/nginx/nginx.conf --regex")
def formats(
    nginx_conf: opt.NginxConfOpt = None,
    show_regex: Annotated[
        bool, typer.Option("--regex", help="Also show the compiled regexes.")
    ] = False,
) -> None:
    """List the preset log formats (and those of --nginx-conf)."""
    from logtrace.log_format.compiler import compile_format
    from logtrace.log_format.nginx_conf import read_nginx_conf
    from logtrace.log_format.presets import PRESETS
    from logtrace.render.console import make_console
    from logtrace.render.formats import render_formats

    entries = [(p.name, p.description, p.compiled()) for p in PRESETS.values()]
    for conf in nginx_conf or []:
        config = read_nginx_conf(conf)
        entries += [
            (name, f"from {conf}", compile_format(fmt)) for name, fmt in config.formats.items()
        ]
    render_formats(make_console(), entries, show_regex=show_regex)
