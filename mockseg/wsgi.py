"""A WSGI entry point for running mockseg under a server such as gunicorn.

``gunicorn -k gthread --threads 8 -w 2 -b 127.0.0.1:8765 'mockseg.wsgi:create_app()'`` with
``MOCKSEG_JOURNAL`` set to a SQLite file lets every worker process record into, and read from,
the same journal. Use threaded workers: a long-poll (``GET /__mockseg/calls?wait=...``, as each
open journal page makes) holds a thread while it waits, and would hold a whole sync worker.
Settings come from the environment:

- ``MOCKSEG_MODE``: ``strict`` (default) or ``segment``;
- ``MOCKSEG_WRITE_KEYS``: comma-separated accepted write keys (default: any key);
- ``MOCKSEG_JOURNAL``: the SQLite file (default: memory, which workers do not share);
- ``MOCKSEG_ADMIN_TOKEN``: the admin API's bearer token (set but empty is an error);
- ``MOCKSEG_ALLOW_HOSTS``: comma-separated Host names, besides the loopback ones, that may reach
  the admin API on a loopback connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mockseg.app import MockSegmentApp, Settings
from mockseg.journal import Journal, SqliteJournal

__all__ = ["create_app"]


def create_app(environ: Mapping[str, str] | None = None) -> MockSegmentApp:
    """A MockSegmentApp configured from ``MOCKSEG_*`` environment variables."""
    env = os.environ if environ is None else environ
    keys = env.get("MOCKSEG_WRITE_KEYS")
    settings = Settings(
        mode=env.get("MOCKSEG_MODE", "strict"),  # type: ignore[arg-type]
        write_keys=frozenset(k.strip() for k in keys.split(",") if k.strip()) if keys else None,
    )
    token = env.get("MOCKSEG_ADMIN_TOKEN")
    if token is not None and not token.strip():
        raise ValueError("MOCKSEG_ADMIN_TOKEN is set but empty, which would leave the admin API "
                         "open; give a token, or unset it for none")
    hosts = [name.strip() for name in env.get("MOCKSEG_ALLOW_HOSTS", "").split(",")
             if name.strip()]
    path = env.get("MOCKSEG_JOURNAL")
    journal = SqliteJournal(path) if path else Journal()
    return MockSegmentApp(settings, journal, admin_token=token, allow_hosts=hosts)
