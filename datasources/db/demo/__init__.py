"""Deterministic, realistic demo data for a Chinese general hospital."""

from datasources.db.demo.seed import SeedReport, seed_demo_data

__all__ = ["SeedReport", "seed_demo_data"]
