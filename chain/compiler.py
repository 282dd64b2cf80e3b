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
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx

from .fsutil import atomic_write
from .settings import PROJECT_ROOT, CompilerSettings, settings

log = logging.getLogger(__name__)

OUTPUT_SELECTION = [
    "abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers", "storageLayout",
]


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
        "viaIR": cfg.via_ir,
        "evmVersion": cfg.evm_version,
        "outputSelection": {"*": {"*": OUTPUT_SELECTION}},
    }


_IMPORT = re.compile(r'^\s*import\s+(?:[^"\';]*?\s+from\s+)?["\']([^"\']+)["\']\s*;', re.MULTILINE)


def _sources(cfg: CompilerSettings) -> dict[str, dict[str, str]]:
    """Every source unit the contracts need, imports (npm packages) included, by the source unit
    names Hardhat uses. The whole closure is given to solc explicitly: with viaIR, bytecode
    depends on the set of source units solc was handed (resolving imports through the callback
    instead gives different, equally valid bytecode), and `tests/test_toolchain.py` demands the
    same bytecode as Hardhat's build."""
    pending = [str(f.relative_to(PROJECT_ROOT)) for f in sorted(cfg.contracts_dir.rglob("*.sol"))]
    sources: dict[str, dict[str, str]] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = PROJECT_ROOT / unit if unit.startswith("contracts/") else cfg.node_modules / unit
        content = path.read_text(encoding="utf-8")
        sources[unit] = {"content": content}
        for target in _IMPORT.findall(content):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            pending.append(target)
    return {unit: sources[unit] for unit in sorted(sources)}


def _format_errors(stdout: str) -> str:
    try:
        errors = json.loads(stdout).get("errors", [])
    except (ValueError, AttributeError):
        return stdout[:2000]
    return "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors if e.get("severity") == "error")


def _input_hash(standard_input: dict[str, Any], cfg: CompilerSettings) -> str:
    h = hashlib.sha256(json.dumps(standard_input, sort_keys=True).encode())
    h.update(cfg.solc_version.encode())
    for dep in ("@openzeppelin/contracts/package.json", "solady/package.json", "solc/package.json"):
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
        atomic_write(cache, json.dumps(output), mode=0o644)

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


def compile_source(source: str | Path, contract: str, cfg: CompilerSettings | None = None) -> tuple[list[dict], str]:
    """Compile one stand-alone Solidity file (a path, or the source text) with the pinned solcjs,
    optimizer on and the compiler's default EVM version (test and benchmark contracts, not the
    network's). Returns (abi, creation bytecode as 0x-hex)."""
    cfg = cfg or settings.compiler
    if isinstance(source, Path) or (source.endswith(".sol") and "\n" not in source):
        path = Path(source)
        text, name = path.read_text(), path.name
    else:
        text, name = source, f"{contract}.sol"
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text}},
        "settings": {
            "optimizer": {"enabled": True, "runs": cfg.optimizer_runs},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    out = solcx.compile_standard(std_input, solc_binary=str(cfg.shim), allow_paths=[str(PROJECT_ROOT)])
    art = out["contracts"][name][contract]
    return art["abi"], "0x" + art["evm"]["bytecode"]["object"]
