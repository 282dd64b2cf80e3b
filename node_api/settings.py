"""One settings object for a node API instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NodeSettings:
    rpc_url: str
    deployment_file: Path
    database_url: str  # the indexer's read model
    domain: str = "localhost:8000"  # EIP-4361 domain clients must sign for
    uri: str = "http://localhost:8000"
    document_dir: Path = field(default_factory=lambda: Path(".tradenet/documents"))
    kubo_api: str | None = None  # e.g. /ip4/127.0.0.1/tcp/5001 to use a real IPFS node
    session_ttl_seconds: int = 8 * 3600
    page_size_max: int = 200

    @classmethod
    def from_env(cls) -> "NodeSettings":
        env = os.environ
        return cls(
            rpc_url=env.get("TRADENET_RPC_URL", "http://127.0.0.1:8545"),
            deployment_file=Path(env.get("TRADENET_DEPLOYMENT", "deployments/local.json")),
            database_url=env.get("TRADENET_DATABASE_URL", "sqlite:///.tradenet/indexer.db"),
            domain=env.get("TRADENET_API_DOMAIN", "localhost:8000"),
            uri=env.get("TRADENET_API_URI", "http://localhost:8000"),
            document_dir=Path(env.get("TRADENET_DOCUMENT_DIR", ".tradenet/documents")),
            kubo_api=env.get("TRADENET_KUBO_API") or None,
        )
