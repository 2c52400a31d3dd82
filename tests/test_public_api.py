"""``import logtrace``: the library API the README's "Use as a library" shows."""

from __future__ import annotations

import importlib

import pytest

import logtrace


@pytest.mark.parametrize("name", logtrace.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(logtrace, name) is not None


def test_public_names_are_the_objects_of_their_modules() -> None:
    from logtrace.analysis.derive import Filters

    assert logtrace.Filters is Filters


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        importlib.import_module("logtrace").nope  # noqa: B018
