"""Benchmarks: each prints the project's figure beside the limit it approaches, as a ratio."""
