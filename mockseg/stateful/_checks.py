"""The delivery rules, checked against the journal: what an SDK did with the calls it was given.

Knows nothing of Hypothesis: :class:`Ledger` is what the machine asked for, the checks read
the journal's records and raise :class:`DeliveryError` with the first rule broken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from mockseg.assertions import compare
from mockseg.journal import Record
from mockseg.stateful._calls import Call

__all__ = ["NON_RETRYABLE", "RETRYABLE", "DeliveryError", "Ledger", "Sent", "is_retryable"]

#: Segment's retry table: the 4xx an SDK retries; it retries 5xx too, except 501 and 505.
RETRYABLE: Final = (408, 410, 429, 460, 500, 502, 503, 504)
#: Answers an SDK must not retry: the batch is dropped.
NON_RETRYABLE: Final = (400, 401, 403, 404, 413)


def is_retryable(status: int) -> bool:
    """Whether Segment's retry table has an SDK retry a request answered ``status``."""
    return status in (408, 410, 429, 460) or (500 <= status <= 599 and status not in (501, 505))


class DeliveryError(AssertionError):
    """A delivery rule broken. ``outcome`` names the rule in a few words, for reports."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


DeliveryError.__module__ = "mockseg.stateful"  # as tracebacks name it


@dataclass
class Sent:
    """One call the machine made: its number in the run, and whether the contract allows it."""

    number: int
    call: Call
    valid: bool
    refused: str | None = None  # what the SDK raised, if it refused the call

    def __str__(self) -> str:
        return f"call #{self.number} {self.call!r}"


@dataclass
class Ledger:
    """The calls made in one run, in order, and by messageId."""

    sent: list[Sent] = field(default_factory=list)
    by_id: dict[str, Sent] = field(default_factory=dict)

    def add(self, call: Call) -> Sent:
        sent = Sent(len(self.sent) + 1, call, valid=not call.errors())
        self.sent.append(sent)
        self.by_id[call.message_id] = sent
        return sent


def _describe(record: Record) -> str:
    count = record.headers.get("X-Retry-Count")
    answer = f"{record.http_status} {'(a planned fault)' if record.fault else record.status}"
    return (f"record #{record.id} {record.path} answered {answer}"
            + (f", X-Retry-Count: {count}" if count is not None else ""))


def _history(sent: Sent, tries: Sequence[Record]) -> str:
    lines = [f"  {sent}, messageId {sent.call.message_id!r}; its attempts, oldest first:"]
    lines += [f"    {_describe(record)}" for record in tries] or ["    (none)"]
    return "\n".join(lines)


def _retry_count(record: Record) -> int | None:
    value = record.headers.get("X-Retry-Count")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise DeliveryError("bad X-Retry-Count", f"record #{record.id} has X-Retry-Count "
                            f"{value!r}: it must be the number of retries") from None


def _same_call(record: Record, call: Call) -> bool:
    payload = record.payload if isinstance(record.payload, dict) else {}
    fields = {k: v for k, v in call.message().items() if k != "messageId"}
    return not compare(payload, fields, "", subset=True)


def _attempts(records: Iterable[Record], ledger: Ledger) -> dict[str, list[Record]]:
    """Each call's attempts, by messageId; raise at a request that broke a rule by itself."""
    attempts: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        too_large = [e.message for e in record.errors if e.message.startswith(
            ("Exceed payload limit", "Message too large"))]
        if too_large:
            raise DeliveryError("broke the size limits", (
                f"record #{record.id} {record.path} broke the size limits (500 KB a request, "
                f"32 KB a message, 2,500 messages a batch): {too_large[0]}"))
        if record.type is None:
            if record.errors:
                raise DeliveryError("unreadable request", (
                    f"record #{record.id} {record.path}: mockseg could not read the request: "
                    f"{record.errors[0].field}: {record.errors[0].message}"))
            continue  # an empty batch
        message_id = record.message_id
        if not isinstance(message_id, str) or message_id not in ledger.by_id:
            raise _unknown(record, ledger)
        attempts[message_id].append(record)
    return attempts


