"""Hypothesis strategies for Segment's group call, as mockseg enforces it.

``group_payloads()`` generates valid ``POST /v1/group`` bodies over the whole valid space, edges
included. ``invalid_group_payloads()`` generates :class:`InvalidCase` values that break exactly
one rule of CONTRACT.md's table and carry the error the validator must report first.
``batches()`` generates ``/v1/batch`` bodies, and ``group_calls()`` the keyword arguments of the
Python SDK's ``Client.group``. The building blocks (``group_ids()``, ``traits()``,
``reserved_traits()``, ``contexts()``, ``timestamps()``) compose on their own.
``plan_messages(plan)`` and ``plan_violations(plan)`` draw from a team's tracking plan.

Every body fits the size limits by construction, however it is encoded: with Python's
``json.dumps`` defaults (``", "`` and ``": "`` separators, ASCII escapes: up to 12 bytes for one
emoji), as ``requests.post(json=...)`` and the official Python SDK send it, and as compact UTF-8
JSON (orjson, ``JSON.stringify``, httpx, Go's ``encoding/json``). Its parts are drawn against a
byte budget measured in the most expansive of these. Long strings repeat a short drawn seed, so
an edge-sized payload costs Hypothesis little. Import this module yourself
(``from mockseg.strategies import group_payloads``): ``import mockseg`` does not import it, nor
Hypothesis.
"""

from __future__ import annotations

from mockseg.strategies._base import (
    GROUP_ID_ALPHABET,
)
from mockseg.strategies._invalid import (
    InvalidCase,
    invalid_group_payloads,
)
from mockseg.strategies._plan import (
    BREAKABLE_VIOLATIONS,
    plan_messages,
    plan_violations,
)
from mockseg.strategies._traits import (
    reserved_traits,
    traits,
)
from mockseg.strategies._valid import (
    batches,
    contexts,
    group_calls,
    group_ids,
    group_payloads,
    timestamps,
)

__all__ = [
    "BREAKABLE_VIOLATIONS",
    "GROUP_ID_ALPHABET",
    "InvalidCase",
    "batches",
    "contexts",
    "group_calls",
    "group_ids",
    "group_payloads",
    "invalid_group_payloads",
    "plan_messages",
    "plan_violations",
    "reserved_traits",
    "timestamps",
    "traits",
]
