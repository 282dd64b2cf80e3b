"""One settings object for a node API instance (``TRADENET_*`` variables, see ``chain.settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from chain.geth import fee_policy
from chain.http_metrics import LOOPBACK, Network, networks
from chain.tx import FeePolicy

from chain.settings import EnvSettings, network_url, settings


class NodeSettings(EnvSettings):
    """``NodeSettings.from_env()`` reads each field ``x`` from ``TRADENET_X`` (``rpc_url`` from
    ``TRADENET_<NETWORK>_RPC_URL``); the network defaults to ``local`` and its deployment file to
    ``deployments/<network>.json``."""

    per_network = frozenset({"rpc_url"})

    network: str = "local"
    rpc_url: str  # default: anvil's on the local network
    deployment_file: Path
    database_url: str = "sqlite:///.tradenet/indexer.db"  # the indexer's read model
    api_domain: str = "localhost:8000"  # EIP-4361 domain clients must sign for
    api_uri: str = "http://localhost:8000"
    document_dir: Path = Path(".tradenet/documents")
    kubo_api: str | None = None  # e.g. /ip4/127.0.0.1/tcp/5001 to use a real IPFS node
    session_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    page_size_max: int = Field(default=200, ge=1)  # most items one page of a list may hold
    # HTTP limits (node_api.body_guard, uvicorn): no request may hold memory or a worker unbounded
    json_body_max_bytes: int = Field(default=64 * 1024, ge=1024)  # largest JSON request body
    document_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)  # largest document upload
    request_read_timeout_seconds: float = Field(default=30.0, gt=0)  # a request body must arrive within this
    keep_alive_timeout_seconds: int = Field(default=5, ge=1)  # idle keep-alive connections are closed after
    concurrency_limit: int = Field(default=256, ge=1)  # connections + tasks at once; beyond: 503
    # writes sent with Prefer: respond-async (node_api.operations): the node's threads that carry them
    # to their blocks (as many writes run at once; beyond: 503), how many of one member's may run at
    # once, how long a finished one stays readable
    async_write_threads: int = Field(default=256, ge=1, le=4096)
    async_writes_per_member: int = Field(default=64, ge=1)
    operation_retention_seconds: int = Field(default=3600, ge=60)
    # list answers kept while the read model and the caller are unchanged (node_api.answers): at most
    # this many (0: off) and this many bytes in all
    answer_cache_entries: int = Field(default=1024, ge=0, le=1_000_000)
    answer_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    # callers' member records (roles, standing) are kept until a block changes the registry: the node
    # looks at the chain's head this often (node_api.members; a revocation takes effect within one
    # block); 0: read from the chain at every request
    member_follow_seconds: float = Field(default=0.1, ge=0, le=5)
    # the dashboard's demo-key picker (node_api.web): anyone reaching the node may log in as any custodial
    # key it holds, without a wallet. For the throw-away demo network only; off unless TRADENET_DEMO_LOGIN=1.
    demo_login: bool = False
    # where the pinned npm packages of /docs and /redoc are (swagger-ui-dist, redoc)
    ui_assets_dir: Path = Path(__file__).resolve().parents[1] / "node_modules"
    # GET /metrics (Prometheus, node_api.metrics): no credential, so only clients in these networks
    # (TRADENET_METRICS_ALLOW_FROM, comma-separated; default loopback); others get 403
    metrics_enabled: bool = True
    metrics_allow_from: tuple[str, ...] = LOOPBACK
    # blocks the node's indexer stays behind the head (reorg safety): 0 on anvil (no reorgs); on a
    # Clique network chain.geth.clique_confirmations(sealers), 3 for 4 sealers (docs/deployment.md)
    indexer_confirmations: int = Field(default=0, ge=0, le=1024)
    # how the node's transactions are priced (chain.geth.fee_policy): "geth" on a geth Clique network
    fee_mode: Literal["eip1559", "legacy", "geth"] = "eip1559"

    @field_validator("metrics_allow_from", mode="before")
    @classmethod
    def _allow_from(cls, v: Any) -> Any:
        items = [n.strip() for n in v.split(",") if n.strip()] if isinstance(v, str) else v
        networks(items)  # a ValueError names the bad entry
        return items

    def metrics_networks(self) -> list[Network]:
        return networks(self.metrics_allow_from)

    def fees(self) -> FeePolicy:
        return fee_policy(self.fee_mode)

    @model_validator(mode="before")
    @classmethod
    def _network_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            network = data.get("network") or "local"
            data = dict(data)
            if not data.get("rpc_url"):
                data["rpc_url"] = network_url(network, environ={})  # anvil's default, or refused
            if not data.get("deployment_file"):
                data["deployment_file"] = settings.deployments_dir / f"{network}.json"
        return data
