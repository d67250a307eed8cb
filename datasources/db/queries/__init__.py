"""Read queries per domain. Keyword-only functions, no strawberry imports, plain rows out."""
