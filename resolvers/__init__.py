"""Root Query (and later Mutation) resolvers, one module per domain. Thin: arguments in,
datasource calls, schema objects out."""
