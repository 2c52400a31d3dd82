"""Real multi-service topologies on 127.0.0.1 that write logs with a known ground truth.

`run.py --variant NAME` starts one deployment of the matrix in `variants.py` (edge
nginx instances, an api service, an internal nginx proxy or none, downstream services,
each app logging in its own shape), drives traffic with planted performance patterns,
stops everything and leaves the logs, `ground_truth.jsonl` and `topology.json` in one
directory. `score.py` scores logtrace's traces of such a run against its truth;
`matrix.py` runs and scores every variant. The default variant, `preserve`, is the
original topology that logtrace's integration tests and `scripts/make_sample_logs.py` use.
"""
