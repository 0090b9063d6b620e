"""Definitions, the scenarios expanded from them, tags and experiments."""
