"""The calls the delivery machine asks an SDK to make, and the strategies that draw them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from hypothesis import strategies as st

from mockseg.strategies import GROUP_ID_ALPHABET, group_ids, traits
from mockseg.validation import validate

__all__ = ["KINDS", "Call", "bulk_calls", "calls", "invalid_calls"]

#: The calls an adapter may be asked to make.
KINDS: Final = ("group", "identify", "track")
#: The Python SDK's keyword for each message field.
_KEYWORDS: Final = {"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id",
                    "event": "event", "traits": "traits", "properties": "properties",
                    "messageId": "message_id"}
_SHOWN: Final = 24  # characters of a string a step shows


def _short(value: Any) -> str:
    """A repr that shows at most ``_SHOWN`` characters of each string."""
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"{value[:8]!r}...({len(value)} chars)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_short(k)}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_short, value)) + "]"
    return repr(value)


@dataclass(frozen=True)
class Call:
    """One call an SDK is asked to make: its kind and the fields of the message it makes.

    ``message_id`` is given by the machine, unique within a run. :meth:`fields` are the message's
    fields in Segment's names (``userId``, ``groupId``, ...); :meth:`kwargs` the same as the
    Python SDK's keywords (``user_id``, ``group_id``, ...).
    """

    kind: str
    user_id: str | None = None
    anonymous_id: str | None = None
    group_id: str | None = None
    event: str | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    message_id: str = field(default="", compare=False)

    def fields(self) -> dict[str, Any]:
        """The message's fields in Segment's names, without those the call leaves out."""
        named = {"userId": self.user_id, "anonymousId": self.anonymous_id,
                 "groupId": self.group_id, "event": self.event, "traits": self.traits,
                 "properties": self.properties, "messageId": self.message_id or None}
        return {name: value for name, value in named.items() if value is not None}

    def message(self) -> dict[str, Any]:
        """The message as the Tracking API takes it: the fields and ``type``."""
        return {"type": self.kind, **self.fields()}

    def kwargs(self) -> dict[str, Any]:
        """The fields as the Python SDK's keyword arguments (``client.group(**call.kwargs())``)."""
        return {_KEYWORDS[name]: value for name, value in self.fields().items()}

    def errors(self) -> list[str]:
        """What the contract finds wrong with the message (empty for a valid call)."""
        return [f"{v.field}: {v.message}" for v in validate(self.message(), self.kind)
                if v.severity == "error"]

    def with_message_id(self, message_id: str) -> Call:
        return replace(self, message_id=message_id)

    def __repr__(self) -> str:
        shown = {name: value for name, value in vars(self).items()
                 if name not in ("kind", "message_id") and value is not None}
        return f"{self.kind}({', '.join(f'{k}={_short(v)}' for k, v in shown.items())})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


_IDS = st.one_of(st.sampled_from(("user-1", "user-2")),
                 st.text(GROUP_ID_ALPHABET, min_size=1, max_size=8))
_IDENTITIES = st.one_of(st.tuples(_IDS, st.none()), st.tuples(st.none(), _IDS),
                        st.tuples(_IDS, _IDS))
_SMALL_TRAITS = traits(max_size=4, max_bytes=1500)
_PROPERTIES = traits(max_size=4, max_bytes=1500, reserved=False)
_EVENTS = st.one_of(st.sampled_from(("Signed Up", "Order Completed")),
                    st.text(GROUP_ID_ALPHABET + " ", min_size=1, max_size=12))
#: One trait or property long enough to make a message of about 30,000 bytes: a few of them
#: fill a batch. Under every encoder's measure the message stays below the 32 KB item limit.
_LONG_TEXT: Final = 30_000


def _padded(values: dict[str, Any], padding: bool) -> dict[str, Any]:
    return {**values, "notes": "x" * _LONG_TEXT} if padding else values


def _build(kind: str, identity: tuple[str | None, str | None], name: str, body: dict[str, Any],
           padding: bool) -> Call:
    user_id, anonymous_id = identity
    if kind == "group":
        return Call("group", user_id, anonymous_id, group_id=name, traits=_padded(body, padding))
    if kind == "identify":
        return Call("identify", user_id, anonymous_id, traits=_padded(body, padding))
    return Call("track", user_id, anonymous_id, event=name, properties=_padded(body, padding))


def calls(kinds: tuple[str, ...] = KINDS) -> st.SearchStrategy[Call]:
    """Valid calls of the ``kinds``: small traits or properties, one in eight with a long one.

    Shrinks toward a group call with a short groupId, a userId and no traits.
    """
    def one(kind: str) -> st.SearchStrategy[Call]:
        names = group_ids(max_size=16) if kind == "group" else _EVENTS
        body = _PROPERTIES if kind == "track" else _SMALL_TRAITS
        return st.builds(_build, st.just(kind), _IDENTITIES, names, body,
                         st.integers(0, 7).map(lambda n: n == 7))

    return st.one_of(*map(one, kinds))


def invalid_calls(kinds: tuple[str, ...] = KINDS) -> st.SearchStrategy[Call]:
    """Calls the contract rejects, each for one plain reason an SDK may or may not check."""
    options: list[st.SearchStrategy[Call]] = []
    if "group" in kinds:
        options += [
            st.builds(lambda ids, name: Call("group", ids[0], ids[1], group_id=f"{name} {name}"),
                      _IDENTITIES, group_ids(max_size=8)),  # a space in the groupId
            st.builds(lambda ids, name: Call("group", ids[0], ids[1], group_id=name,
                                             traits={"employees": "many"}),
                      _IDENTITIES, group_ids(max_size=8)),  # a reserved trait of a wrong type
        ]
    if "identify" in kinds:
        options.append(st.builds(lambda t: Call("identify", traits=t),
                                 _SMALL_TRAITS))  # no userId nor anonymousId
    if "track" in kinds:
        options.append(st.builds(lambda ids: Call("track", ids[0], ids[1], event=""),
                                 _IDENTITIES))
    return st.one_of(options)


def bulk_calls(count: int, size: int, kinds: tuple[str, ...] = KINDS) -> list[Call]:
    """``count`` valid calls of about ``size`` bytes each (one long trait or property)."""
    kind = "group" if "group" in kinds else kinds[0]
    return [_build(kind, ("bulk-user", None), f"bulk-{n}", {"notes": "x" * max(0, size - 300)},
                   padding=False) for n in range(count)]
