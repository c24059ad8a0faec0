"""mockseg: a fake of Segment's Tracking API that enforces the documented group contract."""

from __future__ import annotations

from mockseg._version import __version__ as __version__
from mockseg.app import MockSegmentApp, Settings
from mockseg.journal import CallFilter, Journal, Record
from mockseg.mocksegment import MockSegment, ScopedMockSegment
from mockseg.rules import Limits
from mockseg.validation import Violation, validate

__all__ = [
    "CallFilter",
    "Journal",
    "Limits",
    "MockSegment",
    "MockSegmentApp",
    "Record",
    "ScopedMockSegment",
    "Settings",
    "Violation",
    "validate",
]
