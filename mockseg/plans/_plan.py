"""A loaded tracking plan: which rules apply to a message, and what it violates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from mockseg.plans._load import PlanRule, PlanSource, read_rules
from mockseg.plans._violations import ROOT, PlanViolation, describe, violations_of
from mockseg.rules import is_integer

__all__ = ["MODES", "UNPLANNED", "TrackingPlan", "load_plan"]

Mode = Literal["record", "block"]
Unplanned = Literal["allow", "violate", "block"]
#: ``record``: violations are recorded and change nothing; ``block``: they block the message.
MODES: Final[tuple[Mode, ...]] = ("record", "block")
#: What a track event the plan does not name gets: nothing, a violation, or blocked.
UNPLANNED: Final[tuple[Unplanned, ...]] = ("allow", "violate", "block")
#: The rule type for each message type; alias has none (only COMMON applies).
_RULE_TYPE: Final = {"group": "GROUP", "identify": "IDENTIFY", "track": "TRACK",
                     "page": "PAGE", "screen": "SCREEN"}


def _event_version(message: Mapping[str, Any]) -> int | None:
    """``context.protocols.event_version`` when it is an integer."""
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, Mapping) else None
    version = protocols.get("event_version") if isinstance(protocols, Mapping) else None
    if isinstance(version, int | float) and is_integer(version):
        return int(version)
    return None


@dataclass(frozen=True)
class TrackingPlan:
    """A team's tracking plan, compiled: :meth:`check` a message, :meth:`blocks` its violations.

    ``mode`` is what violations do: ``"record"`` (the default, what production does: nothing to
    the answer) or ``"block"``. ``unplanned`` is what a track event the plan does not name gets:
    ``"allow"`` (no violation), ``"violate"`` (the default) or ``"block"`` (blocked in any mode).
    """

    source: str
    rules: tuple[PlanRule, ...]
    mode: Mode = "record"
    unplanned: Unplanned = "violate"
    _index: dict[tuple[str, str | None], list[PlanRule]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.unplanned not in UNPLANNED:
            raise ValueError(f"unplanned must be one of {', '.join(UNPLANNED)}, "
                             f"not {self.unplanned!r}")
        index: dict[tuple[str, str | None], list[PlanRule]] = {}
        for rule in self.rules:
            index.setdefault((rule.type, rule.key), []).append(rule)
        for versions in index.values():
            versions.sort(key=lambda rule: rule.version)
        object.__setattr__(self, "_index", index)

    @property
    def events(self) -> tuple[str, ...]:
        """The track events the plan names, in the plan's order."""
        return tuple(dict.fromkeys(rule.key for rule in self.rules
                                   if rule.type == "TRACK" and rule.key is not None))

    def versions(self, rule_type: str, key: str | None = None) -> tuple[PlanRule, ...]:
        """The rules of one type and key, lowest version first (empty if the plan has none)."""
        return tuple(self._index.get((rule_type, key), ()))

    def _pick(self, rule_type: str, key: str | None,
              message: Mapping[str, Any]) -> PlanRule | None:
        """The version ``context.protocols.event_version`` names, else the lowest one."""
        versions = self.versions(rule_type, key)
        if not versions:
            return None
        wanted = _event_version(message)
        return next((rule for rule in versions if rule.version == wanted), versions[0])

    def rules_for(self, message: Mapping[str, Any],
                  kind: str | None = None) -> tuple[PlanRule | None, PlanRule | None]:
        """The rule of the message's type that applies (or None), and the COMMON rule."""
        kind = kind if kind is not None else message.get("type")
        rule_type = _RULE_TYPE.get(kind) if isinstance(kind, str) else None
        rule = None
        if rule_type == "TRACK":
            event = message.get("event")
            rule = self._pick("TRACK", event, message) if isinstance(event, str) else None
        elif rule_type in ("PAGE", "SCREEN"):
            name = message.get("name")
            keyed = self._pick(rule_type, name, message) if isinstance(name, str) else None
            rule = keyed or self._pick(rule_type, None, message)
        elif rule_type is not None:
            rule = self._pick(rule_type, None, message)
        return rule, self._pick("COMMON", None, message)

    def check(self, message: Any, kind: str | None = None,
              prefix: str = "") -> list[PlanViolation]:
        """The message's violations of the plan: an ``unplanned`` event first, then its type's
        rule, then COMMON; each rule's sorted by field. Empty when the message follows the plan.

        ``kind`` is the type the endpoint implies (``/v1/group``: ``"group"``); by default the
        message's own ``type``. ``prefix`` goes before each field (``batch[3].``); descriptions
        stay relative to the message, as Protocols words them.
        """
        if not isinstance(message, Mapping):
            return []
        found: list[PlanViolation] = []
        rule, common = self.rules_for(message, kind)
        event = message.get("event")
        if (rule is None and self.unplanned != "allow" and isinstance(event, str)
                and (kind if kind is not None else message.get("type")) == "track"):
            found.append(PlanViolation("unplanned", prefix + "event",
                                       describe("unplanned", ("event",), event), ("event",)))
        for applied in (rule, common):
            if applied is None or (applied.fast is not None and applied.fast(message)):
                continue
            try:
                found += violations_of(applied.validator.iter_errors(message), prefix)
            except Exception as exc:  # say so, rather than fail the call it was asked about
                found.append(PlanViolation("unchecked", prefix + ROOT, describe(
                    "unchecked", (), applied.label, f"{type(exc).__name__}: {exc}")))
        return found

    def blocks(self, violations: Iterable[PlanViolation]) -> bool:
        """Whether a message with these violations is to be answered like a contract error."""
        found = list(violations)
        if self.mode == "block":
            return bool(found)
        return self.unplanned == "block" and any(v.type == "unplanned" for v in found)


def load_plan(source: PlanSource | TrackingPlan, *, mode: Mode = "record",
              unplanned: Unplanned = "violate") -> TrackingPlan:
    """Read and compile a tracking plan: a path to its JSON file, or the parsed JSON.

    Accepts Segment's own export (see :mod:`mockseg.plans`). A :class:`TrackingPlan` is
    returned with ``mode`` and ``unplanned`` applied, its rules not compiled again. Raises
    :class:`~mockseg.plans.TrackingPlanError` naming the file, the rule and the reason.
    """
    if isinstance(source, TrackingPlan):
        return replace(source, mode=mode, unplanned=unplanned)
    label, rules = read_rules(source)
    return TrackingPlan(label, rules, mode, unplanned)

