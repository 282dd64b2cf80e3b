"""The base of every contract client: bind a deployed contract and a signing key, send, read."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from .. import errors
from ..client import Chain, ViewCall
from ..tx import PendingTx
from ._views import _type_of, view_spec, write_spec

#: per ABI and event: its topic 0 and the topic index of each indexed argument (built once)
_event_topics: dict[tuple[int, str], tuple[bytes, dict[str, int]]] = {}


class ContractClient:
    """One deployed contract. Writes sign with the bound local account (``using(account)`` binds
    another) and raise the Solidity custom error as a Python exception (``chain.errors``)."""

    contract_name: ClassVar[str]

    def __init__(self, chain: Chain, address: str, account: LocalAccount | None = None):
        self.chain = chain
        self.contract = chain.contract(self.contract_name, address)
        self.address = self.contract.address
        self.account = account
        self.last_receipt: dict[str, Any] | None = None  # of the latest transaction sent by this client

    def using(self, account: LocalAccount) -> Self:
        """The same contract, signing with `account`."""
        return type(self)(self.chain, self.address, account)

    def submit(self, name: str, *args: Any, gas: int | None = None, precheck: bool = True) -> PendingTx:
        """Send a call of `name` without waiting for it.

        With ``precheck`` (the default) the call is run first: a revert raises the decoded
        Solidity error and sends nothing. ``precheck=False`` sends at once with the operation's
        learned gas limit; a revert then surfaces at ``wait()`` (see ``chain.tx``)."""
        if self.account is None:
            raise RuntimeError(f"{type(self).__name__} has no signing account: use .using(account)")
        data = self._calldata(name, args)
        return self.chain.sender(self.account).submit_raw(self.address, data, gas, precheck=precheck)

    def _calldata(self, name: str, args: tuple[Any, ...]) -> bytes:
        """ABI-encoded call: cached eth_abi codec, or web3's encoder (overloads, loose argument
        types it normalises, and its argument errors)."""
        spec = write_spec(self.contract, name, len(args))
        if spec is not None:
            try:
                return spec.encode(args, self.chain.w3.codec)
            except Exception:  # an argument eth_abi does not take as is: web3 normalises or explains
                pass
        return bytes.fromhex(getattr(self.contract.functions, name)(*args)._encode_transaction_data()[2:])

    def _tx(self, name: str, *args: Any, gas: int | None = None) -> dict[str, Any]:
        self.last_receipt = self.submit(name, *args, gas=gas).wait()
        return self.last_receipt

    def _call(self, name: str, *args: Any) -> Any:
        """A view call at the latest block (see ``_views``)."""
        spec = view_spec(self.contract, name)
        return spec.decode(self.chain.call_raw(self.address, spec.encode(args)))

    def view(self, name: str, *args: Any) -> ViewCall:
        """The view call `name(args)` for ``chain.batch_call`` (decoded like ``_call``)."""
        spec = view_spec(self.contract, name)
        return ViewCall(self.address, spec.encode(args), spec.decode)

    def _holder(self, token_id: int) -> str | None:
        """ERC-721 owner, or None if the token does not exist (burned)."""
        try:
            return self._call("ownerOf", token_id)
        except errors.ERC721NonexistentToken:
            return None

    def encode(self, name: str, *args: Any) -> bytes:
        """ABI-encoded call, e.g. for a governance proposal."""
        return bytes.fromhex(self.contract.encode_abi(name, args=list(args))[2:])

    def _topics_of(self, event: str) -> tuple[bytes, dict[str, int]]:
        key = (id(self.contract.abi), event)
        found = _event_topics.get(key)
        if found is None:
            abi = next(e for e in self.contract.abi if e.get("type") == "event" and e["name"] == event)
            topic = keccak(text=f"{event}({','.join(_type_of(i) for i in abi['inputs'])})")
            indexed = [i["name"] for i in abi["inputs"] if i.get("indexed")]
            found = _event_topics[key] = (topic, {name: n + 1 for n, name in enumerate(indexed)})
        return found

    def _own_logs(self, receipt: dict[str, Any], event: str) -> list[Any]:
        topic, _ = self._topics_of(event)
        return [log for log in receipt["logs"]
                if log["address"] == self.address and log["topics"] and bytes(log["topics"][0]) == topic]

    def logged_args(self, event: str, arg: str, value: int, from_block: int = 0,
                    to_block: int | str = "latest") -> dict[str, Any] | None:
        """The arguments of the first `event` this contract emitted in blocks [`from_block`,
        `to_block`] whose indexed uint `arg` is `value` (``eth_getLogs`` by topic): what a token's
        mint logged and does not store, the same for every node whatever its read model has
        indexed. None if not logged there."""
        topic, positions = self._topics_of(event)
        topics: list[str | None] = [None] * (max(positions.values(), default=0) + 1)
        topics[0] = "0x" + topic.hex()
        topics[positions[arg]] = "0x" + int(value).to_bytes(32, "big").hex()
        logs = self.chain.w3.eth.get_logs({"address": self.address, "fromBlock": from_block, "toBlock": to_block,
                                           "topics": topics})
        if not logs:
            return None
        return dict(getattr(self.contract.events, event)().process_log(logs[0])["args"])

    def events(self, receipt: dict[str, Any], event: str) -> list[dict[str, Any]]:
        """Decoded `event` logs this contract emitted in `receipt`."""
        logs = self._own_logs(receipt, event)
        if not logs:
            return []
        ev = getattr(self.contract.events, event)()
        return [dict(ev.process_log(log)["args"]) for log in logs]

    def _logged_uint(self, receipt: dict[str, Any], event: str, arg: str) -> int:
        """The indexed uint argument `arg` of the first `event` this contract emitted in `receipt`
        (read from its topic: a new token's id, without decoding the whole log)."""
        logs = self._own_logs(receipt, event)
        if not logs:
            raise LookupError(f"{type(self).__name__}: no {event} log in transaction "
                              f"{receipt.get('transactionHash')!r}")
        return int.from_bytes(bytes(logs[0]["topics"][self._topics_of(event)[1][arg]]), "big")
