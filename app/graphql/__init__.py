"""The GraphQL schema: domain types and resolvers assembled, plus context, errors and loaders."""
