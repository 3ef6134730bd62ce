"""Third-party MCP servers run through uvx in their own environment (they need mcp<2)."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def require_uvx(args: list[str], package: str) -> str:
    """The uvx path once `uvx ARGS --help` has installed the server; skip only when it cannot be."""
    path = shutil.which("uvx")
    if path is None:
        pytest.skip("uvx is not on PATH: it comes with uv")
    try:
        probe = subprocess.run([path, *args, "--help"], capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.skip(f"uvx could not install {package} within 240 s (no network?)")
    if probe.returncode != 0:
        pytest.skip(f"uvx could not install {package} (no network?): {probe.stderr.strip()[-300:]}")
    return path
