"""Where the 复诊续方 eligibility check reads offline visits."""

from __future__ import annotations

from app import create_app
from datasources.his.embedded import EmbeddedHis
from datasources.his.fhir.client import FhirHis
from settings import Settings


async def test_a_configured_his_answers_the_eligibility_check_too(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"his_fhir_base_url": "http://his.hospital.invalid/fhir"}))
    async with app.router.lifespan_context(app):
        resources = app.state.resources
        assert isinstance(resources.visit_history, FhirHis)
        assert resources.visit_history is resources.his.port


async def test_without_a_his_development_uses_the_embedded_visits(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.resources.visit_history, EmbeddedHis)
