"""Cheap chain reads for the stateful tests: many view calls in one JSON-RPC batch, and the logs
of the blocks mined since the last look.

A step of the state machine checks every invariant against chain state: a few hundred views.
One HTTP request per step carries them all (`Batch`), decoded with the clients' own view codecs
(``chain.clients._views``), so checking stays a small part of a step's cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_utils import keccak, to_checksum_address

from chain.client import Chain
from chain.clients import ContractClient
from chain.clients._views import view_spec

TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")
#: most calls in one JSON-RPC batch request
CHUNK = 100


class Batch:
    """View calls queued with `add` (each returns a slot index) and run together by `run`."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self._requests: list[tuple[str, list[Any]]] = []
        self._decoders: list[Callable[[bytes], Any]] = []

    def add(self, client: ContractClient, fn: str, *args: Any, sender: str | None = None) -> int:
        """Queues `fn(*args)` of `client`'s contract (as sent by `sender`, if given: a
        simulated transaction, e.g. to check that a call would go through)."""
        spec = view_spec(client.contract, fn)
        call = {"to": client.address, "data": "0x" + spec.encode(args).hex()}
        if sender is not None:
            call["from"] = sender
        self._requests.append(("eth_call", [call, "latest"]))
        self._decoders.append(_word_decoder(spec.outputs) or spec.decode)
        return len(self._requests) - 1

    def run(self) -> list[Any]:
        """Every queued call's decoded result, in order (a revert is returned as its decoded
        error, an exception instance, for the caller to judge)."""
        if not self._requests:
            return []
        by_id = []
        for start in range(0, len(self._requests), CHUNK):  # bounded requests: a node answers each quickly
            responses = self.chain.w3.provider.make_batch_request(self._requests[start:start + CHUNK])
            by_id += sorted(responses, key=lambda r: r["id"]) if isinstance(responses, list) else [responses]
        out = []
        for resp, decode in zip(by_id, self._decoders):
            if "error" in resp:
                err = resp["error"]
                data = err.get("data") if isinstance(err, dict) else None
                out.append(self.chain.decoder.decode(data if isinstance(data, str) else b""))
                continue
            out.append(decode(bytes.fromhex(resp["result"][2:])))
        self._requests, self._decoders = [], []
        return out


def _word_decoder(outputs: list[dict[str, Any]]) -> Callable[[bytes], Any] | None:
    """A fast decoder for a view returning one uint or bool (most reads of a step)."""
    if len(outputs) != 1:
        return None
    t = outputs[0]["type"]
    if t.startswith("uint"):
        return lambda raw: int.from_bytes(raw[:32], "big")
    if t == "bool":
        return lambda raw: raw[31] == 1
    return None


@dataclass(frozen=True)
class Transfer:
    """An ERC-20 or ERC-721 `Transfer` log (the id or amount is not needed by the invariants)."""

    block: int
    token: str
    sender: str
    receiver: str


class LogCursor:
    """The logs of the blocks mined since the previous `advance` (one `eth_getLogs` a step)."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.next_block = chain.w3.eth.block_number + 1

    def advance(self) -> tuple[list[Transfer], list[dict[str, Any]], int]:
        """(Transfers, every raw log, latest block) of the new blocks."""
        latest = self.chain.w3.eth.block_number
        if latest < self.next_block:
            return [], [], latest
        logs = self.chain.w3.eth.get_logs({"fromBlock": self.next_block, "toBlock": latest})
        self.next_block = latest + 1
        transfers = []
        for log in logs:
            topics = log["topics"]
            if len(topics) >= 3 and bytes(topics[0]) == TRANSFER_TOPIC:
                transfers.append(Transfer(log["blockNumber"], log["address"],
                                          to_checksum_address(bytes(topics[1])[-20:]),
                                          to_checksum_address(bytes(topics[2])[-20:])))
        return transfers, logs, latest
