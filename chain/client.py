"""Connection to a tradenet chain: web3, compiled artifacts, error decoding, per-key senders."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from .compiler import Artifact, all_abis, compile_contracts
from .errors import ErrorDecoder
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

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> "Chain":
        return cls(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})), **kwargs)

    @property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def sender(self, account: LocalAccount) -> TxSender:
        s = self._senders.get(account.address)
        if s is None:
            s = TxSender(self.w3, account, self.nonces, self.decoder, self.fees)
            self._senders[account.address] = s
        return s

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.artifacts[name].abi,
                                    decode_tuples=True)

    def deploy(self, name: str, account: LocalAccount, *args: Any) -> tuple[str, dict[str, Any]]:
        art = self.artifacts[name]
        return self.sender(account).deploy(art.abi, art.bytecode, *args)
