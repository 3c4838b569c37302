"""Benchmarks: each prints figures side by side with the reference it is compared to (run as `python -m bench.NAME`)."""
