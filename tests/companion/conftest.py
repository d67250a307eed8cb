"""Fixtures of the visit companion tests."""

from his_apps import his_app

__all__ = ["his_app"]
