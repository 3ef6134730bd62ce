"""closeboard.yaml is checked once, up front, against a schema (issue 16, finding 8).

Every problem is listed together, one line each with its path in the file, before anything is
started or created: misspelt keys are named with the key that was meant, types and ranges are
checked, YAML aliases are refused, and a stdio command that does not exist fails at once.
In-process and fast; one CLI subprocess for `closeboard refresh` without a configuration.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.config import (
    ClientSchema,
    ClientSettings,
    CompanyConfig,
    CompanySchema,
    ConfigError,
    ReconciliationConfig,
    ReconciliationSchema,
    SchedulesConfig,
    SchedulesSchema,
    load_config,
    parse_config,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = yaml.safe_load((REPO / "closeboard.yaml").read_text(encoding="utf-8"))


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def problems(raw: Any, path: Path | None = Path("closeboard.yaml"), **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, path, **kw)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def write(tmp_path: Path, raw: Any) -> Path:
    target = tmp_path / "closeboard.yaml"
    target.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


# --- the example and the defaults ------------------------------------------------------------------


def test_the_example_configuration_loads_with_its_values_and_the_new_settings() -> None:
    config = load_config(REPO / "closeboard.yaml")
    assert config.company.fiscal_year_start_month == 1 and config.company.timezone == "UTC"
    assert set(config.connectors) == {"erp", "bank", "crm", "budget"}
    assert config.connectors["erp"].client == ClientSettings()
    assert config.reconciliation.warn_after_days == 5  # R2: in transit younger than this lists, not warns
    assert config.reconciliation.bookings_tolerance == Decimal("0.02")
    assert config.schedules == SchedulesConfig()
    raw = example()
    raw["reconciliation"]["warn_after_days"] = 0
    raw["connectors"]["erp"]["client"] = {"time_budget_s": "60", "call_timeout_s": 30, "handshake": "legacy"}
    raw["company"]["timezone"] = "Europe/Paris"
    raw["schedules"]["refresh_cron"] = "30 5 * * 1-5"
    config = parse_config(raw)
    assert config.reconciliation.warn_after_days == 0
    assert config.connectors["erp"].client == ClientSettings(
        time_budget_s=60.0, call_timeout_s=30.0, handshake="legacy"
    )
    assert config.company.timezone == "Europe/Paris" and config.schedules.refresh_cron == "30 5 * * 1-5"


@pytest.mark.parametrize(
    ("schema", "dataclass"),
    [
        (ClientSchema, ClientSettings),
        (ReconciliationSchema, ReconciliationConfig),
        (SchedulesSchema, SchedulesConfig),
        (CompanySchema, CompanyConfig),
    ],
)
def test_the_schema_knows_every_setting_and_the_same_defaults(schema: Any, dataclass: Any) -> None:
    """A field added to a dataclass and not to the schema would be refused as an unknown key."""
    fields = {f.name: f for f in dataclasses.fields(dataclass)}
    assert set(schema.model_fields) == set(fields)
    for name, f in fields.items():
        if f.default is not dataclasses.MISSING:
            assert schema.model_fields[name].default == f.default, name


# --- unknown keys: "did you mean" ------------------------------------------------------------------


def test_a_misspelt_section_is_named_with_the_one_meant() -> None:
    raw = example()
    raw["conectors"] = raw.pop("connectors")
    assert problems(raw) == ["closeboard.yaml: top level: unknown key 'conectors' (did you mean 'connectors'?)"]


def test_allowed_tools_is_one_problem_at_its_path_without_a_class_path() -> None:
    raw = example()
    raw["connectors"]["erp"]["allowed_tools"] = raw["connectors"]["erp"].pop("allow_tools")
    assert problems(raw) == [
        "closeboard.yaml: connectors.erp: unknown key 'allowed_tools' (did you mean 'allow_tools'?)"
    ]


@pytest.mark.parametrize(
    ("section", "key", "meant"),
    [
        (("company",), "fiscal_year_start", "fiscal_year_start_month"),
        (("company",), "time_zone", "timezone"),
        (("connectors", "bank", "server"), "comand", "command"),
        (("connectors", "crm", "server"), "arg", "args"),
        (("reconciliation",), "stale_after_day", "stale_after_days"),
        (("reconciliation",), "warn_after", "warn_after_days"),
        (("schedules",), "refresh", "refresh_cron"),
    ],
)
def test_an_unknown_key_anywhere_names_the_key_meant(section: tuple[str, ...], key: str, meant: str) -> None:
    raw = example()
    target = raw
    for part in section:
        target = target[part]
    target[key] = target.pop(meant) if meant in target else 1
    assert problems(raw) == [f"closeboard.yaml: {'.'.join(section)}: unknown key {key!r} (did you mean {meant!r}?)"]


def test_an_unknown_key_unlike_any_lists_the_known_ones() -> None:
    raw = example()
    raw["connectors"]["erp"]["client"] = {"zzz": 1}
    [problem] = problems(raw)
    assert problem.startswith("closeboard.yaml: connectors.erp.client: unknown key 'zzz' (known keys: call_timeout_s,")


def test_a_misspelt_source_name_is_named_with_the_source_meant() -> None:
    raw = example()
    raw["connectors"]["bnak"] = raw["connectors"].pop("bank")
    [problem] = problems(raw)
    assert problem.startswith("closeboard.yaml: connectors.bnak: a source is one of ['erp', 'bank', 'crm', 'budget']")
    assert problem.endswith("(did you mean 'bank'?)")


def test_no_connectors_at_all_says_to_connect_the_erp() -> None:
    raw = example()
    del raw["connectors"]
    assert problems(raw) == [
        "closeboard.yaml: connectors: no source is configured; connect the ERP (the source of "
        "truth) first: connectors.erp"
    ]


# --- types and ranges ------------------------------------------------------------------------------

BAD = [
    # (where, value, expected message after "closeboard.yaml: ")
    (
        "company.fiscal_year_start_month",
        13,
        "company.fiscal_year_start_month: expected a month number from 1 to 12, got 13",
    ),
    (
        "company.fiscal_year_start_month",
        0,
        "company.fiscal_year_start_month: expected a month number from 1 to 12, got 0",
    ),
    (
        "company.timezone",
        "Mars/Olympus",
        "company.timezone: expected an IANA time zone such as UTC or Europe/Paris, got 'Mars/Olympus'",
    ),
    ("company.first_period", "2024-13", "company.first_period: expected YYYY-MM, got '2024-13'"),
    (
        "company.currency",
        "dollars",
        "company.currency: expected a three-letter currency code such as USD, got 'dollars'",
    ),
    ("company.as_of", "yesterday", "company.as_of: expected a date as YYYY-MM-DD, got 'yesterday'"),
    (
        "schedules.refresh_cron",
        "0 25 * * *",
        "schedules.refresh_cron: expected a cron expression of five fields "
        "(minute hour day month weekday) such as '0 6 * * *', got '0 25 * * *'",
    ),
    ("schedules.refresh_cron", "every morning", "schedules.refresh_cron: expected a cron expression"),
    (
        "schedules.close_business_day",
        0,
        "schedules.close_business_day: expected a business day of the month from 1 to 23, got 0",
    ),
    (
        "connectors.erp.client.call_timeout_s",
        "soon",
        "connectors.erp.client.call_timeout_s: expected a number of seconds > 0, got 'soon'",
    ),
    (
        "connectors.erp.client.call_timeout_s",
        0,
        "connectors.erp.client.call_timeout_s: expected a number of seconds > 0, got 0",
    ),
    (
        "connectors.erp.client.max_pages",
        -5,
        "connectors.erp.client.max_pages: expected a whole number of pages > 0, got -5",
    ),
    (
        "connectors.erp.client.page_limit",
        2.5,
        "connectors.erp.client.page_limit: expected a whole number of items per page > 0, got 2.5",
    ),
    (
        "connectors.erp.client.retries",
        True,
        "connectors.erp.client.retries: expected a whole number of retries >= 0, got True",
    ),
    (
        "connectors.erp.client.time_budget_s",
        -1,
        "connectors.erp.client.time_budget_s: expected a number of seconds > 0, got -1",
    ),
    ("connectors.erp.client.backoff_s", ".nan", "connectors.erp.client.backoff_s: expected a number of seconds >= 0"),
    ("connectors.erp.client.handshake", "fast", "connectors.erp.client.handshake: expected auto or legacy, got 'fast'"),
    (
        "connectors.erp.full_pull_every_days",
        "weekly",
        "connectors.erp.full_pull_every_days: a number of days >= 0 or null, got 'weekly'",
    ),
    (
        "connectors.erp.allow_tools",
        [],
        "connectors.erp.allow_tools: expected a list of the tools closeboard may call, got a list",
    ),
    (
        "connectors.erp.server.url",
        "ftp://x",
        "connectors.erp.server.url: expected an http:// or https:// address, got 'ftp://x'",
    ),
    (
        "reconciliation.max_rejected_share",
        1.5,
        "reconciliation.max_rejected_share: expected a fraction from 0 to 1 (0.01 = 1%), got 1.5",
    ),
    (
        "reconciliation.bookings_tolerance",
        "-0.1",
        "reconciliation.bookings_tolerance: expected a fraction from 0 to 1 (0.02 = 2%), got '-0.1'",
    ),
    (
        "reconciliation.warn_after_days",
        -1,
        "reconciliation.warn_after_days: expected a whole number of business days >= 0, got -1",
    ),
    (
        "reconciliation.match_window_days",
        "five",
        "reconciliation.match_window_days: expected a whole number of days >= 0, got 'five'",
    ),
    (
        "reconciliation.freshness_hours",
        0,
        "reconciliation.freshness_hours: expected a whole number of hours > 0, got 0",
    ),
    (
        "reconciliation.severity",
        {"R1_trial_balance": "loud"},
        "reconciliation.severity.R1_trial_balance: expected error or warn, got 'loud'",
    ),
    (
        "reconciliation.severity",
        {"R2_bank": "warn"},
        "reconciliation.severity.R2_bank: unknown check (did you mean 'R2_bank_vs_book'?)",
    ),
    ("company", "Demo Co", "company: expected a mapping, got 'Demo Co'"),
    ("connectors.crm.client", [1], "connectors.crm.client: expected a mapping, got a list"),
]


def _set(raw: dict[str, Any], where: str, value: Any) -> None:
    *parents, key = where.split(".")
    for part in parents:
        raw = raw.setdefault(part, {})
    raw[key] = value


@pytest.mark.parametrize(("where", "value", "message"), BAD, ids=[f"{w}={v!r}" for w, v, _ in BAD])
def test_a_wrong_type_or_range_is_one_problem_naming_its_path_and_value(where: str, value: Any, message: str) -> None:
    raw = example()
    _set(raw, where, value)
    [problem] = problems(raw)
    assert problem.startswith(f"closeboard.yaml: {message}")
    assert "pydantic" not in problem and "connectors.config" not in problem and "Schema" not in problem


def test_the_server_needs_one_transport() -> None:
    raw = example()
    raw["connectors"]["bank"]["server"] = {"args": ["x"]}
    raw["connectors"]["crm"]["server"] = {"command": "python", "url": "http://127.0.0.1:1/mcp"}
    assert problems(raw) == [
        "closeboard.yaml: connectors.bank.server: needs a stdio `command` or an HTTP `url`",
        "closeboard.yaml: connectors.crm.server: give a stdio `command` or an HTTP `url`, not both",
    ]


def test_every_problem_is_listed_together_in_file_order_of_sections() -> None:
    raw = example()
    raw["conectors"] = {}
    raw["company"]["fiscal_year_start_month"] = 13
    raw["company"]["timezone"] = "Mars/Olympus"
    raw["schedules"]["refresh_cron"] = "61 * * * *"
    raw["connectors"]["erp"]["client"] = {"call_timeout_s": "soon", "max_pages": -5}
    raw["connectors"]["bank"]["allowed_tools"] = raw["connectors"]["bank"].pop("allow_tools")
    raw["reconciliation"]["max_rejected_share"] = 2
    found = problems(raw)
    assert len(found) == 8, found
    assert all(p.startswith("closeboard.yaml: ") for p in found)
    for path in (
        "top level: unknown key 'conectors'",
        "company.fiscal_year_start_month",
        "company.timezone",
        "connectors.erp.client.call_timeout_s",
        "connectors.erp.client.max_pages",
        "connectors.bank: unknown key 'allowed_tools'",
        "reconciliation.max_rejected_share",
        "schedules.refresh_cron",
    ):
        assert sum(p.startswith(f"closeboard.yaml: {path}") for p in found) == 1, path


def test_numbers_written_as_text_and_empty_keys_keep_working() -> None:
    raw = example()
    raw["connectors"]["erp"]["client"] = {"call_timeout_s": "30", "retries": "2"}
    raw["connectors"]["erp"]["server"]["env"] = {"DEBUG": True, "PORT": 9000}
    raw["connectors"]["crm"]["client"] = None
    raw["connectors"]["crm"]["server"]["pass_env"] = None
    raw["reconciliation"]["severity"] = {"R5_bookings_vs_billings": "ERROR"}
    config = parse_config(raw)
    assert config.connectors["erp"].client.call_timeout_s == 30.0 and config.connectors["erp"].client.retries == 2
    assert config.connectors["erp"].server.env == {"DEBUG": "true", "PORT": "9000"}
    assert config.connectors["crm"].client == ClientSettings() and config.connectors["crm"].server.pass_env == ()
    assert config.reconciliation.severity == {"R5_bookings_vs_billings": "error"}


# --- YAML: no aliases, no duplicate keys -----------------------------------------------------------

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(
        ConfigError,
        match=r"closeboard.yaml: line 1, column 4: YAML anchors and aliases \(&a\) "
        r"are not accepted",
    ):
        load_config(write(tmp_path, BOMB))
    assert time.perf_counter() - started < 2


def test_a_single_alias_or_merge_key_is_refused_too(tmp_path: Path) -> None:
    text = (REPO / "closeboard.yaml").read_text(encoding="utf-8")
    text = text.replace("  erp:\n", "  erp: &erp\n", 1) + "\nextra: *erp\n"
    with pytest.raises(ConfigError, match=r"YAML anchors and aliases \(&erp\) are not accepted"):
        load_config(write(tmp_path, text))


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = (REPO / "closeboard.yaml").read_text(encoding="utf-8") + "\nschedules:\n  close_business_day: 5\n"
    with pytest.raises(
        ConfigError, match=r"closeboard.yaml: line \d+: duplicate key 'schedules' \(first on line \d+\)"
    ):
        load_config(write(tmp_path, text))


def test_missing_and_malformed_files_are_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no configuration at .*closeboard.yaml"):
        load_config(tmp_path / "closeboard.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "company: [unclosed\n"))
    with pytest.raises(ConfigError, match=r"closeboard.yaml: expected a mapping .* at the top level, got a list"):
        load_config(write(tmp_path, "- a\n- b\n"))


# --- the server's executable -----------------------------------------------------------------------


def test_a_missing_command_fails_at_load_with_its_name(tmp_path: Path) -> None:
    raw = example()
    raw["connectors"]["bank"]["server"]["command"] = "closeboard-no-such-server"
    raw["connectors"]["crm"]["server"]["command"] = str(tmp_path / "bin" / "crm-server")
    found = problems(raw, Path("closeboard.yaml"), check_commands=True)
    assert found == [
        "closeboard.yaml: connectors.bank.server.command: 'closeboard-no-such-server' is not found on PATH "
        "(install it, or give its full path)",
        f"closeboard.yaml: connectors.crm.server.command: '{tmp_path / 'bin' / 'crm-server'}' is not an executable "
        "file (install it, or give its full path)",
    ]
    with pytest.raises(ConfigError, match="'closeboard-no-such-server' is not found on PATH"):
        load_config(write(tmp_path, raw))  # a file is always checked
    assert parse_config(raw).connectors["bank"].server.command == "closeboard-no-such-server"  # a mapping on request


def test_python_means_this_interpreter_and_an_executable_on_path_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = example()
    raw["connectors"]["erp"]["server"]["command"] = "python3"
    tool = tmp_path / "my-server"
    tool.write_text("#!/bin/sh\n", encoding="utf-8")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/nonexistent")  # no python on PATH: sys.executable is used
    raw["connectors"]["bank"]["server"]["command"] = "my-server"
    raw["connectors"]["crm"]["server"]["command"] = str(tool)
    assert parse_config(raw, check_commands=True).connectors["erp"].server.command == "python3"


# --- the CLI: nothing started or created -----------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLOSEBOARD_CONFIG", "CLOSEBOARD_HOME")}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refresh_without_a_configuration_fails_at_once_and_creates_nothing(tmp_path: Path) -> None:
    started = time.perf_counter()
    done = _cli(tmp_path, "refresh")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"✗ no configuration at {tmp_path.resolve() / 'closeboard.yaml'} (pass --config or set CLOSEBOARD_CONFIG)"
    ]
    assert list(tmp_path.iterdir()) == []  # no ./var
    assert time.perf_counter() - started < 60  # no run was started (it took two minutes)


def test_refresh_with_a_bad_configuration_lists_every_problem_and_creates_nothing(tmp_path: Path) -> None:
    raw = example()
    raw["company"]["timezone"] = "Mars/Olympus"
    raw["connectors"]["erp"]["client"] = {"call_timeout_s": "soon"}
    write(tmp_path, raw)
    done = _cli(tmp_path, "refresh")
    assert done.returncode == 1, done.stderr
    config = tmp_path.resolve() / "closeboard.yaml"
    assert done.stderr.strip().splitlines() == [
        f"✗ {config}: company.timezone: expected an IANA time zone such as UTC or Europe/Paris, got 'Mars/Olympus'",
        f"✗ {config}: connectors.erp.client.call_timeout_s: expected a number of seconds > 0, got 'soon'",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closeboard.yaml"]
