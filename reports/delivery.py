"""Sending the month pack (issue 20): one close snapshot version by e-mail (the KPI summary in the
body, the PDF and the XLSX attached) and as a Slack-compatible webhook message, recorded in the
delivery log so the same version never goes to the same recipient twice.

Read side only: the readers' copy and the archived pages (reports.export), never the live
warehouse. The log is its own small file, `<home>/delivery.duckdb` (table `deliveries`, SQL in
warehouse/sql/ops/delivery_*.sql), written under `<home>/delivery.lock`, so a sensor in the daemon, a
run and the CLI never send the same thing at once: each checks the log, sends and records while it
holds the lock.

A pack is blocked (recorded as `blocked`, nothing sent) while an ERROR check fails for its period
(in the version or in the latest reconciliation) or a source's data is older than `max_age`, unless
the version was signed off with an override, which the message then states. Secrets (the SMTP
password, the webhook URL) come in resolved `Channels` and are never logged, recorded or printed.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
import smtplib
import ssl
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
from filelock import FileLock, Timeout

from reports.export import KPI_ORDER, Pack, archive_path, resolve, write_pdf, write_xlsx
from reports.formatting import PERCENT_KPIS, PLAIN_KPIS, money
from reports.history import KPI_LABELS
from warehouse import loads
from warehouse.checks import BY_ID
from warehouse.db import connect
from warehouse.home import Home
from warehouse.snapshots import Snapshot, failing_error_checks, history

LOG_FILE = "delivery.duckdb"
LOCK_FILE = "delivery.lock"
LOCK_TIMEOUT_S = 120.0
# the e-mail lists the key figures in the workbook's order (reports.export.KPI_ORDER), these after the others
LISTED_LAST = ("cogs", "pipeline_open", "bookings_won")


class DeliveryError(RuntimeError):
    """A message that could not go out (SMTP or webhook refused, unreachable, no pack to send)."""


@dataclass(frozen=True)
class Channels:
    """Where messages go, with secrets resolved (kept in memory only; `repr` hides them)."""

    sender: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    webhook_url: str | None = field(default=None, repr=False)
    page_url: str | None = None

    @property
    def webhook_label(self) -> str:
        """How the webhook is named in the log and in messages: its host, never its path or token."""
        return f"webhook {urlsplit(self.webhook_url or '').hostname or '?'}"


# ---------------------------------------------------------------------------------------------
# the log


@contextmanager
def delivery_log(home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    """The delivery log, held exclusively (one sender at a time across processes)."""
    home.root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(home.root / LOCK_FILE), timeout=LOCK_TIMEOUT_S):
            con = connect(home.root / LOG_FILE)
            try:
                loads.run(con, "delivery_schema")
                yield con
            finally:
                con.close()
    except Timeout:
        raise DeliveryError(
            f"the delivery log {home.root / LOG_FILE} is busy: another send holds {home.root / LOCK_FILE}"
        ) from None


def already_sent(con: duckdb.DuckDBPyConnection, kind: str, period: str, version: int, rule: str = "") -> set[str]:
    return {r for (r,) in loads.run(con, "delivery_sent", [kind, period, version, rule]).fetchall()}


def record(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    period: str,
    version: int,
    rule: str,
    channel: str,
    recipients: Sequence[str],
    status: str,
    *,
    subject: str | None = None,
    attachments: Sequence[str] = (),
    detail: str | None = None,
    trigger: str | None = None,
) -> None:
    for recipient in recipients:
        loads.run(
            con,
            "delivery_record",
            [
                kind,
                period,
                version,
                rule,
                channel,
                recipient,
                status,
                subject,
                ", ".join(attachments) or None,
                detail,
                trigger,
            ],
        )


# ---------------------------------------------------------------------------------------------
# the channels


def send_email(
    channels: Channels, to: Sequence[str], subject: str, body: str, attachments: Sequence[Path] = ()
) -> None:
    """One message to `to` through the SMTP server (STARTTLS and login as configured)."""
    if not channels.smtp_host or not channels.sender:
        raise DeliveryError("delivery: no `smtp:` server and `from:` configured to send e-mail")
    message = EmailMessage()
    message["From"] = channels.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="closeboard")
    message.set_content(body)
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    where = f"delivery.smtp {channels.smtp_host}:{channels.smtp_port}"
    try:
        with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=channels.timeout_s) as smtp:
            smtp.ehlo()
            if channels.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if channels.user:
                smtp.login(channels.user, channels.password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where}: login as {channels.user} refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"{where}: refused recipients {sorted(refused)}")


def post_webhook(channels: Channels, text: str) -> None:
    """A Slack-compatible incoming-webhook message (`{"text": ...}`); errors never show the URL."""
    import httpx2

    if not channels.webhook_url:
        raise DeliveryError("delivery: no `webhook:` configured")
    try:
        response = httpx2.post(channels.webhook_url, json={"text": text}, timeout=channels.timeout_s)
    except httpx2.HTTPError as exc:
        raise DeliveryError(f"delivery.webhook ({channels.webhook_label}): {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"delivery.webhook ({channels.webhook_label}): HTTP {response.status_code}")


def page_link(home: Home, channels: Channels, relative: str | None) -> str:
    """Where a person opens a page: under `page_url` when the pages are served, else its path."""
    relative = relative or "latest.html"
    return f"{channels.page_url}/{relative}" if channels.page_url else str(home.reports / relative)


# ---------------------------------------------------------------------------------------------
# the pack


@dataclass(frozen=True)
class PackOutcome:
    period: str
    version: int
    status: str  # sent | blocked | already sent
    sent_to: list[str]
    detail: str

    def line(self) -> str:
        sent = f" to {', '.join(self.sent_to)}" if self.sent_to else ""
        return f"{self.period} v{self.version}: {self.status}{sent}" + (f" ({self.detail})" if self.detail else "")


def _read_copy(home: Home) -> duckdb.DuckDBPyConnection:
    if not home.read_copy.exists():
        raise DeliveryError(f"no warehouse yet at {home.read_copy}: run `closeboard refresh` first")
    return connect(home.read_copy, read_only=True)


def pick_version(home: Home, period: str) -> int:
    """The version a pack of `period` sends by default: its last closed one, else its latest."""
    con = _read_copy(home)
    try:
        versions = history(con, period)
    finally:
        con.close()
    if not versions:
        raise DeliveryError(f"{period}: no close snapshot of this period to send")
    closed = [s for s in versions if s.status == "closed"]
    return (closed or versions)[-1].version


def _as_of(value: Any) -> datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def blockers(home: Home, snap: Snapshot, max_age_s: float | None, now: datetime | None = None) -> list[str]:
    """Why `snap` may not go out: each failing ERROR check (in the version or in the latest
    reconciliation of its period) and each source whose data is older than `max_age_s`."""
    now = now or datetime.now(timezone.utc)
    con = _read_copy(home)
    try:
        current = dict(failing_error_checks(con, snap.period))
        freshness = loads.source_freshness(con)
    finally:
        con.close()
    found = []
    for check_id in sorted(set(snap.failing_checks) | set(current)):
        title = BY_ID[check_id].title if check_id in BY_ID else check_id
        found.append(f"ERROR check {title} fails" + (f": {current[check_id]}" if current.get(check_id) else ""))
    if max_age_s is not None:
        for source, as_of in sorted(freshness.items()):
            when = _as_of(as_of)
            if when is None or now - when > timedelta(seconds=max_age_s):
                age = "no as-of" if when is None else f"as of {when:%Y-%m-%d %H:%M} UTC"
                found.append(f"{source} data is older than delivery.max_age ({_duration(max_age_s)}; {age})")
    return found


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def kpi_text(kpi: str, value: Any, currency: str) -> str:
    """A KPI as people read it, exact: money to the cent, ratios with their two places."""
    if value is None:
        return "no data"
    if kpi in PERCENT_KPIS:
        return f"{value}%"
    if kpi in PLAIN_KPIS:
        return str(value)
    return money(value, currency, cents=True)


def pack_message(pack: Pack, link: str, problems: Sequence[str]) -> tuple[str, str]:
    """The pack's subject and plain-text body: the version, its sign-off (and any override), the data
    as of, the KPI summary with exact figures, the checks and where the page is."""
    snap = pack.snapshot
    subject = f"{pack.company} — {pack.period} monthly close, version {snap.version} ({snap.status})"
    lines = [f"{pack.company}: the {pack.period} close pack, snapshot version {snap.version} ({snap.status}).", ""]
    if snap.closed_by:
        lines.append(
            f"Signed off by {snap.closed_by} on {snap.closed_at:%Y-%m-%d %H:%M} UTC."
            if snap.closed_at
            else f"Signed off by {snap.closed_by}."
        )
    if snap.override_reason:
        lines.append(f"OVERRIDE: signed off although checks failed. Reason given: {snap.override_reason}")
        lines.extend(f"  - {p}" for p in problems)
    lines += [
        f"Data as of: {pack.data_as_of}.",
        f"Fingerprint: {snap.source_fingerprint}",
        "",
        f"Key figures ({pack.currency}):",
    ]
    shown = [k for k in KPI_ORDER if k in snap.kpis]
    order = [k for k in shown if k not in LISTED_LAST] + [k for k in shown if k in LISTED_LAST]
    width = max(len(KPI_LABELS.get(k, k)) for k in order) if order else 0
    lines += [f"  {KPI_LABELS.get(k, k):<{width}}  {kpi_text(k, snap.kpis[k], pack.currency)}" for k in order]
    lines += ["", "Checks:"]
    for check in snap.checks:
        title = BY_ID[check["check_id"]].title if check["check_id"] in BY_ID else check["check_id"]
        lines.append(f"  {title}: {check.get('status')}")
    if not snap.checks:
        lines.append("  (no reconciliation verdicts in this version)")
    lines += [
        "",
        "Attached: the statements as PDF (the page printed) and XLSX (figures as numbers).",
        f"The page: {link}",
        "",
        "— closeboard",
    ]
    return subject, "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "closeboard"


def deliver_pack(
    home: Home,
    channels: Channels,
    period: str,
    version: int | None = None,
    *,
    recipients: Sequence[str] = (),
    webhook: bool = False,
    max_age_s: float | None = None,
    trigger: str = "cli",
    company: str | None = None,
    now: datetime | None = None,
) -> PackOutcome:
    """Send `period`'s `version` (default: `pick_version`) to each of `recipients` and to the webhook
    that has not had it yet; blocked (nothing sent, recorded) while `blockers` finds a reason and
    the version carries no override. Raises DeliveryError when a channel fails (recorded)."""
    version = version or pick_version(home, period)
    try:
        pack = resolve(home, period, version, company=company)
    except ValueError as exc:  # ExportError: an unknown period or version
        raise DeliveryError(str(exc)) from None
    snap = pack.snapshot
    with delivery_log(home) as log:
        done = already_sent(log, "pack", period, version)
        emails = [r for r in dict.fromkeys(recipients) if r not in done]
        hook = [channels.webhook_label] if webhook and channels.webhook_label not in done else []
        if not emails and not hook:
            return PackOutcome(period, version, "already sent", [], "every recipient has this version")
        problems = blockers(home, snap, max_age_s, now)

        def log_pack(channel: str, to: Sequence[str], status: str, **fields: Any) -> None:
            record(log, "pack", period, version, "", channel, to, status, trigger=trigger, **fields)

        if problems and not snap.override_reason:
            detail = "; ".join(problems)
            log_pack("email", emails, "blocked", detail=detail)
            log_pack("webhook", hook, "blocked", detail=detail)
            return PackOutcome(period, version, "blocked", [], detail)
        link = page_link(home, channels, snap.page_path)
        subject, body = pack_message(pack, link, problems)
        note = f"override: {snap.override_reason}" if snap.override_reason else ""
        sent: list[str] = []
        if emails:
            with tempfile.TemporaryDirectory(prefix="closeboard-pack-") as temp:
                name = f"{_slug(pack.company)}-{period}-v{version}"
                pdf, archived = Path(temp) / f"{name}.pdf", archive_path(home, snap)
                if archived.exists():  # printed at sign-off: the same PDF, under the pack's name
                    shutil.copyfile(archived, pdf)
                else:
                    write_pdf(pack, pdf)
                xlsx = write_xlsx(home, pack, Path(temp) / f"{name}.xlsx")
                files = [pdf.name, xlsx.name]
                try:
                    send_email(channels, emails, subject, body, [pdf, xlsx])
                except DeliveryError as exc:
                    log_pack("email", emails, "failed", subject=subject, attachments=files, detail=str(exc))
                    raise
            log_pack("email", emails, "sent", subject=subject, attachments=files, detail=note or None)
            sent += emails
        if hook:
            text = f"*{subject}*\n" + body.split("\n\nAttached:")[0] + f"\n\nThe page: {link}"
            try:
                post_webhook(channels, text)
            except DeliveryError as exc:
                log_pack("webhook", hook, "failed", subject=subject, detail=str(exc))
                raise
            log_pack("webhook", hook, "sent", subject=subject, detail=note or None)
            sent += hook
    return PackOutcome(period, version, "sent", sent, note)


def closed_since(home: Home, since: datetime | None) -> list[Snapshot]:
    """The closed versions signed off after `since` (all of them when None), oldest first."""
    con = _read_copy(home)
    try:
        closed = [s for s in history(con) if s.status == "closed" and s.closed_at is not None]
    finally:
        con.close()
    closed.sort(key=lambda s: s.closed_at)  # type: ignore[arg-type, return-value]
    return [s for s in closed if since is None or _as_of(s.closed_at) > since]  # type: ignore[operator]
