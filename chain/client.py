"""Connection to a tradenet chain: web3, compiled artifacts, error decoding, per-key senders."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.providers import JSONBaseProvider

from .compiler import Artifact, all_abis, compile_contracts
from .errors import ErrorDecoder, TransactionFailed
from .tx import FeePolicy, NonceManager, TxSender


class Chain:
    """One node connection shared by all typed clients; provider-agnostic (HTTP, eth-tester...)."""

    def __init__(
        self,
        w3: Web3,
        artifacts: dict[str, Artifact] | None = None,
        fees: FeePolicy | None = None,
    ):
        self.w3 = w3
        self.artifacts = artifacts if artifacts is not None else compile_contracts()
        self.decoder = ErrorDecoder(all_abis(self.artifacts))
        self.nonces = NonceManager(w3)
        self.fees = fees or FeePolicy()
        self._senders: dict[str, TxSender] = {}
        self._contracts: dict[tuple[str, str], Contract] = {}
        self._chain_id: int | None = None

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> "Chain":
        return cls(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})), **kwargs)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:  # a network's chain id never changes
            self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def call_raw(self, to: str, data: bytes, block: str = "latest") -> bytes:
        """`eth_call` returning the raw result; a revert raises the decoded Solidity error.

        On JSON-RPC transports (HTTP, IPC, WebSocket) the request goes to the provider as is,
        skipping web3's formatting middleware (it costs several ms a call and view calls sit on the
        API's hot path); other providers (eth-tester) get web3's formatted call."""
        if not isinstance(self.w3.provider, JSONBaseProvider):
            try:
                return bytes(self.w3.eth.call({"to": to, "data": data}, block))
            except Exception as exc:
                decoded = self.decoder.from_exception(exc)
                if decoded is None:
                    raise
                raise decoded from None
        resp = self.w3.provider.make_request("eth_call", [{"to": to, "data": "0x" + data.hex()}, block])
        if "error" in resp:
            err = resp["error"]
            revert = err.get("data") if isinstance(err, dict) else None
            if isinstance(revert, dict):
                revert = revert.get("data")
            if isinstance(revert, str) and revert.startswith("0x"):
                raise self.decoder.decode(revert)
            raise TransactionFailed(f"eth_call to {to} failed: {err}")
        return bytes.fromhex(resp["result"][2:])

    def sender(self, account: LocalAccount) -> TxSender:
        s = self._senders.get(account.address)
        if s is None:
            s = TxSender(self.w3, account, self.nonces, self.decoder, self.fees)
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
