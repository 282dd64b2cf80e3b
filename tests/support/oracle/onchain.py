"""What the end-to-end oracle tests read back from the chain and post to operators: the
transactions sent to a contract, the oracle's EventConfirmed / EventRetracted logs, the event a
carrier message confirmed in its slot, and a carrier message posted to several operators."""

from __future__ import annotations

from typing import Any, Iterable

from eth_utils import function_abi_to_4byte_selector

from chain.clients import LogisticsOracle
from chain.clients.oracle import event_tag
from oracle.normalize import normalize_carrier_event

from .harness import OperatorProcess, carrier_for


def oracle(net) -> LogisticsOracle:
    return net.deployment.clients(net.chain).oracle


def selector(client: Any, function: str) -> bytes:
    """The 4-byte selector of `function` in `client`'s contract ABI."""
    return bytes(function_abi_to_4byte_selector(client.contract.get_function_by_name(function).abi))


def submissions(net, contract: str, selector_: bytes, from_block: int) -> list[dict[str, Any]]:
    """Every transaction to `contract` calling `selector_` since `from_block` (mined, any status)."""
    out = []
    for n in range(from_block, net.w3.eth.block_number + 1):
        block = net.w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            if tx["to"] == contract and bytes(tx["input"])[:4] == selector_:
                receipt = net.w3.eth.get_transaction_receipt(tx["hash"])
                out.append({"hash": tx["hash"].to_0x_hex(), "from": tx["from"], "status": receipt["status"],
                            "gasUsed": receipt["gasUsed"], "block": receipt["blockNumber"]})
    return out


def oracle_logs(net, event: str, from_block: int = 0, topics: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Decoded `event` logs of the LogisticsOracle since `from_block`, with their tx and block."""
    if net.w3.eth.block_number < from_block:  # nothing mined since (anvil refuses a future fromBlock)
        return []
    o = oracle(net)
    ev = getattr(o.contract.events, event)()
    logs = net.w3.eth.get_logs({"address": o.address, "fromBlock": from_block, "topics": [ev.topic, *topics]})
    return [{**dict(ev.process_log(log)["args"]), "txHash": log["transactionHash"].to_0x_hex(),
             "blockNumber": log["blockNumber"]} for log in logs]


def confirmed(net, event: dict[str, Any]) -> bytes | None:
    """The eventId confirmed (and not retracted) in the slot of a carrier event (any DCSA version), or None."""
    struct = normalize_carrier_event(event).struct
    tag = oracle(net).confirmed_tag(struct.shipment_id, struct.event_code, struct.location)
    if tag is None:
        return None
    logs = oracle_logs(net, "EventConfirmed", topics=[None, "0x" + struct.shipment_id.hex()])
    return next(bytes(log["eventId"]) for log in logs if event_tag(bytes(log["eventId"])) == tag
                and bytes(log["location"]) == struct.location.encode())


def post_all(ops: Iterable[OperatorProcess], event: Any, path: str = "/carrier-events") -> list[Any]:
    """The carrier posts `event` (an event or a batch) to each operator; the answers."""
    answers = []
    for op in ops:
        client = carrier_for(op)
        try:
            answers.append(client.post(path, event))
        finally:
            client.close()
    return answers
