"""The embedded HIS simulator (FHIR R4): see datasources/his/simulator/app.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from datasources.his.simulator.app import BASE_PATH, Faults, HisSimulator, Stats

EMBEDDED_HOST = "his-simulator"
EMBEDDED_BASE_URL = f"http://{EMBEDDED_HOST}{BASE_PATH}"

__all__ = ["EMBEDDED_BASE_URL", "EMBEDDED_HOST", "Faults", "HisSimulator", "Stats", "create_simulator"]


def create_simulator(*, clock: Callable[[], datetime], zone: ZoneInfo) -> HisSimulator:
    return HisSimulator(clock=clock, zone=zone)


def simulator_transport(simulator: HisSimulator) -> httpx.ASGITransport:
    """Serves the simulator in-process: no port, no network."""
    return httpx.ASGITransport(app=simulator.app)
