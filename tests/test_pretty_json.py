"""JSON printed an object over many lines (``journalctl -o json-pretty``, ``jq .``) is read
an object a line, as ``journalctl -o json`` and ``jq -c`` print it (fixtures/pretty:
genuine output of both printers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace import sources as sources_module
from logtrace.cli import app
from logtrace.sources import ReadReport, iter_frames, resolve_sources
from tests.conftest import SAMPLE

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PRETTY = FIXTURES / "pretty"
runner = CliRunner()


def _report(path: Path) -> dict[str, Any]:
    """analyze --json, with the file's folder taken off the paths it names."""
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout.replace(f"{path.parent}/", ""))
    return doc


@pytest.mark.parametrize(
    ("pretty", "compact", "lines", "objects"),
    [
        ("journal-pretty.json", FIXTURES / "syslog" / "journal.json", 3900, 300),
        ("api-1.jq.json", SAMPLE / "api-1.log", 2182, 200),
        ("node-pino-http.jq.json", FIXTURES / "app-log-shapes" / "node-pino-http.log", 187, 6),
    ],
)
def test_json_printed_over_many_lines_reads_as_an_object_a_line(
    tmp_path: Path, pretty: str, compact: Path, lines: int, objects: int
) -> None:
    """The same report as the objects printed one a line; its line numbers count objects,
    and the report says so."""
    one_a_line = [line for line in compact.read_text().splitlines() if line.startswith("{")]
    for kind in ("compact", "pretty"):  # a folder of one name: the host each names
        (tmp_path / kind / "web-1").mkdir(parents=True)
    same = tmp_path / "compact" / "web-1" / "app.log"
    same.write_text("\n".join(one_a_line[:objects]) + "\n")
    printed = tmp_path / "pretty" / "web-1" / "app.log"
    printed.write_bytes((PRETTY / pretty).read_bytes())
    read = _report(printed)
    (source,) = read["sources"]
    said = source["warnings"].pop(0)
    assert said == (
        "app.log: JSON objects printed over many lines each (as `journalctl -o json-pretty` "
        f"or `jq .` print them): its {lines:,} lines read as {objects:,}, an object a line "
        "(line numbers count those)"
    )
    assert read == _report(same)
    assert source["lines_total"] == objects


@pytest.mark.parametrize("block", [1000, 4096, 65536])
def test_an_object_cut_between_blocks_is_read_whole(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Whatever the blocks the file is read in, each object is one line, whole."""
    path = PRETTY / "node-pino-http.jq.json"
    compact = [json.loads(o) for o in _objects(path)]
    monkeypatch.setattr(sources_module, "CHUNK_BYTES", block)
    (source,) = resolve_sources([str(path)])
    frames = list(iter_frames(source, ReadReport(), block))
    lines = pl.concat(frames)
    assert [json.loads(line) for line in lines.get_column("line")] == compact
    assert_frame_equal(
        lines.select("line_no"),
        pl.DataFrame({"line_no": range(1, len(compact) + 1)}, schema={"line_no": pl.UInt32}),
    )


def _objects(path: Path) -> list[str]:
    """The file's objects, each as one line of compact JSON (by the json module)."""
    decoder = json.JSONDecoder()
    text, at, out = path.read_text(), 0, []
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            break
        value, at = decoder.raw_decode(text, at)
        out.append(json.dumps(value))
    return out


def test_a_broken_object_is_one_rejected_line_and_the_others_are_read(tmp_path: Path) -> None:
    """An object cut short (a file cut while written, an edit) is one line that is not
    valid JSON: counted as rejected, the objects after it read."""
    text = (PRETTY / "api-1.jq.json").read_text()
    objects = text.split("\n{\n")
    broken = objects[1].rsplit("\n", 3)[0]  # its last members and closing brace gone
    path = tmp_path / "api-1.json"
    path.write_text("\n{\n".join([objects[0], broken, *objects[2:]]))
    read = _report(path)
    (source,) = read["sources"]
    assert (source["lines_total"], source["lines_rejected"]) == (200, 1)
    assert source["rejected_samples"][0]["line_no"] == 2


def test_blank_lines_around_the_objects_are_between_them(tmp_path: Path) -> None:
    """Blank lines before, between and after the objects are counted among the file's
    lines, and make no object (no rejected blank line)."""
    objects = (PRETTY / "api-1.jq.json").read_text().split("\n{\n")
    path = tmp_path / "api-1.json"
    path.write_text("\n\n" + "\n\n{\n".join(objects) + "\n\n")
    (source,) = _report(path)["sources"]
    assert (source["lines_total"], source["lines_parsed"], source["lines_rejected"]) == (
        200,
        200,
        0,
    )
    lines = path.read_text().count("\n")
    assert f"its {lines:,} lines read as 200, an object a line" in source["warnings"][0]


def test_lines_in_no_object_after_the_printed_objects_stay_lines(tmp_path: Path) -> None:
    """Only the line breaks inside an object go: a log that starts with an object printed
    over lines (a banner) and goes on in lines of its own keeps each of those a line."""
    banner = (PRETTY / "api-1.jq.json").read_text().split("\n{\n")[0] + "\n"
    lines = (SAMPLE / "api-1.log").read_text().splitlines(keepends=True)[1:300]
    path = tmp_path / "api-1.log"
    path.write_text(banner + "".join(lines))
    (source,) = _report(path)["sources"]
    assert (source["lines_total"], source["lines_parsed"]) == (300, 300)
    assert f"its {banner.count(chr(10)) + 299:,} lines read as 300," in source["warnings"][0]


def test_a_log_that_merely_starts_with_a_brace_is_left_as_it_is(tmp_path: Path) -> None:
    """Only a brace alone on the first line, then an indented member, is the printers'
    shape: JSON lines (a brace and the object on one line) are read as they were."""
    path = tmp_path / "api-1.log"
    path.write_bytes((SAMPLE / "api-1.log").read_bytes())
    read = _report(path)
    assert not any("printed over many lines" in w for w in read["sources"][0]["warnings"])
