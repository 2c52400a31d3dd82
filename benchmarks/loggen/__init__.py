"""A deterministic generator of realistic nginx and application logs for benchmarks.

The pieces flow one way: `rng` (counter-based random columns) → `catalogue` (routes,
clients, statuses as data) → `traffic` (one row per request) → `spans` (when each
service saw the request) → `edge` / `applogs` (log lines) → `writer` (ordered files).
"""
