"""Connection to a tradenet chain: web3, compiled artifacts, error decoding, per-key senders,
raw and batched view calls."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.middleware import ExtraDataToPOAMiddleware

from .compiler import Artifact, all_abis, compile_contracts
from .errors import ContractRevert, ErrorDecoder, TransactionFailed
from .gasbook import GasBook
from .rpc import RpcError, rpc_for, to_hex
from .tx import FeePolicy, NonceManager, Pipeline, SharedNonceManager, TxSender


@dataclass(frozen=True)
class ViewCall:
    """One `eth_call` of a batch: target, calldata, and how to decode the result."""

    to: str
    data: bytes
    decode: Callable[[bytes], Any] = bytes


def poa_compatible(w3: Web3) -> Web3:
    """Let `w3` read the blocks of a proof-of-authority chain (geth Clique puts the signer's seal in
    a 97-byte ``extraData``, which web3 refuses by default): web3's PoA middleware moves the field
    to ``proofOfAuthorityData``, on any chain. Idempotent; returns `w3`."""
    if "poa" not in w3.middleware_onion:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, name="poa", layer=0)
    return w3


class Chain:
    """One node connection shared by all typed clients; provider-agnostic (HTTP, eth-tester...)."""

    def __init__(
        self,
        w3: Web3,
        artifacts: dict[str, Artifact] | None = None,
        fees: FeePolicy | None = None,
        nonce_dir: str | os.PathLike[str] | None = None,
    ):
        """`nonce_dir`: the accounts' nonce counters are shared through files there with the other
        processes of this host that sign for them (``chain.tx.SharedNonceManager``; one directory
        per run); else they are this process's own."""
        self.w3 = poa_compatible(w3)
        self.artifacts = artifacts if artifacts is not None else compile_contracts()
        self.decoder = ErrorDecoder(all_abis(self.artifacts))
        self.rpc = rpc_for(w3)  # None on a provider that is not JSON-RPC (eth-tester)
        self.nonces = NonceManager(w3, self.rpc) if nonce_dir is None else SharedNonceManager(w3, self.rpc, nonce_dir)
        self.fees = fees or FeePolicy()
        self.gas = GasBook()
        self._pipeline: Pipeline | None = None
        self._senders: dict[str, TxSender] = {}
        self._contracts: dict[tuple[str, str], Contract] = {}
        self._chain_id: int | None = None

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> "Chain":
        return cls(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})), **kwargs)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:  # a network's chain id never changes
            self._chain_id = int(self.rpc.call("eth_chainId", []), 16) if self.rpc else self.w3.eth.chain_id
        return self._chain_id

    @property
    def pipeline(self) -> Pipeline:
        """The submission pipeline shared by this connection's senders (``chain.tx``)."""
        if self._pipeline is None:
            self._pipeline = Pipeline.for_web3(self.w3, self.fees, rpc=self.rpc, chain_id=self.chain_id, gas=self.gas)
        return self._pipeline

    def call_raw(self, to: str, data: bytes, block: str = "latest") -> bytes:
        """`eth_call` returning the raw result; a revert raises the decoded Solidity error.

        On JSON-RPC transports the request goes to the node as is (``chain.rpc``), skipping
        web3's formatting middleware (it costs several ms a call and view calls sit on the API's
        hot path); other providers (eth-tester) get web3's formatted call."""
        if self.rpc is None:
            return self._web3_call(to, data, block)
        try:
            result = self.rpc.call("eth_call", [{"to": to, "data": to_hex(data)}, block])
        except RpcError as exc:
            raise self._call_error(to, exc) from None
        return bytes.fromhex(result[2:])

    def latest_timestamp(self) -> int:
        """The latest block's timestamp (the clock of every rule on chain), as :meth:`call_raw`
        reads: straight from the node on JSON-RPC transports."""
        if self.rpc is None:
            return int(self.w3.eth.get_block("latest")["timestamp"])
        return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def block_number(self) -> int:
        """The latest block's number, read as :meth:`latest_timestamp` reads."""
        if self.rpc is None:
            return int(self.w3.eth.block_number)
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def batch_call(self, calls: Sequence[ViewCall | tuple[str, bytes]], block: str = "latest", *,
                   raise_errors: bool = True) -> list[Any]:
        """Many view calls in one JSON-RPC batch, results in order (a `ViewCall`'s decoded, a
        ``(to, data)`` pair's raw bytes). A reverted call raises its decoded error, or with
        ``raise_errors=False`` stands in the list as the exception. ``block`` pins them all to one
        block (a number as 0x-hex or a tag)."""
        items = [c if isinstance(c, ViewCall) else ViewCall(c[0], c[1]) for c in calls]
        if self.rpc is None:
            raws: list[Any] = []
            for c in items:
                try:
                    raws.append(self._web3_call(c.to, c.data, block))
                except ContractRevert as exc:
                    raws.append(exc)
        else:
            results = self.rpc.batch([("eth_call", [{"to": c.to, "data": to_hex(c.data)}, block]) for c in items])
            raws = [self._call_error(c.to, r) if isinstance(r, RpcError) else bytes.fromhex(r[2:])
                    for c, r in zip(items, results)]
        out: list[Any] = []
        for c, raw in zip(items, raws):
            if isinstance(raw, Exception):
                if raise_errors:
                    raise raw
                out.append(raw)
            else:
                out.append(c.decode(raw))
        return out

    def _call_error(self, to: str, exc: RpcError) -> Exception:
        decoded = self.decoder.from_rpc_error(exc.error)
        return decoded if decoded is not None else TransactionFailed(f"eth_call to {to} failed: {exc.error}")

    def _web3_call(self, to: str, data: bytes, block: str) -> bytes:
        try:
            return bytes(self.w3.eth.call({"to": to, "data": data}, block))
        except Exception as exc:
            decoded = self.decoder.from_exception(exc)
            if decoded is None:
                raise
            raise decoded from None

    def sender(self, account: LocalAccount) -> TxSender:
        s = self._senders.get(account.address)
        if s is None:
            s = TxSender(self.w3, account, self.nonces, self.decoder, self.fees, pipeline=self.pipeline)
            self._senders[account.address] = s
        return s

    def contract(self, name: str, address: str) -> Contract:
        """The web3 contract object (built once per name and address: parsing an ABI is costly)."""
        key = (name, address.lower())
        c = self._contracts.get(key)
        if c is None:
            c = self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.artifacts[name].abi,
                                     decode_tuples=True)
            self._contracts[key] = c
        return c

    def deploy(self, name: str, account: LocalAccount, *args: Any) -> tuple[str, dict[str, Any]]:
        art = self.artifacts[name]
        return self.sender(account).deploy(art.abi, art.bytecode, *args)
