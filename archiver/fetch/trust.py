"""TLS: which certificates the client trusts, and what a certificate that fails is.

Where the trusted certificates come from, the first that applies:

    --ca-bundle FILE           that PEM file
    --trust-store certifi      certifi's bundle (Mozilla's list), whatever the environment says
    --trust-store system       the operating system's store (the `truststore` package)
    SSL_CERT_FILE              that PEM file   } as httpx 0.28 reads them (create_ssl_context
    SSL_CERT_DIR               that directory  } with trust_env): set and not empty, FILE first
    (nothing)                  certifi's bundle

On Linux the operating system's store is OpenSSL's default locations, which SSL_CERT_FILE and
SSL_CERT_DIR override for every OpenSSL program, this one with --trust-store system included.

`--tls-verify strict` (the default) ends a link whose certificate fails verification `dead`
with error `tls`; `record` captures it anyway, without verification, and says so (the
transport's `tls_error`; the manifest's `tls_error` field).
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx

from archiver.config import Settings, check_ca_bundle
from archiver.errors import InputError


@dataclass(frozen=True)
class TrustSource:
    """Where the trusted certificates come from: `kind` is one of ca-bundle, certifi, system,
    SSL_CERT_FILE, SSL_CERT_DIR; `path` the file or directory (None for the system store)."""

    kind: str
    path: str | None


def trust_source(settings: Settings, environ: Mapping[str, str] = os.environ) -> TrustSource:
    """The source of trust for `settings` in `environ` (see the module's table)."""
    if settings.ca_bundle is not None:
        return TrustSource("ca-bundle", str(settings.ca_bundle))
    if settings.trust_store is None:
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            if environ.get(name):
                return TrustSource(name, environ[name])
    if settings.trust_store == "system":
        return TrustSource("system", None)
    import certifi

    return TrustSource("certifi", certifi.where())


def check_trust(settings: Settings, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse, for the trust source in use, an SSL_CERT_FILE with no certificate OpenSSL can
    read, or an SSL_CERT_DIR naming no directory (OpenSSL reads a `:`-separated list): found
    only at the first https request, either would make every https link `dead` (`tls`), and
    a FIFO there would hang the run. The system store reads both where OpenSSL is the system's
    (not macOS or Windows); there a missing file or directory is skipped, as OpenSSL skips it.
    --ca-bundle is checked with the other settings. Raises InputError."""
    source = trust_source(settings, environ)
    if source.kind in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        _check_variable(source.kind, source.path or "", missing_ok=False)
    if source.kind == "system" and sys.platform not in ("darwin", "win32"):
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            if environ.get(name):
                _check_variable(name, environ[name], missing_ok=True)


def _check_variable(name: str, value: str, *, missing_ok: bool) -> None:
    if name == "SSL_CERT_FILE":
        if not (missing_ok and not os.path.lexists(value)):
            check_ca_bundle(Path(value), name)
        return
    entries = [Path(entry) for entry in value.split(os.pathsep) if entry]
    if not any(entry.is_dir() for entry in entries):
        if missing_ok and not any(os.path.lexists(entry) for entry in entries):
            return
        raise InputError(f"SSL_CERT_DIR {value}: not a directory of certificates", value)


def verifying_context(settings: Settings) -> ssl.SSLContext:
    """A client context that verifies certificates and names against the trust source."""
    source = trust_source(settings)
    if source.kind == "system":
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if source.kind == "SSL_CERT_DIR":
        return ssl.create_default_context(capath=source.path)
    return ssl.create_default_context(cafile=source.path)


def unverified_context() -> ssl.SSLContext:
    """A client context that accepts any certificate for any name (`--tls-verify record`,
    after verification failed), as httpx's verify=False."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class CertificateFailed(httpx.ConnectError):
    """The origin's certificate failed verification (ssl.SSLCertVerificationError, its
    `__cause__`: error class `tls`); `reason` is OpenSSL's verification message."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: certificate verify failed: {reason}")
        self.reason = reason


def raise_tls(host: str, exc: ssl.SSLError) -> NoReturn:
    """Raise CertificateFailed for a certificate that failed verification, else
    httpx.ConnectError; either way with `exc` as the cause."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        raise CertificateFailed(host, exc.verify_message or str(exc)) from exc
    raise httpx.ConnectError(f"{host}: {exc}") from exc
