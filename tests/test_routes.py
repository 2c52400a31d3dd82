"""Route templates: ids become placeholders, names stay."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.routes import BAD_REQUEST, route_column, template_paths, with_routes


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
        # ids with an extension, dates, numbers and hashes inside names, slugs with digits
        ("/images/65710.webp", "/images/{id}.webp"),
        ("/reports/export/37886.csv", "/reports/export/{id}.csv"),
        ("/f/3f2a9c1e-aaaa-bbbb-cccc-123456789012.pdf", "/f/{id}.pdf"),
        ("/dumps/0123456789abcdef0123.tar.gz", "/dumps/{id}.tar.gz"),
        ("/reports/2026-11-26", "/reports/{date}"),
        ("/reports/2026-11-26/summary", "/reports/{date}/summary"),
        ("/backup/db_20261126.sql.gz", "/backup/db_{date}.sql.gz"),
        ("/logs/2026-01-01_2026-02-01.txt", "/logs/{date}_{date}.txt"),
        ("/reports/20261126", "/reports/{id}"),  # only digits: an id (can be an order no.)
        ("/uploads/IMG_1234.jpg", "/uploads/IMG_{id}.jpg"),
        ("/static/app-3f9a2c1b.js", "/static/app-{hash}.js"),
        ("/blog/how-to-fix-502-errors", "/blog/{slug}"),
        ("/blog/how-to-fix-502-errors.html", "/blog/{slug}.html"),
        ("/blog/top-10-tips/comments", "/blog/{slug}/comments"),
        # names with digits that are names: not templated
        ("/v2/users", "/v2/users"),
        ("/api/oauth2/token", "/api/oauth2/token"),
        ("/api/v1.2/items", "/api/v1.2/items"),
        ("/covid-19", "/covid-19"),
        ("/error-404.html", "/error-404.html"),
        ("/lib/jquery-3.6.0.min.js", "/lib/jquery-3.6.0.min.js"),
        ("/html5-demo/x", "/html5-demo/x"),
        ("/blog/how-to-cook.mp4", "/blog/how-to-cook.mp4"),  # the digit is the extension's
        ("/p/123-shoes", "/p/123-shoes"),  # two words, a short number
        ("/reports/2026-13-40", "/reports/{id}-13-40"),  # no such month: not a date
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


@pytest.mark.parametrize("distinct_share", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_routes_are_made_per_path_whether_paths_repeat_or_not(distinct_share: float) -> None:
    """Paths that repeat are templated once and looked up, mostly distinct ones each as
    it comes: the same routes either way, nulls ``(no path)``, in order."""
    n = 5000
    distinct = int(n * distinct_share)
    paths: list[str | None] = [f"/u/{i}/x{i % 7}" for i in range(distinct)]
    paths += [["/users/42", "/static/app.js", None, "/a/b%2Cc"][i % 4] for i in range(n - distinct)]
    paths = [p for pair in zip(paths[::2], paths[1::2], strict=True) for p in pair[::-1]]
    series = pl.Series("path", paths)
    expected = [template_paths(pl.Series([p], dtype=pl.String)).item() for p in paths[:40]]
    routes = route_column(series)
    assert routes.len() == n
    assert routes.to_list()[:40] == expected
    assert routes.equals(template_paths(series), check_names=False)
    lines = pl.DataFrame({"path": series, "n": range(n)})
    assert with_routes(lines).collect().get_column("route").equals(routes, check_names=False)


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


def test_realistic_paths_fall_into_a_few_routes() -> None:
    """The paths that made a 1M-line report of 68,743 routes of one request each."""
    kinds = [
        "/images/{n}.webp",
        "/reports/export/{n}.csv",
        "/reports/2026-{m:02d}-{d:02d}",
        "/blog/how-to-fix-{n}-errors",
        "/uploads/IMG_{n}.jpg",
    ]
    paths = [
        k.format(n=1000 + n * 37, m=n % 12 + 1, d=n % 28 + 1) for k in kinds for n in range(60)
    ]
    assert template_paths(pl.Series(paths, dtype=pl.String)).n_unique() == len(kinds)
