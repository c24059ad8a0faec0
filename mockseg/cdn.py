"""The CDN settings document that analytics.js, Kotlin and Swift load before they send anything.

analytics.js reads ``{cdnURL}/v1/projects/{writeKey}/settings``; the mobile SDKs read
``https://{cdnHost}/projects/{writeKey}/settings``. The answer says where the Segment.io
destination posts (``apiHost``, ``protocol``). mockseg answers with a source that has only that
destination, pointed back at mockseg, or with a team's own document (their destination filters and
consent settings) whose Segment.io destination is pointed at mockseg unless it names a host.
Knows no HTTP: the app passes in the host and scheme it was reached on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

__all__ = ["CdnSettingsError", "load_cdn_settings", "settings_document"]

#: The destination every SDK's own uploads go through.
SEGMENT_IO = "Segment.io"


class CdnSettingsError(ValueError):
    """A settings document that cannot be served: not JSON, or not shaped like one."""


def load_cdn_settings(source: str | PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A settings document from a JSON file or a mapping, checked for the shape SDKs read."""
    if isinstance(source, Mapping):
        document: Any = copy.deepcopy(dict(source))
        where = "the settings document"
    else:
        where = str(source)
        try:
            document = json.loads(Path(source).read_text("utf-8"))
        except OSError as exc:
            raise CdnSettingsError(f"cannot read {where}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CdnSettingsError(f"{where} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CdnSettingsError(f"{where} must hold a JSON object, like Segment's CDN answers")
    integrations = document.get("integrations", {})
    if not isinstance(integrations, dict):
        raise CdnSettingsError(f"{where}: integrations must be an object")
    segment_io = integrations.get(SEGMENT_IO, {})
    if not isinstance(segment_io, dict):
        raise CdnSettingsError(f"{where}: integrations[{SEGMENT_IO!r}] must be an object")
    return document


def _default_document() -> dict[str, Any]:
    return {
        "integrations": {},
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        # No metrics uploads: they are the SDK's telemetry, not calls under test.
        "metrics": {"sampleRate": 0.0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def settings_document(
    write_key: str, api_host: str, protocol: str, custom: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings for ``write_key``, with Segment.io posting to ``protocol://api_host``.

    ``api_host`` is ``HOST:PORT/v1`` as the SDKs expect it (no scheme). A ``custom`` document
    keeps everything it sets; only a Segment.io destination without an ``apiHost`` is pointed
    here (and gets ``protocol`` and the write key as its ``apiKey`` if it lacks them).
    """
    document = copy.deepcopy(dict(custom)) if custom is not None else _default_document()
    integrations = document.setdefault("integrations", {})
    destination = integrations.setdefault(SEGMENT_IO, {})
    destination.setdefault("apiKey", write_key)
    if "apiHost" not in destination:
        destination["apiHost"] = api_host
        destination["protocol"] = protocol
    destination.setdefault("unbundledIntegrations", [])
    destination.setdefault("addBundledMetadata", True)
    destination.setdefault("maybeBundledConfigIds", {})
    return document
