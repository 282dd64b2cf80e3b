"""``GET /events/{eventID}``: what became of a carrier's event, as this operator saw it.

For every version the carrier posted under the eventID (and every retraction naming it): what
the operator decided (attested, ignored, retraction, update, superseded) and, for an attested
event (and an update once its replacement is signed), the fate of its report: who signed it (this
operator and the peers whose signatures it holds over the same digest), whether the quorum was
reached, and the chain's answer: confirmed (transaction, block), retracted (the retraction's
transaction and block, and this operator's retraction reports with their signers), refused with
the contract error's name, its arguments and a sentence ("stale: event time ... is older than the
3-day window; chain time ..."), or held because the carrier retracted it. Intents for the chain
side are listed with their state and a sentence.

A carrier sees only its own events (another carrier's eventID answers 404, as an unknown one).
Each operator answers for itself; a carrier asks each operator it posts to.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from .refusals import iso
from .store import CarrierEventRecord, IntentRecord, Report, State, Store

_CHAIN_STATUS = {State.CONFIRMED: "confirmed", State.CONFLICT: "conflict", State.REJECTED: "refused",
                 State.SUBMITTED: "submitted", State.RETRACTED: "retracted"}


def _ids(event_id: str) -> list[str]:
    """The id as given, and its canonical UUID form (v2.2 ids are stored in lower case)."""
    ids = [event_id]
    try:
        canonical = str(uuid.UUID(event_id))
    except ValueError:
        return ids
    return ids if canonical == event_id else [event_id, canonical]


class EventStatusView:
    def __init__(self, store: Store, operator_names: dict[str, str],
                 threshold: Callable[[], int | None]):
        self.store = store
        self.names = {a.lower(): n for a, n in operator_names.items()}
        self.threshold = threshold

    def find(self, source: str, event_id: str) -> dict[str, Any] | None:
        records: list[CarrierEventRecord] = []
        for candidate in _ids(event_id):
            records += [r for r in self.store.events_for(source, candidate) if r.id not in {x.id for x in records}]
        if not records:
            return None
        records.sort(key=lambda r: r.id)
        intents = self.store.intents_for(r.id for r in records)
        return {"eventID": event_id, "records": [self._record(r, intents) for r in records]}

    def _record(self, r: CarrierEventRecord, intents: list[IntentRecord]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "eventID": r.event_id, "originatingParty": r.party or None, "dcsaVersion": r.dcsa_version,
            "status": r.status, "detail": r.reason, "receivedAt": iso(r.received_at), "eventCode": r.code,
            "shipmentReference": r.reference, "location": r.location, "transportCall": r.transport_call,
            "evidenceHash": r.evidence,
            "eventUpdatedDateTime": iso(r.updated_at) if r.updated_at is not None else None,
            "retracts": r.target_event_id,
        }
        digest = r.report_digest
        if digest is not None:
            report = self.store.report(digest)
            if report is not None:
                out["report"] = self._report(report)
        if r.proposed_digest is not None:
            out["proposedDigest"] = r.proposed_digest
        mine = [i for i in intents if r.id in (i.original_event, i.trigger_event)]
        if mine:
            out["intents"] = [{"id": i.id, "kind": i.kind, "state": i.state, "detail": i.detail,
                               "originalDigest": i.original_digest, "replacementDigest": i.replacement_digest,
                               "createdAt": iso(i.created_at)} for i in mine]
        return {k: v for k, v in out.items() if v is not None}

    def _retraction(self, r: Report) -> dict[str, Any]:
        return {"digest": r.digest, "state": r.state.value, "retractedAt": iso(r.message.get("retractedAt")),
                "reasonHash": r.message.get("reasonHash"), "signedBy": sorted(self.store.signatures(r.digest)),
                **({"txHash": r.tx_hash} if r.tx_hash else {})}

    def _report(self, report: Report) -> dict[str, Any]:
        signers = sorted(self.store.signatures(report.digest))
        k = self.threshold()
        chain: dict[str, Any] = {"status": _CHAIN_STATUS.get(report.state, "pending")}
        if report.held_reason and report.state not in (State.CONFIRMED, State.CONFLICT, State.REJECTED,
                                                       State.RETRACTED):
            chain["status"] = "held"
        if report.tx_hash:
            chain["txHash"] = report.tx_hash
        if report.block_number is not None:
            chain["blockNumber"] = report.block_number
        if report.state in (State.CONFIRMED, State.RETRACTED):
            chain["eventId"] = report.onchain_id or report.digest
        if report.state == State.RETRACTED:
            chain["retraction"] = {"txHash": report.retracted_tx, "blockNumber": report.retracted_block,
                                   "reports": [self._retraction(r) for r in
                                               self.store.reports_for_slot("retraction", report.digest)]}
        if report.state == State.CONFLICT:
            chain["detail"] = report.last_error
        if report.refusal is not None:
            f = report.refusal
            chain["refusal"] = {"error": f.name, "arguments": f.arguments, "sentence": f.sentence, "final": f.final,
                                "at": iso(f.at) if f.at else None, "txHash": f.tx_hash}
        return {
            "digest": report.digest, "label": report.label, "state": report.state.value,
            **({"generation": report.generation} if report.generation else {}),
            "signedBy": [{"signer": s, "operator": self.names.get(s.lower())} for s in signers],
            "quorum": {"threshold": k, "agreeing": len(signers), "reached": report.quorum_at is not None or
                       report.state in (State.QUORUM, State.SUBMITTED, State.CONFIRMED, State.RETRACTED),
                       "at": iso(report.quorum_at) if report.quorum_at else None},
            "chain": chain,
            **({"held": report.held_reason} if report.held_reason else {}),
        }
