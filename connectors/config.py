"""closeboard.yaml: company, connectors, reconciliation and schedules (DESIGN "Configuration").

The file is checked once, up front, against a schema (the pydantic models below): unknown keys are
named with the key that was probably meant, types and ranges are checked (months, IANA time zones,
cron, positive durations and counts, shares from 0 to 1), YAML anchors and aliases are refused, and
every problem is listed together, one line each with its path in the file, before anything is
started or created. The validated mapping then builds the plain dataclasses the rest of closeboard
uses (``Config`` and its parts).

Secrets are referenced as ``${NAME}`` and resolved only when a session opens (``expand``), so a
loaded ``Config`` never holds a secret and can be logged or shown.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.checks import CHECK_IDS
from connectors.records import SOURCES, source_tables

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# a stdio `command` of python/python3 means the interpreter running closeboard (DESIGN "Connectors")
PYTHON_NAMES = frozenset({"python", "python3", f"python3.{sys.version_info.minor}"})


class ConfigError(ValueError):
    """closeboard.yaml is missing, malformed, or references an unset variable. ``problems`` lists
    every problem found, one line each (``str(error)`` is those lines)."""

    def __init__(self, *problems: str) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class CompanyConfig:
    name: str
    currency: str
    fiscal_year_start_month: int
    first_period: str
    timezone: str = "UTC"
    as_of: date | None = None  # pins the report date (demo, tests); default: today in timezone

    def report_date(self) -> date:
        return self.as_of or datetime.now(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one MCP server: stdio (command) or streamable HTTP (url)."""

    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    pass_env: tuple[str, ...] = ()
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"


@dataclass(frozen=True)
class ClientSettings:
    """Per-source client limits; tests set them short."""

    call_timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    page_limit: int = 5000
    max_response_bytes: int = 32 * 1024 * 1024
    max_pages: int = 100_000
    # how the session opens: "auto" (the SDK's server/discover probe, falling back to initialize) or
    # "legacy" (initialize at once). A proxy that drops the probe unanswered (Stripe's @stripe/mcp)
    # costs 10 s per session under "auto": set `client: {handshake: legacy}` for it.
    handshake: str = "auto"
    time_budget_s: float = 900.0  # a source still being read after this long fails, naming the tool

    def __post_init__(self) -> None:
        if self.handshake not in ("auto", "legacy"):
            raise ValueError(f"client.handshake: expected auto or legacy, got {self.handshake!r}")


AUTH_KINDS = ("oauth", "client_credentials", "bearer")
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8976/callback"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass(frozen=True)
class AuthConfig:
    """The `auth:` block of a streamable-HTTP connector. Secrets stay ``${NAME}`` references here;
    they are expanded only when a session opens (``expand``)."""

    kind: str  # oauth | client_credentials | bearer
    client_id: str | None = None  # oauth: a pre-registered client (else dynamic registration)
    client_secret: str | None = None  # "${ENV}"
    redirect_uri: str = DEFAULT_REDIRECT_URI  # oauth: fixed loopback URI entered in the vendor's console
    scopes: tuple[str, ...] = ()  # ask only these (empty: what the server advertises)
    token: str | None = None  # bearer: "${ENV}"
    issuer: str | None = None  # client_credentials: the authorization server the client belongs to

    @property
    def scope(self) -> str | None:
        return " ".join(self.scopes) or None


