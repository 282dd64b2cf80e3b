"""Settings of the chain side of tradenet (paths, compiler, networks), and the one way every
tradenet process reads settings: strict pydantic models, filled from the environment by name.

Environment scheme (the only one): a setting ``x_y`` of a process is ``TRADENET_X_Y``; a setting
of one named network is ``TRADENET_<NETWORK>_X_Y`` (today only ``RPC_URL``: ``TRADENET_LOCAL_RPC_URL``,
``TRADENET_BESU_RPC_URL``...). An empty variable counts as unset. Files (the oracle operator's
config) use the same models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Mapping, Self

from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "TRADENET_"
#: The RPC URL of the network named ``local`` when no variable names one (anvil's default).
LOCAL_RPC_URL = "http://127.0.0.1:8545"


class StrictModel(BaseModel):
    """Settings refuse unknown keys and never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def env_var(setting: str, network: str | None = None) -> str:
    """``TRADENET_<SETTING>``, or ``TRADENET_<NETWORK>_<SETTING>`` for a setting of one network."""
    middle = f"{network.upper()}_" if network else ""
    return f"{ENV_PREFIX}{middle}{setting.upper()}"


class SettingsError(ValueError):
    """A setting is missing or invalid."""


def network_url(network: str, environ: Mapping[str, str] | None = None) -> str:
    """RPC URL of a named network: ``TRADENET_<NETWORK>_RPC_URL``, or anvil's default for ``local``."""
    env = os.environ if environ is None else environ
    value = env.get(env_var("rpc_url", network))
    if value:
        return value
    if network == "local":
        return LOCAL_RPC_URL
    raise SettingsError(f"no RPC URL for network {network!r}: set {env_var('rpc_url', network)}")


class EnvSettings(StrictModel):
    """A process's settings, read from ``TRADENET_*`` variables by :meth:`from_env`.

    Fields listed in ``per_network`` are read as ``TRADENET_<NETWORK>_<FIELD>``, the network
    being the ``network`` field (``TRADENET_NETWORK``)."""

    per_network: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Self:
        """The settings from the environment; keyword arguments win over it."""
        env = os.environ if environ is None else environ
        network = given.get("network") or env.get(env_var("network")) or None
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                continue  # nested groups (the compiler) are not environment settings
            value = env.get(env_var(name, network if name in cls.per_network else None))
            if value:
                values[name] = value
        values.update(given)
        return cls.model_validate(values)


class CompilerSettings(StrictModel):
    """Pinned compiler configuration shared by py-solc-x and Hardhat (see hardhat.config.js)."""

    solc_version: str = "0.8.28"
    evm_version: str = "paris"  # no PUSH0: runs on geth Clique and Besu QBFT/IBFT genesis configs too
    optimizer_runs: int = 200
    # the IR pipeline: smaller code (the deal engine must stay under EIP-170's 24,576 bytes) and no
    # stack-too-deep on wide structs
    via_ir: bool = True
    contracts_dir: Path = PROJECT_ROOT / "contracts"
    node_modules: Path = PROJECT_ROOT / "node_modules"
    shim: Path = PROJECT_ROOT / "chain" / "solc_shim.js"
    build_dir: Path = PROJECT_ROOT / "build"


class Settings(EnvSettings):
    compiler: CompilerSettings = CompilerSettings()
    deployments_dir: Path = PROJECT_ROOT / "deployments"  # TRADENET_DEPLOYMENTS_DIR
    home: Path = PROJECT_ROOT / ".tradenet"  # TRADENET_HOME: local state (demo keystore, read model...)
    anvil_binary: Path | None = None  # TRADENET_ANVIL_BINARY; default: the npm package's (chain.anvil)
    geth_binary: Path | None = None  # TRADENET_GETH_BINARY; default: scripts/build_geth.sh's (chain.geth)


settings = Settings.from_env()
