"""The golden request cases of ``fixtures/``: one readable JSON file per case.

Each file holds a ``request`` (path, body, auth, headers), optional ``server`` settings and what
to ``expect`` (status, error type, message, field, number of records). The cases ship inside the
wheel as ``mockseg/fixtures/``; in a source checkout they are read from the top-level
``fixtures/`` folder.

The ``sdks`` cases replay, byte for byte, what an official SDK that cannot run in the test
suite sends (read from its source; the description names the SDK, its version and the files).
They set ``"exact_headers": true``: the request carries exactly the case's ``headers``, with no
default Content-Type or Authorization, since several SDKs send neither. Their ``expect`` may
also name the ``write_key`` and ``auth`` each record gets and the recorded ``headers`` (a value,
or null for "absent").
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "Case", "fixtures_dir", "load_cases"]

CATEGORIES = ("valid", "invalid", "endpoints", "sdks")
#: The write key a case sends when it does not say otherwise.
DEFAULT_WRITE_KEY = "test-key"


def fixtures_dir() -> Path:
    """Where the cases are: inside the installed package, else the source checkout's folder."""
    packaged = Path(str(resources.files("mockseg"))) / "fixtures"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "fixtures"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("mockseg's fixtures are missing from this installation")


@dataclass(frozen=True)
class Case:
    """One golden case, as read from its file."""

    name: str  # "valid/b2b-company-association"
    description: str
    request: dict[str, Any]
    server: dict[str, Any]
    expect: dict[str, Any]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def method(self) -> str:
        return str(self.request.get("method", "POST"))

    @property
    def path(self) -> str:
        return str(self.request["path"])

    @property
    def body(self) -> Any:
        """The JSON body as a value (None when the case sends raw text or nothing)."""
        return self.request.get("body")

    def data(self) -> bytes:
        """The body bytes exactly as sent, gzipped if the case says so."""
        if "raw_body" in self.request:
            raw = str(self.request["raw_body"]).encode("utf-8")
        elif "body" in self.request:
            raw = json.dumps(self.request["body"], separators=(",", ":")).encode("utf-8")
        else:
            raw = b""
        return gzip_module.compress(raw) if self.request.get("gzip") else raw

    @property
    def exact_headers(self) -> bool:
        """Whether the case's ``headers`` are the whole set sent (an SDK replay)."""
        return bool(self.request.get("exact_headers", False))

    def headers(self) -> dict[str, str]:
        """The request headers: Content-Type, Basic auth with the case's write key, extras.

        With ``exact_headers``, only the case's own ``headers``: no defaults are added.
        """
        if self.exact_headers:
            return dict(self.request.get("headers", {}))
        headers: dict[str, str] = {}
        if self.method == "POST":
            headers["Content-Type"] = "application/json"
        key = self.request.get("auth", DEFAULT_WRITE_KEY)
        if key is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        if self.request.get("gzip"):
            headers["Content-Encoding"] = "gzip"
        headers.update(self.request.get("headers", {}))
        return headers


def _load(path: Path, root: Path) -> Case:
    data = json.loads(path.read_text("utf-8"))
    return Case(
        name=path.relative_to(root).with_suffix("").as_posix(),
        description=data.get("description", ""),
        request=data["request"],
        server=data.get("server", {}),
        expect=data["expect"],
    )


@cache
def _all_cases() -> tuple[Case, ...]:
    root = fixtures_dir()
    # Only the categories' folders: fixtures/ holds other files too (tracking plans).
    paths = sorted(path for category in CATEGORIES for path in (root / category).glob("*.json"))
    return tuple(_load(path, root) for path in paths)


def load_cases(category: str | None = None) -> list[Case]:
    """All golden cases, or those of one category (``valid``, ``invalid``, ``endpoints``,
    ``sdks``)."""
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    return [case for case in _all_cases() if category is None or case.category == category]
