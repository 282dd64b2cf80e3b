"""Authentication of carrier and FX-source requests, before their body is parsed.

Two schemes, each over the exact bytes received:

1. **tradenet** (every route): three headers

   - ``X-Tradenet-Carrier: <source id>`` selects the credential (carriers and FX sources alike);
   - ``X-Tradenet-Timestamp: <unix seconds>`` (1 to 12 ASCII digits);
   - ``X-Tradenet-Signature: sha256=<hex>`` = HMAC-SHA256(secret, "<timestamp>." || what is signed),
     where what is signed is the raw body of a POST, and ``"<METHOD> <path>"`` (e.g.
     ``GET /events/3cecb101-...``, with ``?query`` if any) of a request without a body.

   The timestamp is inside the MAC and must lie within ``max_skew`` seconds of the operator's
   clock, so a captured request cannot be replayed later; within the window a replay is caught by
   the event's identity (idempotent answer, never a second signature).

2. **DCSA v2.2 subscription** (carrier event routes only): ``Notification-Signature:
   sha256=<hex>`` = HMAC-SHA256(key, raw body), the key being the subscription's 64-byte secret
   (``oracle.credentials``), selected by the ``Subscription-ID`` header. DCSA's scheme has no
   timestamp: a replayed notification is answered from the event's identity (duplicate), never
   signed twice.

Comparisons are constant-time; every secret of the source is tried (rotation), and a dummy one
for an unknown source, so timing does not tell which sources exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from .credentials import Credential, CredentialBook, Kind, Secret
from .errors import AuthenticationFailed, Forbidden

SIGNATURE_HEADER = "X-Tradenet-Signature"
TIMESTAMP_HEADER = "X-Tradenet-Timestamp"
SOURCE_HEADER = "X-Tradenet-Carrier"
NOTIFICATION_HEADER = "Notification-Signature"
SUBSCRIPTION_HEADER = "Subscription-ID"
SCHEME = "sha256="
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# DCSA's pattern for the header value: "\s*([a-zA-Z0-9-_+]+=[0-9a-fA-F]+)\s*"
_NOTIFICATION = re.compile(r"\s*([a-zA-Z0-9_+-]+)=([0-9a-fA-F]+)\s*")
_DUMMY = (Secret(b"\x00" * 32),)


def mac(secret: bytes, timestamp: str, signed: bytes) -> str:
    return hmac.new(secret, timestamp.encode("ascii") + b"." + signed, hashlib.sha256).hexdigest()


def notification_mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def request_target(method: str, path: str) -> bytes:
    """What a body-less request signs: ``"GET /events/<id>"``."""
    return f"{method.upper()} {path}".encode("utf-8")


def sign_headers(source: str, secret: bytes | str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a carrier sends with a POST of `body` (used by the replay feed, demos and tests)."""
    key = secret.encode() if isinstance(secret, str) else secret
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {SOURCE_HEADER: source, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: SCHEME + mac(key, ts, body),
            "Content-Type": "application/json"}


def sign_request_headers(source: str, secret: bytes | str, method: str, path: str,
                         timestamp: int | None = None) -> dict[str, str]:
    """Headers of a body-less request (``GET /events/{eventID}``)."""
    headers = sign_headers(source, secret, request_target(method, path), timestamp)
    del headers["Content-Type"]
    return headers


