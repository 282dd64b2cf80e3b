"""DCSA Track & Trace **v3.0.0-Beta-1**: ``{"metadata": {...}, "payload": {...}}`` events
(``tnt/v3/tnt_v3.0.0-Beta-1.yaml`` with ``event_domain_v3.1.0``).

- ``metadata`` (required: ``eventID`` up to 100 characters, ``eventCreatedDateTime``,
  ``eventType``, ``publisher`` {``carrierCode``, ``carrierCodeListProvider``}, ``publisherRole``)
  identifies the event: **publisher + eventID**.
- ``metadata.retractedEventID`` makes the event a **retraction** of the publisher's event with that
  id; it then carries no ``payload`` (the standard says it MUST NOT). Otherwise ``payload`` is
  required.
- payloads: transport (``transportEventTypeCode``, ``transportCall`` with
  ``transportCallReference`` and ``modeOfTransport``, located by ``transportCall.location``),
  equipment (``equipmentEventTypeCode``, ``emptyIndicatorCode``, located by ``eventLocation`` or
  its transport call), shipment (``shipmentEventTypeCode``, ``documentTypeCode``,
  ``documentReference``; ``eventClassifierCode`` must be ACT). Related documents are
  ``relatedDocumentReferences`` [{``type``, ``value``}].
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from ..errors import ValidationFailed
from .codes import ATTESTED_DOCUMENT_TYPES, not_attested
from .common import (DOCUMENT_EVENT_LOCATION, V3_BETA, CallReference, Classification, Facts, ModeOfTransport, Open,
                     Reference, Text100, UNLocode, first_location, references, validate)

DocumentType = Literal["CBR", "BKG", "SHI", "TRD", "DEI", "DEO", "TRO", "CRO", "ARN", "VGM", "CAS", "CUC", "DGD",
                       "OOG", "CQU", "INV", "HCE", "PCE", "VCE", "FCE", "ICE", "CEA", "CEO"]
ShipmentCode = Literal["RECE", "DRFT", "PENA", "PENU", "PENC", "CONF", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID",
                       "REQS", "CMPL", "HOLD", "RELS", "CANC"]
EquipmentCode = Literal["LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "AVPU", "PICK", "AVDO", "DROP", "INSP", "RSEA",
                        "RMVD", "CUSS", "CUSI", "CUSR", "CROS"]
CODE_FIELD = {"TRANSPORT": "transportEventTypeCode", "EQUIPMENT": "equipmentEventTypeCode",
              "SHIPMENT": "shipmentEventTypeCode"}


class Publisher(Open):
    partyName: Text100 | None = None
    carrierCode: Annotated[str, StringConstraints(min_length=1, max_length=4)]
    carrierCodeListProvider: Literal["SMDG", "NMFTA"]


class Metadata(Open):
    eventID: Text100
    eventCreatedDateTime: AwareDatetime
    eventType: Literal["SHIPMENT", "EQUIPMENT", "TRANSPORT"]
    publisher: Publisher
    publisherRole: Literal["CA", "AG", "VSP", "SVP"]
    retractedEventID: Text100 | None = None


class Head(Open):
    metadata: Metadata
    payload: dict[str, Any] | None = None


class PayloadHead(Open):
    eventClassifierCode: Literal["ACT", "PLN", "EST"]
    transportEventTypeCode: Literal["ARRI", "DEPA"] | None = None
    equipmentEventTypeCode: EquipmentCode | None = None
    shipmentEventTypeCode: ShipmentCode | None = None
    documentTypeCode: DocumentType | None = None


class Location(Open):
    locationType: Literal["UNLO", "FACI", "ADDR", "GEOL"] | None = None
    locationName: Text100 | None = None
    UNLocationCode: UNLocode | None = None


class TransportCall(Open):
    transportCallReference: CallReference
    transportCallSequenceNumber: int | None = None
    modeOfTransport: ModeOfTransport
    location: Location | None = None


class RelatedDocument(Open):
    type: DocumentType
    value: Reference


class Payload(PayloadHead):
    eventDateTime: AwareDatetime
    documentReference: Reference | None = None
    transportCall: TransportCall | None = None
    eventLocation: Location | None = None
    emptyIndicatorCode: Literal["EMPTY", "LADEN"] | None = None
    relatedDocumentReferences: list[RelatedDocument] | None = Field(default=None, max_length=50)


def classify(raw: dict[str, Any]) -> Classification:
    head: Head = validate(Head, raw)
    md = head.metadata
    party = f"{md.publisher.carrierCodeListProvider}:{md.publisher.carrierCode}"
    if md.retractedEventID is not None:
        if head.payload is not None:
            raise ValidationFailed("a retraction (metadata.retractedEventID) must not include a payload",
                                   field="payload")
        return Classification(V3_BETA, md.eventID, "metadata.eventID", party, (party,), md.eventType, None, None,
                              "retraction", retracts=md.retractedEventID,
                              ignored=f"retraction of event {md.retractedEventID}")
    if head.payload is None:
        raise ValidationFailed("required unless metadata.retractedEventID is given", field="payload")
    p: PayloadHead = validate(PayloadHead, head.payload, "payload")
    field = CODE_FIELD[md.eventType]
    code = getattr(p, field)
    if code is None:
        raise ValidationFailed(f"required for eventType {md.eventType}", field=f"payload.{field}")
    if md.eventType == "SHIPMENT" and p.eventClassifierCode != "ACT":
        raise ValidationFailed("must be ACT for a shipment event", field="payload.eventClassifierCode")
    ignored = not_attested(p.eventClassifierCode, md.eventType, code, code)
    if ignored is None and md.eventType == "SHIPMENT":
        if p.documentTypeCode is None:
            raise ValidationFailed("required for a shipment event", field="payload.documentTypeCode")
        if p.documentTypeCode not in ATTESTED_DOCUMENT_TYPES:
            ignored = (f"a shipment event about a {p.documentTypeCode} document: shipment milestones are "
                       f"attested for transport documents (TRD) and bookings (BKG) only")
    return Classification(V3_BETA, md.eventID, "metadata.eventID", party, (party,), md.eventType,
                          p.eventClassifierCode, code, code, ignored=ignored)


def facts(raw: dict[str, Any], c: Classification) -> Facts:
    head: Head = validate(Head, raw)
    p: Payload = validate(Payload, head.payload, "payload")
    refs = references()
    for i, doc in enumerate(p.relatedDocumentReferences or []):
        if doc.type in refs:
            refs[doc.type].append((doc.value, f"payload.relatedDocumentReferences.{i}.value"))
    tc = p.transportCall
    call = None if tc is None else {"reference": tc.transportCallReference,
                                    "sequence": tc.transportCallSequenceNumber, "mode": tc.modeOfTransport}
    call_location = (tc.location.UNLocationCode if tc and tc.location else None,
                     "payload.transportCall.location.UNLocationCode")
    if c.event_type == "SHIPMENT":
        if p.documentReference is None:
            raise ValidationFailed("required for a shipment event", field="payload.documentReference")
        refs[p.documentTypeCode].insert(0, (p.documentReference, "payload.documentReference"))
        location, location_field = DOCUMENT_EVENT_LOCATION, "payload.documentTypeCode"
    elif c.event_type == "TRANSPORT":
        if tc is None:
            raise ValidationFailed("required for a transport event", field="payload.transportCall")
        location, location_field = first_location([call_location], must_agree=True,
                                                  missing_field="payload.transportCall.location.UNLocationCode")
    else:  # EQUIPMENT
        if p.emptyIndicatorCode is None:
            raise ValidationFailed("required for an equipment event", field="payload.emptyIndicatorCode")
        location, location_field = first_location(
            [(p.eventLocation.UNLocationCode if p.eventLocation else None, "payload.eventLocation.UNLocationCode"),
             call_location], must_agree=False, missing_field="payload.eventLocation.UNLocationCode")
    return Facts(refs, location, location_field, p.eventDateTime.timestamp(), "payload.eventDateTime",
                 head.metadata.eventCreatedDateTime.timestamp(), "metadata.eventCreatedDateTime", call)
