"""Tracking plans: a team's own contract on top of Segment's, checked as Protocols checks it.

``load_plan(path_or_json)`` reads a plan exported from Segment (the Public API's List Rules from
Tracking Plan, as it answers or as the bare list of rules) and compiles each rule's JSON Schema
(draft-07, formats checked). ``plan.check(message)`` returns the message's
:class:`PlanViolation` list: its type's rule (GROUP, IDENTIFY, PAGE, SCREEN, or the TRACK rule
of its ``event``, at the version ``context.protocols.event_version`` names, else the lowest) and
the COMMON rule. ``plan.blocks(violations)`` says whether the plan's ``mode`` and ``unplanned``
policy turn them into a rejection. Nothing here knows HTTP or the journal.
"""

from __future__ import annotations

from mockseg.plans._load import RULE_TYPES, PlanRule, PlanSource, TrackingPlanError
from mockseg.plans._plan import MODES, UNPLANNED, Mode, TrackingPlan, Unplanned, load_plan
from mockseg.plans._violations import PlanViolation, describe, format_field

__all__ = [
    "MODES",
    "RULE_TYPES",
    "UNPLANNED",
    "Mode",
    "PlanRule",
    "PlanSource",
    "PlanViolation",
    "TrackingPlan",
    "TrackingPlanError",
    "Unplanned",
    "describe",
    "format_field",
    "load_plan",
]
