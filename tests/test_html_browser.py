"""``logtrace report`` opened from disk in headless Chromium (Debian's chromium and
chromedriver, driven by selenium): the numbers shown are analyze --json's, the route table
sorts and filters, a waterfall opens, and nothing is fetched, logged as an error or run
from the logs' text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from tests.conftest import CHROMEDRIVER, CHROMIUM, need_browser
from tests.html_logs import write_hostile_log

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
WAIT_S = 10
runner = CliRunner()


def build(out: Path, *args: str) -> Path:
    result = runner.invoke(app, ["report", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def analyze_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["analyze", *args, "--json", "--every", "auto"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_AVOID_STATS", "true")  # Selenium Manager: no download, no report
        service = Service(executable_path=str(CHROMEDRIVER))
        browser = webdriver.Chrome(service=service, options=options)
    browser.set_page_load_timeout(WAIT_S)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("report") / "report.html", str(SAMPLE), *CONF)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    return build(folder / "report.html", str(write_hostile_log(folder)), "--preset", "trace")


def browser_log(driver: WebDriver, kind: str) -> list[dict[str, Any]]:
    """The entries of a Chrome log ("performance", "browser") since the last call."""
    entries: list[dict[str, Any]] = driver.get_log(kind)  # type: ignore[no-untyped-call]
    return entries


def open_page(driver: WebDriver, page: Path) -> None:
    """Open ``page`` from disk, the logs of any earlier page drained first."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    browser_log(driver, "performance")
    browser_log(driver, "browser")
    driver.get(page.as_uri())
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "1"
    )


