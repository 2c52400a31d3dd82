"""The command line: options in, one library call, a renderer or exporter out.

The only package that imports typer. Library modules are imported inside the commands
so that ``logtrace --help`` and ``--version`` start fast (polars alone takes ~0.3 s).
"""

# Importing a command module registers its commands, in this order in --help.
from logtrace.cli import report, html, live, compare, timelines, formats, export  # noqa: F401, I001
from logtrace.cli.app import app, main
from logtrace.cli.options import parse_status, parse_time

__all__ = ["app", "main", "parse_status", "parse_time"]
