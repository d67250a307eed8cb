"""Optional OpenTelemetry tracing of GraphQL operations (OTEL_ENABLED=true, `pip install '.[otel]'`).

Spans go to the globally configured tracer provider. When nothing configured one (e.g. no
`opentelemetry-instrument` wrapper), an SDK provider is set up exporting over OTLP/HTTP, configured
by the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...).
"""

from __future__ import annotations

import logging

import strawberry

from settings import ConfigurationError

logger = logging.getLogger("hospital_bff.tracing")

MISSING = (
    "Invalid configuration:\n  OTEL_ENABLED: the OpenTelemetry packages are not installed; "
    "install them with `pip install 'hospital-bff[otel]'` (or set OTEL_ENABLED=false)"
)


def enable(*schemas: strawberry.Schema) -> None:
    """Add strawberry's OpenTelemetry extension to each schema (once), or stop start-up when the packages
    are missing."""
    try:
        from strawberry.extensions.tracing import OpenTelemetryExtension
    except ImportError:  # strawberry's module imports opentelemetry
        raise ConfigurationError(MISSING) from None
    _default_provider()
    for schema in schemas:
        if OpenTelemetryExtension not in schema.extensions:
            # Outermost, so that the operation's span covers every other extension's work.
            schema.extensions = (OpenTelemetryExtension, *schema.extensions)


def _default_provider() -> None:
    from opentelemetry import trace as api

    if not isinstance(api.get_tracer_provider(), api.ProxyTracerProvider):
        return  # configured by the deployment already
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigurationError(MISSING) from None
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    api.set_tracer_provider(provider)
    logger.info("OpenTelemetry tracing on, exporting over OTLP/HTTP")
