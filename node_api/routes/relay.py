"""Non-custodial writes: relay a transaction the participant signed with its own key."""

from __future__ import annotations

from eth_account import Account
from fastapi import APIRouter
from hexbytes import HexBytes
from pydantic import BaseModel, Field

from chain.tx import replay_revert

from ..deps import CallerDep, Ctx
from ..models import TxOut, tx_out
from ..problems import bad_request, forbidden

router = APIRouter(prefix="/tx", tags=["transactions"])


class RelayIn(BaseModel):
    raw_transaction: str = Field(pattern=r"^0x[0-9a-fA-F]+$", max_length=262_144,
                                 description="signed RLP transaction, 0x-hex")


@router.post("/relay", response_model=TxOut)
def relay(body: RelayIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """Broadcast a transaction signed by the caller to a tradenet contract and wait for it.

    The sender recovered from the signature must be the logged-in participant, and the target must
    be one of the network's contracts; the contract then applies its own rules."""
    raw = HexBytes(body.raw_transaction)
    try:
        sender = Account.recover_transaction(raw)
        decoded = _decode_target(raw)
    except Exception as exc:  # malformed RLP or signature
        raise bad_request("raw_transaction", f"not a signed transaction: {exc}") from None
    if sender != caller.address:
        raise forbidden(f"transaction is signed by {sender}, you are logged in as {caller.address}")
    d = ctx.deployment
    allowed = {d.registry, d.invoice_token, d.warehouse_receipt, *d.settlement_tokens.values(),
               d.logistics_oracle, d.fx_rate_store, d.receivable_financing} - {""}
    if decoded not in allowed:
        raise bad_request("raw_transaction", f"target {decoded} is not a tradenet contract")
    w3 = ctx.chain.w3
    try:
        tx_hash = w3.eth.send_raw_transaction(raw)
    except Exception as exc:
        raise bad_request("raw_transaction", f"node refused the transaction: {exc}") from None
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        tx = w3.eth.get_transaction(tx_hash)
        raise replay_revert(w3, ctx.chain.decoder, {"from": tx["from"], "to": tx["to"], "data": tx["input"],
                                                    "value": tx["value"], "gas": tx["gas"]}, receipt)
    return tx_out(receipt)


def _decode_target(raw: bytes) -> str:
    import rlp
    from eth_account.typed_transactions import TypedTransaction
    from web3 import Web3

    if raw[0] < 0x7F:  # typed transaction (EIP-2718)
        tx = TypedTransaction.from_bytes(raw)
        to = tx.as_dict()["to"]
    else:
        to = rlp.decode(raw)[3]
    if not to:
        raise ValueError("contract creation is not relayed")
    return Web3.to_checksum_address(to)
