"""The built wheel works on its own: schema and fixtures are read from the installed package."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import json, sys, urllib.request, base64
import mockseg
from mockseg import MockSegment, validate
from mockseg.golden import fixtures_dir, load_cases
from mockseg.schema import load_group_schema
assert "site-packages" in mockseg.__file__, mockseg.__file__
assert "site-packages" in str(fixtures_dir()), fixtures_dir()
assert load_group_schema()["$schema"].endswith("2020-12/schema")
cases = load_cases("valid")
assert len(cases) >= 10
assert validate(cases[0].body or {}, "group") is not None
with MockSegment() as fake:
    request = urllib.request.Request(
        fake.url + "/v1/group", data=json.dumps({"userId": "u", "groupId": "g"}).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(b"k:").decode()})
    assert json.load(urllib.request.urlopen(request)) == {"success": True}
    schema = json.load(urllib.request.urlopen(fake.url + "/__mockseg/schema/group"))
    assert schema == load_group_schema()
try:
    import pytest_plugin
except ImportError:
    pass
else:
    raise AssertionError("the wheel must not install a top-level pytest_plugin module")
print("wheel ok")
"""


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_works(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        check=True, timeout=300,
    )
    [wheel] = dist.glob("mockseg-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   timeout=300)
    result = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wheel ok"
    mockseg_cli = env_dir / "bin" / "mockseg"
    [case] = (env_dir / "lib").glob(
        "python3*/site-packages/mockseg/fixtures/valid/b2b-company-association.json")
    body = tmp_path / "body.json"
    body.write_text(json.dumps(json.loads(case.read_text())["request"]["body"]))
    check = subprocess.run([str(mockseg_cli), "validate", str(body)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and check.stdout.strip() == f"{body}: ok"
