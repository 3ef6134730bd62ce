"""Alerts (issue 20): rules from closeboard.yaml's `alerts:` evaluated over the readers' copy after a
refresh, one message per rule and period version, by e-mail or webhook, recorded in the delivery log
(`deliveries`, kind `alert`) so a rule never fires twice for the same version.

Rules, each over the latest snapshot version of a period (ended months: the open month has no
version yet):
- `check_fails`: an ERROR check fails in the period's latest version (every period);
- `stale_bank_item`: the bank reconciliation lists items older than `stale_after_days` (every period);
- `cash_below` X / `runway_below` N: the last ended month's cash / runway in months below the threshold;
- `restated`: a closed month's latest version is a restatement (every period).
Each message names the figure, the threshold and where the version's page is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reports.delivery import (
    Channels,
    DeliveryError,
    already_sent,
    delivery_log,
    kpi_text,
    page_link,
    post_webhook,
    record,
    send_email,
)
from reports.history import KPI_LABELS
from reports.render import query_text
from warehouse.checks import BY_ID
from warehouse.db import connect
from warehouse.home import Home
from warehouse.snapshots import Snapshot, latest_versions

DIFFERENCE_KPIS = ("revenue", "net_income", "cash", "ar", "ap")


@dataclass(frozen=True)
class Alert:
    rule: str  # the rule's key in the log: its name and threshold
    channel: str
    to: tuple[str, ...]
    period: str
    version: int
    figure: str
    threshold: str
    page: str
    headline: str

    def text(self, company: str, status: str) -> tuple[str, str]:
        subject = f"[closeboard alert] {company} {self.period} v{self.version}: {self.headline}"
        body = (
            "\n".join(
                [
                    f"{company}: {self.headline}.",
                    "",
                    f"Rule:      {self.rule}",
                    f"Figure:    {self.figure}",
                    f"Threshold: {self.threshold}",
                    f"Period:    {self.period}, snapshot version {self.version} ({status})",
                    f"The page:  {self.page}",
                    "",
                    "— closeboard",
                ]
            )
            + "\n"
        )
        return subject, body


def _title(check_id: str) -> str:
    return BY_ID[check_id].title if check_id in BY_ID else check_id


def evaluate(
    home: Home,
    channels: Channels,
    rules: Sequence[Any],
    *,
    currency: str,
    stale_after_days: int,
    recipients: Sequence[str] = (),
) -> list[tuple[Alert, Snapshot]]:
    """Every alert the rules raise now (sent or not): (alert, the version it is about)."""
    if not home.read_copy.exists():
        return []
    con = connect(home.read_copy, read_only=True)
    try:
        latest = latest_versions(con)
        stale = {row[0]: row[1:] for row in con.execute(query_text("alerts_stale_bank.sql")).fetchall()}
    finally:
        con.close()
    last = max(latest) if latest else None
    found: list[tuple[Alert, Snapshot]] = []
    for rule in rules:
        key = f"{rule.rule} {rule.threshold}" if rule.threshold is not None else rule.rule
        to = tuple(rule.to or recipients) if rule.channel == "email" else ()

        def alert(snap: Snapshot, figure: str, threshold: str, headline: str, rule=rule, key=key, to=to) -> None:
            page = page_link(home, channels, snap.page_path)
            found.append(
                (Alert(key, rule.channel, to, snap.period, snap.version, figure, threshold, page, headline), snap)
            )

        if rule.rule == "check_fails":
            for snap in latest.values():
                failing = [c for c in snap.checks if c.get("status") == "fail"]
                if failing:
                    figure = "; ".join(
                        f"{_title(c['check_id'])}: difference {c.get('difference')}"
                        + (f" ({c['detail']})" if c.get("detail") else "")
                        for c in failing
                    )
                    alert(
                        snap,
                        figure,
                        "every ERROR check passes (difference 0.00)",
                        f"{', '.join(_title(c['check_id']) for c in failing)} fails",
                    )
        elif rule.rule == "stale_bank_item":
            for period, (items, oldest, amount) in sorted(stale.items()):
                if period in latest:
                    alert(
                        latest[period],
                        f"{items} bank item(s) unmatched, oldest dated {oldest}, "
                        f"totalling {kpi_text('cash', amount, currency)}",
                        f"unmatched for at most {stale_after_days} days (reconciliation.stale_after_days)",
                        f"{items} stale bank item(s)",
                    )
        elif rule.rule in ("cash_below", "runway_below") and last is not None:
            snap = latest[last]
            kpi = "cash" if rule.rule == "cash_below" else "runway_months"
            value = snap.kpis.get(kpi)
            if value is not None and value < rule.threshold:
                shown, limit = kpi_text(kpi, value, currency), kpi_text(kpi, rule.threshold, currency)
                label, unit = ("Cash", "") if kpi == "cash" else ("Runway", " months")
                alert(
                    snap,
                    f"{label} {shown}{unit} at the end of {snap.period}",
                    f"{label} below {limit}{unit}",
                    f"{label.lower()} {shown}{unit} is below {limit}{unit}",
                )
        elif rule.rule == "restated":
            for snap in latest.values():
                if snap.status == "restated":
                    changes = (snap.differences or {}).get("kpis", {})
                    shown = [
                        f"{KPI_LABELS.get(k, k)} {changes[k].get('closed')} -> {changes[k].get('now')}"
                        for k in DIFFERENCE_KPIS
                        if k in changes
                    ]
                    accounts = len((snap.differences or {}).get("accounts", {}))
                    figure = "; ".join(shown) or "no key figure changed"
                    alert(
                        snap,
                        f"{figure}; {accounts} account(s) differ from the closed version",
                        "a closed month's figures stay as signed off",
                        "a closed month was restated",
                    )
    return found


def send_alerts(
    home: Home,
    channels: Channels,
    rules: Sequence[Any],
    *,
    company: str,
    currency: str,
    stale_after_days: int,
    recipients: Sequence[str] = (),
    trigger: str = "sensor",
) -> list[str]:
    """Send every alert not yet sent for its rule and period version; one line per message sent.
    A channel that fails is recorded and raised after the others were tried (DeliveryError)."""
    sent, failures = [], []
    with delivery_log(home) as log:
        for alert, snap in evaluate(
            home, channels, rules, currency=currency, stale_after_days=stale_after_days, recipients=recipients
        ):
            done = already_sent(log, "alert", alert.period, alert.version, alert.rule)
            targets = [
                t for t in (alert.to if alert.channel == "email" else (channels.webhook_label,)) if t not in done
            ]
            if not targets:
                continue
            subject, body = alert.text(company, snap.status)
            try:
                if alert.channel == "email":
                    send_email(channels, targets, subject, body)
                else:
                    post_webhook(channels, f"*{subject}*\n{body}")
            except DeliveryError as exc:
                record(
                    log,
                    "alert",
                    alert.period,
                    alert.version,
                    alert.rule,
                    alert.channel,
                    targets,
                    "failed",
                    subject=subject,
                    detail=str(exc),
                    trigger=trigger,
                )
                failures.append(str(exc))
                continue
            record(
                log,
                "alert",
                alert.period,
                alert.version,
                alert.rule,
                alert.channel,
                targets,
                "sent",
                subject=subject,
                trigger=trigger,
            )
            sent.append(f"{alert.rule}: {alert.period} v{alert.version} to {', '.join(targets)}")
    if failures:
        raise DeliveryError("; ".join(dict.fromkeys(failures)) + (f" (sent: {len(sent)})" if sent else ""))
    return sent
