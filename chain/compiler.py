"""Compile `contracts/` with the pinned npm solcjs through py-solc-x's `compile_standard`.

py-solc-x drives `chain/solc_shim.js`, a Node wrapper over `require('solc').compile()`, as its
`solc_binary`. Output is cached in `build/` keyed by a hash of the compiler input, so repeated
runs (tests, deploys) do not recompile. Hardhat compiles the same sources with the same settings;
`tests/test_toolchain.py` proves both produce identical runtime bytecode.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import solcx

from .settings import CompilerSettings, PROJECT_ROOT, settings

log = logging.getLogger(__name__)

OUTPUT_SELECTION = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"]


class CompilationError(RuntimeError):
    """solc reported errors; the message lists them as solc formatted them."""


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-prefixed
    deployed_bytecode: str  # runtime code, 0x-prefixed

    @property
    def code_hash(self) -> str:
        """sha256 of the runtime bytecode (recorded in deployments/<network>.json)."""
        return "0x" + hashlib.sha256(bytes.fromhex(self.deployed_bytecode[2:])).hexdigest()


def solc_settings(cfg: CompilerSettings) -> dict[str, Any]:
    """The `settings` object given to solc; hardhat.config.js mirrors it."""
    return {
        "optimizer": {"enabled": True, "runs": cfg.optimizer_runs},
        "evmVersion": cfg.evm_version,
        "outputSelection": {"*": {"*": OUTPUT_SELECTION}},
    }


def _sources(cfg: CompilerSettings) -> dict[str, dict[str, str]]:
    files = sorted(cfg.contracts_dir.rglob("*.sol"))
    return {
        str(f.relative_to(PROJECT_ROOT)): {"content": f.read_text(encoding="utf-8")} for f in files
    }


def _format_errors(stdout: str) -> str:
    try:
        errors = json.loads(stdout).get("errors", [])
    except (ValueError, AttributeError):
        return stdout[:2000]
    return "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors if e.get("severity") == "error")


def _input_hash(standard_input: dict[str, Any], cfg: CompilerSettings) -> str:
    h = hashlib.sha256(json.dumps(standard_input, sort_keys=True).encode())
    h.update(cfg.solc_version.encode())
    for dep in ("@openzeppelin/contracts/package.json", "solc/package.json"):
        p = cfg.node_modules / dep
        h.update(p.read_bytes() if p.exists() else b"missing")
    return h.hexdigest()


def compile_contracts(cfg: CompilerSettings | None = None, *, use_cache: bool = True) -> dict[str, Artifact]:
    """Compile every contract under `contracts/`; returns artifacts by contract name."""
    cfg = cfg or settings.compiler
    standard_input = {"language": "Solidity", "sources": _sources(cfg), "settings": solc_settings(cfg)}
    digest = _input_hash(standard_input, cfg)
    cache = cfg.build_dir / f"solc-{digest[:16]}.json"
    if use_cache and cache.exists():
        output = json.loads(cache.read_text())
    else:
        if not cfg.shim.exists() or not (cfg.node_modules / "solc").exists():
            raise CompilationError("npm solc is not installed: run `npm ci` (scripts/setup.sh does it)")
        version = solcx.wrapper.get_solc_version(cfg.shim)
        if str(version) != cfg.solc_version:
            raise CompilationError(f"solcjs {version} found, {cfg.solc_version} pinned")
        log.info("compiling %d sources with solcjs %s", len(standard_input["sources"]), version)
        try:
            output = solcx.compile_standard(standard_input, solc_binary=cfg.shim, base_path=str(PROJECT_ROOT))
        except solcx.exceptions.SolcError as exc:  # py-solc-x raises on any error entry
            raise CompilationError(_format_errors(exc.stdout_data)) from None
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise CompilationError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
        cfg.build_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(output))
        tmp.replace(cache)

    artifacts: dict[str, Artifact] = {}
    for source, contracts in output["contracts"].items():
        for name, data in contracts.items():
            code = data["evm"]["bytecode"]["object"]
            if not code:  # interfaces and abstract contracts
                continue
            if name in artifacts:
                raise CompilationError(f"contract name {name} defined twice ({artifacts[name].source}, {source})")
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode="0x" + code,
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
            )
    return artifacts


def all_abis(artifacts: dict[str, Artifact]) -> list[dict[str, Any]]:
    """Every ABI entry of every compiled contract (errors from libraries and bases included)."""
    return [entry for a in artifacts.values() for entry in a.abi]


def main() -> None:  # pragma: no cover - used by `tradenet compile`
    arts = compile_contracts(use_cache=False)
    for a in sorted(arts.values(), key=lambda x: x.name):
        print(f"{a.name:24s} {len(a.deployed_bytecode) // 2 - 1:6d} bytes  {a.source}")


if __name__ == "__main__":  # pragma: no cover
    main()
