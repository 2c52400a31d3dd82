"""Every preset parses its own genuine sample lines to the values they imply."""

from __future__ import annotations

import pytest

from logtrace.analysis.derive import derive
from logtrace.errors import NotFoundError
from logtrace.ingest import FormatOptions, FormatResolver
from logtrace.log_format.presets import PRESETS, get_preset
from logtrace.parse import parse_chunk
from tests.conftest import lines_of

CASES = [
    pytest.param(preset, i, sample, id=f"{preset.name}-{i}")
    for preset in PRESETS.values()
    for i, sample in enumerate(preset.samples)
]


def test_every_preset_ships_samples() -> None:
    for preset in PRESETS.values():
        assert len(preset.samples) >= 3, preset.name


@pytest.mark.parametrize(("preset", "index", "sample"), CASES)
def test_preset_sample_parses_to_expected_values(preset, index, sample) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_chunk(lines_of(sample.line), preset.compiled(), None)
    assert parsed.rejects.is_empty(), parsed.rejects.to_dicts()
    row = derive(parsed.lines.lazy(), parsed.lines.columns).collect().row(0, named=True)
    for column, expected in sample.expected.items():
        assert row[column] == expected, (column, row[column], expected)


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=lambda p: p.name)
def test_detection_picks_the_preset_that_wrote_the_lines(preset) -> None:  # type: ignore[no-untyped-def]
    resolver = FormatResolver.from_options(FormatOptions())
    text = "\n".join(sample.line for sample in preset.samples)
    detection = resolver.detect(lines_of(text))
    assert detection.format is not None
    assert detection.format.name == preset.name
    assert detection.matched == len(preset.samples)


def test_unknown_preset_names_the_existing_ones() -> None:
    with pytest.raises(NotFoundError) as err:
        get_preset("combind")
    assert "combined" in (err.value.hint or "")
