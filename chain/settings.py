"""One settings object for the chain side of tradenet (paths, compiler, networks)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CompilerSettings:
    """Pinned compiler configuration shared by py-solc-x and Hardhat (see hardhat.config.js)."""

    solc_version: str = "0.8.28"
    evm_version: str = "paris"  # no PUSH0: runs on geth Clique and Besu QBFT/IBFT genesis configs too
    optimizer_runs: int = 200
    contracts_dir: Path = PROJECT_ROOT / "contracts"
    node_modules: Path = PROJECT_ROOT / "node_modules"
    shim: Path = PROJECT_ROOT / "chain" / "solc_shim.js"
    build_dir: Path = PROJECT_ROOT / "build"


@dataclass(frozen=True)
class Settings:
    compiler: CompilerSettings = field(default_factory=CompilerSettings)
    deployments_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("TRADENET_DEPLOYMENTS_DIR", PROJECT_ROOT / "deployments")))
    state_dir: Path = field(default_factory=lambda: Path(os.environ.get("TRADENET_HOME", PROJECT_ROOT / ".tradenet")))
    anvil_binary: Path = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"

    @staticmethod
    def network_url(network: str) -> str:
        """RPC URL of a named network: `TRADENET_<NAME>_RPC_URL`, or anvil's default for `local`."""
        env = os.environ.get(f"TRADENET_{network.upper()}_RPC_URL")
        if env:
            return env
        if network == "local":
            return "http://127.0.0.1:8545"
        raise KeyError(f"no RPC URL for network {network!r}: set TRADENET_{network.upper()}_RPC_URL")


settings = Settings()
