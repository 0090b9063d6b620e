"""LLM providers and models: the catalog, prices, availability."""
