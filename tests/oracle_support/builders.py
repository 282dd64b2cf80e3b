"""Settings and in-process services for unit tests (no chain)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak

from oracle import typed_data as td
from oracle.hmac_auth import SecretBook
from oracle.service import OperatorService
from oracle.settings import OracleSettings
from oracle.store import Store

CARRIER = "oceanic"
CARRIER_SECRET = "carrier-shared-secret-0123456789"
FX_SOURCE = "fx-feed"
FX_SECRET = "fx-shared-secret-0123456789abcdef"
ORACLE_ADDRESS = "0x" + "0a" * 20
FX_ADDRESS = "0x" + "0b" * 20
CHAIN_ID = 31337


def key(name: str) -> Any:
    return Account.from_key(keccak(text=f"oracle-unit:{name}"))


def write_secrets(path: Path) -> Path:
    path.write_text(json.dumps({CARRIER: CARRIER_SECRET, FX_SOURCE: [FX_SECRET]}))
    os.chmod(path, 0o600)
    return path


def settings_for(tmp: Path, name: str = "op1", peers: list[dict[str, Any]] | None = None,
                 **overrides: Any) -> OracleSettings:
    tmp.mkdir(parents=True, exist_ok=True)
    secrets = write_secrets(tmp / "secrets.json")
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
        "hmac_secrets_file": str(secrets),
    }
    data.update(overrides)
    return OracleSettings.model_validate(data)


def domains() -> dict[str, td.Domain]:
    return {"shipment": td.logistics_domain(CHAIN_ID, ORACLE_ADDRESS), "fx": td.fx_domain(CHAIN_ID, FX_ADDRESS)}


def service_for(tmp: Path, name: str = "op1", **overrides: Any) -> OperatorService:
    settings = settings_for(tmp, name, **overrides)
    return OperatorService(settings, Store(settings.db_path), key(name), SecretBook.load(settings.hmac_secrets_file),
                           domains())
