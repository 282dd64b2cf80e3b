"""Signature sharing between operators: the wire format and the outgoing HTTP client.

``POST /signatures`` carries one operator's EIP-712 signature over one struct::

    {"kind": "shipment", "message": {...struct...}, "digest": "0x..", "signer": "0x..",
     "signature": "0x..", "label": "DEPA at NLRTM (..)", "from": "oracle_1"}

No extra credential is needed: the receiver recomputes the digest from the message under its own
domain and recovers the signer, who must be a known operator, so the signature is the
authentication. The answer may carry the receiver's own signature over the same digest
(``"signature": {...}``), which the sender verifies and stores like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from .settings import PeerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status: int | None
    body: dict[str, Any] | None
    error: str | None
    permanent: bool = False  # the peer refused the signature itself (4xx): retry slowly


def signature_payload(*, kind: str, message: dict[str, Any], digest: str, signer: str, signature: str,
                      label: str, sender: str) -> dict[str, Any]:
    return {"kind": kind, "message": message, "digest": digest, "signer": signer, "signature": signature,
            "label": label, "from": sender}


class PeerClient:
    def __init__(self, peers: list[PeerSettings], timeout: float):
        self.peers = {p.name: p for p in peers}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
                                    headers={"User-Agent": "tradenet-oracle"})

    def close(self) -> None:
        self._client.close()

    def deliver(self, peer: str, payload: dict[str, Any]) -> DeliveryResult:
        p = self.peers.get(peer)
        if p is None:
            return DeliveryResult(False, None, None, f"unknown peer {peer!r} (removed from config?)", True)
        try:
            resp = self._client.post(p.url.rstrip("/") + "/signatures", json=payload)
        except httpx.HTTPError as exc:
            return DeliveryResult(False, None, None, f"{type(exc).__name__}: {exc}")
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code < 300:
            return DeliveryResult(True, resp.status_code, body if isinstance(body, dict) else None, None)
        detail = body.get("detail") if isinstance(body, dict) else resp.text[:200]
        return DeliveryResult(False, resp.status_code, body if isinstance(body, dict) else None,
                              f"HTTP {resp.status_code}: {detail}", permanent=400 <= resp.status_code < 500)
