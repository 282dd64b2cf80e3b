"""DCSA-shaped carrier events (and FX observations) for demos, tests and benchmarks."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def transport_event(reference: str = "MAEU240012345", code: str = "DEPA", unlocode: str = "CNSZX",
                    when: float | None = None, event_id: str | None = None, classifier: str = "ACT",
                    **extra: Any) -> dict[str, Any]:
    """A v2.2 TransportEvent (vessel departure / arrival)."""
    when = datetime.now(timezone.utc).timestamp() - 120 if when is None else when
    ev: dict[str, Any] = {
        "eventID": event_id or str(uuid.uuid4()),
        "eventType": "TRANSPORT",
        "eventClassifierCode": classifier,
        "eventDateTime": iso(when),
        "eventCreatedDateTime": iso(when + 30),
        "transportEventTypeCode": code,
        "documentReferences": [
            {"documentReferenceType": "BKG", "documentReferenceValue": "BKG" + reference[-6:]},
            {"documentReferenceType": "TRD", "documentReferenceValue": reference},
        ],
        "transportCall": {
            "transportCallID": "TC-" + unlocode,
            "modeOfTransport": "VESSEL",
            "location": {"locationName": "Port " + unlocode, "UNLocationCode": unlocode},
            "vessel": {"vesselIMONumber": "9321483", "vesselName": "Oceanic Harmony"},
        },
    }
    ev.update(extra)
    return ev


def equipment_event(reference: str = "MAEU240012345", code: str = "LOAD", unlocode: str = "CNSZX",
                    when: float | None = None, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    when = datetime.now(timezone.utc).timestamp() - 300 if when is None else when
    ev: dict[str, Any] = {
        "eventID": event_id or str(uuid.uuid4()),
        "eventType": "EQUIPMENT",
        "eventClassifierCode": "ACT",
        "eventDateTime": iso(when),
        "eventCreatedDateTime": iso(when + 10),
        "equipmentEventTypeCode": code,
        "equipmentReference": "OCLU1234567",
        "ISOEquipmentCode": "45G1",
        "emptyIndicatorCode": "LADEN",
        "transportDocumentReference": reference,
        "transportCall": {"transportCallID": "TC-" + unlocode, "UNLocationCode": unlocode, "modeOfTransport": "VESSEL"},
    }
    ev.update(extra)
    return ev


def customs_event(reference: str = "MAEU240012345", unlocode: str = "NLRTM", when: float | None = None,
                  **extra: Any) -> dict[str, Any]:
    when = datetime.now(timezone.utc).timestamp() - 60 if when is None else when
    ev = {
        "eventID": str(uuid.uuid4()),
        "eventType": "CUSTOMS",
        "eventClassifierCode": "ACT",
        "eventDateTime": iso(when),
        "eventCreatedDateTime": iso(when + 5),
        "customsEventTypeCode": "CUSC",
        "carrierBookingReference": "BKG" + reference[-6:],
        "location": {"UNLocationCode": unlocode},
    }
    ev.update(extra)
    return ev


V3_TRANSPORT_WORDS = {"ARRI": "ARRIVED", "DEPA": "DEPARTED"}


def v3_transport_event(reference: str = "OCLU240012345", code: str = "ARRI", unlocode: str = "NLRTM",
                       when: float | None = None, updated: float | None = None, event_id: str | None = None,
                       party: str = "OCLU", call_sequence: int = 1, **extra: Any) -> dict[str, Any]:
    """A DCSA 3.0.0 transport event (actual vessel arrival / departure) of B/L `reference`,
    originating from carrier `party` (SMDG code); `updated` is its eventUpdatedDateTime (a later
    one with the same `event_id` is an update)."""
    when = datetime.now(timezone.utc).timestamp() - 120 if when is None else when
    ev: dict[str, Any] = {
        "eventRouting": {"originatingParties": [{"partyCode": party, "codeListProvider": "SMDG"}]},
        "eventID": event_id or f"evt-{reference}-{code}-{unlocode}-{uuid.uuid4().hex[:8]}",
        "eventDateTime": iso(when),
        "eventUpdatedDateTime": iso(when + 30 if updated is None else updated),
        "eventLocation": {"UNLocationCode": unlocode},
        "eventClassification": {"eventType": "TRANSPORT", "eventClassifier": "ACTUAL",
                                "transportEventType": V3_TRANSPORT_WORDS[code]},
        "shipmentDetails": {"documentReference": {"type": "TRANSPORT_DOCUMENT", "reference": reference}},
        "transportDetails": {"transportCall": {"transportCallReference": f"tc-{unlocode}-{call_sequence}",
                                               "transportCallSequenceNumber": call_sequence,
                                               "modeOfTransport": "VESSEL"}},
    }
    ev.update(extra)
    return ev


def v3_retraction(event: dict[str, Any], updated: float | None = None) -> dict[str, Any]:
    """DCSA 3.0.0's retraction of `event`: its identity (originating party, eventID),
    ``isRetracted: true`` and a later eventUpdatedDateTime (default: now)."""
    updated = datetime.now(timezone.utc).timestamp() if updated is None else updated
    return {"eventRouting": event["eventRouting"], "eventID": event["eventID"], "isRetracted": True,
            "eventUpdatedDateTime": iso(updated)}


def fx_observation(base: str = "EUR", quote: str = "USD", rate: str = "1.08420000",
                   observed: float | None = None) -> dict[str, Any]:
    observed = datetime.now(timezone.utc).timestamp() - 30 if observed is None else observed
    return {"baseCurrency": base, "quoteCurrency": quote, "rate": rate, "observedAt": int(observed)}