def _did_you_mean(word: str, known: Any) -> str:
    """' (did you mean 'x'?)' when `word` looks like a misspelling of one of `known`, else ''."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _auth(name: str, raw: Any, server: dict[str, Any]) -> AuthConfig | None:
    if raw is None:
        return None
    where = f"connectors.{name}.auth"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    if not server.get("url"):
        raise ConfigError(
            f"{where}: only a streamable-HTTP connector (server.url) signs in; a stdio server gets its "
            "secrets through server.env"
        )
    known = set(AuthConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        hints = "".join(_did_you_mean(k, known) for k in sorted(unknown, key=str))
        raise ConfigError(f"{where}: unknown keys {sorted(unknown, key=str)}{hints} (known: {sorted(known)})")
    kind = str(raw.get("kind") or "")
    if kind not in AUTH_KINDS:
        raise ConfigError(f"{where}.kind: one of {list(AUTH_KINDS)}, got {kind!r}")
    scopes = raw.get("scopes") or ()
    if isinstance(scopes, str):
        scopes = scopes.split()
    auth = AuthConfig(
        kind=kind,
        client_id=None if raw.get("client_id") is None else str(raw["client_id"]),
        client_secret=None if raw.get("client_secret") is None else str(raw["client_secret"]),
        redirect_uri=str(raw.get("redirect_uri") or DEFAULT_REDIRECT_URI),
        scopes=tuple(str(s) for s in scopes),
        token=None if raw.get("token") is None else str(raw["token"]),
        issuer=None if raw.get("issuer") is None else str(raw["issuer"]),
    )
    if kind == "bearer" and not auth.token:
        raise ConfigError(f"{where}: kind bearer needs `token: ${{ENV_NAME}}`")
    if kind == "client_credentials" and not (auth.client_id and auth.client_secret):
        raise ConfigError(f"{where}: kind client_credentials needs client_id and client_secret: ${{ENV_NAME}}")
    if kind == "oauth" and auth.client_secret and not auth.client_id:
        raise ConfigError(f"{where}: client_secret without client_id")
    for key in ("token", "client_secret"):
        value = getattr(auth, key)
        if value and not _ENV_REF.fullmatch(value):  # the whole value: "sk_live_x${X}" inlines a secret
            raise ConfigError(f"{where}.{key}: reference the secret as ${{ENV_NAME}} (the whole value), never inline")
    if kind == "oauth":
        from urllib.parse import urlparse

        parsed = urlparse(auth.redirect_uri)
        if parsed.scheme != "http" or parsed.hostname not in _LOOPBACK_HOSTS or not parsed.port:
            raise ConfigError(
                f"{where}.redirect_uri: a loopback http://127.0.0.1:PORT/PATH address, got {auth.redirect_uri!r}"
            )
    return auth


@dataclass(frozen=True)
class ConnectorConfig:
    name: str
    adapter: str
    server: ServerConfig
    allow_tools: tuple[str, ...]
    client: ClientSettings = ClientSettings()
    options: dict[str, Any] = field(default_factory=dict)  # adapter settings (e.g. the sql adapter's queries)
    # incremental refresh: pull the windowed table whole again when the last whole pull is older (None: never)
    full_pull_every_days: float | None = 7.0
    auth: AuthConfig | None = None  # how an HTTP connector signs in (None: no auth beyond `headers`)


@dataclass(frozen=True)
class ReconciliationConfig:
    match_window_days: int = 5
    stale_after_days: int = 45
    bookings_tolerance: Decimal = Decimal("0.02")
    freshness_hours: int = 24  # a source's as_of older than this at load time warns (R6)
    # R6: a table whose rejected rows (by the adapter or at publish) pass this share of what the source
    # sent, or that had every row rejected, is an ERROR; fewer rejected rows are listed and warn
    max_rejected_share: Decimal = Decimal("0.01")
    severity: dict[str, str] = field(default_factory=dict)  # per-check override: check_id -> error | warn
    # R2: items in transit younger than this many business days are listed but do not warn
    warn_after_days: int = 5


@dataclass(frozen=True)
class SchedulesConfig:
    refresh_cron: str = "0 6 * * *"
    close_business_day: int = 3


@dataclass(frozen=True)
class RefreshConfig:
    """How a failed source step is tried again as a whole (each try re-pulls the whole source), on
    top of the client's per-call retries (`client.retries`). `source_retries` None: once, and only for
    failures the client did not retry already (so attempts never multiply); a number: that many times
    for every transient failure."""

    source_retries: int | None = None
    source_retry_delay_s: float = 30.0


@dataclass(frozen=True)
class WarehouseConfig:
    """DuckDB's memory for the warehouse (issue 21): past `memory_limit` a query spills to
    `temp_directory` (None: `<home>/tmp/duckdb`; a relative path is under the data home) instead of growing."""

    memory_limit: str = "1GB"
    temp_directory: str | None = None


@dataclass(frozen=True)
class Config:
    company: CompanyConfig
    connectors: dict[str, ConnectorConfig]
    reconciliation: ReconciliationConfig
    schedules: SchedulesConfig
    path: Path | None = None
    refresh: RefreshConfig = RefreshConfig()
    delivery: DeliveryConfig | None = None  # issue 20: the month pack by e-mail / webhook
    alerts: tuple[AlertRule, ...] = ()
    warehouse: WarehouseConfig = WarehouseConfig()  # issue 21: DuckDB memory_limit / temp_directory
    instance: InstanceConfig | None = None  # issue 22: the Dagster instance on PostgreSQL (None: SQLite in the home)
    views: str | None = None  # issue 19: the folder of the user's views (reports/views.py), relative to this file


def expand(value: str, *, source: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment's value; an unset name is an error naming it."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"source {source!r}: environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(sub, value)


# --- the schema ----------------------------------------------------------------------------------
# Each field's description is what the message says was expected: "PATH: expected DESCRIPTION, got X".
# A validator that raises ValueError with a text gives that text instead; with no text, the description.


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML `yes` is not a count or a duration
        raise ValueError()
    return value


def _none_to(empty: Any) -> BeforeValidator:
    """A key given with no value (`args:`) means the empty default, as it always has."""
    return BeforeValidator(lambda value: type(empty)() if value is None else value)


def _scalars_to_str(value: Any) -> Any:
    """`env: {DEBUG: true}` and `args: [--port, 9000]` are text to the server."""

    def text(v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v

    if isinstance(value, dict):
        return {k: text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [text(v) for v in value]
    return value


def _decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError()
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError() from None
    if not number.is_finite():
        raise ValueError()
    return number


def _iso_date(value: Any) -> Any:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError()


Count = Annotated[int, BeforeValidator(_no_bool)]
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
Share = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, le=1)]
Texts = Annotated[list[str], _none_to([]), BeforeValidator(_scalars_to_str)]
TextMap = Annotated[dict[str, str], _none_to({}), BeforeValidator(_scalars_to_str)]


def _check_id(value: str) -> str:
    if value not in CHECK_IDS:
        raise ValueError(f"unknown check{_did_you_mean(value, CHECK_IDS)} (one of {', '.join(CHECK_IDS)})")
    return value


CheckId = Annotated[str, AfterValidator(_check_id)]
Level = Annotated[
    Literal["error", "warn"],
    BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
    Field(description="error or warn"),
]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, hide_input_in_errors=False)


class CompanySchema(_Schema):
    name: str = Field(min_length=1, description="the company's name")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="a three-letter currency code such as USD")
    fiscal_year_start_month: Count = Field(1, ge=1, le=12, description="a month number from 1 to 12")
    first_period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    timezone: str = Field("UTC", description="an IANA time zone such as UTC or Europe/Paris")
    as_of: Annotated[date | None, BeforeValidator(_iso_date)] = Field(None, description="a date as YYYY-MM-DD")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError() from None
        return value


class ServerSchema(_Schema):
    command: str | None = Field(None, min_length=1, description="an executable on PATH or its path")
    args: Texts = Field(default_factory=list, description="a list of arguments")
    env: TextMap = Field(default_factory=dict, description="a mapping of NAME: value")
    pass_env: Texts = Field(default_factory=list, description="a list of environment variable names")
    url: str | None = Field(None, pattern=r"^https?://\S+$", description="an http:// or https:// address")
    headers: TextMap = Field(default_factory=dict, description="a mapping of header: value")

    @model_validator(mode="after")
    def _one_transport(self) -> ServerSchema:
        if not (self.command or self.url):
            raise ValueError("needs a stdio `command` or an HTTP `url`")
        if self.command and self.url:
            raise ValueError("give a stdio `command` or an HTTP `url`, not both")
        return self


_CLIENT = ClientSettings()


class ClientSchema(_Schema):
    call_timeout_s: Number = Field(_CLIENT.call_timeout_s, gt=0, description="a number of seconds > 0")
    retries: Count = Field(_CLIENT.retries, ge=0, description="a whole number of retries >= 0")
    backoff_s: Number = Field(_CLIENT.backoff_s, ge=0, description="a number of seconds >= 0")
    backoff_max_s: Number = Field(_CLIENT.backoff_max_s, ge=0, description="a number of seconds >= 0")
    page_limit: Count = Field(_CLIENT.page_limit, gt=0, description="a whole number of items per page > 0")
    max_response_bytes: Count = Field(_CLIENT.max_response_bytes, gt=0, description="a whole number of bytes > 0")
    max_pages: Count = Field(_CLIENT.max_pages, gt=0, description="a whole number of pages > 0")
    handshake: Literal["auto", "legacy"] = Field(_CLIENT.handshake, description="auto or legacy")
    time_budget_s: Number = Field(_CLIENT.time_budget_s, gt=0, description="a number of seconds > 0")


def _days_or_null(value: Any) -> Any:
    if value is None:
        return None
    try:
        days = float(_no_bool(value))
    except (TypeError, ValueError):
        days = -1.0
    if not 0 <= days < float("inf"):
        raise ValueError(f"a number of days >= 0 or null, got {value!r}")
    return days


class ConnectorSchema(_Schema):
    adapter: str | None = Field(None, min_length=1, description="an adapter name such as builtin.erp")
    server: ServerSchema = Field(description="a mapping with a stdio `command` or an HTTP `url`")
    allow_tools: list[str] = Field(min_length=1, description="a list of the tools closeboard may call")
    client: Annotated[ClientSchema, _none_to({})] = Field(default_factory=ClientSchema, description="a mapping")
    options: Annotated[dict[str, Any], _none_to({})] = Field(default_factory=dict, description="a mapping")
    full_pull_every_days: Annotated[float | None, BeforeValidator(_days_or_null)] = Field(
        7.0, description="a number of days >= 0 or null"
    )
    auth: dict[str, Any] | None = Field(None, description="a mapping (kind: oauth | client_credentials | bearer)")


class ReconciliationSchema(_Schema):
    match_window_days: Count = Field(5, ge=0, description="a whole number of days >= 0")
    stale_after_days: Count = Field(45, ge=0, description="a whole number of days >= 0")
    warn_after_days: Count = Field(5, ge=0, description="a whole number of business days >= 0")
    bookings_tolerance: Share = Field(Decimal("0.02"), description="a fraction from 0 to 1 (0.02 = 2%)")
    freshness_hours: Count = Field(24, gt=0, description="a whole number of hours > 0")
    max_rejected_share: Share = Field(Decimal("0.01"), description="a fraction from 0 to 1 (0.01 = 1%)")
    severity: Annotated[dict[CheckId, Level], _none_to({})] = Field(
        default_factory=dict, description="a mapping of check id: error | warn"
    )


def _valid_cron(expression: str) -> bool:
    if expression == SchedulesConfig.refresh_cron:
        return True  # the default: no need to import dagster for it
    try:
        from croniter import croniter  # type: ignore[import-not-found]
    except ImportError:
        from dagster._utils.schedules import is_valid_cron_string

        return is_valid_cron_string(expression)
    return len(expression.split()) == 5 and bool(croniter.is_valid(expression))


class SchedulesSchema(_Schema):
    refresh_cron: str = Field(
        "0 6 * * *", description="a cron expression of five fields (minute hour day month weekday) such as '0 6 * * *'"
    )
    close_business_day: Count = Field(3, ge=1, le=23, description="a business day of the month from 1 to 23")

    @field_validator("refresh_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not _valid_cron(value.strip()):
            raise ValueError()
        return value.strip()


class RefreshSchema(_Schema):
    source_retries: Annotated[Count | None, Field(ge=0)] = Field(
        None, description="a whole number of step retries >= 0, or null (once, for failures the client did not retry)"
    )
    source_retry_delay_s: Number = Field(
        RefreshConfig.source_retry_delay_s, ge=0, description="a number of seconds >= 0"
    )


class WarehouseSchema(_Schema):
    memory_limit: str = Field(
        WarehouseConfig.memory_limit,
        pattern=r"(?i)^\s*\d+(\.\d+)?\s*(k|m|g|t)i?b\s*$",
        description="an amount of memory such as 1GB or 512MiB",
    )
    temp_directory: str | None = Field(None, min_length=1, description="a folder path (relative: under the data home)")


# --- delivery and alerts (issue 20; reports/delivery.py, reports/alerts.py, pipelines/delivery.py) ------

ALERT_RULES = ("check_fails", "stale_bank_item", "cash_below", "runway_below", "restated")
_THRESHOLD_RULES = ("cash_below", "runway_below")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class DeliveryConfig:
    """The `delivery:` block: how the month pack and alerts go out. `password` and `webhook` stay
    ``${NAME}`` references (expanded only when a message is sent)."""

    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    webhook: str | None = None
    on: str = "close"  # close: after each sign-off; business_day: on business day N of the next month
    business_day: int | None = None
    max_age_s: float | None = 2 * 86_400.0  # a source's data older than this blocks the pack (None: never)
    page_url: str | None = None  # where the pages are served (links in messages); else their paths


@dataclass(frozen=True)
class AlertRule:
    rule: str  # one of ALERT_RULES
    threshold: Decimal | None = None  # cash_below: money; runway_below: months
    channel: str = "email"  # email | webhook
    to: tuple[str, ...] = ()  # email: these addresses (default: delivery.recipients)


def _duration_s(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError()
    found = None if isinstance(value, (int, float)) else _DURATION.match(str(value))
    if found is None and not isinstance(value, (int, float)):
        raise ValueError()
    seconds = float(value) if found is None else float(found.group(1)) * _UNIT_S[found.group(2)]
    if not 0 < seconds < float("inf"):
        raise ValueError()
    return seconds


def _env_ref(value: str | None) -> str | None:
    if value is not None and not _ENV_REF.fullmatch(value):  # the whole value: a URL's token is a secret too
        raise ValueError("reference the secret as ${ENV_NAME} (the whole value), never inline")
    return value


EnvRef = Annotated[str | None, AfterValidator(_env_ref)]
Address = Annotated[str, Field(pattern=r"^[^@\s<>,]+@[^@\s<>,]+$")]
Addresses = Annotated[list[Address], _none_to([])]


class SmtpSchema(_Schema):
    host: str = Field(min_length=1, description="the SMTP server's host name")
    port: Count = Field(587, ge=1, le=65535, description="a TCP port from 1 to 65535")
    starttls: bool = Field(True, description="true or false")
    user: str | None = Field(None, min_length=1, description="the SMTP user name")
    password: EnvRef = Field(None, description="${ENV_NAME}")
    timeout_s: Number = Field(30.0, gt=0, description="a number of seconds > 0")

    @model_validator(mode="after")
    def _login(self) -> SmtpSchema:
        if self.user and not self.password:
            raise ValueError("user without password: give `password: ${ENV_NAME}`")
        return self


class DeliverySchema(_Schema):
    smtp: SmtpSchema | None = Field(None, description="a mapping (host, port, starttls, user, password)")
    from_: str | None = Field(
        None,
        alias="from",
        pattern=r"^[^@]*[^@\s<>,]+@[^@\s<>,]+>?$",
        description="the sender's address, such as 'closeboard <close@example.com>'",
    )
    recipients: Addresses = Field(default_factory=list, description="a list of e-mail addresses")
    webhook: EnvRef = Field(None, description="${ENV_NAME} naming a Slack-compatible incoming-webhook URL")
    on: Literal["close", "business_day"] | None = Field(None, description="close or business_day")
    business_day: Count | None = Field(None, ge=1, le=23, description="a business day of the month from 1 to 23")
    max_age: Annotated[float | None, BeforeValidator(_duration_s)] = Field(
        DeliveryConfig.max_age_s, description="a duration such as 36h, 2d or 90m, or null"
    )
    page_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="the address the pages are served at, such as http://127.0.0.1:8765",
    )

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        if isinstance(data, dict) and True in data:  # YAML 1.1 reads the key `on` as true
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _whole(self) -> DeliverySchema:
        if self.on == "close" and self.business_day is not None:
            raise ValueError("give `on: close` or `business_day: N`, not both")
        if self.on == "business_day" and self.business_day is None:
            raise ValueError("`on: business_day` needs `business_day: N`")
        if self.smtp is None and self.webhook is None:
            raise ValueError("needs an `smtp:` server or a `webhook:` to deliver through")
        if self.smtp is not None and not self.from_:
            raise ValueError("`smtp:` needs `from:` (the sender's address)")
        return self

    def build(self) -> DeliveryConfig:
        smtp = self.smtp
        return DeliveryConfig(
            smtp_host=smtp.host if smtp else None,
            smtp_port=smtp.port if smtp else 587,
            starttls=smtp.starttls if smtp else True,
            user=smtp.user if smtp else None,
            password=smtp.password if smtp else None,
            timeout_s=smtp.timeout_s if smtp else 30.0,
            sender=self.from_,
            recipients=tuple(self.recipients),
            webhook=self.webhook,
            on="business_day" if self.business_day is not None else "close",
            business_day=self.business_day,
            max_age_s=self.max_age,
            page_url=self.page_url.rstrip("/") if self.page_url else None,
        )


class AlertSchema(_Schema):
    rule: Literal[ALERT_RULES] = Field(description=f"one of {', '.join(ALERT_RULES)}")  # type: ignore[valid-type]
    threshold: Annotated[Decimal | None, BeforeValidator(lambda v: None if v is None else _decimal(v))] = Field(
        None, description="a number (cash_below: in the company currency; runway_below: months)"
    )
    channel: Literal["email", "webhook"] = Field("email", description="email or webhook")
    to: Addresses = Field(default_factory=list, description="a list of e-mail addresses")

    @model_validator(mode="after")
    def _threshold(self) -> AlertSchema:
        if self.rule in _THRESHOLD_RULES and self.threshold is None:
            raise ValueError(f"rule {self.rule} needs a `threshold`")
        if self.rule not in _THRESHOLD_RULES and self.threshold is not None:
            raise ValueError(f"rule {self.rule} takes no threshold (only {' and '.join(_THRESHOLD_RULES)} do)")
        return self


class AlertsSchema(_Schema):
    alerts: Annotated[list[AlertSchema], _none_to([])] = Field(default_factory=list, description="a list of rules")


# --- the Dagster instance (issue 22; pipelines/instance.py writes <home>/dagster/dagster.yaml from it) ---------


@dataclass(frozen=True)
class InstanceConfig:
    """`instance:`: the Dagster instance's run, event-log and schedule storage on PostgreSQL, the URL a
    ``${NAME}`` reference (Dagster reads the variable itself: the URL is never written to a file), with
    run monitoring on."""

    postgres_url: str  # "${DAGSTER_PG_URL}"
    run_monitoring_interval_s: int = 120  # how often the daemon checks the runs in progress
    run_start_timeout_s: int = 180  # a run not started (or not cancelled) after this long is marked failed


class InstanceSchema(_Schema):
    postgres_url: EnvRef = Field(description="${ENV_NAME} naming a postgresql+psycopg2:// URL")
    run_monitoring_interval_s: Count = Field(
        InstanceConfig.run_monitoring_interval_s, ge=1, description="a whole number of seconds >= 1"
    )
    run_start_timeout_s: Count = Field(
        InstanceConfig.run_start_timeout_s, ge=1, description="a whole number of seconds >= 1"
    )

    @model_validator(mode="after")
    def _url(self) -> InstanceSchema:
        if self.postgres_url is None:
            raise ValueError("needs `postgres_url: ${ENV_NAME}` (the variable holding a postgresql+psycopg2:// URL)")
        return self


def _delivery(raw: dict[str, Any], problems: list[str]) -> tuple[DeliveryConfig | None, tuple[AlertRule, ...]]:
    """`delivery:` and `alerts:`, each alert checked against the channels delivery configures."""
    delivery = None
    if raw.get("delivery") is not None:
        schema = _validate(DeliverySchema, raw["delivery"], "delivery", problems)
        delivery = schema.build() if schema is not None else None
    rules = _validate(AlertsSchema, {"alerts": raw.get("alerts")}, "", problems)
    alerts = tuple(AlertRule(r.rule, r.threshold, r.channel, tuple(r.to)) for r in (rules.alerts if rules else []))
    for index, rule in enumerate(alerts):
        where = f"alerts[{index}]"
        if raw.get("delivery") is None:
            problems.append(f"{where}: alerts go out through `delivery:` (smtp or webhook); configure it")
        elif delivery is None:
            continue
        elif rule.channel == "webhook" and not delivery.webhook:
            problems.append(f"{where}.channel: webhook, but delivery has no `webhook:`")
        elif rule.channel == "email" and not delivery.smtp_host:
            problems.append(f"{where}.channel: email, but delivery has no `smtp:` server")
        elif rule.channel == "email" and not (rule.to or delivery.recipients):
            problems.append(f"{where}.to: no addresses (and delivery.recipients is empty)")
    return delivery, alerts


SECTIONS: dict[str, type[_Schema] | None] = {
    "company": CompanySchema,
    "connectors": None,  # a mapping of source name -> ConnectorSchema
    "reconciliation": ReconciliationSchema,
    "schedules": SchedulesSchema,
    "refresh": RefreshSchema,
    "warehouse": WarehouseSchema,
    "delivery": DeliverySchema,
    "alerts": None,  # a list of AlertSchema
    "instance": None,  # InstanceSchema: the Dagster instance (issue 22, pipelines/instance.py)
    "views": None,  # a folder of views/*.md (issue 19, reports/views.py); default views/ next to this file
}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or type(annotation).__name__ == "UnionType":
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation


def _walk(schema: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The FieldInfo of the last field on `loc` and the (unwrapped) type found at `loc`."""
    info, annotation = None, schema
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if part not in annotation.model_fields:
                return info, None
            info = annotation.model_fields[part]
            annotation = info.annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
            described = [m for m in getattr(annotation, "__metadata__", ()) if getattr(m, "description", None)]
            info = described[0] if described else info  # e.g. Level: "error or warn"
    return info, _unwrap(annotation)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _path(where: str, loc: tuple[Any, ...]) -> str:
    out = where
    for part in loc:
        if part == "[key]":  # pydantic's marker for a problem with a mapping's key (the key is before it)
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_problems(error: ValidationError, schema: type[BaseModel], where: str) -> list[str]:
    """One line per problem: `where.path: what was expected, got what`; an unknown key names the
    known key it most resembles, whose own "missing" line is then left out (it is the same mistake)."""
    errors = error.errors(include_url=False)
    meant: set[tuple[Any, ...]] = set()
    unknown: dict[tuple[Any, ...], str] = {}
    for e in errors:
        if e["type"] == "extra_forbidden":
            *parent, key = e["loc"]
            _, owner = _walk(schema, tuple(parent))
            known = list(owner.model_fields) if isinstance(owner, type) and issubclass(owner, BaseModel) else []
            hint = _did_you_mean(key, known)
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            if close:
                meant.add((*parent, close[0]))
            unknown[tuple(e["loc"])] = hint or (f" (known keys: {', '.join(known)})" if known else "")
    problems = []
    for e in errors:
        loc = tuple(e["loc"])
        info, _ = _walk(schema, loc)
        expected = info.description if info is not None and info.description else None
        if e["type"] == "extra_forbidden":
            problems.append(f"{_path(where, loc[:-1]) or 'top level'}: unknown key {loc[-1]!r}{unknown[loc]}")
        elif e["type"] == "missing":
            if loc not in meant:
                problems.append(f"{_path(where, loc)}: missing" + (f"; expected {expected}" if expected else ""))
        elif e["type"] in ("model_type", "model_attributes_type", "dict_type"):
            problems.append(f"{_path(where, loc)}: expected a mapping, got {_shown(e.get('input'))}")
        elif e["type"] == "list_type":
            problems.append(f"{_path(where, loc)}: expected a list, got {_shown(e.get('input'))}")
        else:
            cause = (e.get("ctx") or {}).get("error")
            text = str(cause) if isinstance(cause, Exception) else ""
            if text:
                problems.append(f"{_path(where, loc)}: {text}")
            else:
                problems.append(
                    f"{_path(where, loc)}: expected {expected or e['msg'].lower()}, got {_shown(e.get('input'))}"
                )
    return problems


