"""Delivery (issue 20, items 2-4): the month pack sent after a sign-off, never twice, blocked while an
ERROR check fails or data is stale (unless the sign-off carried an override), and alerts, one per rule
and period version.

A real SMTP server (aiosmtpd) and a webhook receiver listen on 127.0.0.1; the Dagster sensors and the
schedule are evaluated with Dagster's own build_sensor_context / build_schedule_context against the
home's real instance, and the runs they request execute in this process. Figures are held to the
warehouse (statements, KPIs) and to tests/reference.py (the alert thresholds), never written here.

Two homes: `clean` (the demo, refreshed, 2026-05 closed and delivered), and `planted`, a copy of it
after an unbalanced entry and a stale bank line were planted and refreshed (R1 and R2 fail, 2026-05
is restated), where a send is blocked and 2025-04 is closed with an override.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from connectors.config import ConfigError, load_config, parse_config
from connectors.demo.plant import plant
from pipelines.cli import main
from reports.export import KPI_ORDER
from reports.history import KPI_LABELS
from tests.conftest import (
    AS_OF,
    FIRST_PERIOD,
    close_in_process,
    copy_home,
    demo_config,
    edit_config,
    free_port,
    read,
    refresh_in_process,
    run_in_process,
)
from tests.mail import HOOK_TOKEN, Inbox, Stage, Watch
from tests.reference import reference_kpis
from tests.pdf import assert_pack_pdf, pdf_text, statement_lines

PERIOD = "2026-05"  # the last ended month at AS_OF
OVERRIDDEN = "2025-04"  # the unbalanced entry's month: closed with an override in the planted home
SIGNER = "Ada Lovelace"
RECIPIENTS = ["cfo@demo.example", "board@demo.example"]
HOOK_ENV = "CLOSEBOARD_TEST_WEBHOOK"
CENT = Decimal("0.01")
# Chromium prints each sign-off's PDF (the pack attaches it); the configuration checks alone are quick
slow = pytest.mark.slow


# --- Dagster: the home's code location, instance, sensors and schedule -------------------------------


def definitions(home: Path) -> dg.Definitions:
    from pipelines.definitions import build_definitions
    from pipelines.resources import CloseboardResource, SourcesResource

    path = home / "closeboard.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return build_definitions(
            load_config(path),
            closeboard=CloseboardResource(config_path=str(path), home=str(home)),
            sources=SourcesResource(in_memory=True),
        )


def tick(home: Path, sensor: str, cursor: str | None = None) -> Any:
    """One evaluation of `sensor` on `home`'s Dagster instance (what the daemon does each minute)."""
    from pipelines.instance import instance
    from warehouse.home import Home

    with instance(Home(home)) as dagster_instance:
        context = dg.build_sensor_context(instance=dagster_instance, cursor=cursor)
        return definitions(home).resolve_sensor_def(sensor).evaluate_tick(context)


def run_requested(home: Path, requests: list[dg.RunRequest]) -> list[dg.ExecuteInProcessResult]:
    return [run_in_process(home, "deliver_pack", run_config=r.run_config, home_instance=True) for r in requests]


def delivery_block(smtp_port: int, **extra: Any) -> dict[str, Any]:
    return {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False},
        "from": "closeboard <close@demo.example>",
        "recipients": RECIPIENTS,
        "webhook": "${" + HOOK_ENV + "}",
        "on": "close",
        "max_age": "2d",
        **extra,
    }


