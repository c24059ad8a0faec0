"""The README's worked example for SDK authors: property-test a client through the fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLE = '''
from hypothesis import given, settings
from mockseg.strategies import group_calls
from example_client import {client} as Client


def test_group_calls_arrive_intact(mockseg):
    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(call=group_calls())
    def check(call):
        with mockseg.scoped() as fake:  # a clean start for each example
            Client("test-key", host=fake.url).group(**call)
            fake.assert_group(group_id=call["group_id"], exact_traits=call["traits"],
                              user_id=call["user_id"] and str(call["user_id"]), count=1,
                              timeout=0)  # group() has returned: nothing is in flight
    check()
'''


def run(pytester: pytest.Pytester, client: str) -> pytest.RunResult:
    client_source = (Path(__file__).parent / "example_client.py").read_text()
    pytester.makepyfile(example_client=client_source,
                        test_client=EXAMPLE.format(client=client))
    return pytester.runpytest_subprocess("-p", "no:randomly", "--tb=short")


def test_correct_client_passes(pytester: pytest.Pytester) -> None:
    run(pytester, "GroupClient").assert_outcomes(passed=1)


def test_buggy_client_is_caught_with_a_readable_message(pytester: pytest.Pytester) -> None:
    result = run(pytester, "DroppingClient")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "assert_group: expected 1 group call(s) matching" in output
    assert "Nearest of the 1 recorded call(s):" in output
    assert "expected {" in output and "got <missing>" in output  # the dropped nested trait
    assert "Falsifying example" in output or "Failing test case" in output
    # The README shows such a failure; how far Hypothesis shrinks it depends on the time it
    # gets, so only the shape is the same on every run.
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    shown = re.search(r"for example \(its first\s+lines\):\n\n```text\n(.*?)```", readme,
                      re.S)
    assert shown, "the README's example failure is missing"
    first = shown[1].splitlines()[0].split(" traits exactly ", 1)[0]
    assert first in output
