"""The oracle's view of the chain: LogisticsOracle and FxRateStore reads and report submission.

Thin on purpose: it encodes, sends and decodes; the rules live in the contracts. It uses the
contracts' ABIs (compiled artifacts, or ABI files named in the config) through ``chain.Chain`` so
nonces, fees and revert decoding are the project's. Every RPC failure surfaces as
``ChainUnavailable`` (retry later); a contract revert as the decoded ``chain.errors`` class.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from chain.client import Chain
from chain.compiler import Artifact
from chain.errors import ContractRevert
from chain.tx import FeePolicy

from .errors import ChainUnavailable, ConfigError
from .typed_data import FxRate, ShipmentEvent

log = logging.getLogger(__name__)

LOGISTICS = "LogisticsOracle"
FX_STORE = "FxRateStore"
_DEPLOYMENT_KEYS = {
    LOGISTICS: ("logistics_oracle", "logisticsOracle", "oracle", "LogisticsOracle"),
    FX_STORE: ("fx_rate_store", "fxRateStore", "fx_store", "FxRateStore"),
}


@dataclass(frozen=True)
class Addresses:
    chain_id: int | None
    logistics_oracle: str | None
    fx_rate_store: str | None


def addresses_from_deployment(path: Path | None, overrides: Mapping[str, str | None],
                              chain_id: int | None) -> Addresses:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read deployment file {path}: {exc}") from None

    def pick(name: str) -> str | None:
        for key in _DEPLOYMENT_KEYS[name]:
            if data.get(key):
                return to_checksum_address(data[key])
            for nested in ("oracle", "contracts"):
                if isinstance(data.get(nested), dict) and data[nested].get(key):
                    return to_checksum_address(data[nested][key])
        return None

    return Addresses(
        chain_id=chain_id if chain_id is not None else data.get("chain_id"),
        logistics_oracle=overrides.get(LOGISTICS) or pick(LOGISTICS),
        fx_rate_store=overrides.get(FX_STORE) or pick(FX_STORE),
    )


def load_artifacts(abi_files: Mapping[str, Path]) -> dict[str, Artifact]:
    """ABIs for the two oracle contracts: from files if given, else from the compiled sources."""
    arts: dict[str, Artifact] = {}
    for name, path in abi_files.items():
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read ABI file {path}: {exc}") from None
        abi = data["abi"] if isinstance(data, dict) else data
        arts[name] = Artifact(name, str(path), abi, "0x", "0x")
    if any(n not in arts for n in (LOGISTICS, FX_STORE)):
        from chain.compiler import compile_contracts

        arts = {**compile_contracts(), **arts}  # every ABI: reverts from any contract decode by name
    return arts


@dataclass(frozen=True)
class OperatorSet:
    operators: tuple[str, ...]
    threshold: int
    source: str  # "chain" or "config"
    staleness_window: int | None = None  # seconds; older observations can never be accepted


@dataclass(frozen=True)
class OnChainShipment:
    """What the chain holds for a (shipmentId, eventCode) slot: the confirmed eventId, which is
    the EIP-712 digest of the confirmed struct, so it tells exactly which content won."""

    confirmed: bool
    event_id: bytes | None = None

    def matches(self, digest: bytes) -> bool | None:
        if not self.confirmed or self.event_id is None:
            return None
        return self.event_id == digest


@dataclass(frozen=True)
class OnChainRate:
    rate: int
    observed_at: int


@dataclass(frozen=True)
class Submission:
    tx_hash: str | None  # chain.oracle_client returns the id, not the receipt
    event_id: str | None  # eventId (shipments) or rate digest (FX) as the contract returned it
    submitter: str


class OracleChain:
    """LogisticsOracle / FxRateStore for one operator account, over ``chain.oracle_client``."""

    def __init__(self, rpc_url: str, account: LocalAccount, addresses: Addresses, artifacts: dict[str, Artifact],
                 fee_mode: str = "eip1559", receipt_timeout: float = 60.0):
        from chain.oracle_client import FxRateStore, LogisticsOracle

        self.account = account
        self.addresses = addresses
        self.receipt_timeout = receipt_timeout
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.chain = Chain(w3, artifacts=artifacts, fees=FeePolicy(mode=fee_mode))
        self.logistics = (LogisticsOracle(self.chain, addresses.logistics_oracle, account)
                          if addresses.logistics_oracle and LOGISTICS in artifacts else None)
        self.fx = (FxRateStore(self.chain, addresses.fx_rate_store, account)
                   if addresses.fx_rate_store and FX_STORE in artifacts else None)

    # ------------------------------------------------------------------------------ plumbing
    def _client(self, kind: str) -> Any:
        c = self.logistics if kind == "shipment" else self.fx
        if c is None:
            raise ConfigError(f"no {'LogisticsOracle' if kind == 'shipment' else 'FxRateStore'} address or ABI "
                              f"configured")
        return c

    def _read(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ContractRevert:
            raise
        except Exception as exc:
            decoded = self.chain.decoder.from_exception(exc)
            if decoded is not None:
                raise decoded from None
            raise ChainUnavailable(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    def chain_id(self) -> int:
        return self._read("eth_chainId", lambda: self.chain.w3.eth.chain_id)

    # ------------------------------------------------------------------------------ reads
    def operator_set(self, kind: str) -> OperatorSet:
        c = self._client(kind)
        ops = tuple(to_checksum_address(a) for a in self._read("operators()", c.operators))
        return OperatorSet(ops, int(self._read("threshold()", c.threshold)), "chain",
                           int(self._read("stalenessWindow()", c.staleness_window)))

    def contract_digest(self, struct: ShipmentEvent | FxRate) -> bytes:
        """The digest the contract computes (``eventDigest`` / ``rateDigest``)."""
        c = self._client(struct.kind)
        fn = c.event_digest if struct.kind == "shipment" else c.rate_digest
        return self._read("digest view", fn, _theirs(struct))

    def shipment_status(self, ev: ShipmentEvent) -> OnChainShipment:
        c = self._client("shipment")
        event_id = self._read("confirmedEvent()", c.confirmed_event, ev.shipment_id, ev.event_code)
        return OnChainShipment(event_id is not None, event_id)

    def event_status(self, event_id: bytes) -> int:
        """0 never seen, 1 confirmed, 2 retracted (``eventRecord``)."""
        return int(self._read("eventRecord()", self._client("shipment").event_record, event_id).status)

    def latest_rate(self, base: str, quote: str) -> OnChainRate | None:
        try:
            rate, observed = self._read("latestRate()", self._client("fx").latest_rate, base, quote)
        except ContractRevert as exc:
            if exc.error_name == "RateUnavailable":
                return None
            raise
        return OnChainRate(int(rate), int(observed))

    # ------------------------------------------------------------------------------ writes
    def _send(self, client: Any, function: str, args: tuple, event: str, field: str) -> Submission:
        """Send one transaction and wait for it; returns its hash and the id the contract logged.
        A revert at gas estimation sends nothing; a mined revert raises with its tx hash set."""
        try:
            pending = client._submit(function, *args)
        except ContractRevert:
            raise
        except Exception as exc:
            self.chain.nonces.resync(self.account.address)
            raise ChainUnavailable(f"cannot submit {function}: {type(exc).__name__}: {exc}") from exc
        tx_hash = pending.tx_hash.to_0x_hex()
        try:
            receipt = pending.wait(self.receipt_timeout)
        except ContractRevert:
            raise
        except Exception as exc:
            raise ChainUnavailable(f"no receipt for {tx_hash}: {type(exc).__name__}: {exc}") from exc
        logged = client.events(receipt, event)
        value = "0x" + bytes(logged[0][field]).hex() if logged else None
        return Submission(tx_hash, value, self.account.address)

    def submit_shipment(self, ev: ShipmentEvent, signatures: list[bytes]) -> Submission:
        return self._send(self._client("shipment"), "submitReport", (_theirs(ev).as_tuple(), list(signatures)),
                          "EventConfirmed", "eventId")

    def submit_rate(self, rate: FxRate, signatures: list[bytes]) -> Submission:
        return self._send(self._client("fx"), "submitRate", (_theirs(rate).as_tuple(), list(signatures)),
                          "RateUpdated", "digest")


def _theirs(struct: ShipmentEvent | FxRate) -> Any:
    """The same struct as ``chain.oracle_client``'s dataclass."""
    from chain import oracle_client as oc

    if isinstance(struct, ShipmentEvent):
        return oc.ShipmentEvent(struct.shipment_id, struct.event_code, struct.location, struct.event_time,
                                struct.evidence_hash)
    return oc.FxRate(struct.base, struct.quote, struct.rate, struct.observed_at)
