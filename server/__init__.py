"""The HTTP layer: the GraphQL endpoint, its security rules, persisted queries, rate limits, metrics and logs."""
