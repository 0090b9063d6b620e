"""The runs domain in GraphQL: the `Run` type (types.py) and its parts (results, metrics,
costs), queries, mutations and subscriptions. Other domains name `Run` lazily, as
`strawberry.lazy("app.runs.graphql.types")`."""
