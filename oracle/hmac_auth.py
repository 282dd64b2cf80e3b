"""HMAC-SHA256 authentication of carrier and FX-source posts.

A post carries three headers:

- ``X-Tradenet-Carrier: <source id>`` selects the shared secret;
- ``X-Tradenet-Timestamp: <unix seconds>``;
- ``X-Tradenet-Signature: sha256=<hex>`` = HMAC-SHA256(secret, "<timestamp>." || raw body).

The timestamp is inside the MAC and must lie within ``max_skew`` seconds of the operator's clock,
so a captured post cannot be replayed later; within the window a replay is caught by the event id
(idempotent answer, never a second signature). Comparison is constant-time; a source may have
several secrets at once (rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import AuthenticationFailed, ConfigError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tradenet-Signature"
TIMESTAMP_HEADER = "X-Tradenet-Timestamp"
SOURCE_HEADER = "X-Tradenet-Carrier"
SCHEME = "sha256="


def mac(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign_headers(source: str, secret: bytes | str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a carrier sends with `body` (used by the replay feed, demos and tests)."""
    key = secret.encode() if isinstance(secret, str) else secret
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {SOURCE_HEADER: source, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: SCHEME + mac(key, ts, body),
            "Content-Type": "application/json"}


@dataclass(frozen=True)
class SecretBook:
    """Shared secrets by source id, loaded from a JSON file ``{"<source>": "<secret>" | ["<s1>", "<s2>"]}``."""

    secrets: Mapping[str, tuple[bytes, ...]]

    @classmethod
    def load(cls, path: Path) -> "SecretBook":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read HMAC secrets file {path}: {exc}") from None
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"HMAC secrets file {path} must be a non-empty JSON object")
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("HMAC secrets file %s is readable by group/others (mode %o); chmod 600 it",
                        path, stat.S_IMODE(mode))
        book: dict[str, tuple[bytes, ...]] = {}
        for source, value in data.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) and len(v) >= 16 for v in values):
                raise ConfigError(f"secret(s) of {source!r} in {path} must be strings of at least 16 characters")
            book[source] = tuple(v.encode() for v in values)
        return cls(book)

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
               max_skew: int = 300) -> str:
        """The authenticated source id, or AuthenticationFailed naming the header at fault."""
        lower = {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive
        source = lower.get(SOURCE_HEADER.lower())
        timestamp = lower.get(TIMESTAMP_HEADER.lower())
        signature = lower.get(SIGNATURE_HEADER.lower())
        if not signature:
            raise AuthenticationFailed(f"missing {SIGNATURE_HEADER} header", field=SIGNATURE_HEADER)
        if not source:
            raise AuthenticationFailed(f"missing {SOURCE_HEADER} header", field=SOURCE_HEADER)
        if not timestamp:
            raise AuthenticationFailed(f"missing {TIMESTAMP_HEADER} header", field=TIMESTAMP_HEADER)
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise AuthenticationFailed("timestamp must be unix seconds", field=TIMESTAMP_HEADER)
        if not signature.startswith(SCHEME):
            raise AuthenticationFailed(f"signature must be '{SCHEME}<hex>'", field=SIGNATURE_HEADER)
        now = time.time() if now is None else now
        if abs(now - int(timestamp)) > max_skew:
            raise AuthenticationFailed(f"timestamp outside the allowed window of {max_skew}s (expired or replayed)",
                                       field=TIMESTAMP_HEADER)
        given = signature[len(SCHEME):].strip().lower().encode("utf-8", "replace")
        secrets = self.secrets.get(source, ())
        # compare against every secret (and a dummy for unknown sources) to keep timing uniform
        ok = False
        for secret in secrets or (b"\x00" * 32,):
            ok |= hmac.compare_digest(mac(secret, timestamp, body).encode("ascii"), given)
        if not secrets or not ok:
            raise AuthenticationFailed("signature does not match the body for this source", field=SIGNATURE_HEADER)
        return source