def _unknown(record: Record, ledger: Ledger) -> DeliveryError:
    twin = next((sent for sent in ledger.sent if _same_call(record, sent.call)), None)
    if twin is None:
        return DeliveryError("unknown message", (
            f"record #{record.id} carries messageId {record.message_id!r}, which no call was "
            f"given: {record.payload!r:.300}"))
    return DeliveryError("new messageId on retry", (
        f"{twin} arrived with messageId {record.message_id!r} (record #{record.id}), not the "
        f"{twin.call.message_id!r} it was given: a retry must keep the messageId, or Segment "
        f"counts the message twice"))


def check_journal(records: Sequence[Record], ledger: Ledger) -> None:
    """The rules that hold at every moment: sizes, known messageIds, retries only after a
    retryable answer, X-Retry-Count rising, nothing accepted twice or when invalid."""
    for message_id, tries in _attempts(records, ledger).items():
        sent = ledger.by_id[message_id]
        for before, after in pairwise(tries):
            if after.request_id == before.request_id:
                raise DeliveryError("sent twice in one request", (
                    f"{sent} was sent twice in one request\n{_history(sent, tries)}"))
            if before.http_status < 300:
                raise DeliveryError("sent again after success", (
                    f"{sent} was sent again after it was answered {before.http_status}: only "
                    f"a retryable answer may be retried\n{_history(sent, tries)}"))
            if not is_retryable(before.http_status):
                raise DeliveryError(f"retried a {before.http_status}", (
                    f"{sent} was sent again after a {before.http_status} answer: 400, 401, 403, "
                    f"404 and 413 are final, and the batch is dropped\n{_history(sent, tries)}"))
            count = _retry_count(after)
            if count is not None and count <= (_retry_count(before) or 0):
                raise DeliveryError("X-Retry-Count not rising", (
                    f"{sent} was retried with X-Retry-Count {count}, no more than the attempt "
                    f"before: each retry must count one more\n{_history(sent, tries)}"))
        accepted = [record for record in tries if record.status == "accepted"]
        if len(accepted) > 1:
            raise DeliveryError("accepted twice", (
                f"{sent} was accepted {len(accepted)} times\n{_history(sent, tries)}"))
        if accepted and not sent.valid:
            raise DeliveryError("an invalid call accepted", (
                f"{sent} is invalid ({'; '.join(sent.call.errors())}), yet it was accepted: the "
                f"SDK changed it\n{_history(sent, tries)}"))


def check_delivered(records: Sequence[Record], ledger: Ledger, *, when: str) -> None:
    """Every valid call made so far is accepted, or was dropped after a non-retryable answer."""
    attempts = _attempts(records, ledger)
    for sent in ledger.sent:
        if not sent.valid:
            continue
        tries = attempts.get(sent.call.message_id, [])
        accepted = [record for record in tries if record.status == "accepted"]
        if accepted:
            differences = compare(accepted[0].payload, sent.call.message(), "", subset=True)
            if differences:
                where, got, expected = differences[0]
                raise DeliveryError("arrived changed", (
                    f"{sent} arrived changed: {where.lstrip('.')} is {got!r}, not "
                    f"{expected!r}\n{_history(sent, tries)}"))
            continue
        if not tries:
            raise DeliveryError("never sent", f"{sent} was never sent, though {when} returned")
        last = tries[-1]
        if last.http_status < 300:
            errors = "; ".join(f"{e.field}: {e.message}" for e in last.errors)
            raise DeliveryError("arrived invalid", (
                f"{sent} is valid, but arrived invalid ({errors})\n{_history(sent, tries)}"))
        if is_retryable(last.http_status):
            raise DeliveryError(f"lost after a {last.http_status}", (
                f"{sent} was lost: its last attempt was answered {last.http_status}, which is "
                f"retryable, and {when} returned without sending it again\n"
                f"{_history(sent, tries)}"))
