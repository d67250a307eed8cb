"""Fixtures of the health-record tests."""

from his_apps import his_app

__all__ = ["his_app"]
