"""Transaction signing with libsecp256k1 (coincurve), about 20x eth-account's `sign_transaction`.

eth-account validates and normalises every field through several layers (~1.1 ms a transaction
even on its coincurve backend); the pipeline builds its transactions itself, so it serialises
them here: EIP-1559 (type 2) and legacy EIP-155 transactions, byte-identical to eth-account's
(RFC 6979 deterministic signatures; `tests/test_tx_pipeline.py` compares them). Accounts without
a raw key (e.g. a hardware signer behind the LocalAccount interface) and transactions with an
access list fall back to eth-account.
"""

from __future__ import annotations

from typing import Any

import coincurve
from eth_account.signers.local import LocalAccount
from eth_utils import keccak


def _to_bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


class TxSigner:
    """Signs transaction dicts (eth-account's field names) for one key; returns (raw, hash)."""

    def __init__(self, account: LocalAccount):
        self.account = account
        key = getattr(account, "key", None)
        self._key = coincurve.PrivateKey(bytes(key)) if key else None

    def sign(self, tx: dict[str, Any]) -> tuple[bytes, bytes]:
        if self._key is None or tx.get("accessList"):
            signed = self.account.sign_transaction(tx)
            return bytes(signed.raw_transaction), bytes(signed.hash)
        to = _to_bytes(tx.get("to"))
        data = _to_bytes(tx.get("data", b""))
        value = int(tx.get("value", 0))
        if "gasPrice" in tx:  # legacy, EIP-155 replay protection
            chain_id = int(tx["chainId"])
            fields = [int(tx["nonce"]), int(tx["gasPrice"]), int(tx["gas"]), to, value, data]
            sig = self._key.sign_recoverable(keccak(_rlp(fields + [chain_id, 0, 0])), hasher=None)
            raw = _rlp(fields + [sig[64] + 35 + 2 * chain_id, *_rs(sig)])
        else:
            fields = [int(tx["chainId"]), int(tx["nonce"]), int(tx["maxPriorityFeePerGas"]), int(tx["maxFeePerGas"]),
                      int(tx["gas"]), to, value, data, []]
            sig = self._key.sign_recoverable(keccak(b"\x02" + _rlp(fields)), hasher=None)
            raw = b"\x02" + _rlp(fields + [sig[64], *_rs(sig)])
        return raw, keccak(raw)


def _rs(sig: bytes) -> tuple[int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")


def _rlp(item: int | bytes | list) -> bytes:
    """RLP of ints (big-endian, minimal), byte strings and lists: all a transaction holds
    (pyrlp infers a serializer per item and costs ~0.05 ms a transaction)."""
    if isinstance(item, list):
        body = b"".join(_rlp(x) for x in item)
        return _length(len(body), 0xC0) + body
    if isinstance(item, int):
        item = item.to_bytes((item.bit_length() + 7) // 8, "big") if item else b""
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _length(len(item), 0x80) + item


def _length(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes([offset + n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size
