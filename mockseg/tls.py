"""HTTPS for the SDKs that speak nothing else (Swift, Kotlin, C#, PHP): a local CA and its cert.

At start mockseg makes a certificate authority of its own (with trustme, made for exactly this)
and a server certificate from it for ``localhost``, ``127.0.0.1``, ``::1`` and any names asked
for. The CA's certificate goes to a PEM file that a client trusts, and only that client: nothing
is added to any system store. A team can also bring its own certificate and key.
"""

from __future__ import annotations

import datetime
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOCAL_NAMES", "TlsError", "TlsSetup", "local_ca_setup", "own_cert_setup"]

#: The names every generated server certificate covers.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
#: Apple's clients refuse server certificates valid longer than this (825 days for private
#: CAs); a year stays well inside every client's rule.
_LEAF_DAYS = 365
_CA_FILE = "mockseg-ca.pem"
_CA_KEY_FILE = "mockseg-ca-key.pem"


class TlsError(ValueError):
    """A certificate or key that cannot be used."""


@dataclass
class TlsSetup:
    """A server's TLS context, and the CA certificate clients must trust (None for a team's own
    certificate)."""

    context: ssl.SSLContext
    ca_file: Path | None
    #: A folder made for this run and removed by :meth:`cleanup` (None when kept or not made).
    _temporary: Path | None = None

    def cleanup(self) -> None:
        """Remove the files made for this run only."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])  # clients that offer h2 settle on HTTP/1.1
    return context


def local_ca_setup(hosts: Iterable[str] = (), ca_dir: str | os.PathLike[str] | None = None
                   ) -> TlsSetup:
    """A fresh server certificate for :data:`LOCAL_NAMES` and ``hosts``, signed by a local CA.

    Without ``ca_dir`` the CA is new and its PEM lives in a temporary folder for this run. With
    one, the CA is kept there (``mockseg-ca.pem`` and a private key readable by its owner only)
    and reused on the next start, so a simulator or emulator has to trust it once.
    """
    import trustme

    names = list(dict.fromkeys([*LOCAL_NAMES, *hosts]))
    temporary: Path | None = None
    if ca_dir is None:
        temporary = folder = Path(tempfile.mkdtemp(prefix="mockseg-tls-"))
    else:
        folder = Path(ca_dir)
        folder.mkdir(parents=True, exist_ok=True)
    ca_file, key_file = folder / _CA_FILE, folder / _CA_KEY_FILE
    if ca_file.exists() and key_file.exists():
        try:
            ca = trustme.CA.from_pem(ca_file.read_bytes(), key_file.read_bytes())
        except ValueError as exc:
            raise TlsError(f"cannot reuse the CA in {folder}: {exc}") from None
    else:
        ca = trustme.CA(organization_name="mockseg local CA (for tests only)")
        ca.cert_pem.write_to_path(str(ca_file))
        if ca_dir is not None:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(ca.private_key_pem.bytes())
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(*names, common_name="localhost",
                         not_before=now - datetime.timedelta(hours=1),
                         not_after=now + datetime.timedelta(days=_LEAF_DAYS))
    context = _server_context()
    leaf.configure_cert(context)
    return TlsSetup(context, ca_file, temporary)


def own_cert_setup(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
                   ) -> TlsSetup:
    """Serve a certificate (chain) and key of the user's own, PEM files."""
    context = _server_context()
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot use the certificate {cert_file} with the key {key_file}: "
                       f"{getattr(exc, 'strerror', None) or exc}") from None
    return TlsSetup(context, None)
