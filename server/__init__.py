"""The HTTP layer: endpoint, middlewares, metrics and logging."""