def notification_headers(subscription_id: str, key: bytes, body: bytes) -> dict[str, str]:
    """What a DCSA v2.2 publisher sends with a notification."""
    return {SUBSCRIPTION_HEADER: subscription_id, NOTIFICATION_HEADER: SCHEME + notification_mac(key, body),
            "API-Version": "2.2.0", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Principal:
    credential: Credential
    scheme: str  # "tradenet" | "dcsa-notification"

    @property
    def source(self) -> str:
        return self.credential.source


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive


def _match(secrets: tuple[Secret, ...], expected: Callable[[bytes], bytes], given: bytes) -> Secret | None:
    """The secret whose MAC equals `given` (every one is tried: uniform timing), or None."""
    found = None
    for secret in secrets:
        if hmac.compare_digest(expected(secret.key), given) and found is None:
            found = secret
    return found


def _check_window(source: str, secret: Secret, now: float, field: str) -> None:
    if not secret.valid_at(now):
        raise AuthenticationFailed(f"this secret of {source} is not valid now ({secret.window()}); "
                                   f"use its current secret", field=field)


def verify_tradenet(book: CredentialBook, headers: Mapping[str, str], signed: bytes, *, now: float,
                    max_skew: int) -> Credential:
    lower = _lower(headers)
    source = lower.get(SOURCE_HEADER.lower())
    timestamp = lower.get(TIMESTAMP_HEADER.lower())
    signature = lower.get(SIGNATURE_HEADER.lower())
    if not signature:
        raise AuthenticationFailed(f"missing {SIGNATURE_HEADER} header", field=SIGNATURE_HEADER)
    if not source:
        raise AuthenticationFailed(f"missing {SOURCE_HEADER} header", field=SOURCE_HEADER)
    if not timestamp:
        raise AuthenticationFailed(f"missing {TIMESTAMP_HEADER} header", field=TIMESTAMP_HEADER)
    if not _UNIX_SECONDS.fullmatch(timestamp):  # ASCII only: str.isdigit() accepts "¹" and "١"
        raise AuthenticationFailed("timestamp must be unix seconds (1 to 12 ASCII digits)", field=TIMESTAMP_HEADER)
    if not signature.startswith(SCHEME):
        raise AuthenticationFailed(f"signature must be '{SCHEME}<hex>'", field=SIGNATURE_HEADER)
    if abs(now - int(timestamp)) > max_skew:
        raise AuthenticationFailed(f"timestamp outside the allowed window of {max_skew}s (expired or replayed)",
                                   field=TIMESTAMP_HEADER)
    given = signature[len(SCHEME):].strip().lower().encode("utf-8", "replace")
    credential = book.get(source)
    secrets = credential.secrets if credential is not None and credential.secrets else _DUMMY
    found = _match(secrets, lambda key: mac(key, timestamp, signed).encode("ascii"), given)
    if credential is None or not credential.secrets or found is None:
        raise AuthenticationFailed("signature does not match the body for this source", field=SIGNATURE_HEADER)
    _check_window(source, found, now, SIGNATURE_HEADER)
    return credential


def verify_notification(book: CredentialBook, headers: Mapping[str, str], body: bytes, *, now: float) -> Credential:
    lower = _lower(headers)
    value = lower.get(NOTIFICATION_HEADER.lower(), "")
    m = _NOTIFICATION.fullmatch(value)
    if m is None:
        raise AuthenticationFailed(f"{NOTIFICATION_HEADER} must be '<signature-type>=<hex>'", field=NOTIFICATION_HEADER)
    kind, given = m.group(1).lower(), m.group(2).lower()
    if kind != "sha256":
        raise AuthenticationFailed(f"signature type {kind!r} is not supported (DCSA defines sha256)",
                                   field=NOTIFICATION_HEADER)
    if not _HEX64.fullmatch(given):
        raise AuthenticationFailed("a sha256 signature is 64 hex digits", field=NOTIFICATION_HEADER)
    subscription = lower.get(SUBSCRIPTION_HEADER.lower(), "").strip().lower()
    if not subscription:
        raise AuthenticationFailed(f"missing {SUBSCRIPTION_HEADER} header (it selects the subscription's secret)",
                                   field=SUBSCRIPTION_HEADER)
    source = book.by_subscription.get(subscription)
    credential = book.get(source) if source else None
    keys = credential.subscriptions.get(subscription, ()) if credential is not None else ()
    found = _match(keys or _DUMMY, lambda key: notification_mac(key, body).encode("ascii"), given.encode())
    if credential is None or not keys or found is None:
        raise AuthenticationFailed("Notification-Signature does not match the body for this subscription",
                                   field=NOTIFICATION_HEADER)
    claimed = lower.get(SOURCE_HEADER.lower())
    if claimed and claimed != credential.source:
        raise AuthenticationFailed(f"subscription {subscription} belongs to another source than {claimed}",
                                   field=SOURCE_HEADER)
    _check_window(credential.source, found, now, NOTIFICATION_HEADER)
    return credential


def authenticate(book: CredentialBook, headers: Mapping[str, str], signed: bytes, *, kind: Kind, now: float,
                 max_skew: int, allow_notification: bool = False) -> Principal:
    """The authenticated principal, allowed to do what `kind` credentials do.

    AuthenticationFailed (401) names the header at fault; Forbidden (403) when the credential
    is valid but of another kind (finding 14: a carrier's secret on ``/fx-rates``)."""
    lower = _lower(headers)
    if allow_notification and NOTIFICATION_HEADER.lower() in lower and SIGNATURE_HEADER.lower() not in lower:
        principal = Principal(verify_notification(book, headers, signed, now=now), "dcsa-notification")
    else:
        principal = Principal(verify_tradenet(book, headers, signed, now=now, max_skew=max_skew), "tradenet")
    credential = principal.credential
    if credential.kind is not kind:
        raise Forbidden(f"{credential.source} is a {credential.kind.value} credential: it may post "
                        f"{credential.kind.may_post} only, not {kind.may_post}", field=SOURCE_HEADER)
    return principal