@dataclass
class Scenario:
    clean: Path
    planted: Path
    figures: dict[str, Decimal | None]  # the reference KPIs of PERIOD
    stages: dict[str, Stage] = field(default_factory=dict)
    ticks: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(demo_data: Path, demo_home: Path, tmp_path_factory: pytest.TempPathFactory, smtp: Any, hooks: Any) -> Any:
    (inbox, port), (received, hook_url) = smtp, hooks
    figures = reference_kpis(demo_data, FIRST_PERIOD, AS_OF)[PERIOD]
    root = tmp_path_factory.mktemp("delivery")
    # the demo, refreshed (the session's home: its refresh is the one the alerts sensor sees first)
    clean = copy_home(demo_home, root / "clean")
    alerts = [
        {"rule": "check_fails"},
        {"rule": "stale_bank_item", "channel": "webhook"},
        {"rule": "cash_below", "threshold": str(figures["cash"] + CENT)},  # fires: cash is a cent below
        {"rule": "cash_below", "threshold": str(figures["cash"])},  # never: cash is not below itself
        {"rule": "runway_below", "threshold": str(figures["runway_months"] + CENT), "channel": "webhook"},
        {"rule": "restated"},
    ]
    edit_config(clean, lambda raw: raw.update(delivery=delivery_block(port), alerts=alerts))
    s = Scenario(clean, root / "planted", figures)
    watch = Watch(inbox, received)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOOK_ENV, hook_url)
        for name in ("CLOSEBOARD_HOME", "CLOSEBOARD_CONFIG"):  # the CLI exports them: put them back after
            mp.setenv(name, "")
            mp.delenv(name)
        s.ticks["alerts"] = tick(clean, "closeboard_alerts")
        s.stages["alerts"] = watch.take()
        s.ticks["alerts again"] = tick(clean, "closeboard_alerts", s.ticks["alerts"].cursor)
        s.stages["alerts again"] = watch.take()

        s.ticks["first look"] = tick(clean, "deliver_on_close")  # sets the cursor: nothing closed is news
        close_in_process(clean, PERIOD, SIGNER)
        s.ticks["after close"] = tick(clean, "deliver_on_close", s.ticks["first look"].cursor)
        s.outcomes["after close"] = run_requested(clean, s.ticks["after close"].run_requests)
        s.stages["pack"] = watch.take()
        s.ticks["second look"] = tick(clean, "deliver_on_close", s.ticks["after close"].cursor)
        s.outcomes["rerun"] = run_requested(clean, s.ticks["after close"].run_requests)  # the same run again
        s.stages["second"] = watch.take()

        # business day N: the schedule asks for the previous month's closed version (sent already)
        edit_config(clean, lambda raw: raw["delivery"].update(on="business_day", business_day=3))
        schedule = definitions(clean).resolve_schedule_def("deliver_on_business_day")
        from pipelines.instance import instance
        from warehouse.home import Home

        with instance(Home(clean)) as dagster_instance:
            for day in (2, 3):  # 2026-06-03 is June's third business day
                when = datetime(2026, 6, day, 9, tzinfo=timezone.utc)
                with dg.build_schedule_context(instance=dagster_instance, scheduled_execution_time=when) as ctx:
                    s.ticks[f"business day {day}"] = schedule.evaluate_tick(ctx)
        s.outcomes["business day"] = run_requested(clean, s.ticks["business day 3"].run_requests)
        s.stages["business day"] = watch.take()
        edit_config(clean, lambda raw: raw["delivery"].update(on="close", business_day=None))

        # stale data: the same version to a new address a day after the data's as-of is blocked
        from pipelines.delivery import channels
        from reports.delivery import deliver_pack

        s.outcomes["stale"] = deliver_pack(
            Home(clean),
            channels(load_config(clean / "closeboard.yaml")),
            PERIOD,
            recipients=["new@demo.example"],
            max_age_s=3600,
            now=datetime.now(timezone.utc) + timedelta(days=1),
        )
        s.stages["stale"] = watch.take()
        s.outcomes["by hand"] = CliRunner().invoke(
            main, ["--home", str(clean), "send", "--period", PERIOD, "--to", "auditor@demo.example"]
        )
        s.stages["by hand"] = watch.take()

        # the planted home: R1 and R2 fail from their months on, 2026-05 is restated
        copy_home(clean, s.planted)
        plant(s.planted / "demo", ["unbalanced_entry", "stale_bank_line"])
        refresh_in_process(s.planted)
        s.outcomes["blocked"] = CliRunner().invoke(main, ["--home", str(s.planted), "send", "--period", OVERRIDDEN])
        s.stages["blocked"] = watch.take()
        s.ticks["planted alerts"] = tick(s.planted, "closeboard_alerts", s.ticks["alerts"].cursor)
        s.outcomes["versions at alerts"] = dict(
            read(s.planted, "select period, max(version) from close_snapshots group by period")
        )
        s.stages["planted alerts"] = watch.take()
        s.ticks["planted alerts again"] = tick(s.planted, "closeboard_alerts", s.ticks["planted alerts"].cursor)
        s.stages["planted alerts again"] = watch.take()

        look = tick(s.planted, "deliver_on_close", s.ticks["second look"].cursor)
        close_in_process(s.planted, OVERRIDDEN, SIGNER, override="known 0.01 depreciation difference")
        s.ticks["override"] = tick(s.planted, "deliver_on_close", look.cursor)
        s.outcomes["override"] = run_requested(s.planted, s.ticks["override"].run_requests)
        s.stages["override"] = watch.take()
    return s


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def version_of(home: Path, period: str, status: str) -> int:
    return read(home, "select max(version) from close_snapshots where period = ? and status = ?", [period, status])[0][
        0
    ]


