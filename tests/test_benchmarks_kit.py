"""The benchmark kit: the log generator's promises and the regex baseline's numbers."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import itertools
import json
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from logtrace.sources import resolve_sources

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
LINES = 20_000
APP_FILES = ("api-1.log", "api-2.log", "inventory-1.log", "users-1.log", "mesh-1.log")

# The trace log_format, written out independently of the generator and the baseline.
EDGE_LINE = re.compile(
    r"(?P<addr>[0-9a-f.:]+) - (?P<user>\S+) "
    r"\[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<rt>\d+\.\d{3}) '
    r"(?P<upstream>-|\d+\.\d{3}(?:, \d+\.\d{3})*) (?P<rid>[0-9a-f]{32})"
)
MESH_LINE = re.compile(
    r'(?P<msec>\d+\.\d{3}) (?P<addr>\S+) "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" '
    r"(?P<status>\d{3}) \d+ (?P<rt>\d+\.\d{3}) \S+ (?P<upstream>\d+\.\d{3}|-) (?P<rid>[0-9a-f]{32})"
)
INVENTORY_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) [A-Z]+ inventory rid=(?P<rid>[0-9a-f]{32}) "
    r"[A-Z]+ \S+ \d{3} in (?P<ms>\d+\.\d)ms"
)
USERS_LINE = re.compile(
    r"\[(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6})\] users served [A-Z]+ \S+ "
    r"status=\d{3} elapsed=(?P<s>\d+\.\d{4}) request_id=(?P<rid>[0-9a-f]{32})"
)
LOGFMT_PAIR = re.compile(r'(\w+)=("[^"]*"|\S+)')


def generate(out: Path, *args: str) -> Path:
    """Run benchmarks/generate.py into `out`."""
    argv = [sys.executable, str(BENCH / "generate.py"), "--out", str(out), *args]
    subprocess.run(argv, check=True, capture_output=True, cwd=REPO)
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20k edge lines with app logs, in small chunks so lines carry across chunks."""
    out = tmp_path_factory.mktemp("gen") / "a"
    return generate(out, "--lines", str(LINES), "--seed", "7", "--chunk", "6999")


def us(seconds: str | Decimal) -> int:
    """Decimal seconds → integer microseconds, exactly."""
    return int(Decimal(seconds) * 1_000_000)


def epoch_us(moment: datetime) -> int:
    """An aware datetime → epoch microseconds, exactly."""
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_lines(path: Path) -> list[str]:
    """Lines without their newline (nginx's escaping keeps them ASCII)."""
    return path.read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True)
class Span:
    """A request's interval as one log line states it."""

    kind: str
    rid: str
    start: int
    end: int

    def within(self, outer: Span) -> bool:
        """Nested in `outer` (bounds included)."""
        return outer.start <= self.start and self.end <= outer.end


