"""Runs: starting, controlling and reading evaluation runs."""