# --- the pack ----------------------------------------------------------------------------------------


@slow
def test_the_sensor_sends_one_email_with_both_attachments_after_the_close(scenario: Scenario, tmp_path: Path) -> None:
    assert scenario.ticks["first look"].run_requests == []  # nothing was news before the close
    version = version_of(scenario.clean, PERIOD, "closed")
    (request,) = scenario.ticks["after close"].run_requests
    assert request.run_key == f"deliver-{PERIOD}-v{version}"
    assert all(result.success for result in scenario.outcomes["after close"])
    stage = scenario.stages["pack"]
    (message,) = stage.emails
    assert sorted(stage.envelopes[0]) == sorted(RECIPIENTS)
    assert f"{PERIOD} monthly close, version {version} (closed)" in message["Subject"]
    files = attachments(message)
    assert sorted(files) == [f"demo-co-{PERIOD}-v{version}.pdf", f"demo-co-{PERIOD}-v{version}.xlsx"]

    # the body: the KPI summary with the exact figures of the version (those of the warehouse)
    body = message.get_body(("plain",)).get_content()
    kpis = dict(read(scenario.clean, "select kpi, value from mart_kpis where period = ?", [PERIOD]))
    assert kpis["cash"] == scenario.figures["cash"]
    for kpi in ("revenue", "net_income", "cash", "ar", "ap"):
        assert f"${abs(kpis[kpi]):,.2f}" in body, kpi
    assert f"{kpis['runway_months']}" in body and f"Signed off by {SIGNER}" in body and "OVERRIDE" not in body
    # in the workbook's order, cost of sales, open pipeline and bookings after the others
    listed = [
        line.split("  ")[1].strip()
        for line in body.split("Key figures")[1].split("Checks:")[0].splitlines()[1:]
        if line.strip()
    ]
    first = [KPI_LABELS[k] for k in KPI_ORDER if k in kpis and k not in ("cogs", "pipeline_open", "bookings_won")]
    assert listed == first + [KPI_LABELS[k] for k in ("cogs", "pipeline_open", "bookings_won") if k in kpis], listed

    # the PDF: every page names period, version and status; the statements' figures to the cent
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(files[f"demo-co-{PERIOD}-v{version}.pdf"])
    assert_pack_pdf(pdf_text(pdf), scenario.clean, PERIOD, version, "closed")

    # the XLSX: the same numbers, as numbers
    book = load_workbook(BytesIO(files[f"demo-co-{PERIOD}-v{version}.xlsx"]))
    sheet = {row[0].value: row[2] for row in book["KPIs"].iter_rows(min_row=4)}
    for kpi, value in kpis.items():
        if value is not None:
            assert sheet[kpi].data_type == "n" and Decimal(str(sheet[kpi].value)).quantize(CENT) == value, kpi
    lines = {row[1].value: row for row in book["Income statement"].iter_rows(min_row=4) if row[1].value}
    expected = [r for r in statement_lines(scenario.clean, PERIOD) if r[0] == "income_statement" and r[1] == "account"]
    assert expected
    for _, _, line_id, kind, amount, *_ in expected:
        if amount is not None and kind != "heading":
            cell = lines[line_id][3]
            assert cell.data_type == "n" and Decimal(str(cell.value)).quantize(CENT) == amount, line_id

    # the webhook: one Slack-compatible message naming the version
    ((path, payload),) = stage.posts
    assert path == f"/hook/{HOOK_TOKEN}" and f"version {version}" in payload["text"]