def requests_made(driver: WebDriver) -> list[str]:
    """The URL of every request the page made since it was opened."""
    urls = []
    for entry in browser_log(driver, "performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def assert_quiet(driver: WebDriver, page: Path) -> None:
    """No request but the page itself, no console message of level warning or worse,
    and no dialog."""
    from selenium.common.exceptions import NoAlertPresentException

    urls = requests_made(driver)
    assert set(urls) == {page.as_uri()}  # the page itself is seen: the log works
    problems = [e for e in browser_log(driver, "browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018  (reading it is the check)


def test_overview_shows_the_numbers_of_analyze_json(
    driver: WebDriver, sample_report: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    expected = analyze_json(str(SAMPLE), *CONF)
    open_page(driver, sample_report)
    shown = {
        e.get_attribute("data-key"): e for e in driver.find_elements(By.CSS_SELECTOR, "[data-key]")
    }
    assert shown["requests"].text == f"{expected['requests']:,}" == "2,500"
    assert float(shown["error_rate"].get_attribute("data-value") or "nan") == expected["error_rate"]
    assert shown["error_rate"].text == f"{100 * expected['error_rate']:.2f}%"
    for key in ("p50_s", "p90_s", "p95_s", "p99_s", "max_s", "mean_s"):
        assert float(shown[key].get_attribute("data-value") or "nan") == expected["latency"][key]
    assert shown["p95_s"].text == "373 ms"  # as the terminal report writes it
    assert (
        int(shown["lines_rejected"].get_attribute("data-value") or -1)
        == expected["lines"]["rejected"]
    )
    rows = driver.find_elements(By.CSS_SELECTOR, "#routes-table tbody tr")
    assert len(rows) == len(expected["routes"])
    by_route = {r["route"]: r for r in expected["routes"]}
    for row in rows:
        cells = row.find_elements(By.TAG_NAME, "td")
        route = by_route[cells[0].text]
        assert int(cells[1].get_attribute("data-value") or -1) == route["count"]
        assert float(cells[6].get_attribute("data-value") or "nan") == route["p99_s"]  # p99
    buckets = driver.find_elements(By.CSS_SELECTOR, "#over-time svg.chart")
    assert len(buckets) == 2  # latency and request rate
    driver.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert_quiet(driver, sample_report)


def column_values(driver: WebDriver, index: int) -> list[float]:
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(
        By.CSS_SELECTOR, f"#routes-table tbody tr td:nth-child({index + 1})"
    )
    return [float(c.get_attribute("data-value") or "nan") for c in cells]


def test_route_table_sorts_and_filters(driver: WebDriver, sample_report: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, sample_report)
    header = driver.find_elements(By.CSS_SELECTOR, "#routes-table thead th")
    p99 = [h.text for h in header].index("p99")
    header[p99].click()
    values = column_values(driver, p99)
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    assert header[p99].get_attribute("aria-sort") == "descending"
    header[p99].click()
    assert column_values(driver, p99) == sorted(values)
    box = driver.find_element(By.ID, "routes-filter")
    box.send_keys("orders")
    routes = [
        c.text for c in driver.find_elements(By.CSS_SELECTOR, "#routes-table tbody td:first-child")
    ]
    expected = [r["route"] for r in analyze_json(str(SAMPLE), *CONF)["routes"]]
    assert sorted(routes) == sorted(r for r in expected if "orders" in r)
    assert len(routes) == 4
    assert_quiet(driver, sample_report)


def test_a_slow_request_opens_its_waterfall(
    driver: WebDriver, sample_report: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(driver, sample_report)
    # every insight's first example links to its waterfall too
    assert len(driver.find_elements(By.CSS_SELECTOR, "#insights-table a.rid")) >= 9
    link = driver.find_elements(By.CSS_SELECTOR, "#slowest-table a.rid")[0]
    rid = link.text
    link.click()
    box = driver.find_element(By.ID, f"trace-{rid}")
    WebDriverWait(driver, WAIT_S).until(lambda d: box.get_attribute("open") is not None)
    trace = runner.invoke(app, ["trace", rid, str(SAMPLE), *CONF, "--json"])
    spans = json.loads(trace.stdout)["spans"]
    labels = box.find_elements(By.CSS_SELECTOR, "svg.waterfall text.wlabel")
    calls = box.find_elements(By.CSS_SELECTOR, "table.calls tbody tr")
    assert len(labels) == len(calls) == len(spans)
    durations = [
        float(r.find_elements(By.TAG_NAME, "td")[5].get_attribute("data-value") or "nan")
        for r in calls
    ]
    assert durations == [s["duration_s"] for s in spans]
    assert box.find_elements(By.CSS_SELECTOR, ".tag.crit")  # the critical path is marked
    driver.save_screenshot(str(tmp_path / "waterfall.png"))
    assert_quiet(driver, sample_report)


def test_hostile_log_text_is_shown_never_run(driver: WebDriver, hostile_report: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, hostile_report)
    for details in driver.find_elements(By.CSS_SELECTOR, "details"):
        driver.execute_script("arguments[0].open = true", details)
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "/a/<script>alert(1)</script>" in body  # shown, as text
    assert "<img src=x onerror=alert(2)>" in body  # in the rejected line sample
    assert '/e/"><img src=x onerror=alert(6)>' in body  # nginx's \x22, read as a quote
    assert "\\u202E" in body and "\u202e" not in body  # bidi control shown as an escape
    assert "\\x1B" in body
    # no element was made from the text: only the page's own scripts, no img or b
    assert len(driver.find_elements(By.TAG_NAME, "script")) == 2
    assert driver.find_elements(By.CSS_SELECTOR, "img, iframe, object, embed, b") == []
    handlers = driver.execute_script(
        "return Array.from(document.querySelectorAll('*')).flatMap(e => "
        "Array.from(e.attributes).map(a => a.name)).filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    hrefs = [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
    assert all(h.startswith(hostile_report.as_uri() + "#") for h in hrefs)
    assert_quiet(driver, hostile_report)


def test_waterfalls_mark_retries_clock_corrections_and_guessed_parents(
    driver: WebDriver, sample_report: Path
) -> None:
    from selenium.webdriver.common.by import By

    from tests.test_html_report import embedded

    traces = embedded(sample_report.read_text(encoding="utf-8"))["traces"]
    spans = [s for t in traces for s in t["spans"]]
    retries = sum(1 for s in spans if (s["attempt"] or 0) > 1)
    corrected = sum(1 for s in spans if abs(s["skew_s"] or 0) >= 0.001)
    guessed = sum(1 for s in spans if s["parent_guessed"])
    assert retries and corrected  # sample_logs: edge retries /api/flaky; api-2 is 150 ms off
    open_page(driver, sample_report)
    for details in driver.find_elements(By.CSS_SELECTOR, "details.trace"):
        driver.execute_script("arguments[0].open = true", details)
    marks = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "svg.waterfall text.wmark")]
    assert sum("retry " in m for m in marks) == retries
    assert sum("clock " in m for m in marks) == corrected
    assert sum("parent?" in m for m in marks) == guessed
    dashed = driver.find_elements(By.CSS_SELECTOR, "svg.waterfall rect[stroke-dasharray]")
    assert len(dashed) == guessed
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.waterfall")) == len(traces)
    assert_quiet(driver, sample_report)


def test_many_sources_scroll_filter_and_fold_their_warnings(
    driver: WebDriver, tmp_path: Path
) -> None:
    """37 sources (rotated pieces, 8 with a rejected line, 7 empty): the table scrolls and
    filters; the warnings and rejected lines of all but the first 5 sources fold away."""
    from selenium.webdriver.common.by import By

    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines(keepends=True)
    folder = tmp_path / "logs"
    folder.mkdir()
    for i in range(30):
        bad = "a line of no format\n" if i % 3 == 1 and i < 24 else ""
        (folder / f"edge-part-{i:02d}.log").write_text("".join(lines[i * 80 : i * 80 + 80]) + bad)
    for i in range(7):
        (folder / f"empty-{i}.log").write_text("")
    page = build(tmp_path / "report.html", str(folder), "--preset", "trace")
    open_page(driver, page)
    rows = driver.find_elements(By.CSS_SELECTOR, "#sources-table tbody tr")
    assert len(rows) == 37
    box = driver.find_element(By.CSS_SELECTOR, "#overview .tablebox.tall #sources-table")
    assert box.is_displayed()
    driver.find_element(By.ID, "sources-filter").send_keys("part-1")
    shown = driver.find_elements(By.CSS_SELECTOR, "#sources-table tbody td:first-child")
    assert sorted(c.text for c in shown) == [str(folder / f"edge-part-1{i}.log") for i in range(10)]
    top = driver.find_elements(
        By.CSS_SELECTOR, "#overview > details.sub:not(#more-source-warnings)"
    )
    told = [d.find_element(By.TAG_NAME, "summary").text for d in top]
    assert [t.split(" (")[0] for t in told[:5]] == [
        f"Rejected lines of {folder / f'edge-part-{i:02d}.log'}" for i in (1, 4, 7, 10, 13)
    ]
    assert told[5] == "Rejected lines of 3 more sources (3)"
    warnings = driver.find_elements(By.CSS_SELECTOR, "#overview > p.warn")
    assert len([w for w in warnings if "empty, not a single line" in w.text]) == 5
    folded = driver.find_element(By.ID, "more-source-warnings")
    assert folded.find_element(By.TAG_NAME, "summary").text == "Warnings of 2 more sources"
    assert_quiet(driver, page)


def test_a_log_in_an_envelope_says_so_in_the_sources_table(
    driver: WebDriver, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()
    cri = "".join(f"2026-11-26T12:37:13.{i:09d}Z stdout F {ln}\n" for i, ln in enumerate(lines))
    (tmp_path / "edge-1.log").write_text(cri)
    page = build(tmp_path / "report.html", str(tmp_path / "edge-1.log"))
    open_page(driver, page)
    cells = driver.find_elements(By.CSS_SELECTOR, "#sources-table tbody td:nth-child(5)")
    assert [c.text for c in cells] == ["trace in cri lines (detected)"]
    assert_quiet(driver, page)
