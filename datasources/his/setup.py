"""Building the HIS side of the application from the settings (called once, in the lifespan)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from datasources.cache import Cache
from datasources.his.fhir.client import FhirHis, upstream_name
from datasources.his.port import HisPort, UnconfiguredHis
from datasources.his.resilience import Breakers, RetryPolicy
from datasources.his.service import CachePolicy, Freshness, HisService
from datasources.his.simulator import EMBEDDED_BASE_URL, EMBEDDED_HOST, HisSimulator, simulator_transport
from datasources.identity.field_crypto import FieldCipher
from datasources.identity.profiles import ID_CONTEXT
from settings import Settings

logger = logging.getLogger("hospital_bff.his")
CACHE_CONTEXT = "his.cache"


@dataclass
class HisSetup:
    base_url: str | None
    simulator: HisSimulator | None
    mounts: dict[str, httpx.AsyncBaseTransport]


def plan_his(settings: Settings, clock: Callable[[], datetime]) -> HisSetup:
    """Where the HIS is: the configured FHIR server, else (dev) the simulator served in-process."""
    if settings.his_fhir_base_url:
        return HisSetup(settings.his_fhir_base_url, None, {})
    if not settings.is_dev:
        logger.warning("HIS_FHIR_BASE_URL is not set: health records and the visit companion are unavailable")
        return HisSetup(None, None, {})
    from datasources.his.simulator import create_simulator

    simulator = create_simulator(clock=clock, zone=settings.zone)
    return HisSetup(EMBEDDED_BASE_URL, simulator, {f"all://{EMBEDDED_HOST}": simulator_transport(simulator)})


def build_his(
    settings: Settings,
    plan: HisSetup,
    *,
    http: httpx.AsyncClient,
    cache: Cache,
    cipher: FieldCipher,
    breakers: Breakers,
    clock: Callable[[], datetime],
) -> HisService:
    port: HisPort
    if plan.base_url is None:
        port = UnconfiguredHis()
    else:
        port = FhirHis(
            http,
            base_url=plan.base_url,
            breaker=breakers.for_upstream(upstream_name(plan.base_url)),
            retry=RetryPolicy(
                attempt_timeout=settings.his_attempt_timeout_ms / 1000,
                retries=settings.his_retries,
                backoff=settings.his_retry_backoff_ms / 1000,
            ),
            zone=settings.zone,
            # The HIS's resident ID number is kept only as the digest profiles keep, to compare the two.
            digest=lambda number: cipher.digest(number, context=ID_CONTEXT),
            resident_id_systems=[s.strip() for s in settings.his_resident_id_systems.split(",") if s.strip()],
            page_size=settings.his_page_size,
        )
    background_budget = max(settings.his_deadline_ms / 1000, settings.his_attempt_timeout_ms / 1000) * 2
    policy = CachePolicy(
        record=Freshness(
            timedelta(seconds=settings.his_record_soft_ttl_seconds),
            timedelta(seconds=settings.his_record_hard_ttl_seconds),
        ),
        visit=Freshness(
            timedelta(seconds=settings.his_visit_soft_ttl_seconds),
            timedelta(seconds=settings.his_visit_hard_ttl_seconds),
        ),
        stale_wait=settings.his_stale_wait_ms / 1000,
        background_budget=background_budget,
        erasure_block=settings.his_deadline_ms / 1000 + background_budget + 1.0,
    )
    return HisService(
        port,
        cache,
        clock=clock,
        policy=policy,
        # Health data at rest in Redis is encrypted like the personal fields in the database.
        seal=lambda data: cipher.seal(data, context=CACHE_CONTEXT),
        unseal=lambda data: cipher.open(data, context=CACHE_CONTEXT),
    )
