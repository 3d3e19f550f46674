"""Benchmarks: scripts, not tests. `python -m bench` runs them; bench/README.md has the figures."""
