"""DCSA Track & Trace **v2.2**: flat ``transportEvent`` / ``equipmentEvent`` / ``shipmentEvent``
objects (TNT_v2.2.0, resolved copy in ``dcsaorg/Conformance-Gateway``), plus two tradenet
extensions in the same shape: ``eventType: CUSTOMS`` (``customsEventTypeCode: CUSC``) and
``eventType: WAREHOUSE`` (``warehouseEventTypeCode: WHIN|WHOU``), located by
``location.UNLocationCode``.

Per type (v2.2's required fields): a transport event needs ``transportCall`` (``transportCallID``,
``modeOfTransport``); an equipment event ``emptyIndicatorCode``; a shipment event
``documentID`` + ``documentTypeCode`` and has no location. tradenet also requires, of an attested
event, ``eventID`` (a UUID, v2.2's format: it is the idempotency key and the key of
``GET /events/{eventID}``) and ``eventDateTime`` / ``eventCreatedDateTime``.

A shipment's reference is its transport document (``TRD``) or, failing that, its booking
(``BKG``), from ``documentReferences``, a shipment event's ``documentID``, or tradenet's flat
``transportDocumentReference`` / ``carrierBookingReference``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from ..errors import ValidationFailed
from .common import (DOCUMENT_EVENT_LOCATION, V22, Classification, Facts, ModeOfTransport, Open, Reference, Text100,
                     UNLocode, first_location, references, validate)
from .codes import ATTESTED_CLASSIFIER, ATTESTED_CODES, ATTESTED_DOCUMENT_TYPES, not_attested

EventType = Literal["TRANSPORT", "EQUIPMENT", "SHIPMENT", "CUSTOMS", "WAREHOUSE"]
ClassifierCode = Literal["ACT", "PLN", "EST", "REQ"]
TransportCode = Literal["ARRI", "DEPA"]
EquipmentCode = Literal["LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD"]
ShipmentCode = Literal["RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID", "CONF",
                       "REQS", "CMPL", "HOLD", "RELS"]
DocumentTypeCode = Literal["CBR", "BKG", "SHI", "SRM", "TRD", "ARN", "VGM", "CAS", "CUS", "DGD", "OOG"]

# eventType -> the field that carries its type code
CODE_FIELD: dict[str, str] = {
    "TRANSPORT": "transportEventTypeCode",
    "EQUIPMENT": "equipmentEventTypeCode",
    "SHIPMENT": "shipmentEventTypeCode",
    "CUSTOMS": "customsEventTypeCode",  # tradenet extension
    "WAREHOUSE": "warehouseEventTypeCode",  # tradenet extension
}


class Head(Open):
    """The fields that decide whether a v2.2 event is attested."""

    eventID: Text100 | None = None
    eventType: EventType
    eventClassifierCode: ClassifierCode
    transportEventTypeCode: TransportCode | None = None
    equipmentEventTypeCode: EquipmentCode | None = None
    shipmentEventTypeCode: ShipmentCode | None = None
    customsEventTypeCode: Literal["CUSC"] | None = None
    warehouseEventTypeCode: Literal["WHIN", "WHOU"] | None = None
    documentTypeCode: DocumentTypeCode | None = None


class Location(Open):
    locationName: Text100 | None = None
    UNLocationCode: UNLocode | None = None
    latitude: Annotated[str, StringConstraints(max_length=10)] | None = None
    longitude: Annotated[str, StringConstraints(max_length=11)] | None = None
    facilityCode: Annotated[str, StringConstraints(min_length=1, max_length=6)] | None = None


class TransportCall(Open):
    transportCallID: Text100
    modeOfTransport: ModeOfTransport
    transportCallSequenceNumber: int | None = None
    UNLocationCode: UNLocode | None = None
    location: Location | None = None


class DocumentReference(Open):
    documentReferenceType: Literal["BKG", "TRD"]
    documentReferenceValue: Reference


class Event(Head):
    """Every field of a v2.2 event the operator reads, typed (wherever it appears)."""

    eventDateTime: AwareDatetime
    eventCreatedDateTime: AwareDatetime
    transportDocumentReference: Annotated[str, StringConstraints(min_length=1, max_length=20,
                                                                 pattern=r"^[\x21-\x7E]+$")] | None = None
    carrierBookingReference: Annotated[str, StringConstraints(min_length=1, max_length=35,
                                                              pattern=r"^[\x21-\x7E]+$")] | None = None
    documentReferences: list[DocumentReference] | None = Field(default=None, max_length=50)
    documentID: Reference | None = None
    transportCall: TransportCall | None = None
    eventLocation: Location | None = None
    location: Location | None = None  # CUSTOMS / WAREHOUSE extension events
    equipmentReference: Annotated[str, StringConstraints(min_length=1, max_length=15,
                                                         pattern=r"^[A-Z0-9]+$")] | None = None
    ISOEquipmentCode: Annotated[str, StringConstraints(min_length=4, max_length=4,
                                                       pattern=r"^[A-Z0-9]{4}$")] | None = None
    emptyIndicatorCode: Literal["EMPTY", "LADEN"] | None = None

    @field_validator("eventID")
    @classmethod
    def _uuid(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            uuid.UUID(v)
        except ValueError:
            raise ValueError("must be a UUID (DCSA v2.2 eventID)") from None
        return v


def _code(head: Head) -> str:
    wanted = CODE_FIELD[head.eventType]
    for etype, field in CODE_FIELD.items():
        value = getattr(head, field)
        if field == wanted and value is None:
            raise ValidationFailed(f"required for eventType {head.eventType}", field=field)
        if field != wanted and value is not None:
            raise ValidationFailed(f"not allowed for eventType {head.eventType} (belongs to {etype} events)",
                                   field=field)
    return getattr(head, wanted)


def classify(raw: dict[str, Any]) -> Classification:
    head: Head = validate(Head, raw)
    code = _code(head)
    event_id = head.eventID
    if event_id is not None:
        try:
            event_id = str(uuid.UUID(event_id))  # canonical: lower case, hyphenated
        except ValueError:
            pass  # refused as not a UUID if the event turns out to be attested
    ignored = not_attested(head.eventClassifierCode, head.eventType, code, code)
    if ignored is None and head.eventType == "SHIPMENT":
        if head.documentTypeCode is None:
            raise ValidationFailed("required for a shipment event", field="documentTypeCode")
        if head.documentTypeCode not in ATTESTED_DOCUMENT_TYPES:
            ignored = (f"a shipment event about a {head.documentTypeCode} document: shipment milestones are "
                       f"attested for transport documents (TRD) and bookings (BKG) only")
    return Classification(V22, event_id, "eventID", "", (), head.eventType, head.eventClassifierCode, code, code,
                          ignored=ignored)


def facts(raw: dict[str, Any], c: Classification) -> Facts:
    ev: Event = validate(Event, raw)
    if ev.eventID is None:
        raise ValidationFailed("required of an attested event: it is the operator's idempotency key",
                               field="eventID")
    refs = references()
    if ev.transportDocumentReference:
        refs["TRD"].append((ev.transportDocumentReference, "transportDocumentReference"))
    if ev.carrierBookingReference:
        refs["BKG"].append((ev.carrierBookingReference, "carrierBookingReference"))
    for i, ref in enumerate(ev.documentReferences or []):
        refs[ref.documentReferenceType].append((ref.documentReferenceValue,
                                                f"documentReferences.{i}.documentReferenceValue"))
    tc = ev.transportCall
    call = None if tc is None else {"id": tc.transportCallID, "sequence": tc.transportCallSequenceNumber,
                                    "mode": tc.modeOfTransport}
    call_locations = [(tc.location.UNLocationCode if tc and tc.location else None, "transportCall.location.UNLocationCode"),
                      (tc.UNLocationCode if tc else None, "transportCall.UNLocationCode")]
    if ev.eventType == "SHIPMENT":
        if ev.documentID is None:
            raise ValidationFailed("required for a shipment event", field="documentID")
        refs[ev.documentTypeCode].append((ev.documentID, "documentID"))
        location, location_field = DOCUMENT_EVENT_LOCATION, "documentTypeCode"
    elif ev.eventType == "TRANSPORT":
        if tc is None:
            raise ValidationFailed("required for a transport event", field="transportCall")
        location, location_field = first_location(call_locations, must_agree=True,
                                                  missing_field="transportCall.location.UNLocationCode")
    elif ev.eventType == "EQUIPMENT":
        if ev.emptyIndicatorCode is None:
            raise ValidationFailed("required for an equipment event", field="emptyIndicatorCode")
        # where the equipment event happened; else the transport call it belongs to
        location, location_field = first_location(
            [(ev.eventLocation.UNLocationCode if ev.eventLocation else None, "eventLocation.UNLocationCode"),
             *call_locations], must_agree=False, missing_field="eventLocation.UNLocationCode")
    else:  # CUSTOMS / WAREHOUSE
        location, location_field = first_location(
            [(ev.location.UNLocationCode if ev.location else None, "location.UNLocationCode"),
             (ev.eventLocation.UNLocationCode if ev.eventLocation else None, "eventLocation.UNLocationCode")],
            must_agree=True, missing_field="location.UNLocationCode")
    return Facts(refs, location, location_field, ev.eventDateTime.timestamp(), "eventDateTime",
                 ev.eventCreatedDateTime.timestamp(), "eventCreatedDateTime", call)


__all__ = ["ATTESTED_CLASSIFIER", "ATTESTED_CODES", "classify", "facts"]
