"""The traffic mix: each scenario's request, route template, planted patterns and weight."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# How the client sends the request: a plain request, a slow upload, or one it abandons.
ClientKind = Literal["plain", "slow_upload", "give_up"]

PATTERNS = (
    "n_plus_one",
    "sequential",
    "repeated",
    "edge_retry",
    "app_retry",
    "timeout",
    "client_abort",
    "slow_client",
    "swallowed_error",
)

SEARCH_WORDS = ("boots", "red scarf", "tent", "espresso", "gift card", "lamp")
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "okhttp/4.12.0",
    "curl/7.88.1",
)
REFERERS = ("https://shop.example/", "https://shop.example/cart", None, None, None)


def _order(rng: random.Random) -> int:
    return rng.randint(1, 500)


def _user(rng: random.Random) -> int:
    return rng.randint(1, 200)


@dataclass(frozen=True)
class Scenario:
    """One kind of client request and what it plants."""

    name: str
    weight: int  # percent of all requests
    method: str
    route: str  # the templated target, /api/orders/{id} style
    target: Callable[[random.Random], str]
    planted: tuple[str, ...] = ()
    kind: ClientKind = "plain"
    needs: frozenset[str] = frozenset()  # roles besides api, inventory and users it calls


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("normal", 15, "GET", "/api/orders/{id}", lambda r: f"/api/orders/{_order(r)}"),
    Scenario(
        "n_plus_one",
        7,
        "GET",
        "/api/orders/{id}/items",
        lambda r: f"/api/orders/{_order(r)}/items",
        ("n_plus_one",),
    ),
    Scenario(
        "batched",
        6,
        "GET",
        "/api/orders/{id}/items-batch",
        lambda r: f"/api/orders/{_order(r)}/items-batch",
    ),
    Scenario(
        "sequential",
        7,
        "GET",
        "/api/dashboard/{id}",
        lambda r: f"/api/dashboard/{_user(r)}",
        ("sequential",),
    ),
    Scenario(
        "parallel",
        6,
        "GET",
        "/api/dashboard-parallel/{id}",
        lambda r: f"/api/dashboard-parallel/{_user(r)}",
    ),
    Scenario(
        "same_service_routes",
        6,
        "GET",
        "/api/profile/{id}",
        lambda r: f"/api/profile/{_user(r)}",
    ),
    Scenario(
        "repeated", 7, "GET", "/api/cart/{id}", lambda r: f"/api/cart/{_user(r)}", ("repeated",)
    ),
    Scenario(
        "edge_retry",
        7,
        "GET",
        "/api/flaky/{id}",
        lambda r: f"/api/flaky/{_order(r)}",
        ("edge_retry",),
    ),
    Scenario(
        "app_retry",
        7,
        "GET",
        "/api/reserve/{id}",
        lambda r: f"/api/reserve/{_order(r)}",
        ("app_retry",),
    ),
    Scenario(
        "timeout",
        5,
        "GET",
        "/api/report/{id}",
        lambda r: f"/api/report/{_order(r)}",
        ("timeout",),
    ),
    Scenario(
        "client_abort",
        5,
        "GET",
        "/api/search",
        lambda r: "/api/search?q=" + r.choice(SEARCH_WORDS).replace(" ", "+"),
        ("client_abort",),
        "give_up",
    ),
    Scenario(
        "slow_client",
        6,
        "POST",
        "/api/upload",
        lambda r: "/api/upload",
        ("slow_client",),
        "slow_upload",
    ),
    Scenario(
        "swallowed_error",
        6,
        "GET",
        "/api/recommendations/{id}",
        lambda r: f"/api/recommendations/{_user(r)}",
        ("swallowed_error",),
    ),
    Scenario(
        "static",
        5,
        "GET",
        "/static/{file}",
        lambda r: "/static/" + r.choice(("app.js", "site.css", "logo.svg")),
    ),
    Scenario(
        "not_found",
        5,
        "GET",
        "/api/legacy/orders/{id}",
        lambda r: f"/api/legacy/orders/{_order(r)}",
    ),
    Scenario(
        "nested",
        6,
        "GET",
        "/api/feed/{id}",
        lambda r: f"/api/feed/{_user(r)}",
        needs=frozenset({"feed"}),
    ),
)
BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}


@dataclass(frozen=True)
class PlannedRequest:
    """One client request, decided before any traffic is sent."""

    seq: int
    scenario: Scenario
    target: str
    user_agent: str
    referer: str | None


def scenarios_for(roles: frozenset[str]) -> tuple[Scenario, ...]:
    """The scenarios a topology with these roles can serve."""
    return tuple(s for s in SCENARIOS if s.needs <= roles)


def quotas(total: int, scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, int]:
    """Requests per scenario: proportional to weight, largest remainders rounded up.

    Drawing each request's scenario independently could leave a scenario far below its
    share in a short run; quotas guarantee floor(total * weight / 100) of each.
    """
    weight_sum = sum(s.weight for s in scenarios)
    exact = {s.name: total * s.weight / weight_sum for s in scenarios}
    counts = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (counts[name] - exact[name], name))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def plan(
    total: int, seed: int, scenarios: tuple[Scenario, ...] = SCENARIOS
) -> list[PlannedRequest]:
    """The whole run's requests in send order; the same seed gives the same plan."""
    rng = random.Random(seed)
    names = [name for name, count in quotas(total, scenarios).items() for _ in range(count)]
    rng.shuffle(names)
    planned = []
    for seq, name in enumerate(names, start=1):
        scenario = BY_NAME[name]
        planned.append(
            PlannedRequest(
                seq, scenario, scenario.target(rng), rng.choice(USER_AGENTS), rng.choice(REFERERS)
            )
        )
    return planned
