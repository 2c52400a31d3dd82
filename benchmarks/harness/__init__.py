"""The timing harness behind benchmarks/run.py: run, measure, check, report."""
