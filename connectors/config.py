"""closeboard.yaml: company, connectors, reconciliation and schedules (DESIGN "Configuration").

Secrets are referenced as ``${NAME}`` and resolved only when a session opens (``expand``), so a
loaded ``Config`` never holds a secret and can be logged or shown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from connectors.records import SOURCES, source_tables

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """closeboard.yaml is missing, malformed, or references an unset variable."""


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
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
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


def _share(value: Any) -> Decimal:
    try:
        share = Decimal(str(value))
    except ArithmeticError:
        share = Decimal("NaN")
    if not share.is_finite() or not 0 <= share <= 1:
        raise ConfigError(f"reconciliation.max_rejected_share: expected a fraction from 0 to 1 (0.01 = 1%), got {value!r}")
    return share


@dataclass(frozen=True)
class SchedulesConfig:
    refresh_cron: str = "0 6 * * *"
    close_business_day: int = 3


@dataclass(frozen=True)
class Config:
    company: CompanyConfig
    connectors: dict[str, ConnectorConfig]
    reconciliation: ReconciliationConfig
    schedules: SchedulesConfig
    path: Path | None = None


def expand(value: str, *, source: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment's value; an unset name is an error naming it."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"source {source!r}: environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(sub, value)


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def _connector(name: str, raw: dict[str, Any]) -> ConnectorConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"connectors.{name}: expected a mapping")
    server = raw.get("server")
    if not isinstance(server, dict) or not (server.get("command") or server.get("url")):
        raise ConfigError(f"connectors.{name}.server: needs a stdio `command` or an HTTP `url`")
    allow = raw.get("allow_tools")
    if not allow or not isinstance(allow, list):
        raise ConfigError(f"connectors.{name}.allow_tools: list the tools closeboard may call")
    known = {f.name for f in ClientSettings.__dataclass_fields__.values()}
    client_raw = raw.get("client") or {}
    unknown = set(client_raw) - known
    if unknown:
        raise ConfigError(f"connectors.{name}.client: unknown keys {sorted(unknown)}")
    try:
        client = ClientSettings(**client_raw)
    except ValueError as exc:
        raise ConfigError(f"connectors.{name}.{exc}") from None
    return ConnectorConfig(
        name=name,
        adapter=str(raw.get("adapter") or f"builtin.{name}"),
        server=ServerConfig(
            command=server.get("command"),
            args=tuple(str(a) for a in server.get("args") or ()),
            env={str(k): str(v) for k, v in (server.get("env") or {}).items()},
            pass_env=tuple(server.get("pass_env") or ()),
            url=server.get("url"),
            headers={str(k): str(v) for k, v in (server.get("headers") or {}).items()},
        ),
        allow_tools=tuple(str(t) for t in allow),
        client=client,
        options=_options(name, raw.get("options")),
        full_pull_every_days=_days(name, raw.get("full_pull_every_days", 7)),
        auth=_auth(name, raw.get("auth"), server),
    )


def _days(name: str, raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        days = float(raw)
    except (TypeError, ValueError):
        days = -1.0
    if days < 0:
        raise ConfigError(f"connectors.{name}.full_pull_every_days: a number of days >= 0 or null, got {raw!r}")
    return days


def _options(name: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"connectors.{name}.options: expected a mapping, got {type(raw).__name__}")
    return dict(raw)


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
        raise ConfigError(
            f"connectors.{connector.name}: a source is one of {list(SOURCES)}, the family of canonical tables "
            f"it feeds (a Stripe or statement-file bank is configured as `bank`)"
        )
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


def parse_config(raw: dict[str, Any], path: Path | None = None) -> Config:
    company = _section(raw, "company")
    missing = [k for k in ("name", "currency", "first_period") if not company.get(k)]
    if missing:
        raise ConfigError(f"company: missing {', '.join(missing)}")
    first_period = str(company["first_period"])
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", first_period):
        raise ConfigError(f"company.first_period: expected YYYY-MM, got {first_period!r}")
    as_of = company.get("as_of")
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of)
    recon = _section(raw, "reconciliation")
    schedules = _section(raw, "schedules")
    settings = CompanyConfig(
        name=str(company["name"]),
        currency=str(company["currency"]),
        fiscal_year_start_month=int(company.get("fiscal_year_start_month", 1)),
        first_period=first_period,
        timezone=str(company.get("timezone", "UTC")),
        as_of=as_of,
    )
    connectors = {name: _connector(name, c) for name, c in _section(raw, "connectors").items()}
    if not connectors:
        raise ConfigError(
            "connectors: no source is configured; connect the ERP (the source of truth) first: connectors.erp"
        )
    for connector in connectors.values():
        check_adapter(connector, settings)
    return Config(
        company=settings,
        connectors=connectors,
        reconciliation=ReconciliationConfig(
            match_window_days=int(recon.get("match_window_days", 5)),
            stale_after_days=int(recon.get("stale_after_days", 45)),
            bookings_tolerance=Decimal(str(recon.get("bookings_tolerance", "0.02"))),
            freshness_hours=int(recon.get("freshness_hours", 24)),
            max_rejected_share=_share(recon.get("max_rejected_share", "0.01")),
            severity={str(k): str(v).lower() for k, v in (recon.get("severity") or {}).items()},
        ),
        schedules=SchedulesConfig(
            refresh_cron=str(schedules.get("refresh_cron", "0 6 * * *")),
            close_business_day=int(schedules.get("close_business_day", 3)),
        ),
        path=path,
    )


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no configuration at {path} (pass --config or set CLOSEBOARD_CONFIG)") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse_config(raw, path)