def edge_spans(directory: Path) -> dict[str, Span]:
    """request id → span: the logged second is the end, minus $request_time is the start."""
    spans = {}
    for line in read_lines(directory / "edge.log"):
        m = EDGE_LINE.fullmatch(line)
        assert m is not None, line
        end = epoch_us(datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z"))
        spans[m["rid"]] = Span("edge", m["rid"], end - us(m["rt"]), end)
    return spans


def app_spans(directory: Path) -> Iterator[Span]:
    """Every span stated by an app or mesh line that carries a request id."""
    for line in read_lines(directory / "api-1.log"):
        doc = json.loads(line)
        if "request_id" not in doc:
            continue
        end = epoch_us(datetime.fromisoformat(doc["time"]))
        if doc["msg"] == "request started":
            yield Span("api-started", doc["request_id"], end, end)
            continue
        kind = "api" if doc["msg"] == "request finished" else "call-" + doc["peer"]
        yield Span(kind, doc["request_id"], end - us(Decimal(str(doc["duration_ms"])) / 1000), end)
    for line in read_lines(directory / "api-2.log"):
        kv = {k: v.strip('"') for k, v in LOGFMT_PAIR.findall(line)}
        if "req_id" not in kv:
            continue
        end = epoch_us(datetime.fromisoformat(kv["ts"]))
        kind = "api" if kv["msg"] == "request finished" else "call-" + kv["peer"]
        yield Span(kind, kv["req_id"], end - us(Decimal(kv["took"][:-2]) / 1000), end)
    for line in read_lines(directory / "inventory-1.log"):
        if (m := INVENTORY_LINE.fullmatch(line)) is not None:
            end = epoch_us(datetime.fromisoformat(m["time"].replace(",", ".") + "+00:00"))
            yield Span("inventory", m["rid"], end - us(Decimal(m["ms"]) / 1000), end)
        else:
            assert "rid=" not in line, line  # only tracebacks and notes lack the shape
    for line in read_lines(directory / "users-1.log"):
        if (m := USERS_LINE.fullmatch(line)) is not None:
            end = epoch_us(datetime.strptime(m["time"] + "+0000", "%Y/%m/%d %H:%M:%S.%f%z"))
            yield Span("users", m["rid"], end - us(m["s"]), end)
        else:
            assert "request_id" not in line, line
    for line in read_lines(directory / "mesh-1.log"):
        m = MESH_LINE.fullmatch(line)
        assert m is not None, line
        end = us(m["msec"])
        yield Span("mesh", m["rid"], end - us(m["rt"]), end)


def test_same_seed_gives_the_same_bytes_whatever_the_chunk_size(
    dataset: Path, tmp_path: Path
) -> None:
    again = generate(tmp_path / "b", "--lines", str(LINES), "--seed", "7")
    for name in ("edge.log", *APP_FILES, "manifest.json", "nginx.conf"):
        assert (again / name).read_bytes() == (dataset / name).read_bytes(), name


def test_another_seed_gives_other_lines(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", "--lines", "50", "--seed", "1", "--edge-only")
    two = generate(tmp_path / "two", "--lines", "50", "--seed", "2", "--edge-only")
    assert (one / "edge.log").read_bytes() != (two / "edge.log").read_bytes()


def test_edge_log_has_exactly_the_requested_lines(dataset: Path) -> None:
    assert len(read_lines(dataset / "edge.log")) == LINES


def test_manifest_counts_the_lines_and_bytes_of_every_file(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == ["edge.log", *APP_FILES]
    for entry in manifest["files"]:
        path = dataset / entry["name"]
        assert entry["lines"] == path.read_bytes().count(b"\n")
        assert entry["bytes"] == path.stat().st_size
    assert manifest["seed"] == 7
    assert "$request_time $upstream_response_time $request_id" in manifest["formats"]["trace"]


def test_every_edge_line_matches_the_trace_format(dataset: Path) -> None:
    bad = [ln for ln in read_lines(dataset / "edge.log") if not EDGE_LINE.fullmatch(ln)]
    assert bad == []


def test_edge_lines_are_in_time_order_and_ids_are_unique(dataset: Path) -> None:
    times = [
        datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
        for m in map(EDGE_LINE.fullmatch, read_lines(dataset / "edge.log"))
        if m is not None
    ]
    assert times == sorted(times)
    assert len(edge_spans(dataset)) == LINES


def test_edge_log_looks_like_real_traffic(dataset: Path) -> None:
    matches = [EDGE_LINE.fullmatch(ln) for ln in read_lines(dataset / "edge.log")]
    statuses = {m["status"] for m in matches if m}
    upstreams = [m["upstream"] for m in matches if m]
    assert {"200", "304", "404", "499", "502", "504"} <= statuses
    assert sum(s == "200" for m in matches if m for s in [m["status"]]) > LINES // 2
    assert any(", " in u for u in upstreams)  # a retried upstream
    assert "-" in upstreams
    assert len({m["request"].split("?")[0] for m in matches if m}) > 1000  # ids in paths


def test_app_request_ids_all_come_from_the_edge(dataset: Path) -> None:
    edge = edge_spans(dataset)
    app_ids = {span.rid for span in app_spans(dataset)}
    assert app_ids  # the join has work to do
    assert app_ids <= edge.keys()


def test_app_spans_nest_inside_their_edge_span(dataset: Path) -> None:
    edge = edge_spans(dataset)
    outside = [s for s in app_spans(dataset) if not s.within(edge[s.rid])]
    assert outside == []


def test_each_hop_nests_inside_the_call_that_made_it(dataset: Path) -> None:
    by_kind: dict[str, dict[str, Span]] = {}
    for span in app_spans(dataset):
        by_kind.setdefault(span.kind, {})[span.rid] = span
    chains = [
        ("call-users", "api"),
        ("call-inventory", "api"),
        ("users", "call-users"),
        ("mesh", "call-inventory"),
        ("inventory", "mesh"),
    ]
    for inner, outer in chains:
        assert by_kind[inner], inner
        for rid, span in by_kind[inner].items():
            assert span.within(by_kind[outer][rid]), (inner, outer, rid)
    for rid, started in by_kind["api-started"].items():
        assert started.start == by_kind["api"][rid].start


def test_gzip_output_holds_the_same_lines(tmp_path: Path) -> None:
    plain = generate(tmp_path / "plain", "--lines", "3000", "--seed", "3")
    packed = generate(tmp_path / "gz", "--lines", "3000", "--seed", "3", "--gzip")
    for name in ("edge.log", *APP_FILES):
        assert (
            gzip.decompress((packed / (name + ".gz")).read_bytes()) == (plain / name).read_bytes()
        )


def test_edge_only_writes_just_the_edge_log(tmp_path: Path) -> None:
    out = generate(tmp_path / "e", "--lines", "500", "--edge-only")
    assert sorted(p.name for p in out.iterdir()) == ["edge.log", "manifest.json", "nginx.conf"]
    assert len(read_lines(out / "edge.log")) == 500


# --- the chatty deployment ---------------------------------------------------------------

CHATTY_LINES = 6_000
CHATTY_FILES = (
    "edge.log", "web-1.log", "web-2.log", "proxy.log", "users-1.log", "items-1.log",
    "orders-1.log",
)  # fmt: skip
SERVICES = ("users", "items", "orders")
SKEW_US = {"web-1": 0, "web-2": 180_000}  # web-2's clock is ahead by this much
MOST_LINES_A_REQUEST = 3 + 3 * 13  # start, end and 3 lines a call; 13 calls at most
ORDERS_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) [A-Z]+ orders\.http request completed "
    r"request_id=(?P<rid>[0-9a-f]{32}) method=[A-Z]+ path=(?P<path>\S+) status=\d{3} "
    r"duration_ms=(?P<ms>\d+\.\d)"
)


@pytest.fixture(scope="module")
def chatty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 350 requests of the chatty deployment, in chunks of 97 requests."""
    out = tmp_path_factory.mktemp("gen") / "chatty"
    return generate(
        out, "--deployment", "chatty", "--lines", str(CHATTY_LINES), "--seed", "5", "--chunk", "97"
    )


@dataclass(frozen=True)
class Whole:
    """An nginx line with `$time_local`: it ended somewhere in `second`."""

    rid: str
    path: str
    second: int
    request_time: int
    last_try: int | None  # the last $upstream_response_time, µs

    def ends(self, inner: Span) -> tuple[int, int]:
        """The range of ends this line can have for its last try to hold `inner`."""
        assert self.last_try is not None
        low = max(self.second, inner.end)
        return low, min(self.second + 999_999, inner.start + self.last_try)


def whole_second_lines(path: Path) -> list[Whole]:
    """The `trace`-shaped lines of the edge or the proxy."""
    out = []
    for line in read_lines(path):
        m = EDGE_LINE.fullmatch(line)
        assert m is not None, line
        tries = m["upstream"].split(", ")
        out.append(
            Whole(
                m["rid"],
                m["request"].split(" ")[1],
                epoch_us(datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")),
                us(m["rt"]),
                None if tries[-1] == "-" else us(tries[-1]),
            )
        )
    return out


def unprefixed(proxy_path: str) -> tuple[str, str]:
    """`/items-svc/items/42` → (`items`, `/items/42`): the service and the path it saw."""
    m = re.fullmatch(r"/(\w+)-svc(/.*)", proxy_path)
    assert m is not None, proxy_path
    return m[1], m[2]


def chatty_spans(directory: Path) -> dict[tuple[str, str], Span]:
    """(what, request id [+ path]) → span: `web-start`, `web` (a web app's request, its
    clock set right), `call` (a web app's call), `users`, `items`, `orders` (a service's
    request); a span's `kind` is its host or service."""
    spans: dict[tuple[str, str], Span] = {}
    for host, skew in SKEW_US.items():
        for line in read_lines(directory / f"{host}.log"):
            doc = json.loads(line)
            end = epoch_us(datetime.fromisoformat(doc["ts"])) - skew
            rid, event = doc["request_id"], doc["event"]
            if event == "request_start":
                spans["web-start", rid] = Span(host, rid, end, end)
                continue
            start = end - us(Decimal(str(doc["duration_ms"])) / 1000)
            key = ("web", rid) if event == "request_end" else ("call", rid + doc["path"])
            assert key not in spans, key  # a path is called once in a request
            spans[key] = Span(host, rid, start, end)
    for name in ("users", "items"):
        for line in read_lines(directory / f"{name}-1.log"):
            kv = {k: v.strip('"') for k, v in LOGFMT_PAIR.findall(line)}
            end = epoch_us(datetime.fromisoformat(kv["ts"]))
            start = end - us(Decimal(kv["duration_ms"]) / 1000)
            spans[name, kv["request_id"] + kv["path"]] = Span(name, kv["request_id"], start, end)
    for line in read_lines(directory / "orders-1.log"):
        m = ORDERS_LINE.fullmatch(line)
        assert m is not None, line
        end = epoch_us(datetime.fromisoformat(m["time"].replace(",", ".") + "+00:00"))
        start = end - us(Decimal(m["ms"]) / 1000)
        spans["orders", m["rid"] + m["path"]] = Span("orders", m["rid"], start, end)
    return spans


def test_chatty_same_seed_gives_the_same_bytes_whatever_the_chunk_size(
    chatty: Path, tmp_path: Path
) -> None:
    args = ("--deployment", "chatty", "--lines", str(CHATTY_LINES), "--seed", "5")
    again = generate(tmp_path / "again", *args)
    for name in (*CHATTY_FILES, "manifest.json", "nginx.conf"):
        assert (again / name).read_bytes() == (chatty / name).read_bytes(), name
    other = generate(tmp_path / "other", *args[:-1], "6")
    assert (other / "edge.log").read_bytes() != (chatty / "edge.log").read_bytes()


def test_chatty_lines_are_the_requested_number_rounded_up_to_a_whole_request(
    chatty: Path,
) -> None:
    manifest = json.loads((chatty / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == list(CHATTY_FILES)
    assert (manifest["deployment"], manifest["lines"]) == ("chatty", CHATTY_LINES)
    for entry in manifest["files"]:
        assert entry["lines"] == len(read_lines(chatty / entry["name"])) > 0, entry["name"]
        assert entry["bytes"] == (chatty / entry["name"]).stat().st_size
    total = sum(f["lines"] for f in manifest["files"])
    assert CHATTY_LINES <= total < CHATTY_LINES + MOST_LINES_A_REQUEST
    requests = len(read_lines(chatty / "edge.log"))
    assert manifest["requests"] == requests
    assert 15 <= total / requests <= 18


def test_chatty_nginx_conf_declares_both_nginx_files(chatty: Path) -> None:
    conf = (chatty / "nginx.conf").read_text()
    assert "access_log edge.log trace;" in conf
    assert "access_log proxy.log proxy;" in conf
    assert "$request_time $upstream_response_time $http_x_request_id';" in conf


def test_chatty_requests_have_loops_fan_outs_retries_and_stripped_prefixes(chatty: Path) -> None:
    spans = chatty_spans(chatty)
    calls: dict[str, list[Span]] = {}
    for (kind, _), span in spans.items():
        if kind == "call":
            calls.setdefault(span.rid, []).append(span)
    assert max(len(c) for c in calls.values()) >= 10  # an N+1 loop
    assert any(  # calls at once
        any(b.start < a.end for a, b in itertools.pairwise(sorted(c, key=lambda s: s.start)))
        for c in calls.values()
    )
    edge = whole_second_lines(chatty / "edge.log")
    assert any(e.last_try is None for e in edge)  # answered by the edge alone
    assert any(", " in line for line in read_lines(chatty / "edge.log"))  # a retried upstream
    for line in whole_second_lines(chatty / "proxy.log"):
        service, path = unprefixed(line.path)
        assert (service, line.rid + path) in spans, line
    assert {s.kind for (kind, _), s in spans.items() if kind == "web"} == set(SKEW_US)


def test_chatty_times_nest_as_the_logs_state_them(chatty: Path) -> None:
    spans = chatty_spans(chatty)
    for line in whole_second_lines(chatty / "edge.log"):
        if line.last_try is None:
            continue
        web = spans["web", line.rid]
        assert spans["web-start", line.rid].start == web.start
        low, high = line.ends(web)
        assert low <= high, (line, web)
        assert line.request_time >= line.last_try
    for line in whole_second_lines(chatty / "proxy.log"):
        service, path = unprefixed(line.path)
        call, served = spans["call", line.rid + path], spans[service, line.rid + path]
        low, high = line.ends(served)
        # the proxy's own span [end - $request_time, end] lies inside the app's call
        low, high = max(low, call.start + line.request_time), min(high, call.end)
        assert low <= high, (line, call, served)
        assert call.within(spans["web", line.rid])


def test_chatty_files_are_in_the_order_of_their_stamps(chatty: Path) -> None:
    for name in ("edge.log", "proxy.log"):
        seconds = [line.second for line in whole_second_lines(chatty / name)]
        assert seconds == sorted(seconds), name
    stamp = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[.,]\d+")
    for name in CHATTY_FILES[1:]:
        if name != "proxy.log":
            stamps = [stamp.findall(line)[0] for line in read_lines(chatty / name)]
            assert stamps == sorted(stamps), name


def _spans_csv(directory: Path, out: Path) -> list[dict[str, str]]:
    files = [str(directory / name) for name in CHATTY_FILES]
    argv = [sys.executable, "-m", "logtrace", "export", "spans", "--format", "csv"]
    argv += ["--out", str(out), "--nginx-conf", str(directory / "nginx.conf"), *files]
    subprocess.run(argv, check=True, capture_output=True, cwd=REPO)
    with out.open(newline="") as f:
        return list(csv.DictReader(f))


PARENT_ROLE = {
    "edge": None, "edge-try": "edge", "web": "edge-try", "call": "web", "proxy": "call",
    "proxy-try": "proxy", "service": "proxy-try",
}  # fmt: skip


def _role(span: dict[str, str]) -> str:
    host, client = span["host"], span["kind"] == "CLIENT"
    if host in ("edge", "proxy"):
        return host + "-try" * client
    if host.startswith("web-"):
        return "call" if client else "web"
    return "service"


def _key(span: dict[str, str], role: str) -> str:
    """What tells a span from the others of its role in its request."""
    if role == "edge-try":
        return span["attempt"]
    if role == "service":  # the path as the proxy logged it
        return f"/{span['service']}-svc{span['target']}"
    return span["target"] if role in ("call", "proxy", "proxy-try") else ""


def wrong_parents(spans: list[dict[str, str]]) -> dict[str, list[str]]:
    """request id → its spans whose parent is not the one the deployment made: edge →
    its last try → the web app's request → its call → the proxy's line → the proxy's try
    → the service's request."""
    ids = {(s["request_id"], _role(s), _key(s, _role(s))): s["span_id"] for s in spans}
    last_try = {rid: key for rid, role, key in sorted(ids) if role == "edge-try"}
    wrong: dict[str, list[str]] = {}
    for span in spans:
        rid, role = span["request_id"], _role(span)
        parent = PARENT_ROLE[role]
        match role:
            case "web":
                parent_key = last_try.get(rid, "?")
            case "proxy":
                parent_key = re.sub(r"^/\w+-svc", "", span["target"])
            case "proxy-try" | "service":
                parent_key = _key(span, role)
            case _:
                parent_key = ""
        want = "" if parent is None else ids.get((rid, parent, parent_key), "?")
        if span["parent_span_id"] != want:
            wrong.setdefault(rid, []).append(f"{role} {span['target']}")
    return wrong


def test_logtrace_joins_the_chatty_deployment_into_the_trees_it_was_made_of(
    chatty: Path, tmp_path: Path
) -> None:
    spans = _spans_csv(chatty, tmp_path / "spans.csv")
    requests = {s["request_id"] for s in spans}
    assert len(requests) == len(read_lines(chatty / "edge.log"))
    roots = [s for s in spans if not s["parent_span_id"]]
    assert sorted(s["request_id"] for s in roots) == sorted(requests)  # one root each
    assert {s["host"] for s in roots} == {"edge"}
    wrong = wrong_parents(spans)
    for rid, what in list(wrong.items())[:5]:
        print(rid, what)  # shown when the assertion below fails
    assert len(wrong) <= len(requests) // 100
    skew = {
        host: statistics.median(float(s["skew_s"]) for s in spans if s["host"] == host)
        for host in SKEW_US
    }
    assert abs(skew["web-2"] - skew["web-1"] - 0.180) < 0.005, skew


# --- baseline_re ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline() -> ModuleType:
    """benchmarks/baseline_re.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("baseline_re", BENCH / "baseline_re.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_re"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def trace_line(request: str, rt: str, rid: int, status: int = 200) -> str:
    """One trace-format line."""
    return (
        f'203.0.113.7 - - [26/Nov/2026:12:00:{rid % 60:02d} +0000] "{request}" {status} 512 '
        f'"-" "curl/8.5.0" {rt} {rt} {rid:032x}\n'
    )


HAND_CHECKED = [
    # 20 × GET /api/orders/{id}: 0.001 … 0.020, shuffled
    *(
        trace_line(f"GET /api/orders/{17 + k}?expand=items HTTP/1.1", f"0.{v:03d}", k)
        for k, v in enumerate(
            [7, 19, 1, 12, 20, 3, 15, 9, 18, 5, 11, 2, 14, 8, 16, 4, 10, 13, 6, 17]
        )
    ),
    # 3 × POST /api/payments/{uuid}/capture
    *(
        trace_line(
            f"POST /api/payments/0b9f5f7e-3c1a-4d2e-9f00-12345678{k:04d}/capture HTTP/2.0",
            rt,
            100 + k,
        )
        for k, rt in enumerate(["0.200", "0.100", "0.300"])
    ),
    trace_line("\\x16\\x03\\x01\\x00\\xF7", "0.000", 200, status=400),  # not HTTP: route None
    "this is not an access log line\n",
]


def test_baseline_percentiles_are_nearest_rank(baseline: ModuleType) -> None:
    report = baseline.analyze(HAND_CHECKED)
    assert (report.lines, report.parsed, report.rejected) == (25, 24, 1)
    routes = {s.route: s for s in report.routes}
    orders = routes["/api/orders/{id}"]
    # n = 20: ranks ceil(.5·20)=10, ceil(.9·20)=18, ceil(.95·20)=19, ceil(.99·20)=20
    assert (orders.count, orders.p50, orders.p90, orders.p95, orders.p99, orders.max) == (
        20, 0.010, 0.018, 0.019, 0.020, 0.020,
    )  # fmt: skip
    pay = routes["/api/payments/{id}/capture"]
    # n = 3: ranks 2, 3, 3, 3
    assert (pay.count, pay.p50, pay.p90, pay.p95, pay.p99, pay.max) == (3, 0.2, 0.3, 0.3, 0.3, 0.3)
    assert routes[None].count == 1
    # all 24: 0.000, 0.001 … 0.020, 0.100, 0.200, 0.300; ranks 12, 22, 23, 24
    overall = report.overall
    assert (overall.count, overall.p50, overall.p90, overall.p95, overall.p99) == (
        24, 0.011, 0.100, 0.200, 0.300,
    )  # fmt: skip
    assert [s.request_time for s in report.slowest[:4]] == [0.3, 0.2, 0.1, 0.020]
    assert len(report.slowest) == 10


@pytest.mark.parametrize(
    ("request_line", "route"),
    [
        ("GET /api/orders/17 HTTP/1.1", "/api/orders/{id}"),
        ("GET /api/users/42/orders/7?x=1 HTTP/2.0", "/api/users/{id}/orders/{id}"),
        (
            "GET /api/recommendations/1df05508-e9b3-49b4-bba5-95e27f6a9a51 HTTP/1.1",
            "/api/recommendations/{id}",
        ),
        ("GET /api/sessions/c33fe33eb6b824b572ca6188 HTTP/1.1", "/api/sessions/{id}"),
        ("GET /api/sessions/c33fe33eb6b824b HTTP/1.1", "/api/sessions/c33fe33eb6b824b"),
        ("GET /static/app.0123456789abcdef.js HTTP/1.1", "/static/app.{hash}.js"),
        ("GET /static/app.3f9c2a1b.js HTTP/1.1", "/static/app.{hash}.js"),
        ("GET /api/search?q=caf\\xC3\\xA9 HTTP/1.1", "/api/search"),
        ("\\x16\\x03\\x01\\x00", None),
        ("", None),
    ],
)
def test_baseline_templates_routes(
    baseline: ModuleType, request_line: str, route: str | None
) -> None:
    assert baseline.route_of(request_line) == route


def test_baseline_cli_reads_gzip_and_prints_json(tmp_path: Path) -> None:
    log = tmp_path / "edge.log.gz"
    log.write_bytes(gzip.compress("".join(HAND_CHECKED).encode()))
    argv = [sys.executable, str(BENCH / "baseline_re.py"), str(log), "--json"]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    assert (result["parsed"], result["rejected"]) == (24, 1)
    assert result["overall"]["p50"] == 0.011


# --- run.py ----------------------------------------------------------------------------


@pytest.fixture
def bench_run(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/run.py as a module."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", run)
    spec.loader.exec_module(run)
    return run


def test_a_command_with_versus_prints_its_median_over_the_others(bench_run: ModuleType) -> None:
    run = bench_run

    def result(name: str, walls: list[float]) -> object:
        r = run.report.Result(name, [], None, None, baseline=False)
        for w in walls:
            r.add(run.Sample(w, 1, w, 0.0, 0, False, ""))
        return r

    bench = next(b for b in run.COMMANDS if b.versus and b.exit_code == 8)
    assert (bench.versus, bench.exit_code) == ("analyze", 8)
    lines = run.relative([result("analyze", [4.0, 2.0, 3.0]), result(bench.name, [3.6, 3.3, 9])])
    assert lines == [f"{bench.name}: 1.20x the time of analyze (3.60 s / 3.00 s, medians)"]


def test_join_chatty_runs_on_a_chatty_set_of_its_own_size(
    bench_run: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[int, int, dict[str, object]]] = []

    def ensure(lines: int, seed: int, **options: object) -> str:
        made.append((lines, seed, options))
        return f"{lines}"

    monkeypatch.setattr(bench_run.datasets, "ensure", ensure)
    benches = bench_run.select("join chatty", "")
    assert [bench_run.data_set_of(b) for b in benches] == ["chatty"]
    chatty_lines = bench_run.parse_args([]).chatty_lines
    assert chatty_lines == 5_000_000  # the figure, whatever --lines says
    assert bench_run.variants(benches, 1_000_000, 1, chatty_lines) == {"chatty": "5000000"}
    assert made == [(5_000_000, 1, {"with_gz": False, "deployment": "chatty"})]
    assert bench_run.parse_args(["--chatty-lines", "20000"]).chatty_lines == 20_000


def _edge_only(bench_run: ModuleType, folder: Path) -> Any:
    """A data set of an edge log alone, 5,000 short lines: what the variants are made of."""
    edge = folder / "edge.log"
    edge.write_bytes(b"".join(b"line %d of the edge log\n" % i for i in range(5_000)))
    return bench_run.datasets.DataSet(
        dir=folder, edge=edge, edge_gz=None, files=(edge,), edge_lines=5_000,
        total_lines=5_000, bytes={}, lines_by_file={}, generated_in_s=None,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["analyze rotated", "analyze 100 files", "analyze rotated .gz"])
def test_the_rotated_files_hold_the_edge_log_and_are_shown_as_globs_of_them(
    bench_run: ModuleType, tmp_path: Path, name: str
) -> None:
    """The edge log cut as logrotate leaves it: the pieces, oldest first, are its lines;
    the command shown (results/*.md) expands in a shell to the very files run."""
    data = _edge_only(bench_run, tmp_path)
    edge = data.edge
    bench = next(b for b in bench_run.COMMANDS if b.name == name)
    run = bench_run.expand(bench, data, tmp_path)
    shown = bench_run.expand(bench, data, tmp_path, bench_run.DISPLAY_VALUES)
    files = [Path(a) for a in run if Path(a).parent.parent == tmp_path]
    assert len(files) in (10, 100)
    texts = [
        gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        for f in reversed(files)
    ]
    assert b"".join(texts) == edge.read_bytes()
    assert all(t.endswith(b"\n") for t in texts)
    first = run.index(str(files[0]))
    assert run[first + len(files) :] == shown[-2:] == ["--preset", "trace"]
    globs = shown[first:-2]
    assert len(globs) < len(files)
    expanded = subprocess.run(
        ["bash", "-c", 'printf "%s\\n" ' + " ".join(globs)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert expanded == [str(f) for f in files]
    # results/*.md quote them; logtrace expands a glob itself, to the same files in order
    assert [s.label for s in resolve_sources(globs)] == [str(f) for f in files]


def test_the_compose_stream_holds_the_edge_log_as_a_log_per_container(
    bench_run: ModuleType, tmp_path: Path
) -> None:
    """`analyze compose`: the edge log's lines as `docker compose logs` of 20 replicas,
    each line after its container's name, read as 20 logs that together hold them all."""
    data = _edge_only(bench_run, tmp_path)
    edge = data.edge
    bench = next(b for b in bench_run.COMMANDS if b.name == "analyze compose")
    (path,) = [Path(a) for a in bench_run.expand(bench, data, tmp_path) if "compose" in a]
    lines = path.read_text().splitlines()
    assert lines[0] == "edge-1   | line 0 of the edge log"  # "%-{longest + 1}s | "
    assert lines[19] == "edge-20  | line 19 of the edge log"
    assert [ln.split(" | ", 1)[1] for ln in lines] == edge.read_text().splitlines()
    split = resolve_sources([str(path)])
    assert sorted(s.host for s in split) == sorted(f"edge-{k}" for k in range(1, 21))


# --- floor.py --------------------------------------------------------------------------


def bench_module(name: str, path: Path) -> ModuleType:
    """A file of benchmarks/ as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("mode", ["sketch", "sketch-json"])
def test_the_floor_sketch_reports_what_the_regex_baseline_reports(
    dataset: Path, baseline: ModuleType, mode: str, tmp_path: Path
) -> None:
    # The floor rows time the same report as baseline_re.py, so their ratios compare like
    # with like: every route's count, percentiles and maximum, and the overall ones.
    floor = bench_module("floor", BENCH / "floor.py")
    edge = tmp_path / "edge.log"
    edge.write_bytes((dataset / "edge.log").read_bytes())
    log = edge
    if mode == "sketch-json":  # edge.log's lines in run.py's escape=json format
        log = bench_module("formats", BENCH / "harness" / "formats.py").derived(edge)[1]
    expected = baseline.analyze(read_lines(edge))
    stats = ("requests", "p50", "p90", "p95", "p99", "max")
    frame = floor.main_frame(mode, log)
    sketch = {row["route"]: tuple(row[s] for s in stats) for row in frame.iter_rows(named=True)}

    def row(s: Any) -> tuple[Any, ...]:
        return (s.count, s.p50, s.p90, s.p95, s.p99, s.max)

    routes = [s for s in expected.routes if s.route is not None]
    assert len(routes) > 20
    assert {s.route: sketch.get(s.route) for s in routes} == {s.route: row(s) for s in routes}
    assert sketch["(all)"] == row(expected.overall)
