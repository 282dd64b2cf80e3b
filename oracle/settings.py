"""One settings object per operator process, read from a JSON or TOML file.

Relative paths in the file are resolved against the file's directory. Example (JSON)::

    {
      "name": "oracle_1",
      "listen": {"host": "127.0.0.1", "port": 8701},
      "db_path": "state/oracle_1.db",
      "key": {"keystore_dir": "keystore", "name": "oracle_1", "password_file": "keystore/.password"},
      "chain": {"rpc_url": "http://127.0.0.1:8545", "deployment_file": "../deployments/local.json"},
      "peers": [{"name": "oracle_2", "url": "http://127.0.0.1:8702", "address": "0x..."}],
      "hmac_secrets_file": "secrets/carriers.json"
    }
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _address(v: str) -> str:
    if not isinstance(v, str) or not is_address(v):
        raise ValueError(f"{v!r} is not an Ethereum address")
    return to_checksum_address(v)


class ListenSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class KeySettings(_Strict):
    keystore_dir: Path
    name: str
    password_env: str = "TRADENET_KEYSTORE_PASSWORD"
    password_file: Path | None = None


class ChainSettings(_Strict):
    rpc_url: str
    deployment_file: Path | None = None
    # explicit addresses win over the deployment file
    logistics_oracle: str | None = None
    fx_rate_store: str | None = None
    chain_id: int | None = None
    # ABI JSON files overriding the compiled artifacts, by contract name ("LogisticsOracle", "FxRateStore")
    abi_files: dict[str, Path] = Field(default_factory=dict)
    fee_mode: Literal["eip1559", "legacy"] = "eip1559"
    receipt_timeout_seconds: PositiveSeconds = 60.0

    @field_validator("logistics_oracle", "fx_rate_store")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        return None if v is None else _address(v)


class PeerSettings(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    url: Annotated[str, Field(pattern=r"^https?://")]
    address: str

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        return _address(v)


class ReplaySettings(_Strict):
    carrier_events: list[Path] = Field(default_factory=list)  # JSON lines of DCSA events, ingested at start
    fx_rates: list[Path] = Field(default_factory=list)  # JSON lines of FX observations
    source: str = "replay-file"


class OracleSettings(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    listen: ListenSettings
    db_path: Path
    key: KeySettings
    chain: ChainSettings
    peers: list[PeerSettings] = Field(default_factory=list)
    hmac_secrets_file: Path
    replay: ReplaySettings = Field(default_factory=ReplaySettings)

    hmac_max_skew_seconds: int = Field(default=300, ge=1, le=3600)
    max_event_future_skew_seconds: int = Field(default=300, ge=0, le=3600)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # submission: the leader for a digest submits at once, the next operator in rotation after one
    # timeout, and so on
    leader_timeout_seconds: PositiveSeconds = 10.0
    poll_interval_seconds: PositiveSeconds = 0.25
    confirm_poll_seconds: PositiveSeconds = 1.0
    chain_refresh_seconds: PositiveSeconds = 30.0
    peer_timeout_seconds: PositiveSeconds = 3.0
    delivery_backoff_max_seconds: PositiveSeconds = 30.0
    submit_backoff_max_seconds: PositiveSeconds = 60.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_file: Path | None = None

    @model_validator(mode="after")
    def _distinct_peers(self) -> "OracleSettings":
        names = [p.name for p in self.peers]
        if len(set(names)) != len(names) or self.name in names:
            raise ValueError("peer names must be distinct and differ from the operator's own name")
        return self


def _resolve(data: dict, base: Path) -> dict:
    def fix(value: object) -> object:
        if isinstance(value, str) and value and not value.startswith(("http://", "https://", "0x")):
            p = Path(value).expanduser()
            return str(p if p.is_absolute() else (base / p))
        return value

    out = json.loads(json.dumps(data))
    for key in ("db_path", "hmac_secrets_file", "log_file"):
        if out.get(key):
            out[key] = fix(out[key])
    key = out.get("key") or {}
    for k in ("keystore_dir", "password_file"):
        if key.get(k):
            key[k] = fix(key[k])
    chain = out.get("chain") or {}
    if chain.get("deployment_file"):
        chain["deployment_file"] = fix(chain["deployment_file"])
    if isinstance(chain.get("abi_files"), dict):
        chain["abi_files"] = {n: fix(p) for n, p in chain["abi_files"].items()}
    replay = out.get("replay") or {}
    for k in ("carrier_events", "fx_rates"):
        if isinstance(replay.get(k), list):
            replay[k] = [fix(p) for p in replay[k]]
    return out


def load_settings(path: Path | str) -> OracleSettings:
    path = Path(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read operator config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"operator config {path} must be an object")
    try:
        return OracleSettings.model_validate(_resolve(data, path.resolve().parent))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
