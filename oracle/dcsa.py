"""Pydantic models of the carrier input: DCSA Track & Trace v2.2 / v3-shaped events (flat form),
plus the tradenet CUSTOMS and WAREHOUSE extensions.

Every field the oracle reads is validated here (types, enumerations, formats, lengths); fields it
does not read are kept as they came (``extra="allow"``): they are part of the evidence that the
evidence hash covers. Cross-field rules (which code field goes with which ``eventType``, where the
shipment reference and the location come from) are checked by ``oracle.normalize``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

UNLocode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9]{3}$")]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7E]( ?[\x21-\x7E])*$")]

EventType = Literal["TRANSPORT", "EQUIPMENT", "SHIPMENT", "CUSTOMS", "WAREHOUSE"]
ClassifierCode = Literal["ACT", "PLN", "EST", "REQ"]
TransportCode = Literal["ARRI", "DEPA"]
EquipmentCode = Literal["LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD"]
ShipmentCode = Literal["RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID", "CONF",
                       "REQS", "CMPL", "HOLD", "RELS"]
CustomsCode = Literal["CUSC"]
WarehouseCode = Literal["WHIN", "WHOU"]
DocumentTypeCode = Literal["CBR", "BKG", "SHI", "SRM", "TRD", "ARN", "VGM", "CAS", "CUS", "DGD", "OOG"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=False, strict=False)


class Location(_Open):
    locationName: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    UNLocationCode: UNLocode | None = None
    latitude: Annotated[str, StringConstraints(max_length=10)] | None = None
    longitude: Annotated[str, StringConstraints(max_length=11)] | None = None
    facilityCode: Annotated[str, StringConstraints(min_length=1, max_length=6)] | None = None


class TransportCall(_Open):
    transportCallID: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    UNLocationCode: UNLocode | None = None
    modeOfTransport: Literal["VESSEL", "RAIL", "TRUCK", "BARGE"] | None = None
    location: Location | None = None


class DocumentReference(_Open):
    """v2.2: ``{"documentReferenceType": "BKG", "documentReferenceValue": "..."}``."""

    documentReferenceType: Literal["BKG", "TRD"]
    documentReferenceValue: Reference


class CarrierEvent(_Open):
    eventID: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    eventType: EventType
    eventClassifierCode: ClassifierCode
    eventDateTime: AwareDatetime
    eventCreatedDateTime: AwareDatetime

    transportEventTypeCode: TransportCode | None = None
    equipmentEventTypeCode: EquipmentCode | None = None
    shipmentEventTypeCode: ShipmentCode | None = None
    customsEventTypeCode: CustomsCode | None = None
    warehouseEventTypeCode: WarehouseCode | None = None

    transportDocumentReference: Annotated[str, StringConstraints(min_length=1, max_length=20,
                                                                 pattern=r"^[\x21-\x7E]+$")] | None = None
    carrierBookingReference: Annotated[str, StringConstraints(min_length=1, max_length=35,
                                                              pattern=r"^[\x21-\x7E]+$")] | None = None
    documentReferences: list[DocumentReference] | None = Field(default=None, max_length=50)
    # v2.2 SHIPMENT events name their document directly
    documentTypeCode: DocumentTypeCode | None = None
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
    def _uuid(cls, v: str) -> str:
        try:
            uuid.UUID(v)
        except ValueError:
            raise ValueError("must be a UUID (DCSA eventID)") from None
        return v

    @property
    def event_id_key(self) -> str:
        """The eventID in canonical (lower-case, hyphenated) form: the idempotency key."""
        return str(uuid.UUID(self.eventID))


class FxRateInput(BaseModel):
    """An FX observation: ``{"baseCurrency": "EUR", "quoteCurrency": "USD", "rate": "1.08420000",
    "observedAt": "2025-01-01T12:00:00Z"}``. ``rate`` is a decimal string (or an integer) with at
    most 8 decimals, never a JSON float; ``observedAt`` an ISO 8601 time with offset or unix seconds."""

    model_config = ConfigDict(extra="forbid")

    baseCurrency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    quoteCurrency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    rate: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}(\.[0-9]{1,8})?$")] | int
    observedAt: AwareDatetime | Annotated[int, Field(ge=0, lt=2**63)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @field_validator("rate", mode="before")
    @classmethod
    def _no_float(cls, v: object) -> object:
        if isinstance(v, float):
            raise ValueError("must be a decimal string or an integer, not a JSON float")
        if isinstance(v, bool):
            raise ValueError("must be a decimal string or an integer")
        return v
