"""Deterministic, realistic demo data for a Chinese general hospital."""

from datasources.db.demo.seed import SeedOutcome, SeedReport, seed_demo_data

__all__ = ["SeedOutcome", "SeedReport", "seed_demo_data"]
