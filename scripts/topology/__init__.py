"""A real multi-service topology on 127.0.0.1 that writes logs with a known ground truth.

`run.py` starts an nginx edge proxy, two instances of an "api" service that log in
different formats, an internal nginx "mesh" and two downstream services, drives
traffic with planted performance patterns, stops everything and leaves the logs,
`ground_truth.jsonl` and `topology.json` in one directory. logtrace's integration
tests and `scripts/make_sample_logs.py` use it.
"""
