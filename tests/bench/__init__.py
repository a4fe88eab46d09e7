"""Benchmarks of prereqos on its own lab (``python -m tests.bench.run``, see README)."""
