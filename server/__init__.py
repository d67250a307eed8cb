"""The HTTP layer: the GraphQL endpoint, its security rules and persisted queries."""
