"""The Dagster webserver as the UI tests drive it: its GraphQL client (runs launched as the UI's launch
button does), the instance behind it, and waiting for it to answer. Shared by tests/test_dagster_ops.py
(`closeboard ui`) and tests/test_deploy_postgres.py (code server, webserver and daemon apart)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

UI_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 240


class Ui:
    """The webserver on 127.0.0.1:`port` serving the code location `closeboard` of data home `home`."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.home / "dagster"))

    def launch_refresh(self) -> str:
        return self.client.submit_job_execution("refresh", repository_location_name="closeboard")

    def wait(self, run_id: str) -> DagsterRunStatus:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self.client.get_run_status(run_id)
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not finish in {RUN_TIMEOUT_S} s")

    def messages(self, run_id: str) -> list[str]:
        with self.instance() as instance:
            return [e.message or "" for e in instance.all_logs(run_id)]

    def wait_for_webserver(
        self, processes: Iterable[subprocess.Popen], log_tail: Callable[[], str], timeout: float = UI_START_TIMEOUT_S
    ) -> None:
        """Until the webserver answers GraphQL; an AssertionError with `log_tail()` when one of
        `processes` exits first or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        processes = list(processes)
        while True:
            assert all(p.poll() is None for p in processes), log_tail()
            try:
                self.client._execute("{ version }")  # noqa: SLF001 - the documented client has no ping
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise AssertionError("the Dagster webserver did not come up:\n" + log_tail()) from exc
                time.sleep(0.5)