def _validate(schema: type[_Schema], raw: Any, where: str, problems: list[str]) -> Any:
    """`raw` validated against `schema` (None: its problems appended to `problems`)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping, got {_shown(raw)}")
        return None
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, schema, where))
        return None


def _build_connector(name: str, schema: ConnectorSchema) -> ConnectorConfig:
    server = schema.server
    return ConnectorConfig(
        name=name,
        adapter=schema.adapter or f"builtin.{name}",
        server=ServerConfig(
            command=server.command,
            args=tuple(server.args),
            env=dict(server.env),
            pass_env=tuple(server.pass_env),
            url=server.url,
            headers=dict(server.headers),
        ),
        allow_tools=tuple(schema.allow_tools),
        client=ClientSettings(**schema.client.model_dump()),
        options=dict(schema.options),
        full_pull_every_days=schema.full_pull_every_days,
        auth=_auth(name, schema.auth, {"url": server.url}),
    )


def missing_command(connector: ConnectorConfig) -> str | None:
    """The problem with a stdio connector whose `command` is not found (python/python3: this
    interpreter), else None: a server that cannot start fails at once, not after retries."""
    command = connector.server.command
    if connector.server.url or not command or command in PYTHON_NAMES:
        return None
    if shutil.which(command) is not None:
        return None
    where = "is not an executable file" if os.sep in command else "is not found on PATH"
    return f"connectors.{connector.name}.server.command: {command!r} {where} (install it, or give its full path)"


def _company_options(connector: ConnectorConfig, adapter: Any, company: CompanyConfig | None) -> None:
    """Fill the adapter options that are company settings (`Adapter.company_options`) from `company:`,
    and refuse one given with another value: a ledger read in another currency or fiscal year than
    the one reported would be wrong in every figure."""
    if company is None:
        return
    for option, (setting, must_equal) in adapter.company_options.items():
        value = getattr(company, setting)
        given = connector.options.get(option)
        if value is None:
            continue
        if given is None:
            connector.options[option] = value
        elif must_equal and str(given) != str(value):
            raise ConfigError(
                f"connectors.{connector.name}.options.{option}: {given!r} differs from company.{setting} "
                f"{value!r}; leave it out (it follows company.{setting}) or correct it"
            )


def _not_a_source(name: str) -> str:
    return (
        f"connectors.{name}: a source is one of {list(SOURCES)}, the family of canonical tables it feeds "
        f"(a Stripe or statement-file bank is configured as `bank`){_did_you_mean(name, SOURCES)}"
    )


def check_adapter(connector: ConnectorConfig, company: CompanyConfig | None = None) -> None:
    """Refuse a connector whose adapter is unknown, rejects its options, or whose allow_tools name a
    tool the adapter does not declare as a read (closeboard never calls anything else)."""
    from connectors.adapters import get_adapter  # adapters import this module

    def refused(exc: Exception) -> ConfigError:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return ConfigError(f"connectors.{connector.name}.adapter {connector.adapter!r}: {message}")

    try:
        adapter = get_adapter(connector.adapter)
    except (KeyError, ImportError, AttributeError) as exc:
        raise refused(exc) from None
    _company_options(connector, adapter, company)  # before configure: it may need them
    try:
        adapter.configure(connector)
    except (KeyError, ValueError, TypeError) as exc:
        raise refused(exc) from None
    if connector.name not in SOURCES:
        raise ConfigError(_not_a_source(connector.name))
    foreign = [t for t in adapter.tables if t not in source_tables(connector.name)]
    if foreign:
        raise ConfigError(
            f"connectors.{connector.name}.adapter {connector.adapter!r} feeds {foreign}, which are not "
            f"{connector.name} tables ({list(source_tables(connector.name))})"
        )
    reads = adapter.read_tools()
    undeclared = [t for t in connector.allow_tools if t not in reads]
    if undeclared:
        raise ConfigError(
            f"connectors.{connector.name}.allow_tools: {undeclared} not declared as read tools by adapter "
            f"{connector.adapter!r} (its read tools: {sorted(reads)}); closeboard calls only tools that its "
            "adapter declares as reads: remove them from allow_tools"
        )


def parse_config(raw: dict[str, Any], path: Path | None = None, *, check_commands: bool = False) -> Config:
    """`raw` (closeboard.yaml's mapping) checked against the schema, every problem listed together
    in one ConfigError, one line each prefixed with `path`; with `check_commands`, a stdio connector
    whose command is not found is one of them."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        problems.append(f"expected a mapping (company, connectors, ...) at the top level, got {_shown(raw)}")
        raw = {}
    if "entities" in raw:  # a group's file (issue 22): each entity is loaded on its own (`load_group`)
        ids = [str(e.get("id")) for e in raw["entities"] or [] if isinstance(e, dict)]
        raise ConfigError(
            f"{path or 'closeboard.yaml'}: declares entities ({', '.join(ids) or 'none'}): name one with "
            "`closeboard --entity ID ...` (its own company, connectors, warehouse and reports)"
        )
    unknown = [k for k in raw if k not in SECTIONS]
    for key in unknown:
        problems.append(
            f"top level: unknown key {key!r}"
            + (_did_you_mean(key, SECTIONS) or f" (known keys: {', '.join(SECTIONS)})")
        )
    company = _validate(CompanySchema, raw.get("company"), "company", problems)
    settings = None if company is None else CompanyConfig(**company.model_dump())
    connectors: dict[str, ConnectorConfig] = {}
    sources = raw.get("connectors")
    if sources is not None and not isinstance(sources, dict):
        problems.append(f"connectors: expected a mapping of source name: connector, got {_shown(sources)}")
    elif not sources:
        if not any(_did_you_mean(k, ["connectors"]) for k in unknown):  # `conectors:` says it already
            problems.append(
                "connectors: no source is configured; connect the ERP (the source of truth) first: connectors.erp"
            )
    else:
        for name, entry in sources.items():
            name = str(name)
            schema = _validate(ConnectorSchema, entry, f"connectors.{name}", problems)
            if schema is None:
                if name not in SOURCES:
                    problems.append(_not_a_source(name))
                continue
            try:
                connector = _build_connector(name, schema)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            connectors[name] = connector
            if check_commands and (missing := missing_command(connector)):
                problems.append(missing)
    as_given = settings or _company_as_given(raw.get("company"))
    for connector in connectors.values():
        try:
            check_adapter(connector, as_given)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except Exception:  # an adapter tripped over an invalid company: value, already listed
            if settings is not None:
                raise
    recon = _validate(ReconciliationSchema, raw.get("reconciliation"), "reconciliation", problems)
    schedules = _validate(SchedulesSchema, raw.get("schedules"), "schedules", problems)
    refresh = _validate(RefreshSchema, raw.get("refresh"), "refresh", problems)
    warehouse = _validate(WarehouseSchema, raw.get("warehouse"), "warehouse", problems)
    delivery, alerts = _delivery(raw, problems)
    instance = None
    if raw.get("instance") is not None:
        schema = _validate(InstanceSchema, raw["instance"], "instance", problems)
        instance = InstanceConfig(**schema.model_dump()) if schema is not None else None
    views = raw.get("views")
    if views is not None and (not isinstance(views, str) or not views.strip()):
        problems.append(f"views: expected a folder of views/*.md (a path), got {_shown(views)}")
    if problems or settings is None or recon is None or schedules is None or refresh is None:
        prefix = f"{path}: " if path is not None else ""
        raise ConfigError(*(prefix + p for p in problems))
    return Config(
        company=settings,
        connectors=connectors,
        reconciliation=ReconciliationConfig(**recon.model_dump()),
        schedules=SchedulesConfig(**schedules.model_dump()),
        path=path,
        refresh=RefreshConfig(**refresh.model_dump()),
        warehouse=WarehouseConfig(**warehouse.model_dump()) if warehouse is not None else WarehouseConfig(),
        delivery=delivery,
        alerts=alerts,
        instance=instance,
        views=views if isinstance(views, str) else None,
    )


# --- a group of entities (issue 22): `entities:` instead of one company ---------------------------------

ENTITY_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"
GROUP_KEYS = ("entities", "instance", "schedules")  # a group's file holds these; the rest is per entity


@dataclass(frozen=True)
class EntityConfig:
    """One entity of a group: its own closeboard.yaml (`path`) or the sections written inline (`inline`)."""

    id: str
    path: Path | None = None
    inline: dict[str, Any] | None = None


@dataclass(frozen=True)
class GroupConfig:
    """A closeboard.yaml with `entities:`: each entity a company of its own (data home
    `<home>/entities/<id>/`); `instance` and `schedules` (the refresh of every entity) are the group's."""

    path: Path
    entities: tuple[EntityConfig, ...]
    instance: InstanceConfig | None = None
    schedules: SchedulesConfig = SchedulesConfig()

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entities]

    def entity(self, entity_id: str) -> EntityConfig:
        """The entity `entity_id`, or a ConfigError listing the known ones."""
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise ConfigError(f"{self.path}: no entity {entity_id!r}; the entities are: {', '.join(self.ids)}")