@slow
def test_the_send_is_recorded_without_secrets(scenario: Scenario) -> None:
    import duckdb

    con = duckdb.connect(str(scenario.clean / "delivery.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select kind, period, version, channel, recipient, status, attachments from deliveries "
            "where kind = 'pack' order by channel, recipient"
        ).fetchall()
        text = json.dumps(con.execute("select * from deliveries").fetchall(), default=str)
    finally:
        con.close()
    version = version_of(scenario.clean, PERIOD, "closed")
    sent = [(r[3], r[4]) for r in rows if r[5] == "sent"]
    assert sent == [
        ("email", "auditor@demo.example"),
        ("email", "board@demo.example"),
        ("email", "cfo@demo.example"),
        ("webhook", "webhook 127.0.0.1"),
    ]  # the auditor by hand (closeboard send --to), the rest by the sensor
    assert [r[4] for r in rows if r[5] == "blocked"] == ["new@demo.example"]  # stale data
    assert all(r[1:3] == (PERIOD, version) for r in rows if r[5] == "sent")
    assert HOOK_TOKEN not in text and "/hook/" not in text


@slow
def test_a_second_run_sends_nothing(scenario: Scenario) -> None:
    assert scenario.ticks["second look"].run_requests == []
    assert scenario.ticks["second look"].skip_message
    assert all(result.success for result in scenario.outcomes["rerun"])
    assert scenario.stages["second"].emails == [] and scenario.stages["second"].posts == []


@slow
def test_the_business_day_schedule_asks_for_the_closed_version_once(scenario: Scenario) -> None:
    assert scenario.ticks["business day 2"].run_requests == []
    assert "not business day 3" in scenario.ticks["business day 2"].skip_message
    (request,) = scenario.ticks["business day 3"].run_requests
    assert request.run_key == f"deliver-{PERIOD}-v{version_of(scenario.clean, PERIOD, 'closed')}"
    assert all(result.success for result in scenario.outcomes["business day"])
    assert scenario.stages["business day"].emails == []  # the sensor sent this version already


@slow
def test_stale_data_blocks_the_pack(scenario: Scenario) -> None:
    outcome = scenario.outcomes["stale"]
    assert outcome.status == "blocked" and "data is older than delivery.max_age (1h" in outcome.detail
    for source in ("bank", "crm", "erp"):
        assert f"{source} data is older" in outcome.detail
    assert scenario.stages["stale"].emails == []


@slow
def test_send_by_hand_goes_to_the_addresses_given_only(scenario: Scenario) -> None:
    result = scenario.outcomes["by hand"]
    version = version_of(scenario.clean, PERIOD, "closed")
    assert result.exit_code == 0, result.output
    assert f"✓ {PERIOD} v{version}: sent to auditor@demo.example" in result.output
    stage = scenario.stages["by hand"]
    assert stage.envelopes == [["auditor@demo.example"]] and stage.posts == []
    assert len(attachments(stage.emails[0])) == 2


@slow
def test_a_failing_error_check_blocks_the_send(scenario: Scenario) -> None:
    result = scenario.outcomes["blocked"]
    assert result.exit_code == 1, result.output
    assert "blocked" in result.output and "ERROR check R1 trial balance fails" in result.output
    assert scenario.stages["blocked"].emails == [] and scenario.stages["blocked"].posts == []


@slow
def test_an_override_at_sign_off_sends_and_says_so(scenario: Scenario) -> None:
    version = version_of(scenario.planted, OVERRIDDEN, "closed")
    (request,) = scenario.ticks["override"].run_requests
    assert request.run_key == f"deliver-{OVERRIDDEN}-v{version}"
    (message,) = scenario.stages["override"].emails
    body = message.get_body(("plain",)).get_content()
    assert "OVERRIDE" in body and "known 0.01 depreciation difference" in body
    assert "ERROR check R1 trial balance fails" in body
    assert len(attachments(message)) == 2


# --- alerts ------------------------------------------------------------------------------------------


def alert_keys(stage: Stage) -> list[tuple[str, str]]:
    """(channel, subject line) of every alert in a stage."""
    return [("email", m["Subject"]) for m in stage.emails] + [
        ("webhook", p["text"].splitlines()[0]) for _, p in stage.posts
    ]


@slow
def test_figure_alerts_fire_once_naming_figure_threshold_and_page(scenario: Scenario) -> None:
    cash, runway = scenario.figures["cash"], scenario.figures["runway_months"]
    stage = scenario.stages["alerts"]
    (message,) = stage.emails  # cash a cent below the threshold; the threshold equal to cash does not fire
    body = message.get_body(("plain",)).get_content()
    page = scenario.clean / "reports" / "history" / PERIOD / "v1.html"
    assert f"{PERIOD} v1" in message["Subject"] and page.exists()
    assert f"Cash ${cash:,.2f}" in body and f"below ${cash + CENT:,.2f}" in body and str(page) in body
    ((_, payload),) = stage.posts  # runway by webhook
    assert f"{runway} months" in payload["text"] and f"below {runway + CENT} months" in payload["text"]
    assert scenario.ticks["alerts again"].skip_message.startswith("no refresh published")
    assert scenario.stages["alerts again"].emails == [] and scenario.stages["alerts again"].posts == []


@slow
def test_each_alert_rule_fires_once_per_period_version(scenario: Scenario) -> None:
    home = scenario.planted
    latest = scenario.outcomes["versions at alerts"]  # before 2025-04 was closed with an override
    failing = sorted({p for (p,) in read(home, "select period from recon_results where status = 'fail'")} & set(latest))
    stale = sorted(
        {
            p
            for (p,) in read(
                home,
                "select period from recon_items where check_id = 'R2_bank_vs_book' and reason like '%stale (over%'",
            )
        }
        & set(latest)
    )
    restated = version_of(home, PERIOD, "restated")
    assert OVERRIDDEN in failing and stale and restated == latest[PERIOD]
    stage = scenario.stages["planted alerts"]
    subjects = alert_keys(stage)
    expected = (
        [("email", p, "fails") for p in failing]  # check_fails
        + [("webhook", p, "stale bank item(s)") for p in stale]  # stale_bank_item
        + [("email", PERIOD, "is below")]  # cash_below, the restated version
        + [("webhook", PERIOD, "is below")]  # runway_below, the restated version
        + [("email", PERIOD, "a closed month was restated")]  # restated
    )
    assert len(subjects) == len(expected), subjects
    for channel, period, words in expected:
        hits = [s for c, s in subjects if c == channel and f" {period} v{latest[period]}: " in s and words in s]
        assert len(hits) == 1, (channel, period, words, subjects)
    restatement = next(m for m in stage.emails if "restated" in m["Subject"])
    assert "account(s) differ from the closed version" in restatement.get_body(("plain",)).get_content()
    assert scenario.stages["planted alerts again"].emails == [] and scenario.stages["planted alerts again"].posts == []


# --- configuration -----------------------------------------------------------------------------------


def test_the_delivery_block_is_checked_whole() -> None:
    raw = demo_config()
    raw["delivery"] = {
        "smtp": {"host": "mail", "prot": 25, "user": "u", "password": "hunter2"},
        "recipients": ["not-an-address"],
        "webhook": "https://hooks.example/T/123",
        "max_age": "soon",
        True: "close",
    }
    raw["alerts"] = [{"rule": "cash_blow"}, {"rule": "runway_below"}, {"rule": "restated", "channel": "webhook"}]
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    problems = caught.value.problems
    assert "delivery.smtp: unknown key 'prot' (did you mean 'port'?)" in problems
    assert "delivery.smtp.password: reference the secret as ${ENV_NAME} (the whole value), never inline" in problems
    assert "delivery.webhook: reference the secret as ${ENV_NAME} (the whole value), never inline" in problems
    assert any(p.startswith("delivery.recipients[0]: expected") for p in problems)
    assert any(p.startswith("delivery.max_age: expected a duration") for p in problems)
    assert any(p.startswith("alerts[0].rule: expected one of check_fails") for p in problems)
    assert "alerts[1]: rule runway_below needs a `threshold`" in problems
    assert "hunter2" not in str(caught.value) and "T/123" not in str(caught.value)

    raw["delivery"] = {"smtp": {"host": "mail"}, "from": "c@x.example", True: "close", "business_day": 3}
    raw["alerts"] = []
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert caught.value.problems == ["delivery: give `on: close` or `business_day: N`, not both"]
    raw["delivery"] = {"smtp": {"host": "mail"}, "from": "c@x.example", "business_day": 3}
    raw["alerts"] = [{"rule": "restated", "channel": "webhook"}]
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert caught.value.problems == ["alerts[0].channel: webhook, but delivery has no `webhook:`"]
    del raw["alerts"]
    assert parse_config(raw).delivery.on == "business_day"  # YAML's `on` key, read as true, is `on`


def test_smtp_login_starttls_and_their_errors_never_show_the_password(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from reports.delivery import Channels, DeliveryError, send_email

    password = "correct-horse-battery"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login == b"closeboard" and data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        auth_required=True,
        auth_require_tls=False,
        authenticator=authenticator,
    )
    controller.start()
    try:
        ok = Channels(
            sender="c@demo.example",
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            starttls=False,
            user="closeboard",
            password=password,
            timeout_s=5,
        )
        attachment = tmp_path / "note.txt"
        attachment.write_text("figures", encoding="utf-8")
        send_email(ok, ["cfo@demo.example"], "subject", "body", [attachment])
        assert inbox.recipients == [["cfo@demo.example"]]
        assert attachments(inbox.messages[0]) == {"note.txt": "figures"}
        assert password not in repr(ok)

        with pytest.raises(DeliveryError) as refused:
            send_email(replace(ok, password="wrong-" + password), ["cfo@demo.example"], "subject", "body")
        assert f"delivery.smtp 127.0.0.1:{controller.port}: login as closeboard refused" in str(refused.value)
        with pytest.raises(DeliveryError) as no_tls:  # STARTTLS asked of a server that offers none
            send_email(replace(ok, starttls=True), ["cfo@demo.example"], "subject", "body")
        assert "STARTTLS" in str(no_tls.value)
        assert password not in str(refused.value) + str(no_tls.value)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
