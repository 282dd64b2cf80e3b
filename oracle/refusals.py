"""Why the chain refused a report, in words a carrier (or a deal party) can act on.

:func:`explain` turns a decoded revert (``chain.errors.ContractRevert``: the Solidity error's name
and arguments) into a :class:`~oracle.store.Refusal`: the name, the arguments, a sentence such as
"stale: event time 2026-11-20T10:00:00Z is older than the 3-day window; chain time
2026-12-01T10:00:00Z", and whether it can never succeed. The same shape is used when the operator
applies the contract's rule itself and does not send a report that would revert (:func:`stale`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from chain.errors import ContractRevert

from .store import Refusal

#: reverts after which a report can never be accepted (once the chain did not take it meanwhile)
FINAL = frozenset({"StaleReport", "EventReplayed", "EventAlreadyConfirmed", "TooManyTransportCalls",
                   "EventNotConfirmed", "ObservationNotNewer", "InvalidEventCode", "InvalidShipmentId",
                   "MissingEvidence", "InvalidLocode", "InvalidCurrencyCode", "SameCurrency", "ZeroRate"})


def iso(ts: float | int | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: int | None) -> str:
    if not seconds:
        return "?"
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}-day"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600}-hour"
    return f"{seconds}-second"


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        text = raw.rstrip(b"\x00")
        if text and all(32 <= c < 127 for c in text) and len(raw) <= 8:
            return text.decode("ascii")  # bytes4 / bytes5 codes
        return "0x" + raw.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def stale(event_time: int, window: int | None, chain_time: float | None, *, predicted: bool) -> Refusal:
    oldest = None if chain_time is None or window is None else int(chain_time) - window
    clock = "chain time" if not predicted else "chain time (operator's estimate)"
    sentence = (f"stale: event time {iso(event_time)} is older than the {duration(window)} window; "
                f"{clock} {iso(chain_time)}")
    if predicted:
        sentence += "; not submitted, the contract would refuse it"
    return Refusal("StaleReport", {"observedAt": event_time, "oldestAllowed": oldest}, sentence, True)


def explain(exc: ContractRevert, *, window: int | None = None, code: str | None = None,
            location: str | None = None) -> Refusal:
    name = exc.error_name
    args = {k: _plain(v) for k, v in exc.args_by_name.items()}
    final = name in FINAL or "stale" in name.lower()
    if name == "StaleReport":
        chain_time = None if window is None else int(args["oldestAllowed"]) + window
        refusal = stale(int(args["observedAt"]), window, chain_time, predicted=False)
        return Refusal(name, args, refusal.sentence, True, tx_hash=exc.tx_hash)
    if name == "FutureReport":
        sentence = (f"in the future: event time {iso(args['observedAt'])} is later than the latest the chain accepts "
                    f"({iso(args['latestAllowed'])}); it will be retried as the chain's clock advances")
    elif name == "EventAlreadyConfirmed":
        tag = args.get("confirmedEventTag")
        where = _plain(args.get("location")) or location
        sentence = (f"already confirmed: another {_plain(args.get('eventCode')) or code} event at {where} is confirmed "
                    f"for this shipment (event tag {tag:#012x})" if isinstance(tag, int) else
                    f"already confirmed: another {code} event at {where} is confirmed for this shipment")
        sentence += "; this one can be confirmed only if that one is retracted"
    elif name == "EventReplayed":
        sentence = "replayed: this exact report was processed on chain before (and then retracted)"
    elif name == "EventNotConfirmed":
        sentence = "nothing to retract: the event is not confirmed on chain (never confirmed, or already retracted)"
    elif name == "TooManyTransportCalls":
        sentence = (f"too many transport calls: the contract keeps at most {args.get('maximum')} locations per "
                    f"shipment and event code")
    elif name == "InsufficientSignatures":
        sentence = f"not enough signatures: {args.get('provided')} given, {args.get('required')} required; retrying"
    elif name in ("NotOperator", "OperatorNotActive"):
        who = args.get("signer") or args.get("operator")
        sentence = f"{who} is not an active oracle operator on chain; retrying with the current operator set"
    elif name == "QuorumNotConfigured":
        sentence = "the contract has no operator quorum configured yet; retrying"
    elif name == "ObservationNotNewer":
        sentence = (f"superseded: the chain already holds an observation at {iso(args.get('latestObservedAt'))}, "
                    f"not older than this one ({iso(args.get('observedAt'))})")
    elif name in ("InvalidEventCode", "InvalidShipmentId", "MissingEvidence", "InvalidLocode"):
        sentence = f"invalid content: the contract refuses it ({name}); it will never be accepted"
    else:
        rendered = ", ".join(f"{k}={v}" for k, v in args.items())
        sentence = f"{name}({rendered})" + ("" if final else "; retrying")
    return Refusal(name, args, sentence, final, tx_hash=exc.tx_hash)
