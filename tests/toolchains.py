"""Real-client tests need toolchains (node, go, mvn, chromium). Locally a missing one skips the
test with its reason; under ``CI=true`` it fails instead, so CI never hides a missing install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["CLIENTS", "IN_CI", "missing", "require", "run"]

IN_CI = os.environ.get("CI") == "true"
#: The small client programs the tests build and run, one folder per SDK.
CLIENTS = Path(__file__).resolve().parent / "clients"


def missing(reason: str) -> None:
    """Skip with ``reason``; under CI=true, fail with it."""
    __tracebackhide__ = True
    if IN_CI:
        pytest.fail(f"CI=true, and a real-client test cannot run: {reason}")
    pytest.skip(reason)


def require(*tools: str) -> dict[str, str]:
    """The full paths of ``tools`` on PATH (or absolute paths); skip (fail in CI) if one is
    missing."""
    __tracebackhide__ = True
    found: dict[str, str] = {}
    for tool in tools:
        path = shutil.which(tool)
        if path is None:
            missing(f"{tool} is not installed")
        else:
            found[tool] = path
    return found


def run(command: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None,
        what: str) -> subprocess.CompletedProcess[str]:
    """Run a build or client step; on failure, fail the test with its output (never skip:
    a toolchain that is present but fails is a real failure)."""
    __tracebackhide__ = True
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} took over {timeout:g}s: {' '.join(command)}\n{exc.stdout or ''}"
                    f"{exc.stderr or ''}")
    if done.returncode != 0:
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
                    f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")
    return done
