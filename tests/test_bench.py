"""The benchmark harness runs end to end in smoke mode. Not a timed test: no number is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_httpserver")
pytest.importorskip("hypothesis_jsonschema")

ROOT = Path(__file__).resolve().parent.parent
COMPARISONS = (
    "validate", "throughput-batch", "throughput-group", "sqlite-journal", "scaling",
    "fixture-suite", "start-stop", "intercept", "strategies", "memory", "plugin-load",
    "watchers", "prism",
)


@pytest.mark.slow
def test_smoke_run_exits_0_and_its_summary_lists_every_comparison(tmp_path: Path) -> None:
    saved = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json", str(saved)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    output = f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.returncode == 0, output
    assert "\nSummary (smoke run" in run.stdout, output
    summary = run.stdout.split("\nSummary (smoke run", 1)[1]
    listed = {line.split("|")[1].strip() for line in summary.splitlines()
              if line.startswith("| ")}
    assert listed >= set(COMPARISONS), output
    assert "ERROR" not in summary, output
    results = json.loads(saved.read_text("utf-8"))["results"]
    assert [result["name"] for result in results] == list(COMPARISONS)
    assert all(result["error"] is None and result["metrics"] for result in results)
