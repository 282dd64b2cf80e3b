"""Who may post what: the operator's credential file, by kind, reloaded without a restart.

The file (JSON, mode 600) names every source, once::

    {
      "carriers": {
        "oceanic": {
          "member": "0x5aAe...",                         # its on-chain LOGISTICS member account
          "secrets": ["<at least 16 characters>",
                      {"secret": "<the next one>", "notBefore": "2026-12-01T00:00:00Z"},
                      {"secret": "<the old one>", "notAfter": "2026-12-08T00:00:00Z"}],
          "subscriptions": [                             # DCSA v2.2 subscriptions pushing to us
            {"id": "<Subscription-ID uuid>", "secrets": [{"base64": "<the subscription secret>"}]}],
          "parties": [{"partyCode": "OCLU", "codeListProvider": "SMDG"}],   # optional, v3 events
          "referencePrefixes": ["OCLU"]                  # optional: its B/L and booking numbers
        }
      },
      "fxSources": {"fx-feed": {"secrets": ["<at least 16 characters>"]}}
    }

- A **carrier** credential may post carrier events only (``/carrier-events``, ``/events``) and
  read the status of its own events (``GET /events/{eventID}``); it is bound to an on-chain
  ``LOGISTICS`` member (``oracle.membership``). An **FX source** may post FX observations only.
- **Rotation**: a source may hold several secrets at once, each optionally valid only from
  ``notBefore`` and/or until ``notAfter`` (ISO 8601 with offset): add the new one, move the
  carrier over, let the old one expire (or delete it). **Revocation**: delete the secret or the
  source, or give it a past ``notAfter``.
- The file is re-read when it changes (its mtime, size or inode; checked at most every
  ``credentials_check_seconds`` on use) and on SIGHUP. A file that does not validate is not
  used: the operator keeps the previous credentials and reports the error in the log and in
  ``/status``, so a typo cannot open (or close) the door.
- **DCSA subscription secrets** (``Notification-Signature``) are Base64, as DCSA publishes them
  (``format: byte``). The HMAC key is the *decoded* bytes, which must be exactly 64 bytes: DCSA's
  reference implementation (DCSA-TNT ``SignatureMethod.HMAC_SHA256``, key length 64..64 bytes)
  takes only 64-byte keys, and the specification's example secret decodes to exactly 64 bytes
  (its Base64 text would be 88). See ``oracle/README.md``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping

from eth_utils import is_address, to_checksum_address
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, \
    model_validator

from chain import jsonsafe

from .errors import ConfigError

log = logging.getLogger(__name__)

SourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
SUBSCRIPTION_KEY_BYTES = 64
_MAX_FILE_BYTES = 1024 * 1024


class Kind(str, enum.Enum):
    CARRIER = "carrier"
    FX = "fx"

    @property
    def may_post(self) -> str:
        return "carrier events" if self is Kind.CARRIER else "FX observations"


# ---------------------------------------------------------------------------------------- file model
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Validity(_Model):
    notBefore: AwareDatetime | None = None
    notAfter: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "_Validity":
        if self.notBefore and self.notAfter and self.notAfter <= self.notBefore:
            raise ValueError("notAfter must be later than notBefore")
        return self


class SecretEntry(_Validity):
    secret: Annotated[str, StringConstraints(min_length=16, max_length=512)]


class NotificationSecretEntry(_Validity):
    base64: str

    @field_validator("base64")
    @classmethod
    def _key(cls, v: str) -> str:
        try:
            key = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be Base64") from None
        if len(key) != SUBSCRIPTION_KEY_BYTES:
            raise ValueError(f"must decode to exactly {SUBSCRIPTION_KEY_BYTES} bytes (DCSA's HMAC-SHA256 key "
                             f"length), not {len(key)}")
        return v


class SubscriptionEntry(_Model):
    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                                 r"[0-9a-fA-F]{12}$")]
    secrets: list[NotificationSecretEntry] = Field(min_length=1, max_length=8)


class PartyEntry(_Model):
    partyCode: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    codeListProvider: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class CarrierEntry(_Model):
    member: str
    secrets: list[Annotated[str, StringConstraints(min_length=16, max_length=512)] | SecretEntry] = \
        Field(default_factory=list, max_length=8)
    subscriptions: list[SubscriptionEntry] = Field(default_factory=list, max_length=32)
    parties: list[PartyEntry] | None = Field(default=None, max_length=32)
    referencePrefixes: list[Annotated[str, StringConstraints(min_length=1, max_length=20,
                                                             pattern=r"^[\x21-\x7E]+$")]] | None = \
        Field(default=None, max_length=64)

    @field_validator("member")
    @classmethod
    def _member(cls, v: str) -> str:
        if not is_address(v):
            raise ValueError(f"{v!r} is not an Ethereum address")
        return to_checksum_address(v)

    @model_validator(mode="after")
    def _some_secret(self) -> "CarrierEntry":
        if not self.secrets and not self.subscriptions:
            raise ValueError("a carrier needs at least one secret or one subscription")
        return self


class FxSourceEntry(_Model):
    secrets: list[Annotated[str, StringConstraints(min_length=16, max_length=512)] | SecretEntry] = \
        Field(min_length=1, max_length=8)


class CredentialFile(_Model):
    carriers: dict[SourceId, CarrierEntry] = Field(default_factory=dict)
    fxSources: dict[SourceId, FxSourceEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct(self) -> "CredentialFile":
        both = set(self.carriers) & set(self.fxSources)
        if both:
            raise ValueError(f"source ids must be unique across carriers and fxSources: {sorted(both)}")
        if not self.carriers and not self.fxSources:
            raise ValueError("no carriers and no fxSources")
        ids = [s.id.lower() for c in self.carriers.values() for s in c.subscriptions]
        if len(set(ids)) != len(ids):
            raise ValueError("a subscription id may belong to one carrier only")
        return self


# ---------------------------------------------------------------------------------------- runtime view
def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


@dataclass(frozen=True)
class Secret:
    key: bytes
    not_before: float | None = None
    not_after: float | None = None

    def valid_at(self, now: float) -> bool:
        return (self.not_before is None or now >= self.not_before) and (self.not_after is None or now < self.not_after)

    def window(self) -> str:
        def iso(t: float | None) -> str:
            return "-" if t is None else datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        return f"valid from {iso(self.not_before)} until {iso(self.not_after)}"


@dataclass(frozen=True)
class Credential:
    source: str
    kind: Kind
    secrets: tuple[Secret, ...]
    member: str | None = None  # carriers: the LOGISTICS member account
    subscriptions: Mapping[str, tuple[Secret, ...]] = field(default_factory=dict)  # lower-case id -> keys
    parties: frozenset[str] | None = None  # "<codeListProvider>:<partyCode>" a carrier may speak for
    reference_prefixes: tuple[str, ...] | None = None


def party_key(code_list_provider: str, party_code: str) -> str:
    return f"{code_list_provider}:{party_code}"


def _secret(entry: str | SecretEntry) -> Secret:
    if isinstance(entry, str):
        return Secret(entry.encode("utf-8"))
    return Secret(entry.secret.encode("utf-8"), _ts(entry.notBefore), _ts(entry.notAfter))


@dataclass(frozen=True)
class CredentialBook:
    """One validated credential file."""

    by_source: Mapping[str, Credential]
    by_subscription: Mapping[str, str]  # lower-case Subscription-ID -> source
    path: Path | None = None
    loaded_at: float = 0.0

    @classmethod
    def from_document(cls, data: Any, path: Path | None = None) -> "CredentialBook":
        try:
            doc = CredentialFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"credential file {path or ''}: {where}: {first['msg']}") from None
        creds: dict[str, Credential] = {}
        subs: dict[str, str] = {}
        for source, c in doc.carriers.items():
            subscriptions = {}
            for sub in c.subscriptions:
                subscriptions[sub.id.lower()] = tuple(
                    Secret(base64.b64decode(s.base64), _ts(s.notBefore), _ts(s.notAfter)) for s in sub.secrets)
                subs[sub.id.lower()] = source
            creds[source] = Credential(
                source, Kind.CARRIER, tuple(_secret(s) for s in c.secrets), c.member, subscriptions,
                None if c.parties is None else frozenset(party_key(p.codeListProvider, p.partyCode) for p in c.parties),
                None if c.referencePrefixes is None else tuple(c.referencePrefixes))
        for source, f in doc.fxSources.items():
            creds[source] = Credential(source, Kind.FX, tuple(_secret(s) for s in f.secrets))
        return cls(creds, subs, path, time.time())

    @classmethod
    def load(cls, path: Path) -> "CredentialBook":
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read credential file {path}: {exc}") from None
        try:
            data = jsonsafe.loads(raw, max_bytes=_MAX_FILE_BYTES)
        except jsonsafe.JsonInputError as exc:
            raise ConfigError(f"credential file {path}: {exc.detail}") from None
        if isinstance(data, dict) and data and not ({"carriers", "fxSources"} & data.keys()):
            raise ConfigError(f"credential file {path} is in the old flat format ({{source: secret}}), which "
                              f"let any source post anything; name each source under \"carriers\" (with its "
                              f"LOGISTICS member address) or \"fxSources\": see oracle/credentials.py")
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("credential file %s is readable by group/others (mode %o); chmod 600 it", path,
                        stat.S_IMODE(mode))
        return cls.from_document(data, path)

    def get(self, source: str) -> Credential | None:
        return self.by_source.get(source)

    def carriers(self) -> list[Credential]:
        return [c for c in self.by_source.values() if c.kind is Kind.CARRIER]

    def summary(self) -> dict[str, Any]:
        return {c.source: {"kind": c.kind.value, "member": c.member, "secrets": len(c.secrets),
                           "subscriptions": len(c.subscriptions)} for c in self.by_source.values()}


def _fingerprint(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class CredentialStore:
    """The current :class:`CredentialBook`, re-read when the file changed or on :meth:`request_reload`."""

    def __init__(self, path: Path, check_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 on_reload: Callable[[CredentialBook], None] | None = None):
        self.path = Path(path)
        self.check_seconds = check_seconds
        self.clock = clock
        self.on_reload = on_reload
        self._lock = threading.Lock()
        self._book = CredentialBook.load(self.path)  # a bad file at start is a configuration error
        self._fingerprint = _fingerprint(self.path)
        self._checked = clock()
        self._forced = False
        self.last_error: str | None = None
        self.reloads = 0

    def request_reload(self) -> None:
        """Re-read at the next use (SIGHUP). Safe to call from a signal handler."""
        self._forced = True

    def current(self) -> CredentialBook:
        now = self.clock()
        if not self._forced and now - self._checked < self.check_seconds:
            return self._book
        with self._lock:
            forced, self._forced = self._forced, False
            self._checked = now
            fp = _fingerprint(self.path)
            if forced or fp != self._fingerprint:
                self._fingerprint = fp
                self._reload()
            return self._book

    def _reload(self) -> None:
        try:
            book = CredentialBook.load(self.path)
        except ConfigError as exc:
            self.last_error = str(exc)
            log.error("credential file not reloaded, the previous credentials stay in force: %s", exc)
            return
        old = self._book
        self._book, self.last_error = book, None
        self.reloads += 1
        removed = sorted(set(old.by_source) - set(book.by_source))
        added = sorted(set(book.by_source) - set(old.by_source))
        log.info("credential file %s reloaded: %d sources%s%s", self.path, len(book.by_source),
                 f", added {added}" if added else "", f", removed {removed}" if removed else "")
        if self.on_reload is not None:
            self.on_reload(book)

    def status(self) -> dict[str, Any]:
        book = self._book
        return {"file": str(self.path), "loadedAt": book.loaded_at, "reloads": self.reloads,
                "lastError": self.last_error, "sources": book.summary()}


def credential_document(carriers: Mapping[str, tuple[str, str]] | None = None,
                        fx_sources: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A credential file's content: carriers as ``{id: (member address, secret)}``, FX sources as
    ``{id: secret}`` (for the local network, benchmarks and tests)."""
    return {"carriers": {cid: {"member": member, "secrets": [secret]} for cid, (member, secret) in
                         (carriers or {}).items()},
            "fxSources": {sid: {"secrets": [secret]} for sid, secret in (fx_sources or {}).items()}}
