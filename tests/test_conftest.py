"""The test kit itself: what happens to the nginx tests where nginx cannot run."""

from __future__ import annotations

import pytest

from tests import conftest


def test_without_nginx_an_nginx_test_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "nginx_available", lambda: False)
    monkeypatch.delenv(conftest.REQUIRE_NGINX, raising=False)
    with pytest.raises(pytest.skip.Exception):
        conftest.need_nginx()


def test_without_nginx_an_nginx_test_fails_where_ci_requires_nginx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "nginx_available", lambda: False)
    monkeypatch.setenv(conftest.REQUIRE_NGINX, "1")
    with pytest.raises(pytest.fail.Exception, match="LOGTRACE_REQUIRE_NGINX=1 requires it"):
        conftest.need_nginx()


def test_with_nginx_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "nginx_available", lambda: True)
    monkeypatch.setenv(conftest.REQUIRE_NGINX, "1")
    conftest.need_nginx()


def test_ci_requires_nginx() -> None:
    run = (conftest.ROOT / ".ci" / "run").read_text()
    assert f"export {conftest.REQUIRE_NGINX}=1" in run
    assert run.index(conftest.REQUIRE_NGINX) < run.index("make test")
