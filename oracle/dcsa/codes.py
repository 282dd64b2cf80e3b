"""Which DCSA events the oracle attests, in every version's spelling.

The attested codes are ``chain.vocabulary``'s (one list for the contracts, clients and
operators): DEPA/ARRI, LOAD/DISC/GTIN/GTOT, RECE/CONF/ISSU, and tradenet's CUSC, WHIN/WHOU. Only
actual events are attested (``ACT``; v3.0.0 ``ACTUAL``); planned / estimated / requested ones
are acknowledged and ignored. A shipment (document) event is attested only for a transport
document or a booking, the two documents a shipment id is derived from.

DCSA 3.0.0 spells codes as words (``ARRIVED``, ``GATED_IN``, ``TRANSPORT_DOCUMENT``...); its
earlier drafts, and 2.2 / 3.0.0-Beta-1, use the four- and three-letter codes. The maps below
translate the words; a word they do not know is a valid event the oracle does not attest.
"""

from __future__ import annotations

from typing import Final

from chain.vocabulary import attested_codes

EVENT_TYPES: Final = ("TRANSPORT", "EQUIPMENT", "SHIPMENT", "CUSTOMS", "WAREHOUSE")
ATTESTED_CODES: Final[dict[str, frozenset[str]]] = {t: attested_codes(t) for t in EVENT_TYPES}
ATTESTED_CLASSIFIER: Final = "ACT"
ATTESTED_DOCUMENT_TYPES: Final = frozenset({"TRD", "BKG"})

CLASSIFIER_WORDS: Final = {"ACTUAL": "ACT", "ESTIMATED": "EST", "PLANNED": "PLN"}
TRANSPORT_WORDS: Final = {"ARRIVED": "ARRI", "DEPARTED": "DEPA", "APPROACHING": "APPR"}
EQUIPMENT_WORDS: Final = {
    "LOADED": "LOAD", "DISCHARGED": "DISC", "GATED_IN": "GTIN", "GATED_OUT": "GTOT", "STUFFED": "STUF",
    "STRIPPED": "STRP", "PICKED_UP": "PICK", "DROPPED_OFF": "DROP", "INSPECTED": "INSP", "RESEALED": "RSEA",
    "REMOVED": "RMVD", "AVAILABLE_FOR_PICKUP": "AVPU", "AVAILABLE_FOR_DROP_OFF": "AVDO",
    "CUSTOMS_SELECTED_FOR_SCAN": "CUSS", "CUSTOMS_SELECTED_FOR_INSPECTION": "CUSI", "CUSTOMS_RELEASED": "CUSR",
    "CROSSED": "CROS",
}
SHIPMENT_WORDS: Final = {
    "RECEIVED": "RECE", "CONFIRMED": "CONF", "ISSUED": "ISSU", "DRAFTED": "DRFT", "PENDING_APPROVAL": "PENA",
    "PENDING_UPDATE": "PENU", "REJECTED": "REJE", "APPROVED": "APPR", "SURRENDERED": "SURR", "SUBMITTED": "SUBM",
    "VOIDED": "VOID", "REQUESTED": "REQS", "COMPLETED": "CMPL", "ON_HOLD": "HOLD", "RELEASED": "RELS",
    "CANCELLED": "CANC",
}
DOCUMENT_WORDS: Final = {
    "BOOKING": "BKG", "TRANSPORT_DOCUMENT": "TRD", "CARRIER_BOOKING_REQUEST": "CBR", "SHIPPING_INSTRUCTIONS": "SHI",
    "ARRIVAL_NOTICE": "ARN", "VERIFIED_GROSS_MASS": "VGM", "CARGO_SURVEY": "CAS", "CUSTOMS_CLEARANCE": "CUC",
    "DANGEROUS_GOODS_DECLARATION": "DGD", "OUT_OF_GAUGE_DECLARATION": "OOG", "DELIVERY_INSTRUCTIONS": "DEI",
    "DELIVERY_ORDER": "DEO", "TRANSPORT_ORDER": "TRO", "CONTAINER_RELEASE_ORDER": "CRO", "CONTRACT_QUOTATION": "CQU",
    "INVOICE": "INV",
}


def not_attested(classifier: str | None, event_type: str, code: str | None, label: str) -> str | None:
    """Why an event is not attested, or None if it is an attested kind."""
    if classifier != ATTESTED_CLASSIFIER:
        return f"eventClassifierCode {classifier} is not attested (only ACT events are)"
    if code is None or code not in ATTESTED_CODES.get(event_type, frozenset()):
        return f"{event_type} event {label} is not an attested milestone"
    return None
