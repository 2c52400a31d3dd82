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
        # lnav's shop log (a real store): percent-encoded slugs and lists of filters
        (
            "/product/31893/62100/%D8%B3%D8%B4%D9%88%D8%A7%D8%B1-PR257AT",
            "/product/{id}/{id}/{slug}",
        ),
        ("/blog/tag/%DA%AF%D8%AC%D8%AA/", "/blog/tag/{slug}/"),
        ("/blog/tag/%D8%A7%D8%AF%D9%88%DB%8C%D9%87/feed/", "/blog/tag/{slug}/feed/"),
        ("/m/browse/fryer/%D8%B3%D8%B1%D8%AE-%DA%A9%D9%86", "/m/browse/fryer/{slug}"),
        ("/search/red%20shoes", "/search/red%20shoes"),  # escaped ASCII: no text
        ("/m/filter/b99%2Cp4510%2Cstexists%2Ct116", "/m/filter/{list}"),
        ("/filter/stexists,p8393,b80", "/filter/{list}"),
        ("/filter/27|13%20%D9%85,27|%DA%A9,p53", "/filter/{list}"),
        ("/items/3%2C7/%D8%B3", "/items/{list}/{slug}"),
        ("/browse/sandwich-maker", "/browse/sandwich-maker"),
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


def test_the_shop_log_s_pages_fall_into_a_few_routes() -> None:
    """The paths of lnav's shop log: its 1,000 requests had 361 routes, one per product
    name and filter list; the slugs and lists now share their route."""
    kinds = [
        "/product/{n}/{m}/%D8%B3%D8%B4%D9%88%D8%A7%D8%B1-{n}",
        "/m/filter/b{n}%2Cp{m}%2Cstexists",
        "/filter/stexists,p{n},b{m}",
        "/m/article/{n}/%D8%A8%D9%87-%D8%B1%D8%A7%D8%AD%D8%AA{m}",
        "/blog/tag/%D8%A7%D8%AF{n}%D9%88{m}/",
    ]
    paths = [k.format(n=n, m=n * 7 + 3) for k in kinds for n in range(40)]
    routes = template_paths(pl.Series(paths, dtype=pl.String))
    assert routes.n_unique() == len(kinds)
