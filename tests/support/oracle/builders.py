"""Settings and in-process services for unit tests (no chain).

The carriers' on-chain membership is a :class:`FakeRegistry` here. ``service_for`` also builds the
service of the daemon as it was before credentials were scoped (no ``oracle.credentials``), so the
findings' regression tests can be run against the old code (``git stash`` of ``oracle/``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak

from oracle import typed_data as td
from oracle.service import OperatorService
from oracle.settings import OracleSettings
from oracle.store import Store

try:
    from oracle.credentials import CredentialStore, credential_document
    from oracle.membership import MembershipCache
except ImportError:  # the daemon before finding 14's fix
    CredentialStore = None  # type: ignore[assignment,misc]

CARRIER = "oceanic"
CARRIER_SECRET = "carrier-shared-secret-0123456789"
FX_SOURCE = "fx-feed"
FX_SECRET = "fx-shared-secret-0123456789abcdef"
ORACLE_ADDRESS = "0x" + "0a" * 20
FX_ADDRESS = "0x" + "0b" * 20
CHAIN_ID = 31337
CARRIER_MEMBER = "0x" + "c1" * 20  # the carrier's LOGISTICS member account


class FakeRegistry:
    """``registry.isActive(account, LOGISTICS)`` from a dict; ``down`` makes it unreachable."""

    def __init__(self, active: dict[str, bool] | None = None):
        self.active = {k.lower(): v for k, v in (active or {CARRIER_MEMBER: True}).items()}
        self.down = False
        self.reads = 0

    def is_active_logistics(self, account: str) -> bool:
        from oracle.errors import ChainUnavailable

        self.reads += 1
        if self.down:
            raise ChainUnavailable("registry unreachable (test)")
        return self.active.get(account.lower(), False)


def key(name: str) -> Any:
    return Account.from_key(keccak(text=f"oracle-unit:{name}"))


def credentials(**carrier_extra: Any) -> dict[str, Any]:
    doc = credential_document({CARRIER: (CARRIER_MEMBER, CARRIER_SECRET)}, {FX_SOURCE: FX_SECRET})
    doc["carriers"][CARRIER].update(carrier_extra)
    return doc


def write_secrets(path: Path, document: dict[str, Any] | None = None) -> Path:
    if CredentialStore is None:
        document = {CARRIER: CARRIER_SECRET, FX_SOURCE: [FX_SECRET]}
    path.write_text(json.dumps(document or credentials()))
    os.chmod(path, 0o600)
    return path


def settings_for(tmp: Path, name: str = "op1", peers: list[dict[str, Any]] | None = None,
                 credentials_doc: dict[str, Any] | None = None, **overrides: Any) -> OracleSettings:
    tmp.mkdir(parents=True, exist_ok=True)
    secrets = write_secrets(tmp / "secrets.json", credentials_doc)
    data: dict[str, Any] = {
        "name": name,
        "listen": {"host": "127.0.0.1", "port": 18000},
        "db_path": str(tmp / f"{name}.db"),
        "key": {"keystore_dir": str(tmp / "ks"), "name": name},
        "chain": {"rpc_url": "http://127.0.0.1:1", "logistics_oracle": ORACLE_ADDRESS, "fx_rate_store": FX_ADDRESS,
                  "chain_id": CHAIN_ID},
        "peers": peers if peers is not None else [
            {"name": n, "url": f"http://127.0.0.1:1800{n[-1]}", "address": key(n).address}
            for n in ("op1", "op2", "op3") if n != name
        ],
        ("credentials_file" if "credentials_file" in OracleSettings.model_fields else "hmac_secrets_file"):
            str(secrets),
    }
    data.update(overrides)
    return OracleSettings.model_validate(data)


def domains() -> dict[str, td.Domain]:
    return {"shipment": td.logistics_domain(CHAIN_ID, ORACLE_ADDRESS), "fx": td.fx_domain(CHAIN_ID, FX_ADDRESS)}


def service_for(tmp: Path, name: str = "op1", *, registry: FakeRegistry | None = None, clock: Any = None,
                credentials_doc: dict[str, Any] | None = None, **overrides: Any) -> OperatorService:
    settings = settings_for(tmp, name, credentials_doc=credentials_doc, **overrides)
    kw = {"clock": clock} if clock is not None else {}
    if CredentialStore is None:  # the daemon before finding 14's fix
        from oracle.hmac_auth import SecretBook  # type: ignore[attr-defined]

        return OperatorService(settings, Store(settings.db_path), key(name),
                               SecretBook.load(settings.hmac_secrets_file), domains(), **kw)
    membership = MembershipCache(registry or FakeRegistry(), ttl=settings.member_cache_seconds,
                                 grace=settings.member_grace_seconds)
    creds = CredentialStore(settings.credentials_file, settings.credentials_check_seconds)
    return OperatorService(settings, Store(settings.db_path), key(name), creds, domains(), membership, **kw)
