"""Which shipments a carrier may report on: a pluggable check, run on every attested event.

The on-chain terms of a deal name the shipment (its id) but not its carrier, so the operator has
no authoritative "this B/L is carried by X" yet. :class:`ReferencePrefixPolicy` uses what the
operator does know: a carrier credential may list ``referencePrefixes`` (carriers number their
bills of lading and bookings with their own prefix, usually their SCAC code), and then its events
must name a transport document or booking starting with one of them. Without the list, any
shipment is allowed. When terms name a carrier on chain, a policy reading them replaces this one
(``OperatorService(shipment_policy=...)``) without touching the intake.
"""

from __future__ import annotations

from typing import Protocol

from .credentials import Credential
from .errors import Forbidden


class ShipmentPolicy(Protocol):
    def check(self, credential: Credential, reference: str, field: str) -> None:
        """Raise Forbidden if `credential` may not report on the shipment `reference`
        (found at the dotted path `field` of the event)."""


class ReferencePrefixPolicy:
    def check(self, credential: Credential, reference: str, field: str) -> None:
        prefixes = credential.reference_prefixes
        if prefixes is None or any(reference.startswith(p) for p in prefixes):
            return
        raise Forbidden(f"carrier {credential.source} may report only on shipments whose transport document or "
                        f"booking reference starts with {', '.join(prefixes)}; {reference!r} is another "
                        f"carrier's", field=field)
