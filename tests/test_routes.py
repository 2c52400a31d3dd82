"""Route templates: ids become placeholders, names stay."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.routes import BAD_REQUEST, template_paths


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/users/12345", "/users/{id}"),
        ("/users/12345/orders/7", "/users/{id}/orders/{id}"),
        ("/a/3f2a9c1e-aaaa-bbbb-cccc-123456789012/x", "/a/{id}/x"),
        ("/blob/0123456789abcdef0123", "/blob/{id}"),
        ("/blob/deadbeefdeadbeefdead/1", "/blob/{id}/{id}"),
        ("/v2/users/42/123abc", "/v2/users/{id}/123abc"),
        ("/static/app.3f2a9c1e.js", "/static/app.{hash}.js"),
        ("/s/AbC123xyz789QWE456rty", "/s/{token}"),
        ("/api/v1/users", "/api/v1/users"),
        ("/static/app.js", "/static/app.js"),
        ("/", "/"),
        (None, BAD_REQUEST),
    ],
)
def test_template(path: str | None, route: str) -> None:
    assert template_paths(pl.Series([path], dtype=pl.String)).to_list() == [route]


def test_templates_keep_the_order_of_paths() -> None:
    paths = ["/a/1", "/b", None, "/c/AbC123xyz789QWE456rty", "/d/2/3"]
    assert template_paths(pl.Series(paths, dtype=pl.String)).to_list() == [
        "/a/{id}",
        "/b",
        BAD_REQUEST,
        "/c/{token}",
        "/d/{id}/{id}",
    ]
