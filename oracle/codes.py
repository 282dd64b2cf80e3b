"""Event vocabulary: the DCSA Track & Trace codes (v2.2 / v3) and the tradenet extensions, and
which of them the oracle attests on chain."""

from __future__ import annotations

from typing import Final

# eventType -> the field that carries its type code
CODE_FIELD: Final[dict[str, str]] = {
    "TRANSPORT": "transportEventTypeCode",
    "EQUIPMENT": "equipmentEventTypeCode",
    "SHIPMENT": "shipmentEventTypeCode",
    # tradenet extensions (not DCSA): customs clearance and licensed-warehouse movements
    "CUSTOMS": "customsEventTypeCode",
    "WAREHOUSE": "warehouseEventTypeCode",
}

# every code a well-formed event may carry, per eventType
KNOWN_CODES: Final[dict[str, frozenset[str]]] = {
    "TRANSPORT": frozenset({"ARRI", "DEPA"}),
    "EQUIPMENT": frozenset({"LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA",
                            "RMVD"}),
    "SHIPMENT": frozenset({"RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID",
                           "CONF", "REQS", "CMPL", "HOLD", "RELS"}),
    "CUSTOMS": frozenset({"CUSC"}),
    "WAREHOUSE": frozenset({"WHIN", "WHOU"}),
}

# the codes the oracle signs and reports on chain (release milestones)
ATTESTED_CODES: Final[dict[str, frozenset[str]]] = {
    "TRANSPORT": frozenset({"DEPA", "ARRI"}),
    "EQUIPMENT": frozenset({"LOAD", "DISC", "GTIN", "GTOT"}),
    "SHIPMENT": frozenset({"RECE", "CONF", "ISSU"}),
    "CUSTOMS": frozenset({"CUSC"}),
    "WAREHOUSE": frozenset({"WHIN", "WHOU"}),
}

ALL_ATTESTED: Final[frozenset[str]] = frozenset().union(*ATTESTED_CODES.values())

# only actual events are attested; planned / estimated / requested ones are acknowledged and ignored
ATTESTED_CLASSIFIER: Final[str] = "ACT"

DESCRIPTIONS: Final[dict[str, str]] = {
    "DEPA": "vessel departed", "ARRI": "vessel arrived", "LOAD": "container loaded",
    "DISC": "container discharged", "GTIN": "container gated in", "GTOT": "container gated out",
    "RECE": "shipping documents received", "CONF": "booking confirmed", "ISSU": "transport document issued",
    "CUSC": "customs cleared", "WHIN": "goods received into warehouse", "WHOU": "goods released from warehouse",
}
