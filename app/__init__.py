"""ValueRank-compatible GraphQL server for LLM evaluation runs."""