class EntitySchema(_Schema):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, hide_input_in_errors=False)
    id: str = Field(
        pattern=ENTITY_ID,
        description="an id of lowercase letters, digits, - and _ (at most 40, starting with a letter or digit; "
        "it names the entity's folder)",
    )
    path: str | None = Field(None, min_length=1, description="the path of the entity's own closeboard.yaml")


def parse_group(raw: dict[str, Any], path: Path) -> GroupConfig:
    """A group's closeboard.yaml (`raw` has `entities:`) checked whole: each entity's id (unique, a folder
    name), its `path:` (exists, relative to this file) or its inline sections (checked as a closeboard.yaml
    of its own); every problem listed together, prefixed with `path` and the entity."""
    problems: list[str] = []
    for key in (k for k in raw if k not in GROUP_KEYS):
        where = "belongs to each entity" if key in SECTIONS else "is not a group setting"
        problems.append(
            f"top level: {key!r} {where}: a file with `entities:` holds only {', '.join(GROUP_KEYS)}; "
            "give each entity its company, connectors and settings inline or in its own file (`path:`)"
        )
    listed = raw.get("entities")
    if not isinstance(listed, list) or not listed:
        problems.append(
            f"entities: expected a list of entities (each `id` and `path` or company/connectors), got {_shown(listed)}"
        )
        listed = []
    entities: list[EntityConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(listed):
        schema = _validate(EntitySchema, entry, f"entities[{index}]", problems)
        if schema is None:
            continue
        where = f"entities[{index}] ({schema.id})"
        if schema.id in seen:
            problems.append(f"{where}: duplicate id {schema.id!r} (each entity has its own data home)")
            continue
        seen.add(schema.id)
        inline = dict(schema.model_extra or {})
        if schema.path is not None and inline:
            problems.append(f"{where}: give `path:` or the sections inline, not both (found {', '.join(inline)})")
            continue
        if schema.path is not None:
            file = (path.parent / Path(schema.path).expanduser()).resolve()
            if not file.is_file():
                problems.append(f"{where}.path: {file} does not exist (the entity's own closeboard.yaml)")
                continue
            try:
                load_config(file)
            except ConfigError as exc:
                problems.extend(f"{where}: {p}" for p in exc.problems)
                continue
            entities.append(EntityConfig(schema.id, path=file))
            continue
        nested = [k for k in ("instance", "entities") if k in inline]
        if nested:
            problems.append(f"{where}: {', '.join(nested)} belong(s) to the group, not to an entity")
            continue
        try:
            parse_config(inline, None, check_commands=True)
        except ConfigError as exc:
            problems.extend(f"{where}: {p}" for p in exc.problems)
            continue
        entities.append(EntityConfig(schema.id, inline=inline))
    instance = None
    if raw.get("instance") is not None:
        checked = _validate(InstanceSchema, raw["instance"], "instance", problems)
        instance = InstanceConfig(**checked.model_dump()) if checked is not None else None
    schedules = _validate(SchedulesSchema, raw.get("schedules"), "schedules", problems)
    if problems or schedules is None:
        raise ConfigError(*(f"{path}: {p}" for p in problems))
    return GroupConfig(path, tuple(entities), instance, SchedulesConfig(**schedules.model_dump()))


def load_group(path: Path) -> GroupConfig | None:
    """The group at `path` when that closeboard.yaml declares `entities:`, checked whole; None for a
    single company's file (or none at all: `load_config` reports that)."""
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # load_config names the problem
    if not isinstance(raw, dict) or "entities" not in raw:
        return None
    return parse_group(raw, path)


def _company_as_given(raw: Any) -> CompanyConfig | None:
    """company: although it failed the schema, with each setting that is valid on its own (the others
    None), so that the adapters' checks of the options that follow it are listed too."""
    if not isinstance(raw, dict):
        return None
    base = {"name": "-", "currency": "XXX", "first_period": "2000-01"}
    valid: dict[str, Any] = {}
    for key in CompanySchema.model_fields:
        try:
            model = CompanySchema.model_validate({**base, key: raw[key]} if key in raw else base)
        except ValidationError:
            valid[key] = None
        else:
            valid[key] = getattr(model, key) if key in raw or key not in base else None
    return CompanyConfig(**valid)


class _Refused(yaml.YAMLError):
    pass


class StrictLoader(yaml.SafeLoader):
    """YAML without anchors and aliases (`&a` / `*a`: an alias bomb expands to gigabytes) and
    without duplicate keys (the later one would silently win)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            name = ("*" if isinstance(event, yaml.AliasEvent) else "&") + str(event.anchor)
            raise _Refused(
                f"line {mark.line + 1}, column {mark.column + 1}: YAML anchors and aliases ({name}) "
                "are not accepted; write the value out in full"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _Refused(f"line {line}: duplicate key {key!r} (first on line {seen[key]})")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """`text` parsed with StrictLoader; yaml.YAMLError when it is not acceptable YAML. A copy of the
    parse is kept per text: a refresh reads closeboard.yaml three times (the code location, the
    Dagster instance, the run's resource), ~25 ms of pure-Python YAML each at the demo's size."""
    return copy.deepcopy(_strict_yaml(text))


@functools.lru_cache(maxsize=16)
def _strict_yaml(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def load_config(path: Path) -> Config:
    """closeboard.yaml at `path`, checked whole (including that every stdio command exists)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no configuration at {path} (pass --config or set CLOSEBOARD_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        raw = read_yaml(text)
    except _Refused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config({} if raw is None else raw, path, check_commands=True)
