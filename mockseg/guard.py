"""Who may use the admin API and the journal page: the guards against other sites' pages.

mockseg runs on developers' laptops with a journal of write keys and user data. A page on any
other site must not read it, erase it or plan faults, and a DNS-rebinding page (a foreign name
that resolves to 127.0.0.1) must not reach it same-origin. These checks take plain strings, so
they can be tested without HTTP; :mod:`mockseg.admin` applies them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from mockseg.errors import Forbidden

__all__ = ["LOOPBACK_NAMES", "HostAllowList", "check_same_site", "is_loopback"]

#: The names a loopback-bound server always answers to (any port).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: Sec-Fetch-Site values that mean "another site's page made this request".
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP address or ``localhost``) is a loopback address."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """The name of a Host header without its port: ``[::1]:8765`` gives ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host  # a bare name, or a bare IPv6 address


class HostAllowList:
    """The Host names the admin API answers to, as Jupyter and Vite guard their servers.

    Always the loopback names and ``*.localhost``; also each of ``extra`` (``name`` exactly, or
    ``*.name`` for its subdomains). Ports do not matter.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        names = [name.strip().lower() for name in extra if name.strip()]
        self.exact = frozenset({*LOOPBACK_NAMES, *(n for n in names if not n.startswith("*."))})
        self.suffixes = (".localhost", *(n[1:] for n in names if n.startswith("*.")))
        self.extra = tuple(names)

    def allows(self, host: str) -> bool:
        """Whether a request whose Host header is ``host`` may be served."""
        name = _host_name(host)
        return name in self.exact or any(name.endswith(suffix) for suffix in self.suffixes)

    def check(self, host: str) -> None:
        """Raise :class:`Forbidden` for a Host that is not allowed, naming the way to allow it."""
        if not self.allows(host):
            name = _host_name(host) or "(none)"
            raise Forbidden(
                f"Host {name!r} may not reach the admin API or the journal page: while "
                f"mockseg serves loopback it answers only to localhost, 127.0.0.1 and [::1] "
                f"(a guard against DNS rebinding). Start it with --allow-host {name} (or "
                f"MOCKSEG_ALLOW_HOSTS) if you reach it by that name.", field="Host")


def check_same_site(method: str, origin: str | None, fetch_site: str | None, host: str,
                    scheme: str) -> None:
    """Refuse a state-changing request that another site's page made.

    Browsers say where a request comes from: ``Sec-Fetch-Site`` (cross-site or same-site is
    another site's page) and ``Origin`` (which must be this server's own, ``scheme://host``).
    curl and SDKs send neither, and the journal page sends its own origin.
    """
    site = (fetch_site or "").strip().lower()
    if site in _FOREIGN_FETCH_SITES:
        raise Forbidden(f"{method} from another site's page is refused (Sec-Fetch-Site: "
                        f"{site}); the admin API serves your own tools only",
                        field="Sec-Fetch-Site")
    if origin is None:
        return
    own = f"{scheme}://{host}".lower()
    given = origin.strip().lower()
    parts = urlsplit(given)
    if given == "null" or f"{parts.scheme}://{parts.netloc}" != own:
        raise Forbidden(f"{method} from the page at {origin.strip()!r} is refused: only this "
                        f"server's own origin ({own}) may change its state", field="Origin")
