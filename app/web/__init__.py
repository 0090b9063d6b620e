"""The browser side, served by the same process: the runs console at `/` and GraphiQL at
`/graphql`, plain HTML, CSS and ES modules under `static/` with every library vendored
(`static/vendor/`, refreshed by `scripts/vendor_web_assets.sh`). Both speak only the public
GraphQL API with the same API keys as any client."""
