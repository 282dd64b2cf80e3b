"""The oracle's view of the chain: LogisticsOracle and FxRateStore reads and submissions, and
the DealEngine / DealLens reads and pokes of the keeper (``oracle.keeper``).

This module is the one place that knows the contracts' API: LogisticsOracle v2 confirms an event
per slot (shipmentId, eventCode, location) and tells the escrows named in ``submitReport`` /
``submitRetraction`` (``notify``, at most MAX_NOTIFY_PER_REPORT); a retraction is its own k-of-n
report ``Retraction(eventId, reasonHash, retractedAt)``. The engine uses only the protocols below
(:class:`ChainPort`, :class:`DealsPort`) and their dataclasses.

Thin on purpose: it encodes, sends and decodes; the rules live in the contracts. It uses the
contracts' ABIs (compiled artifacts, or ABI files named in the config) through ``chain.Chain`` and
the ``chain.clients`` clients, so nonces, fees and revert decoding are the project's (and the
structs are the chain's own: ``oracle.typed_data`` only validates them). Every RPC failure
surfaces as ``ChainUnavailable`` (retry later); a contract revert as the decoded ``chain.errors``
class."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from chain.client import Chain
from chain.clients import DealEngine, DealLens, FxRateStore, LogisticsOracle, Notify, ParticipantRegistry
from chain.clients.deals import Deal, MilestoneState
from chain.compiler import Artifact, compile_contracts
from chain.errors import ContractRevert
from chain.geth import fee_policy
from chain.vocabulary import EventStatus, Role

from .errors import ChainUnavailable, ConfigError
from .typed_data import FxRate, Retraction, ShipmentEvent

log = logging.getLogger(__name__)

LOGISTICS = "LogisticsOracle"
FX_STORE = "FxRateStore"
REGISTRY = "ParticipantRegistry"
DEAL_ENGINE = "DealEngine"
DEAL_LENS = "DealLens"
#: the contracts whose ABIs an operator needs (the others' errors decode by name if compiled)
ABI_CONTRACTS = (LOGISTICS, FX_STORE, REGISTRY, DEAL_ENGINE, DEAL_LENS)
_DEPLOYMENT_KEYS = {
    LOGISTICS: ("logistics_oracle", "logisticsOracle", "oracle", "LogisticsOracle"),
    FX_STORE: ("fx_rate_store", "fxRateStore", "fx_store", "FxRateStore"),
    REGISTRY: ("registry", "participant_registry", "ParticipantRegistry"),
    DEAL_ENGINE: ("deal_engine", "dealEngine", "DealEngine"),
    DEAL_LENS: ("deal_lens", "dealLens", "DealLens"),
}


@dataclass(frozen=True)
class Addresses:
    chain_id: int | None
    logistics_oracle: str | None
    fx_rate_store: str | None
    registry: str | None = None
    deploy_block: int = 0  # where to start looking for logs
    deal_engine: str | None = None  # whom a report names (notify) and the keeper pokes
    deal_lens: str | None = None


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
        registry=overrides.get(REGISTRY) or pick(REGISTRY),
        deploy_block=int(data.get("deploy_block") or 0),
        deal_engine=overrides.get(DEAL_ENGINE) or pick(DEAL_ENGINE),
        deal_lens=overrides.get(DEAL_LENS) or pick(DEAL_LENS),
    )


def load_artifacts(abi_files: Mapping[str, Path]) -> dict[str, Artifact]:
    """ABIs for the oracle contracts, the registry and the deal engine and lens: from files if
    given, else from the compiled sources."""
    arts: dict[str, Artifact] = {}
    for name, path in abi_files.items():
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read ABI file {path}: {exc}") from None
        abi = data["abi"] if isinstance(data, dict) else data
        arts[name] = Artifact(name, str(path), abi, "0x", "0x")
    if any(n not in arts for n in ABI_CONTRACTS):
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
    """What the chain holds for a struct's event and its slot (shipmentId, eventCode, location):
    the event's own status (``eventStatus``: none, confirmed, retracted) and the tag (low 40 bits
    of the eventId, ``chain.clients.event_tag``) of whatever event fills the slot now."""

    status: EventStatus = EventStatus.NONE
    slot_tag: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == EventStatus.CONFIRMED

    @property
    def retracted(self) -> bool:
        return self.status == EventStatus.RETRACTED

    def held_by_other(self) -> bool:
        """Another event fills the slot (this one is not confirmed there)."""
        return not self.confirmed and self.slot_tag is not None


@dataclass(frozen=True)
class OnChainRate:
    rate: int
    observed_at: int


@dataclass(frozen=True)
class Submission:
    tx_hash: str | None
    event_id: str | None  # eventId (shipments, retractions) or rate digest (FX) as the contract logged it
    submitter: str
    block_number: int | None = None
    failed_listeners: tuple[int, ...] = ()  # refs (deal ids) of named escrows that failed (ListenerFailed)
    gas_used: int | None = None


@dataclass(frozen=True)
class Confirmation:
    """An ``EventConfirmed`` log: where (tx, block) and who sent it (the submitting operator)."""

    tx_hash: str
    block_number: int
    submitter: str | None = None


@dataclass(frozen=True)
class RetractionLog:
    """An ``EventRetracted`` log: which event, how (reasonHash, retractedAt), where (tx, block)."""

    event_id: str
    reason_hash: str
    retracted_at: int
    tx_hash: str
    block_number: int
    submitter: str | None = None  # the operator that sent the retraction


class ChainPort(Protocol):
    """What the engine asks of the chain; :class:`OracleChain` implements it over the deployed
    contracts (tests use stand-ins)."""

    def operator_set(self, kind: str) -> OperatorSet: ...

    def shipment_status(self, ev: ShipmentEvent) -> OnChainShipment: ...

    def is_retracted(self, event_id: bytes) -> bool: ...

    def find_confirmation(self, event_id: bytes) -> Confirmation | None: ...

    def find_retraction(self, event_id: bytes) -> RetractionLog | None: ...

    def latest_rate(self, base: str, quote: str) -> OnChainRate | None: ...

    def chain_time(self) -> int: ...

    def submit_shipment(self, ev: ShipmentEvent, signatures: list[bytes], notify: Sequence[Notify] = ()
                        ) -> Submission: ...

    def submit_retraction(self, ev: ShipmentEvent, retraction: Retraction, signatures: list[bytes],
                          notify: Sequence[Notify] = ()) -> Submission: ...

    def submit_rate(self, rate: FxRate, signatures: list[bytes]) -> Submission: ...


class DealsPort(Protocol):
    """The deal engine as the keeper (``oracle.keeper``) reads and pokes it."""

    engine_address: str

    def funded_deals(self, shipment: bytes) -> list[int]: ...

    def deals(self, deal_ids: Sequence[int]) -> list[Deal]: ...

    def milestones(self, deal_id: int) -> list[MilestoneState]: ...

    def releasable(self, deal_id: int) -> list[int]: ...

    def slot_met(self, shipment: bytes, event_code: str, location: str) -> bool: ...

    def poke(self, deal_id: int) -> Submission | None: ...


class OracleChain:
    """LogisticsOracle / FxRateStore (and, for the keeper, DealEngine / DealLens) for one operator
    account, over ``chain.clients``."""

    #: blocks re-read below the last scanned one when the funded-deal cache is refreshed (a
    #: reorg on a Clique network may replace the latest blocks)
    REORG_DEPTH = 12

    def __init__(self, rpc_url: str, account: LocalAccount, addresses: Addresses, artifacts: dict[str, Artifact],
                 fee_mode: str = "eip1559", receipt_timeout: float = 60.0):
        self.account = account
        self.addresses = addresses
        self.receipt_timeout = receipt_timeout
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.chain = Chain(w3, artifacts=artifacts, fees=fee_policy(fee_mode))
        self.logistics = (LogisticsOracle(self.chain, addresses.logistics_oracle, account)
                          if addresses.logistics_oracle and LOGISTICS in artifacts else None)
        self.fx = (FxRateStore(self.chain, addresses.fx_rate_store, account)
                   if addresses.fx_rate_store and FX_STORE in artifacts else None)
        self.registry = (ParticipantRegistry(self.chain, addresses.registry)
                         if addresses.registry and REGISTRY in artifacts else None)
        self.engine = (DealEngine(self.chain, addresses.deal_engine, account)
                       if addresses.deal_engine and DEAL_ENGINE in artifacts else None)
        self.lens = (DealLens(self.chain, addresses.deal_lens)
                     if addresses.deal_lens and DEAL_LENS in artifacts else None)
        self.engine_address = self.engine.address if self.engine is not None else ""
        # shipment -> (deal ids funded on it, last block scanned)
        self._funded: dict[bytes, tuple[set[int], int]] = {}
        self._funded_lock = threading.Lock()

    # ------------------------------------------------------------------------------ plumbing
    def _client(self, kind: str) -> Any:
        c = self.logistics if kind in ("shipment", "retraction") else self.fx
        if c is None:
            raise ConfigError(f"no {'FxRateStore' if kind == 'fx' else 'LogisticsOracle'} address or ABI configured")
        return c

    def _deals(self) -> tuple[DealEngine, DealLens]:
        if self.engine is None or self.lens is None:
            raise ConfigError("no DealEngine / DealLens address or ABI configured: deals cannot be named or poked")
        return self.engine, self.lens

    @property
    def has_deals(self) -> bool:
        return self.engine is not None and self.lens is not None

    def _read(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ContractRevert:
            raise
        except ConfigError:
            raise
        except Exception as exc:
            decoded = self.chain.decoder.from_exception(exc)
            if decoded is not None:
                raise decoded from None
            raise ChainUnavailable(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    def chain_id(self) -> int:
        return self._read("eth_chainId", lambda: self.chain.w3.eth.chain_id)

    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""
        block = self._read("latest block", lambda: self.chain.w3.eth.get_block("latest"))
        return int(block["number"]), int(block["timestamp"])

    def chain_time(self) -> int:
        """The latest block's timestamp: the clock the contract judges freshness by."""
        return self.head()[1]

    def _logs(self, client: Any, event: str, topics: list[Any], from_block: int,
              to_block: int | str = "latest") -> list[Any]:
        topic0 = getattr(client.contract.events, event)().topic
        return self._read("eth_getLogs", self.chain.w3.eth.get_logs, {
            "address": client.address, "fromBlock": from_block, "toBlock": to_block, "topics": [topic0, *topics]})

    # ------------------------------------------------------------------------------ reads
    def is_active_logistics(self, account: str) -> bool:
        """``registry.isActive(account, Role.LOGISTICS)`` (``oracle.membership``'s reader)."""
        if self.registry is None:
            raise ConfigError("no ParticipantRegistry address or ABI configured: carriers cannot be checked")
        return bool(self._read("isActive()", self.registry.is_active, to_checksum_address(account), Role.LOGISTICS))

    def operator_set(self, kind: str) -> OperatorSet:
        c = self._client(kind)
        ops = tuple(to_checksum_address(a) for a in self._read("operators()", c.operators))
        return OperatorSet(ops, int(self._read("threshold()", c.threshold)), "chain",
                           int(self._read("stalenessWindow()", c.staleness_window)))

    def contract_digest(self, struct: ShipmentEvent | FxRate | Retraction) -> bytes:
        """The digest the contract computes (``eventDigest`` / ``retractionDigest`` / ``rateDigest``)."""
        c = self._client(struct.kind)
        if struct.kind == "shipment":
            return self._read("eventDigest()", c.event_digest, struct)
        if struct.kind == "retraction":
            return self._read("retractionDigest()", c.retraction_digest, struct.event_id, struct.reason_hash,
                              struct.retracted_at)
        return self._read("rateDigest()", c.rate_digest, struct)

    def shipment_status(self, ev: ShipmentEvent) -> OnChainShipment:
        status, tag = self._read("eventStatus() and confirmedLocations()", self._client("shipment").slot_state, ev)
        return OnChainShipment(status, tag)

    def find_confirmation(self, event_id: bytes) -> Confirmation | None:
        """The transaction that confirmed `event_id` (its EventConfirmed log), or None."""
        logs = self._logs(self._client("shipment"), "EventConfirmed", ["0x" + bytes(event_id).hex()],
                          self.addresses.deploy_block)
        if not logs:
            return None
        args = self._shipment_log_args("EventConfirmed", logs[0])
        return Confirmation(logs[0]["transactionHash"].to_0x_hex(), int(logs[0]["blockNumber"]), str(args["submitter"]))

    def _shipment_log_args(self, event: str, log: Any) -> Any:
        """The decoded arguments of a LogisticsOracle `event` log."""
        return getattr(self._client("shipment").contract.events, event)().process_log(log)["args"]

    def _retraction_log(self, log: Any) -> RetractionLog:
        args = self._shipment_log_args("EventRetracted", log)
        return RetractionLog("0x" + bytes(args["eventId"]).hex(), "0x" + bytes(args["reasonHash"]).hex(),
                             int(args["retractedAt"]), log["transactionHash"].to_0x_hex(), int(log["blockNumber"]),
                             str(args["submitter"]))

    def find_retraction(self, event_id: bytes) -> RetractionLog | None:
        """The transaction that retracted `event_id` (its EventRetracted log), or None."""
        logs = self._logs(self._client("shipment"), "EventRetracted", ["0x" + bytes(event_id).hex()],
                          self.addresses.deploy_block)
        return self._retraction_log(logs[0]) if logs else None

    def retractions_since(self, from_block: int) -> tuple[list[RetractionLog], int]:
        """Every EventRetracted log from `from_block` to the head; and the next block to read."""
        number, _ = self.head()
        start = max(from_block, self.addresses.deploy_block)
        if number < start:
            return [], start
        logs = self._logs(self._client("shipment"), "EventRetracted", [], start, number)
        return [self._retraction_log(log) for log in logs], number + 1

    def is_retracted(self, event_id: bytes) -> bool:
        """``isRetracted``: the event was confirmed, then retracted."""
        return bool(self._read("isRetracted()", self._client("shipment").is_retracted, event_id))

    def latest_rate(self, base: str, quote: str) -> OnChainRate | None:
        try:
            rate, observed = self._read("latestRate()", self._client("fx").latest_rate, base, quote)
        except ContractRevert as exc:
            if exc.error_name == "RateUnavailable":
                return None
            raise
        return OnChainRate(int(rate), int(observed))

    # ------------------------------------------------------------------------------ deals (oracle.keeper)
    def funded_deals(self, shipment: bytes) -> list[int]:
        """Ids of the deals ever funded on `shipment` (``DealEngine.funded_deals_for``), from a cache
        refreshed incrementally (the last REORG_DEPTH blocks are read again)."""
        engine, _ = self._deals()
        shipment = bytes(shipment)
        number, _ = self.head()
        with self._funded_lock:
            known, scanned = self._funded.get(shipment, (set(), self.addresses.deploy_block - 1))
        start = max(self.addresses.deploy_block, scanned + 1 - self.REORG_DEPTH)
        if start <= number:
            found = self._read("DealFunded logs", engine.funded_deals_for, shipment, start, number)
            known = known | set(found)
        with self._funded_lock:
            self._funded[shipment] = (known, max(number, scanned))
        return sorted(known)

    def deals(self, deal_ids: Sequence[int]) -> list[Deal]:
        _, lens = self._deals()
        return self._read("DealLens.deals()", lens.deals, list(deal_ids)) if deal_ids else []

    def milestones(self, deal_id: int) -> list[MilestoneState]:
        _, lens = self._deals()
        return self._read("DealLens.milestones()", lens.milestones, deal_id)

    def releasable(self, deal_id: int) -> list[int]:
        _, lens = self._deals()
        return self._read("DealLens.releasable()", lens.releasable, deal_id)

    def slot_met(self, shipment: bytes, event_code: str, location: str) -> bool:
        """What a milestone (code, location; "" = any transport call) reads from the oracle."""
        c = self._client("shipment")
        if not location:
            return self._read("confirmedCalls()", c.confirmed_calls, shipment, event_code) > 0
        return self._read("isConfirmed()", c.is_confirmed, shipment, event_code, location)

    def poke(self, deal_id: int) -> Submission | None:
        """``DealEngine.poke``; None if the deal had nothing to sync (``NothingToSync``)."""
        engine, _ = self._deals()
        try:
            return self._send(engine, "poke", (deal_id,), None, None)
        except ContractRevert as exc:
            if exc.error_name == "NothingToSync":
                return None
            raise

    # ------------------------------------------------------------------------------ writes
    def _send(self, client: Any, function: str, args: tuple, event: str | None, field: str | None) -> Submission:
        """Send one transaction and wait for it; returns its hash and the id the contract logged.
        A revert at gas estimation sends nothing; a mined revert raises with its tx hash set."""
        try:
            pending = client.submit(function, *args)
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
        value = None
        if event is not None and field is not None:
            logged = client.events(receipt, event)
            value = "0x" + bytes(logged[0][field]).hex() if logged else None
        failed: tuple[int, ...] = ()
        if self.logistics is not None and client is self.logistics:
            failed = tuple(int(e["ref"]) for e in client.events(receipt, "ListenerFailed"))
        return Submission(tx_hash, value, self.account.address, int(receipt["blockNumber"]), failed,
                          int(receipt["gasUsed"]))

    @staticmethod
    def _notify(notify: Sequence[Notify]) -> list[tuple]:
        return [n.as_tuple() for n in notify]

    def submit_shipment(self, ev: ShipmentEvent, signatures: list[bytes], notify: Sequence[Notify] = ()
                        ) -> Submission:
        return self._send(self._client("shipment"), "submitReport",
                          (ev.as_tuple(), list(signatures), self._notify(notify)), "EventConfirmed", "eventId")

    def submit_retraction(self, ev: ShipmentEvent, retraction: Retraction, signatures: list[bytes],
                          notify: Sequence[Notify] = ()) -> Submission:
        return self._send(self._client("shipment"), "submitRetraction",
                          (ev.as_tuple(), retraction.reason_hash, retraction.retracted_at, list(signatures),
                           self._notify(notify)), "EventRetracted", "eventId")

    def submit_rate(self, rate: FxRate, signatures: list[bytes]) -> Submission:
        return self._send(self._client("fx"), "submitRate", (rate.as_tuple(), list(signatures)),
                          "RateUpdated", "digest")
