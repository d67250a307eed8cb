"""Configuration read from environment variables (and an optional `.env` file).

Every setting has a safe default for the embedded demo; production overrides them through the
environment. A wrong value stops start-up with a message that names the variable.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.enums import StaffRole
from domain.rankings import RankingRules

ROOT = Path(__file__).resolve().parent


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


# Development defaults, refused in prod: they are public, so they protect nothing.
DEV_SESSION_SECRET = "dev-only-session-secret-0123456789abcdef"
DEV_DATA_KEY = "ZGV2LW9ubHktZGF0YS1rZXktMDEyMzQ1Njc4OWFiY2Q="
DEV_WECHATPAY_API_V3_KEY = "sandbox-apiv3-key-0123456789abcd"  # 32 bytes, as WeChat Pay requires
DEV_VIDEO_LINK_SECRET = "dev-only-video-link-secret-0123456789abcdef"


class Settings(BaseSettings):
    """All runtime configuration of hospital-bff."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Environment = Field(Environment.DEV, description="dev or prod; prod turns off demo conveniences.")
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    database_url: str = Field(
        f"sqlite+aiosqlite:///{ROOT / 'hospital.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="Connections per instance (PostgreSQL).")
    database_echo: bool = Field(False, description="Log every SQL statement (development only).")
    redis_url: str | None = Field(None, description="redis://host:port/db; unset means in-process cache.")
    redis_key_prefix: str = Field("hbff:", description="Prefix of every Redis key this instance writes.")
    # ---- Redis resilience ----
    redis_socket_timeout_seconds: float = Field(
        0.5, gt=0, le=30, description="Longest wait for one Redis answer before it counts as an outage."
    )
    redis_connect_timeout_seconds: float = Field(
        0.5, gt=0, le=30, description="Longest wait for a connection to Redis before it counts as an outage."
    )
    redis_retry_seconds: float = Field(
        1.0,
        ge=0,
        le=300,
        description="During a Redis outage, how long reads answer a miss (and writes are dropped) without asking "
        "Redis, before the next attempt.",
    )
    timezone: str = Field("Asia/Shanghai", description="Time zone of every day and month boundary.")
    seed_demo_data: bool | None = Field(
        None,
        description="Fill an empty database with demo data at `make run`; unset means on in dev, off in prod "
        "(see `seeds_demo_data`).",
    )
    demo_scale: float = Field(1.0, gt=0, le=100, description="Demo size: 1 = 100,000 consults.")
    stats_window_days: int = Field(
        30, ge=1, le=365, description="Rolling window of 接单数 and 平均接单时间, in 24-hour periods before now."
    )
    min_reviews_for_rate: int = Field(5, ge=1, le=1000, description="Reviews needed before 好评率 is shown.")
    page_size_max: int = Field(50, ge=1, le=500, description="Largest `first` a list accepts.")
    # ---- query limits ----
    # Checked before anything runs (schema/limits.py); a document over one is refused with
    # QUERY_TOO_COMPLEX. The largest documents of the mini-program, the admin side and the tests are
    # nested 5 deep, use 3 aliases, 4 root fields and about 200 tokens; GraphiQL's introspection
    # query is about 200 tokens, and introspection fields do not count toward depth.
    query_max_depth: int = Field(
        8, ge=1, le=100, description="Deepest nesting of selections below a root field (introspection not counted)."
    )
    query_max_aliases: int = Field(
        15, ge=0, le=1000, description="Aliases in a document, those in fragments counted where spread."
    )
    query_max_tokens: int = Field(
        1000, ge=50, le=100_000, description="Lexical tokens of a document (graphql-core's parser `max_tokens`)."
    )
    query_max_directives: int = Field(
        50, ge=0, le=1000, description="Directives in one operation, those in fragments counted where spread."
    )
    query_max_root_fields: int = Field(
        10, ge=1, le=1000, description="Root fields of one operation (introspection fields not counted)."
    )
    audit_retention_days: int = Field(
        365, ge=183, le=3650, description="Days audit rows are kept; at least 183 (six months)."
    )
    session_secret: SecretStr = Field(
        SecretStr(DEV_SESSION_SECRET), description="Key that signs session tokens; required in prod."
    )
    data_encryption_key: SecretStr = Field(
        SecretStr(DEV_DATA_KEY), description="Base64 of 32 bytes encrypting ID and phone numbers at rest."
    )
    patient_session_hours: int = Field(168, ge=1, le=24 * 90, description="Lifetime of a patient's session.")
    staff_session_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="Staff session idle time-out.")
    staff_session_absolute_hours: int = Field(12, ge=1, le=72, description="Staff session absolute time-out.")
    staff_max_failed_logins: int = Field(5, ge=1, le=100, description="Failed staff logins before lock-out.")
    staff_lockout_minutes: int = Field(15, ge=1, le=24 * 60, description="How long a locked staff account waits.")
    wechat_app_id: str = Field("wx-sandbox-app", description="The mini-program's AppID.")
    wechat_app_secret: SecretStr = Field(SecretStr("sandbox-secret"), description="The mini-program's AppSecret.")
    wechat_api_base_url: str | None = Field(
        None, description="https://api.weixin.qq.com in production; unset uses the built-in WeChat sandbox."
    )
    articles_per_category: int = Field(3, ge=1, le=20, description="Latest articles per category on the homepage.")
    # Rankings (domain/rankings.py explains each board).
    ranking_gold_size: int = Field(5, ge=1, le=50, description="Entries of 金牌科室 and 金牌医生.")
    ranking_board_size: int = Field(3, ge=1, le=50, description="Entries of each TOP3 board.")
    ranking_staff_roles: list[StaffRole] = Field(
        [StaffRole.DOCTOR], min_length=1, description='Roles the staff boards rank, JSON, e.g. ["DOCTOR","NURSE"].'
    )
    ranking_popularity_days: int = Field(7, ge=1, le=90, description="Window of 医生热度 and 科室热度.")
    ranking_decay_days: float = Field(3.0, gt=0, le=365, description="τ of the popularity weight exp(−age_days/τ).")
    ranking_growth_min_consults: int = Field(20, ge=1, description="Consults this month needed for 最快成长.")
    ranking_growth_floor: int = Field(10, ge=1, description="最快成长 divides by max(previous month, this).")
    ranking_team_days: int = Field(90, ge=1, le=730, description="Window of 团队最佳.")
    ranking_team_prior_mean: float = Field(4.5, ge=1, le=5, description="Prior mean of the Bayesian team rating.")
    ranking_team_prior_weight: float = Field(20, ge=0, description="Prior weight (in reviews) of the team rating.")
    ranking_team_min_reviews: int = Field(10, ge=1, description="Reviews a team needs for 团队最佳.")
    ranking_refresh_seconds: int = Field(
        300, ge=0, description="How often the in-process job refreshes the TOP3 boards (and closes months); 0 = off."
    )
    ranking_lock_seconds: int = Field(120, ge=5, le=3600, description="Lease of the lock one refresh holds.")
    his_fhir_base_url: str | None = Field(
        None,
        description="FHIR R4 base URL of the HIS (https://his.example/fhir); unset runs the embedded HIS simulator "
        "in-process (dev only: in prod, health records then answer HIS_UNAVAILABLE).",
    )
    his_deadline_ms: int = Field(2000, ge=50, le=30_000, description="How long one request waits for the HIS in all.")
    his_attempt_timeout_ms: int = Field(1000, ge=20, le=30_000, description="Time-out of one HTTP request to the HIS.")
    his_retries: int = Field(2, ge=0, le=5, description="Further attempts of a failed HIS read (reads only).")
    his_retry_backoff_ms: int = Field(50, ge=0, le=5000, description="Pause before the first retry; doubles after.")
    his_breaker_failures: int = Field(5, ge=1, le=100, description="Failed HIS requests in a row: circuit opens.")
    his_breaker_reset_seconds: float = Field(30, ge=1, le=3600, description="How long an open circuit stays open.")
    his_stale_wait_ms: int = Field(
        300, ge=0, le=10_000, description="With last-known data at hand, how long to wait for fresh HIS data."
    )
    his_record_soft_ttl_seconds: int = Field(60, ge=0, le=86_400, description="Health records served without asking.")
    his_record_hard_ttl_seconds: int = Field(
        86_400, ge=60, le=7 * 86_400, description="Health records kept to serve while the HIS is down."
    )
    his_visit_soft_ttl_seconds: int = Field(10, ge=0, le=3600, description="Visit progress served without asking.")
    his_visit_hard_ttl_seconds: int = Field(7200, ge=60, le=86_400, description="Visit progress kept for HIS outages.")
    his_page_size: int = Field(100, ge=10, le=1000, description="`_count` of FHIR searches.")
    his_resident_id_systems: str = Field(
        "",
        description="Comma-separated identifier systems that hold the resident ID number in Patient.identifier "
        "(besides identifiers typed NNCHN or NI).",
    )
    attachment_link_ttl_seconds: int = Field(
        300, ge=30, le=3600, description="Lifetime of a signed download link of a report's PDF."
    )
    moderation_blocked_words: str = Field(
        "红包,回扣,返现,转账,加微信,微信号,加我,代开,代购,傻逼,骗子,垃圾医院",
        description="Comma-separated words refused in e-banners and thank-you letters before an editor sees them "
        "(case, full-width letters and spaces between characters are ignored).",
    )
    # ---- HTTP endpoint: batching, CSRF, CORS, persisted queries ----
    graphql_max_batch: int = Field(
        5, ge=1, le=50, description="At most this many operations in one batched request (a JSON array)."
    )
    csrf_prevention: bool = Field(
        True,
        description="Refuse GET requests and POSTs with a simple content type (text/plain, form data, none) "
        "unless they carry an Apollo-Require-Preflight or X-Apollo-Operation-Name header (as Apollo Server does).",
    )
    cors_allowed_origins: str = Field(
        "",
        description="Comma-separated origins (https://admin.hospital.example) that browsers may call the API "
        "from; empty: no cross-origin access.",
    )
    apq_enabled: bool = Field(
        True, description="Accept automatic persisted queries (Apollo's APQ protocol): documents sent by hash."
    )
    apq_ttl_seconds: int = Field(
        7 * 86_400, ge=60, le=365 * 86_400, description="How long a registered persisted query is kept in the cache."
    )
    trusted_documents: Path | None = Field(
        None,
        description="Path of a JSON manifest {sha256: document} (python -m cli trusted-documents writes one); "
        "when set, only those documents run.",
    )

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",")):
            if origin and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://admin.hospital.example (no path, no *)")
        return value

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_allowed_origins.split(",") if origin.strip()]

    # ---- WeChat Pay v3 (unset base URL: the built-in sandbox, with locally generated keys) ----
    wechatpay_base_url: str | None = Field(
        None, description="https://api.mch.weixin.qq.com in production; unset uses the built-in WeChat Pay sandbox."
    )
    wechatpay_mch_id: str = Field("1900000001", description="Merchant id (商户号).")
    wechatpay_app_id: str | None = Field(None, description="AppID the payments are made in; unset means WECHAT_APP_ID.")
    wechatpay_api_v3_key: SecretStr = Field(
        SecretStr(DEV_WECHATPAY_API_V3_KEY), description="The APIv3 key (32 characters) decrypting notifications."
    )
    wechatpay_merchant_private_key: SecretStr | None = Field(
        None, description="The merchant API private key (apiclient_key.pem): PEM text or a file path."
    )
    wechatpay_merchant_serial: str | None = Field(None, description="Serial number of the merchant API certificate.")
    wechatpay_platform_certificates: str | None = Field(
        None, description="WeChat Pay platform certificates: PEM text, or file paths separated by commas."
    )
    wechatpay_public_key_id: str | None = Field(
        None, description="Id of the WeChat Pay public key (PUB_KEY_ID_...), when it is used instead of certificates."
    )
    wechatpay_public_key: str | None = Field(None, description="The WeChat Pay public key: PEM text or a file path.")
    wechatpay_notify_url: str = Field(
        "http://127.0.0.1:8000/payments/wechat/notify", description="Where WeChat Pay sends payment notifications."
    )
    wechatpay_refund_notify_url: str = Field(
        "http://127.0.0.1:8000/payments/wechat/refund-notify",
        description="Where WeChat Pay sends refund notifications.",
    )
    # ---- response cache ----
    response_cache_enabled: bool = Field(
        True, description="Serve public operations (homepage, articles, boards) from the response cache."
    )
    response_cache_memory_entries: int = Field(
        512, ge=0, le=100_000, description="Responses each instance keeps in memory (the first tier, before Redis)."
    )
    response_cache_lease_seconds: float = Field(
        5.0,
        gt=0,
        le=120,
        description="How long one instance may hold the right to recompute an expired response before another "
        "may take it over (it should exceed the slowest public operation).",
    )
    response_cache_wait_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How long a request waits for another instance's recompute of the same response before it "
        "computes the response itself.",
    )
    # ---- consult orders ----
    consult_unpaid_minutes: int = Field(30, ge=5, le=24 * 60, description="Unpaid orders are closed after this long.")
    consult_rapid_response_minutes: int = Field(
        15, ge=1, le=24 * 60, description="极速咨询: a paid order nobody accepted in this time is refunded."
    )
    consult_accept_hours: int = Field(
        24, ge=1, le=24 * 14, description="复诊续方 and 视频问诊: hours the chosen staff member has to accept."
    )
    consult_coordination_hours: int = Field(
        48, ge=1, le=24 * 30, description="团队咨询 and MDT: hours a coordinator has to accept."
    )
    consult_follow_up_window_days: int = Field(
        180, ge=1, le=3 * 365, description="复诊续方: an offline visit in the same department within these days."
    )
    consult_rapid_price_cents: int = Field(1000, ge=1, le=1_000_000, description="Price of one 极速咨询, in fen.")
    consult_mdt_price_cents: int = Field(80000, ge=1, le=10_000_000, description="Price of one MDT, in fen.")
    consult_jobs_enabled: bool = Field(
        True, description="Run the consult jobs (expiry, deadlines, refunds) in this process, periodically."
    )
    consult_jobs_interval_seconds: float = Field(60, ge=0.1, le=3600, description="Pause between two job runs.")
    video_provider_base_url: str = Field(
        "https://video-sandbox.hospital.example/join", description="Entry address of the third-party video service."
    )
    video_link_secret: SecretStr = Field(
        SecretStr(DEV_VIDEO_LINK_SECRET), description="Shared with the video service; signs the entry tokens."
    )
    video_link_minutes: int = Field(30, ge=1, le=24 * 60, description="Lifetime of a video entry link.")
    # ---- rate limits and observability ----
    rate_limits_enabled: bool = Field(
        True, description="Sliding-window rate limits (in Redis when REDIS_URL is set, else per process)."
    )
    rate_limit_address_requests: int = Field(
        600, ge=1, le=1_000_000, description="GraphQL requests one client address may make per window."
    )
    rate_limit_address_window_seconds: float = Field(
        60, gt=0, le=86_400, description="Window of the per-address limit."
    )
    rate_limit_account_requests: int = Field(
        300, ge=1, le=1_000_000, description="GraphQL operations one signed-in account may run per window."
    )
    rate_limit_account_window_seconds: float = Field(
        60, gt=0, le=86_400, description="Window of the per-account limit."
    )
    rate_limit_login_requests: int = Field(
        10, ge=1, le=10_000, description="Sign-in attempts (each sign-in field counts) per client address per window."
    )
    rate_limit_login_window_seconds: float = Field(300, gt=0, le=86_400, description="Window of the sign-in limit.")
    rate_limit_payment_requests: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Order, payment and refund mutations per account (per address when signed out) per window.",
    )
    rate_limit_payment_window_seconds: float = Field(300, gt=0, le=86_400, description="Window of the payment limit.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDR networks of the load balancers in front of this server; "
        "only a request from one of them has its client address taken from X-Forwarded-For.",
    )
    metrics_enabled: bool | None = Field(
        None, description="Serve Prometheus metrics at /metrics; unset means on in dev, off in prod."
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token /metrics requires when set; required in prod when metrics are on."
    )
    log_format: LogFormat | None = Field(
        None, description="json (one object per line) or text; unset means json in prod, text in dev."
    )
    otel_enabled: bool = Field(
        False,
        description="Trace GraphQL operations with OpenTelemetry (needs the `otel` extra; the exporter reads "
        "the standard OTEL_* variables).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("his_fhir_base_url")
    @classmethod
    def _his_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        import ipaddress

        for item in value.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"{item.strip()!r} is not an address or CIDR network") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("data_encryption_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        import base64
        import binascii

        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("must be base64") from exc
        if len(raw) != 32:
            raise ValueError("must decode to exactly 32 bytes")
        return value

    @field_validator("wechatpay_api_v3_key")
    @classmethod
    def _api_v3_key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) != 32:
            raise ValueError("must be exactly 32 bytes")
        return value

    @field_validator("wechatpay_base_url", "video_provider_base_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.env is Environment.PROD:
            if self.session_secret.get_secret_value() == DEV_SESSION_SECRET:
                raise ValueError("SESSION_SECRET must be set in prod")
            if self.data_encryption_key.get_secret_value() == DEV_DATA_KEY:
                raise ValueError("DATA_ENCRYPTION_KEY must be set in prod")
            if self.wechat_api_base_url is None:
                raise ValueError("WECHAT_API_BASE_URL must be set in prod (the sandbox is for development)")
            self._production_payments()
            if self.serves_metrics and (self.metrics_token is None or len(self.metrics_token.get_secret_value()) < 16):
                raise ValueError("METRICS_TOKEN (at least 16 characters) must be set in prod when METRICS_ENABLED")
        if len(self.session_secret.get_secret_value()) < 32:
            raise ValueError("SESSION_SECRET must be at least 32 characters")
        return self

    def _production_payments(self) -> None:
        if self.wechatpay_base_url is None:
            raise ValueError("WECHATPAY_BASE_URL must be set in prod (the WeChat Pay sandbox is for development)")
        if self.wechatpay_api_v3_key.get_secret_value() == DEV_WECHATPAY_API_V3_KEY:
            raise ValueError("WECHATPAY_API_V3_KEY must be set in prod")
        if self.wechatpay_mch_id == "1900000001":
            raise ValueError("WECHATPAY_MCH_ID must be set in prod")
        if self.wechatpay_merchant_private_key is None or not self.wechatpay_merchant_serial:
            raise ValueError("WECHATPAY_MERCHANT_PRIVATE_KEY and WECHATPAY_MERCHANT_SERIAL must be set in prod")
        public_key = self.wechatpay_public_key and self.wechatpay_public_key_id
        if not self.wechatpay_platform_certificates and not public_key:
            raise ValueError(
                "WECHATPAY_PLATFORM_CERTIFICATES (or WECHATPAY_PUBLIC_KEY with WECHATPAY_PUBLIC_KEY_ID) "
                "must be set in prod"
            )
        for name in ("wechatpay_notify_url", "wechatpay_refund_notify_url"):
            if not getattr(self, name).startswith("https://"):
                raise ValueError(f"{name.upper()} must be an https address in prod")
        if self.video_link_secret.get_secret_value() == DEV_VIDEO_LINK_SECRET:
            raise ValueError("VIDEO_LINK_SECRET must be set in prod")
        if len(self.video_link_secret.get_secret_value()) < 32:
            raise ValueError("VIDEO_LINK_SECRET must be at least 32 characters")
        if not self.video_provider_base_url.startswith("https://"):
            raise ValueError("VIDEO_PROVIDER_BASE_URL must be an https address in prod")

    @property
    def payments_app_id(self) -> str:
        return self.wechatpay_app_id or self.wechat_app_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ranking_rules(self) -> RankingRules:
        """The definitions of the ranking boards with this configuration."""
        return RankingRules(
            timezone=self.timezone,
            gold_size=self.ranking_gold_size,
            board_size=self.ranking_board_size,
            staff_roles=tuple(dict.fromkeys(self.ranking_staff_roles)),
            min_reviews_for_rate=self.min_reviews_for_rate,
            popularity_days=self.ranking_popularity_days,
            decay_days=self.ranking_decay_days,
            growth_min_consults=self.ranking_growth_min_consults,
            growth_floor=self.ranking_growth_floor,
            team_days=self.ranking_team_days,
            team_prior_mean=self.ranking_team_prior_mean,
            team_prior_weight=self.ranking_team_prior_weight,
            team_min_reviews=self.ranking_team_min_reviews,
        )

    @property
    def blocked_words(self) -> list[str]:
        return [word.strip() for word in self.moderation_blocked_words.split(",") if word.strip()]

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV

    @property
    def serves_metrics(self) -> bool:
        """Whether /metrics exists: METRICS_ENABLED, by default only in dev."""
        return self.is_dev if self.metrics_enabled is None else self.metrics_enabled

    @property
    def logs_as_json(self) -> bool:
        """LOG_FORMAT, by default json in prod and text in dev."""
        return (self.log_format or (LogFormat.TEXT if self.is_dev else LogFormat.JSON)) is LogFormat.JSON

    @property
    def seeds_demo_data(self) -> bool:
        """Whether `serve` fills an empty database with demo data: SEED_DEMO_DATA, by default only in dev."""
        return self.is_dev if self.seed_demo_data is None else self.seed_demo_data


class ConfigurationError(SystemExit):
    """Raised at start-up when an environment variable holds a wrong value."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into one readable line per variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            # Model-level checks name their variable in the message itself.
            variable = str(error["loc"][0]).upper() if error["loc"] else "settings"
            # The value itself is left out: URLs may carry passwords.
            lines.append(f"  {variable}: {error['msg']}")
        raise ConfigurationError("Invalid configuration:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
