"""Non-custodial writes: relay a transaction the participant signed with its own key, and report
how it fares.

A relayed transaction is checked before it is broadcast so that it can be mined at once: signed
by the caller, addressed to a tradenet contract, for this chain, with the sender's next nonce
(no gap: a transaction with a future nonce would wait in the pool for ever), a gas limit within
the block's, fees at least the base fee, and a balance that covers them. The node answers at once
(202) with the hash and a status URL (``GET /tx/{hash}``: pending, included or failed, with the
receipt summary and the contract's error); it never waits for the block.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import rlp
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from fastapi import APIRouter, Path, Response
from hexbytes import HexBytes
from pydantic import BaseModel, Field
from web3 import Web3
from web3.exceptions import TransactionNotFound

from chain.errors import ContractRevert
from chain.tx import replay_revert
from chain.vocabulary import Role

from ..context import Caller, NodeContext
from ..deps import CallerDep, Ctx
from ..errors import Forbidden, InvalidInput, NodeError, NotFound
from ..models import RequestModel
from ..openapi import READ_ONE, problems

router = APIRouter(prefix="/tx", tags=["transactions"])

#: how far ahead of the sender's next nonce a relayed transaction may be (0: it must be the next)
MAX_NONCE_GAP = 0
INTRINSIC_GAS = 21_000


class RelayIn(RequestModel):
    raw_transaction: str = Field(pattern=r"^0x[0-9a-fA-F]+$", max_length=262_144,
                                 description="signed RLP transaction (legacy EIP-155 or typed), 0x-hex")


class RelayedOut(BaseModel):
    tx_hash: str
    status: Literal["pending"]
    status_url: str = Field(description="poll it: GET /tx/{tx_hash}")


class TxStatusOut(BaseModel):
    tx_hash: str
    status: Literal["pending", "included", "failed"]
    sender: str
    to: str | None
    nonce: int
    block_number: int | None = None
    gas_used: int | None = None
    error: str | None = Field(default=None, description="the contract's error, for a failed transaction")
    detail: str | None = None


class NonceTooLow(NodeError):
    status = 409
    code = "nonce_too_low"
    title = "Nonce already used"


@router.post("/relay", response_model=RelayedOut, status_code=202, responses=problems(409))
def relay(body: RelayIn, ctx: Ctx, caller: CallerDep, response: Response) -> RelayedOut:
    """Broadcast a transaction signed by the caller to a tradenet contract; answers at once."""
    raw = HexBytes(body.raw_transaction)
    try:
        sender = Account.recover_transaction(raw)
        tx = _decode(raw)
    except Exception as exc:  # malformed RLP or signature
        raise InvalidInput("raw_transaction", f"not a signed transaction: {exc}") from None
    if sender != caller.address:
        raise Forbidden(f"transaction is signed by {sender}, you are logged in as {caller.address}")
    _check(ctx, sender, tx)
    try:
        tx_hash = ctx.chain.w3.eth.send_raw_transaction(raw).to_0x_hex()
    except Exception as exc:
        raise InvalidInput("raw_transaction", f"node refused the transaction: {exc}") from None
    url = f"/tx/{tx_hash}"
    response.headers["Location"] = url
    return RelayedOut(tx_hash=tx_hash, status="pending", status_url=url)


TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="transaction hash")]


@router.get("/{tx_hash}", response_model=TxStatusOut, responses=READ_ONE)
def status(tx_hash: TxHash, ctx: Ctx, caller: CallerDep) -> TxStatusOut:
    """Pending, included or failed (with the contract's error), for the transaction's sender (or
    an auditor)."""
    w3 = ctx.chain.w3
    try:
        tx = w3.eth.get_transaction(tx_hash)
    except TransactionNotFound:
        raise NotFound("transaction", tx_hash) from None
    if not _visible(caller, tx["from"]):
        raise NotFound("transaction", tx_hash)
    out = TxStatusOut(tx_hash=tx_hash.lower(), status="pending", sender=tx["from"], to=tx.get("to"), nonce=tx["nonce"])
    try:
        receipt = w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return out
    out.block_number, out.gas_used = receipt["blockNumber"], receipt["gasUsed"]
    if receipt["status"] == 1:
        out.status = "included"
        return out
    out.status = "failed"
    try:
        err: ContractRevert = replay_revert(w3, ctx.chain.decoder, {"from": tx["from"], "to": tx["to"],
                                                                    "data": tx["input"], "value": tx["value"],
                                                                    "gas": tx["gas"]}, receipt)
        out.error, out.detail = err.error_name, str(err)
    except Exception as exc:  # noqa: BLE001 - the status stays "failed" whatever the replay says
        out.detail = f"reverted ({type(exc).__name__})"
    return out


def _visible(caller: Caller, sender: str) -> bool:
    return sender == caller.address or caller.has(Role.AUDITOR)


def _decode(raw: bytes) -> dict[str, Any]:
    """The fields of a signed transaction: to, nonce, gas, value, chain id and fees."""
    if raw[0] < 0x7F:  # typed transaction (EIP-2718)
        d = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        fields = {"to": d.get("to"), "nonce": d["nonce"], "gas": d["gas"], "value": d["value"],
                  "chain_id": d.get("chainId")}
        if "maxFeePerGas" in d:
            fields.update(max_fee=d["maxFeePerGas"], priority_fee=d["maxPriorityFeePerGas"])
        else:
            fields.update(max_fee=d["gasPrice"], priority_fee=d["gasPrice"])
    else:
        nonce, gas_price, gas, to, value, _data, v, _r, _s = rlp.decode(raw)
        v = int.from_bytes(v, "big")
        fields = {"to": to, "nonce": int.from_bytes(nonce, "big"), "gas": int.from_bytes(gas, "big"),
                  "value": int.from_bytes(value, "big"), "chain_id": (v - 35) // 2 if v >= 35 else None,
                  "max_fee": int.from_bytes(gas_price, "big"), "priority_fee": int.from_bytes(gas_price, "big")}
    if not fields["to"]:
        raise ValueError("contract creation is not relayed")
    fields["to"] = Web3.to_checksum_address(fields["to"])
    return fields


def _check(ctx: NodeContext, sender: str, tx: dict[str, Any]) -> None:
    """Refuse what could not be mined now (see the module docstring)."""
    d = ctx.deployment
    allowed = {d.registry, d.invoice_token, d.warehouse_receipt, d.purchase_orders, *d.settlement_tokens.values(),
               d.logistics_oracle, d.fx_rate_store, d.deal_engine, d.risk_rules, d.invoice_settlement, d.abs_pools,
               *d.product_modules.values()} - {""}
    if tx["to"] not in allowed:
        raise InvalidInput("raw_transaction", f"target {tx['to']} is not a tradenet contract")
    if tx["chain_id"] != ctx.chain.chain_id:
        raise InvalidInput("raw_transaction", f"the transaction is for chain {tx['chain_id']} (none: replayable on "
                                              f"any chain), this node serves chain {ctx.chain.chain_id}")
    w3 = ctx.chain.w3
    pending = w3.eth.get_transaction_count(sender, "pending")
    if tx["nonce"] < pending:
        raise NonceTooLow(f"nonce {tx['nonce']} is used: {sender}'s next nonce is {pending}", field="raw_transaction")
    if tx["nonce"] > pending + MAX_NONCE_GAP:
        raise InvalidInput("raw_transaction", f"nonce {tx['nonce']} is ahead of {sender}'s next nonce {pending}: it "
                                              "would wait in the pool and never be mined")
    block = w3.eth.get_block("latest")
    if not INTRINSIC_GAS <= tx["gas"] <= block["gasLimit"]:
        raise InvalidInput("raw_transaction", f"gas limit {tx['gas']} is outside {INTRINSIC_GAS}..{block['gasLimit']} "
                                              "(the block gas limit)")
    base_fee = block.get("baseFeePerGas") or 0
    if tx["max_fee"] < base_fee:
        raise InvalidInput("raw_transaction", f"fee cap {tx['max_fee']} is below the base fee {base_fee}")
    if tx["priority_fee"] > tx["max_fee"]:
        raise InvalidInput("raw_transaction", "the priority fee exceeds the fee cap")
    cost = tx["gas"] * tx["max_fee"] + tx["value"]
    balance = w3.eth.get_balance(sender, "pending")
    if cost > balance:
        raise InvalidInput("raw_transaction", f"{sender} holds {balance} wei; the transaction may cost {cost}")
