"""DCSA Track & Trace **v3.0.0**: flat events with ``eventRouting``, ``eventClassification`` and
``shipmentDetails`` / ``transportDetails`` / ``equipmentDetails`` (``TNT_v3.0.0.yaml`` in
``dcsaorg/Conformance-Gateway``, marked *work in progress* by DCSA; its earlier drafts are read too).

- **Identity**: the ``eventRouting`` originating party (or parties: ``originatingParties`` in the
  current draft, ``originatingParty`` in earlier ones and in DCSA's Java model), each
  ``codeListProvider`` / ``codeListName`` / ``partyCode``, plus ``eventID`` (any string, up to
  500 characters as in DCSA's model).
- **Versions**: "an event overrides any other event that has the same eventID and an earlier
  eventUpdatedDateTime": ``eventUpdatedDateTime`` is required (DCSA's conformance checks require
  it), and orders the versions of one event.
- **Retraction**: ``isRetracted: true``: "any event data other than the eventID is irrelevant".
- Codes are words (``ACTUAL``, ``ARRIVED``, ``GATED_IN``, ``TRANSPORT_DOCUMENT``...) in the current
  draft and four/three-letter codes (``eventClassifierCode: ACT``, ``transportEventTypeCode:
  ARRI``, ``typeCode: BKG``) in earlier ones; both are read, and must agree if both are given.
- The place is ``eventLocation.UNLocationCode`` (earlier drafts also put it in the transport
  call); the transport call is ``transportDetails.transportCall`` (``transportCallReference`` or
  the drafts' ``transportCallID``, ``transportCallSequenceNumber``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StrictBool, StringConstraints

from ..errors import ValidationFailed
from .codes import (ATTESTED_DOCUMENT_TYPES, CLASSIFIER_WORDS, DOCUMENT_WORDS, EQUIPMENT_WORDS, SHIPMENT_WORDS,
                    TRANSPORT_WORDS, not_attested)
from .common import (DOCUMENT_EVENT_LOCATION, V300, CallReference, Classification, Facts, Open, Reference, Text100,
                     UNLocode, first_location, references, validate)

Word = Annotated[str, StringConstraints(min_length=1, max_length=64)]
EVENT_TYPES = frozenset({"SHIPMENT", "TRANSPORT", "EQUIPMENT", "IOT", "REEFER"})
_CODE_FIELDS = {  # eventType -> (word field, code field, word map)
    "SHIPMENT": ("shipmentEventType", "shipmentEventTypeCode", SHIPMENT_WORDS),
    "TRANSPORT": ("transportEventType", "transportEventTypeCode", TRANSPORT_WORDS),
    "EQUIPMENT": ("equipmentEventType", "equipmentEventTypeCode", EQUIPMENT_WORDS),
}


class Party(Open):
    partyCode: Text100
    codeListProvider: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    codeListName: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    partyFunction: Annotated[str, StringConstraints(min_length=1, max_length=10)] | None = None


class Routing(Open):
    originatingParties: list[Party] | None = Field(default=None, max_length=16)
    originatingParty: Party | None = None


class EventClassification(Open):
    eventType: Word | None = None
    eventTypeCode: Word | None = None
    eventClassifier: Word | None = None
    eventClassifierCode: Word | None = None
    shipmentEventType: Word | None = None
    shipmentEventTypeCode: Word | None = None
    transportEventType: Word | None = None
    transportEventTypeCode: Word | None = None
    equipmentEventType: Word | None = None
    equipmentEventTypeCode: Word | None = None


class Head(Open):
    eventID: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    eventUpdatedDateTime: AwareDatetime
    isRetracted: StrictBool | None = None
    eventRouting: Routing | None = None
    eventClassification: EventClassification | None = None
    shipmentDetails: dict[str, Any] | None = None


class DocumentReference(Open):
    type: Word | None = None
    typeCode: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None
    reference: Reference


class ShipmentDetails(Open):
    documentReference: DocumentReference | None = None
    additionalDocumentReferences: list[DocumentReference] | None = Field(default=None, max_length=50)


class Location(Open):
    UNLocationCode: UNLocode | None = None


class TransportCall(Open):
    transportCallReference: CallReference | None = None
    transportCallID: CallReference | None = None  # earlier drafts
    transportCallSequenceNumber: int | None = None
    modeOfTransport: Literal["VESSEL", "RAIL", "TRUCK", "BARGE", "MULTIMODAL"] | None = None
    UNLocationCode: UNLocode | None = None  # earlier drafts


class TransportDetails(Open):
    transportCall: TransportCall | None = None


class Event(Head):
    eventDateTime: AwareDatetime
    eventLocation: Location | None = None
    shipmentDetails: ShipmentDetails | None = None  # type: ignore[assignment]
    transportDetails: TransportDetails | None = None


def _one(word: str | None, code: str | None, word_field: str, code_field: str, words: dict[str, str],
         prefix: str = "eventClassification") -> tuple[str | None, str]:
    """(four-letter code or None if the word is unknown, label) from a word and/or a code field."""
    mapped = words.get(word) if word is not None else None
    if word is not None and code is not None and mapped != code:
        raise ValidationFailed(f"contradicts {prefix}.{word_field} ({word})", field=f"{prefix}.{code_field}")
    if code is not None:
        return code, code
    if word is not None:
        return mapped, word
    return None, ""


def _parties(routing: Routing | None) -> tuple[str, tuple[str, ...]]:
    parties = list((routing.originatingParties or []) if routing else [])
    if routing and routing.originatingParty is not None:
        parties.append(routing.originatingParty)
    identity = ",".join(sorted(f"{p.codeListProvider or ''}{'/' + p.codeListName if p.codeListName else ''}:"
                               f"{p.partyCode}" for p in parties))
    return identity, tuple(sorted({f"{p.codeListProvider or ''}:{p.partyCode}" for p in parties}))


def _document_type(doc: DocumentReference, field: str) -> str:
    code, label = _one(doc.type, doc.typeCode, "type", "typeCode", DOCUMENT_WORDS, prefix=field)
    if code is None and not label:
        raise ValidationFailed("a document reference needs its type (type or typeCode)", field=f"{field}.type")
    return code or label


def classify(raw: dict[str, Any]) -> Classification:
    head: Head = validate(Head, raw)
    party, parties = _parties(head.eventRouting)
    updated = head.eventUpdatedDateTime.timestamp()
    if head.isRetracted:
        return Classification(V300, head.eventID, "eventID", party, parties, "", None, None, "retraction",
                              updated_at=updated, retracts=head.eventID,
                              ignored=f"retraction of event {head.eventID}")
    ec = head.eventClassification
    if ec is None:
        raise ValidationFailed("required (type and classifier of the event)", field="eventClassification")
    event_type = ec.eventType or ec.eventTypeCode
    if ec.eventType and ec.eventTypeCode and ec.eventType != ec.eventTypeCode:
        raise ValidationFailed(f"contradicts eventClassification.eventType ({ec.eventType})",
                               field="eventClassification.eventTypeCode")
    if event_type is None:
        raise ValidationFailed("required", field="eventClassification.eventType")
    classifier, classifier_label = _one(ec.eventClassifier, ec.eventClassifierCode, "eventClassifier",
                                        "eventClassifierCode", CLASSIFIER_WORDS)
    if not classifier_label:
        raise ValidationFailed("required", field="eventClassification.eventClassifier")
    if classifier is None or classifier not in ("ACT", "EST", "PLN"):
        raise ValidationFailed(f"{classifier_label!r} is not one of ACTUAL, ESTIMATED, PLANNED",
                               field="eventClassification.eventClassifier")
    if event_type not in EVENT_TYPES:
        return Classification(V300, head.eventID, "eventID", party, parties, event_type, classifier, None,
                              event_type, updated_at=updated, ignored=f"eventType {event_type} is not attested")
    extra = ec.model_extra or {}
    code, label = None, str(extra.get(f"{event_type.lower()}EventType") or extra.get(f"{event_type.lower()}EventTypeCode")
                            or event_type)[:64]
    if event_type in _CODE_FIELDS:
        word_field, code_field, words = _CODE_FIELDS[event_type]
        code, label = _one(getattr(ec, word_field), getattr(ec, code_field), word_field, code_field, words)
        label = label or f"(no {word_field})"
    ignored = not_attested(classifier, event_type, code, label)
    if ignored is None and event_type == "SHIPMENT":
        details = validate(ShipmentDetails, head.shipmentDetails or {}, "shipmentDetails")
        if details.documentReference is None:
            raise ValidationFailed("required for a shipment event", field="shipmentDetails.documentReference")
        doc_type = _document_type(details.documentReference, "shipmentDetails.documentReference")
        if doc_type not in ATTESTED_DOCUMENT_TYPES:
            ignored = (f"a shipment event about a {doc_type} document: shipment milestones are attested for "
                       f"transport documents and bookings only")
    return Classification(V300, head.eventID, "eventID", party, parties, event_type, classifier, code, label,
                          updated_at=updated, ignored=ignored)


def facts(raw: dict[str, Any], c: Classification) -> Facts:
    ev: Event = validate(Event, raw)
    refs = references()
    details = ev.shipmentDetails or ShipmentDetails()
    docs = ([("shipmentDetails.documentReference", details.documentReference)] if details.documentReference else [])
    docs += [(f"shipmentDetails.additionalDocumentReferences.{i}", d)
             for i, d in enumerate(details.additionalDocumentReferences or [])]
    for field, doc in docs:
        doc_type = _document_type(doc, field)
        if doc_type in refs:
            refs[doc_type].append((doc.reference, f"{field}.reference"))
    tc = ev.transportDetails.transportCall if ev.transportDetails else None
    call = None
    if tc is not None:
        ref = tc.transportCallReference or tc.transportCallID
        call = {"reference": ref, "sequence": tc.transportCallSequenceNumber, "mode": tc.modeOfTransport}
    candidates = [(ev.eventLocation.UNLocationCode if ev.eventLocation else None, "eventLocation.UNLocationCode"),
                  (tc.UNLocationCode if tc else None, "transportDetails.transportCall.UNLocationCode")]
    if c.event_type == "SHIPMENT":
        location, location_field = DOCUMENT_EVENT_LOCATION, "shipmentDetails.documentReference"
    else:
        location, location_field = first_location(candidates, must_agree=c.event_type == "TRANSPORT",
                                                  missing_field="eventLocation.UNLocationCode")
    return Facts(refs, location, location_field, ev.eventDateTime.timestamp(), "eventDateTime",
                 ev.eventUpdatedDateTime.timestamp(), "eventUpdatedDateTime", call)
