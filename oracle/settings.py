"""One settings object per operator process, read from a JSON or TOML file (the project's strict
settings models, ``chain.settings.StrictModel``).

Relative paths in the file are resolved against the file's directory. Example (JSON)::

    {
      "name": "oracle_1",
      "listen": {"host": "127.0.0.1", "port": 8701},
      "db_path": "state/oracle_1.db",
      "key": {"keystore_dir": "keystore", "name": "oracle_1", "password_file": "keystore/.password"},
      "chain": {"rpc_url": "http://127.0.0.1:8545", "deployment_file": "../deployments/local.json"},
      "peers": [{"name": "oracle_2", "url": "http://127.0.0.1:8702", "address": "0x..."}],
      "credentials_file": "secrets/credentials.json"
    }

``credentials_file`` is the carriers' and FX sources' credential file (``oracle.credentials``);
``http`` holds the limits every request is held to (``oracle.http_guard``); ``metrics`` who may
read ``/metrics`` (loopback by default).
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import Field, ValidationError, field_validator, model_validator

from chain.settings import StrictModel

from .errors import ConfigError

PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]


def _address(v: str) -> str:
    if not isinstance(v, str) or not is_address(v):
        raise ValueError(f"{v!r} is not an Ethereum address")
    return to_checksum_address(v)


class ListenSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class KeySettings(StrictModel):
    keystore_dir: Path
    name: str
    password_env: str = "TRADENET_KEYSTORE_PASSWORD"
    password_file: Path | None = None


class ChainSettings(StrictModel):
    rpc_url: str
    deployment_file: Path | None = None
    # explicit addresses win over the deployment file
    logistics_oracle: str | None = None
    fx_rate_store: str | None = None
    chain_id: int | None = None
    # ABI JSON files overriding the compiled artifacts, by contract name ("LogisticsOracle", "FxRateStore")
    abi_files: dict[str, Path] = Field(default_factory=dict)
    # the ParticipantRegistry (carriers' membership checks); default: the deployment file's ``registry``
    registry: str | None = None
    # the DealEngine and DealLens (deals named in reports and poked); default: the deployment file's
    deal_engine: str | None = None
    deal_lens: str | None = None
    # chain.geth.fee_policy: "geth" on a geth Clique network (a floor under the fee cap)
    fee_mode: Literal["eip1559", "legacy", "geth"] = "eip1559"
    receipt_timeout_seconds: PositiveSeconds = 60.0

    @field_validator("logistics_oracle", "fx_rate_store", "registry", "deal_engine", "deal_lens")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        return None if v is None else _address(v)


class PeerSettings(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    url: Annotated[str, Field(pattern=r"^https?://")]
    address: str

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        return _address(v)


class HttpSettings(StrictModel):
    """What one request may cost the operator. Bodies are counted while they stream in
    (``oracle.http_guard``): a body over its route's cap is refused with 413 as soon as the cap is
    passed, before it is buffered; a client that sends its request head or body too slowly is cut
    off; requests beyond ``max_concurrent_requests`` are answered 503 at once."""

    # one carrier event (or a DCSA v2.2 callback array) on /carrier-events
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # a batch of events on the DCSA v3 subscriber endpoint /events
    max_batch_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # /signatures and /fx-rates: a peer signature or an FX observation is well under 2 KB
    max_small_body_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    max_batch_events: int = Field(default=200, ge=1, le=10_000)
    # DCSA events nest about 6 levels, a v3 batch 8: deeper is refused before parsing
    max_json_depth: int = Field(default=32, ge=8, le=256)
    header_timeout_seconds: PositiveSeconds = 10.0  # the whole request head
    read_timeout_seconds: PositiveSeconds = 10.0  # between two chunks of a body
    body_timeout_seconds: PositiveSeconds = 30.0  # the whole body
    max_concurrent_requests: int = Field(default=32, ge=1, le=4096)
    max_connections: int = Field(default=256, ge=2, le=65536)


class MetricsSettings(StrictModel):
    """``GET /metrics`` (Prometheus text format, ``oracle.metrics``): no credential, so it answers
    only clients whose address is in ``allow_from`` (default: loopback only; add the Prometheus
    server's network to scrape from elsewhere). Others get 403."""

    enabled: bool = True
    allow_from: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad entry
        return v

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n, strict=False) for n in self.allow_from]


class ReplaySettings(StrictModel):
    carrier_events: list[Path] = Field(default_factory=list)  # JSON lines of DCSA events, ingested at start
    fx_rates: list[Path] = Field(default_factory=list)  # JSON lines of FX observations
    source: str = "replay-file"


class OracleSettings(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    listen: ListenSettings
    db_path: Path
    key: KeySettings
    chain: ChainSettings
    peers: list[PeerSettings] = Field(default_factory=list)
    credentials_file: Path
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    hmac_max_skew_seconds: int = Field(default=300, ge=1, le=3600)
    max_event_future_skew_seconds: int = Field(default=300, ge=0, le=3600)
    # the credential file is re-read when it changed, checked at most this often (and on SIGHUP)
    credentials_check_seconds: PositiveSeconds = 1.0
    # a carrier's on-chain membership (LOGISTICS, active) is re-read after this long ...
    member_cache_seconds: PositiveSeconds = 30.0
    # ... and, while the chain is unreachable, the last answer is trusted this long, then 503
    member_grace_seconds: PositiveSeconds = 600.0
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
    for key in ("db_path", "credentials_file", "log_file"):
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
