"""The offline toolchain: solcjs shim, py-solc-x compile, Hardhat compile, keystore, error decoding."""

import json
import os
import subprocess

import pytest
from eth_abi import encode
from eth_account import Account

from chain import errors
from chain.compiler import compile_contracts
from chain.keystore import Keystore, KeystoreError
from chain.settings import PROJECT_ROOT, settings

CONTRACTS = ("ParticipantRegistry", "SettlementToken", "InvoiceToken", "WarehouseReceipt", "PurchaseOrder",
             "CurrencyFactory", "LogisticsOracle", "FxRateStore", "RiskRules", "DealEngine", "DealLens",
             "ReceivableFinancing", "OrderFinancing", "ReceiptPledgeFinancing", "DocumentaryCredit",
             "InvoiceSettlement")


def test_shim_answers_version_like_native_solc():
    out = subprocess.run([str(settings.compiler.shim), "--version"], capture_output=True, text=True, check=True)
    assert f"Version: {settings.compiler.solc_version}+commit." in out.stdout


def test_shim_writes_large_output_whole():
    """solcjs' CLI truncates piped output at 64 KiB; the shim must not."""
    from chain.compiler import _sources, solc_settings

    cfg = settings.compiler
    std_in = json.dumps({"language": "Solidity", "sources": _sources(cfg), "settings": solc_settings(cfg)})
    out = subprocess.run([str(cfg.shim), "--standard-json"], input=std_in, capture_output=True, text=True,
                         check=True, timeout=300)
    assert len(out.stdout) > 64 * 1024  # really larger than the pipe limit
    parsed = json.loads(out.stdout)  # and complete
    assert not [e for e in parsed.get("errors", []) if e["severity"] == "error"]
    assert set(CONTRACTS) <= {n for c in parsed["contracts"].values() for n in c}


def test_shim_refuses_unsupported_flags():
    out = subprocess.run([str(settings.compiler.shim), "--bin", "x.sol"], capture_output=True, text=True)
    assert out.returncode == 2 and "standard-json" in out.stderr


def test_hardhat_config_mirrors_the_compiler_settings():
    """The settings chain/compiler.py gives solc (via IR, optimizer runs, EVM version, solc version)
    are the ones hardhat.config.js names; the bytecode comparison below proves the effect."""
    from chain.compiler import solc_settings

    cfg = settings.compiler
    ours = solc_settings(cfg)
    hardhat = (PROJECT_ROOT / "hardhat.config.js").read_text()
    assert ours["viaIR"] is True and "viaIR: true" in hardhat
    assert f'evmVersion: "{ours["evmVersion"]}"' in hardhat
    assert f"runs: {ours['optimizer']['runs']}" in hardhat and ours["optimizer"]["enabled"] is True
    assert f'SOLC_VERSION = "{cfg.solc_version}"' in hardhat


def test_every_network_contract_compiles():
    assert set(CONTRACTS) <= set(compile_contracts())


def test_hardhat_and_py_solc_x_produce_identical_runtime_bytecode():
    env = dict(os.environ, HARDHAT_TELEMETRY_DISABLED="1")
    subprocess.run(["npx", "--no-install", "hardhat", "compile", "--force", "--quiet"], cwd=PROJECT_ROOT,
                   env=env, check=True, capture_output=True, timeout=300)
    ours = compile_contracts()
    art_dir = PROJECT_ROOT / "build" / "hardhat" / "artifacts" / "contracts"
    seen = set()
    for path in art_dir.rglob("*.json"):
        if path.name.endswith(".dbg.json"):
            continue
        data = json.loads(path.read_text())
        name = data["contractName"]
        if name in ours:
            assert data["deployedBytecode"] == ours[name].deployed_bytecode, name
            assert data["bytecode"] == ours[name].bytecode, name
            seen.add(name)
    assert set(CONTRACTS) <= seen


def test_keystore_round_trip_and_wrong_password(tmp_path):
    ks = Keystore(tmp_path / "keys", scrypt_n=2**10)
    acct = ks.create("seller", "s3cret")
    raw = (tmp_path / "keys" / "seller.json").read_text()
    assert acct.key.hex()[2:] not in raw and acct.key.hex() not in raw  # never plaintext
    assert oct((tmp_path / "keys" / "seller.json").stat().st_mode & 0o777) == "0o600"
    assert ks.load("seller", "s3cret").address == acct.address
    assert ks.address("seller") == acct.address
    with pytest.raises(KeystoreError, match="wrong password"):
        ks.load("seller", "nope")
    with pytest.raises(KeystoreError, match="already exists"):
        ks.import_key("seller", Account.create().key, "x")
    with pytest.raises(KeystoreError):
        ks.load("../etc/passwd", "x")


def test_error_decoder_names_custom_errors_with_arguments():
    arts = compile_contracts()
    decoder = errors.ErrorDecoder(a for art in arts.values() for a in art.abi)
    from eth_utils import function_signature_to_4byte_selector as sel

    data = sel("DuplicateInvoice(uint256)") + encode(["uint256"], [42])
    exc = decoder.decode(data)
    assert isinstance(exc, errors.DuplicateInvoice) and isinstance(exc, errors.ContractRevert)
    assert exc["id"] == 42
    assert "DuplicateInvoice(" in str(exc)
    data = sel("InvalidReference(uint256,uint256,uint256)") + encode(["uint256"] * 3, [15, 64, 13])
    exc = decoder.decode(data)  # an error of a library (TradeCodes) is known too
    assert isinstance(exc, errors.InvalidReference)
    assert (exc["length"], exc["maxLength"], exc["position"]) == (15, 64, 13)
    reason = sel("Error(string)") + encode(["string"], ["boom"])
    assert decoder.decode(reason)["reason"] == "boom"
    assert isinstance(decoder.decode(b"\xde\xad\xbe\xef"), errors.UnknownRevert)
    assert isinstance(decoder.decode(b""), errors.UnknownRevert)
