// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ContractKind, IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {ILogisticsOracle} from "../interfaces/ILogisticsOracle.sol";
import {IShipmentEventListener} from "../interfaces/IShipmentEventListener.sol";
import {ShipmentEventCodes} from "../common/ShipmentEventCodes.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {QuorumSigners} from "./QuorumSigners.sol";

/// @title The logistics oracle: shipment events confirmed by k of n oracle operators.
/// @notice Each operator signs a normalised carrier event as EIP-712 typed data
/// `ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)`
/// under the domain {name: "tradenet LogisticsOracle", version: "2", chainId, verifyingContract: this}.
/// Anyone submits a report with k signatures in one transaction; its EIP-712 digest is the
/// event's permanent id (eventId).
///
/// **Slots per transport call.** A confirmation fills the slot (shipmentId, eventCode, location):
/// the same code can be confirmed once at each location of a shipment, so a transshipment (ARRI at
/// SGSIN, then ARRI at NLRTM) confirms both legs, up to MAX_CALLS locations per code. An eventId
/// is processed once ever: a retracted event can never be confirmed again, and a confirmed one
/// never twice.
/// @dev Storage: one word per (shipmentId, eventCode) holds the count of confirmed calls and up to
/// three (location, event tag) entries, the tag being the low 40 bits of the eventId (it tells a
/// replay from a different event in a filled slot and binds a retraction to the confirmed event;
/// both are quorum-signed, so a tag collision gives nobody anything). Further calls spill into
/// pages 1 and 2. A first-leg report therefore writes one storage word.
///
/// **Freshness.** Event times and retraction times must lie within
/// [now - stalenessWindow, now + MAX_CLOCK_SKEW]: a signature cannot be held back and used later.
///
/// **Retraction.** A confirmed event is retracted by a k-of-n
/// `Retraction(bytes32 eventId,bytes32 reasonHash,uint64 retractedAt)` report: the slot is freed
/// for a corrected event. Each deal decides for itself what a retraction means for it (undo a
/// release whose funds have not moved on; record it where they have): no deal can veto it.
///
/// **Release: pull, with an optional push.** The oracle keeps no list of waiting deals. A deal
/// reads confirmations from {isConfirmed} / {confirmedCalls} when anyone pokes it. To release in the same
/// transaction, the submitter names up to MAX_NOTIFY_PER_REPORT (escrow, ref) pairs; each
/// registered escrow is called with a fixed NOTIFY_GAS stipend and any failure is caught and
/// logged ({ListenerFailed}). The stipend is fixed: the report reverts with
/// {InsufficientNotificationGas} rather than skip a named listener for lack of gas, so gas
/// estimation cannot silently skip releases. Whom to name is the submitter's choice and changes
/// nothing a deal can lose: an unnamed deal is released by its next poke.
contract LogisticsOracle is QuorumSigners, ReentrancyGuard, ILogisticsOracle {
    /// @notice A normalised carrier event (see the contract notice for the fields' conventions).
    /// @param shipmentId keccak256 of the UTF-8 transport document reference (B/L number)
    /// @param eventCode four ASCII characters, see {ShipmentEventCodes}
    /// @param location UN/LOCODE of the place of the event (the transport call's port)
    /// @param eventTime when the event happened (unix seconds)
    /// @param evidenceHash hash of the carrier's event message the operators saw
    struct ShipmentEvent {
        bytes32 shipmentId;
        bytes4 eventCode;
        bytes5 location;
        uint64 eventTime;
        bytes32 evidenceHash;
    }

    /// @notice An escrow to tell about a report, with its own reference (a deal id).
    struct Notify {
        address listener;
        uint256 ref;
    }

    enum EventStatus {
        None,
        Confirmed,
        Retracted
    }

    bytes32 public constant SHIPMENT_EVENT_TYPEHASH = keccak256(
        "ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)"
    );
    bytes32 public constant RETRACTION_TYPEHASH =
        keccak256("Retraction(bytes32 eventId,bytes32 reasonHash,uint64 retractedAt)");
    /// @notice Most escrows one report may name.
    uint256 public constant MAX_NOTIFY_PER_REPORT = 16;
    /// @notice Gas given to each named escrow's callback.
    uint256 public constant NOTIFY_GAS = 150_000;
    /// @notice Gas kept back for the rest of the report after the last call.
    uint256 public constant NOTIFY_GAS_RESERVE = 30_000;

    /// @notice Most transport calls (locations) one (shipment, event code) can be confirmed at.
    uint256 public constant MAX_CALLS = 9;
    uint256 private constant ENTRIES_PER_WORD = 3;
    uint256 private constant ENTRY_BITS = 80; // location (40) << 40 | event tag (40)
    uint256 private constant COUNT_SHIFT = 240; // page 0 only: confirmed calls

    /// @dev keccak256(shipmentId, eventCode) => page => packed entries (see the contract's @dev)
    mapping(bytes32 shipmentCode => mapping(uint256 page => uint256)) private _calls;
    mapping(bytes32 eventId => bool) private _retracted;

    error InvalidEventCode(bytes4 eventCode);
    error InvalidShipmentId();
    error MissingEvidence();
    error EventReplayed(bytes32 eventId);
    /// @dev Another event is confirmed in the slot; `confirmedEventTag` is the low 40 bits of its id.
    error EventAlreadyConfirmed(bytes32 shipmentId, bytes4 eventCode, bytes5 location, uint40 confirmedEventTag);
    error TooManyTransportCalls(bytes32 shipmentId, bytes4 eventCode, uint256 maximum);
    error EventNotConfirmed(bytes32 eventId);
    error TooManyNotifications(uint256 named, uint256 maximum);
    error InsufficientNotificationGas(uint256 gasLeft, uint256 needed);

    event EventConfirmed(
        bytes32 indexed eventId,
        bytes32 indexed shipmentId,
        bytes4 indexed eventCode,
        bytes5 location,
        uint64 eventTime,
        bytes32 evidenceHash,
        address submitter,
        address[] signers
    );
    event EventRetracted(
        bytes32 indexed eventId,
        bytes32 indexed shipmentId,
        bytes4 indexed eventCode,
        bytes5 location,
        bytes32 reasonHash,
        uint64 retractedAt,
        address submitter,
        address[] signers
    );
    /// @notice A named listener is not a registered escrow, reverted, or ran out of its stipend;
    /// the deal can still be poked.
    event ListenerFailed(bytes32 indexed eventId, address indexed listener, uint256 ref);

    /// @param registry_ the participant registry (operators must be active ORACLE members; it
    /// executes governance)
    /// @param stalenessWindow_ oldest acceptable event age, in seconds
    constructor(IParticipantRegistry registry_, uint64 stalenessWindow_)
        QuorumSigners(registry_, "tradenet LogisticsOracle", "2", stalenessWindow_)
    {}

    // ------------------------------------------------------------------ reports

    /// @notice Confirms a shipment event signed by k distinct current operators, then calls the
    /// escrows named in `notify` (see the contract notice).
    /// @param ev the event, exactly as the operators signed it
    /// @param signatures 65-byte ECDSA signatures over {eventDigest}(ev), one per operator
    /// @param notify escrows to call in this transaction (may be empty)
    /// @return eventId the EIP-712 digest of `ev`, the event's permanent identifier
    function submitReport(ShipmentEvent calldata ev, bytes[] calldata signatures, Notify[] calldata notify)
        external
        nonReentrant
        returns (bytes32 eventId)
    {
        _validateEvent(ev);
        if (notify.length > MAX_NOTIFY_PER_REPORT) revert TooManyNotifications(notify.length, MAX_NOTIFY_PER_REPORT);
        eventId = eventDigest(ev);
        if (_retracted[eventId]) revert EventReplayed(eventId);
        bytes32 key = _shipmentCode(ev.shipmentId, ev.eventCode);
        (bool found, uint256 page, uint256 index, uint40 tag) = _find(key, ev.location);
        if (found) {
            if (tag == uint40(uint256(eventId))) revert EventReplayed(eventId);
            revert EventAlreadyConfirmed(ev.shipmentId, ev.eventCode, ev.location, tag);
        }
        if (page == type(uint256).max) revert TooManyTransportCalls(ev.shipmentId, ev.eventCode, MAX_CALLS);
        address[] memory signers = _verifyQuorum(eventId, signatures);

        _setEntry(key, page, index, ev.location, uint40(uint256(eventId)), 1);
        emit EventConfirmed(
            eventId, ev.shipmentId, ev.eventCode, ev.location, ev.eventTime, ev.evidenceHash, msg.sender, signers
        );
        _notify(IShipmentEventListener.onEventConfirmed.selector, eventId, ev, notify);
    }

    /// @notice Retracts a confirmed event on a k-of-n `Retraction(eventId, reasonHash, retractedAt)`
    /// report. The slot becomes free for a corrected event; the retracted eventId can never be
    /// confirmed again. The escrows named in `notify` are told at once; the others find out when
    /// poked. No deal can make the retraction fail.
    /// @param ev the confirmed event, exactly as it was signed (identifies its slot)
    /// @param reasonHash hash of the retraction reason (e.g. the carrier's retraction message)
    /// @param retractedAt when the operators observed the retraction (freshness-checked)
    /// @param signatures signatures over {retractionDigest}(eventDigest(ev), reasonHash, retractedAt)
    function submitRetraction(
        ShipmentEvent calldata ev,
        bytes32 reasonHash,
        uint64 retractedAt,
        bytes[] calldata signatures,
        Notify[] calldata notify
    ) external nonReentrant returns (bytes32 eventId) {
        if (notify.length > MAX_NOTIFY_PER_REPORT) revert TooManyNotifications(notify.length, MAX_NOTIFY_PER_REPORT);
        eventId = eventDigest(ev);
        bytes32 key = _shipmentCode(ev.shipmentId, ev.eventCode);
        (bool found, uint256 page, uint256 index, uint40 tag) = _find(key, ev.location);
        if (!found || tag != uint40(uint256(eventId)) || _retracted[eventId]) revert EventNotConfirmed(eventId);
        _requireFresh(retractedAt);
        address[] memory signers = _verifyQuorum(retractionDigest(eventId, reasonHash, retractedAt), signatures);

        _setEntry(key, page, index, bytes5(0), 0, -1);
        _retracted[eventId] = true;
        emit EventRetracted(
            eventId, ev.shipmentId, ev.eventCode, ev.location, reasonHash, retractedAt, msg.sender, signers
        );
        _notify(IShipmentEventListener.onEventRetracted.selector, eventId, ev, notify);
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest of `ev` under this oracle's domain: its eventId.
    function eventDigest(ShipmentEvent calldata ev) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(SHIPMENT_EVENT_TYPEHASH, ev.shipmentId, ev.eventCode, ev.location, ev.eventTime, ev.evidenceHash)
            )
        );
    }

    /// @notice The EIP-712 digest of `Retraction(eventId, reasonHash, retractedAt)` under this
    /// oracle's domain.
    function retractionDigest(bytes32 eventId, bytes32 reasonHash, uint64 retractedAt) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RETRACTION_TYPEHASH, eventId, reasonHash, retractedAt)));
    }

    /// @inheritdoc ILogisticsOracle
    function isConfirmed(bytes32 shipmentId, bytes4 eventCode, bytes5 location) external view returns (bool found) {
        (found,,,) = _find(_shipmentCode(shipmentId, eventCode), location);
    }

    /// @inheritdoc ILogisticsOracle
    function confirmedCalls(bytes32 shipmentId, bytes4 eventCode) external view returns (uint256) {
        return _calls[_shipmentCode(shipmentId, eventCode)][0] >> COUNT_SHIFT;
    }

    /// @notice The locations at which `eventCode` is confirmed for the shipment, with the tag
    /// (low 40 bits of the eventId) of each confirmed event.
    function confirmedLocations(bytes32 shipmentId, bytes4 eventCode)
        external
        view
        returns (bytes5[] memory locations, uint40[] memory tags)
    {
        bytes32 key = _shipmentCode(shipmentId, eventCode);
        uint256 n = _calls[key][0] >> COUNT_SHIFT;
        locations = new bytes5[](n);
        tags = new uint40[](n);
        uint256 k;
        for (uint256 page = 0; page * ENTRIES_PER_WORD < MAX_CALLS && k < n; ++page) {
            uint256 word = _calls[key][page];
            for (uint256 i = 0; i < ENTRIES_PER_WORD && k < n; ++i) {
                uint256 entry = (word >> (i * ENTRY_BITS)) & ((1 << ENTRY_BITS) - 1);
                if (entry == 0) continue;
                locations[k] = bytes5(uint40(entry >> 40));
                tags[k] = uint40(entry);
                ++k;
            }
        }
    }

    /// @notice Status of a (full) event: None, Confirmed, or Retracted.
    function eventStatus(ShipmentEvent calldata ev) external view returns (EventStatus) {
        bytes32 eventId = eventDigest(ev);
        if (_retracted[eventId]) return EventStatus.Retracted;
        (bool found,,, uint40 tag) = _find(_shipmentCode(ev.shipmentId, ev.eventCode), ev.location);
        if (found && tag == uint40(uint256(eventId))) return EventStatus.Confirmed;
        return EventStatus.None;
    }

    /// @notice True if `eventId` was confirmed and then retracted.
    function isRetracted(bytes32 eventId) external view returns (bool) {
        return _retracted[eventId];
    }

    /// @inheritdoc ILogisticsOracle
    function isEventCode(bytes4 eventCode) external pure returns (bool) {
        return ShipmentEventCodes.isValid(eventCode);
    }

    // ------------------------------------------------------------------ internals

    function _validateEvent(ShipmentEvent calldata ev) private view {
        if (ev.shipmentId == bytes32(0)) revert InvalidShipmentId();
        if (!ShipmentEventCodes.isValid(ev.eventCode)) revert InvalidEventCode(ev.eventCode);
        TradeCodes.requireLocode(ev.location);
        if (ev.evidenceHash == bytes32(0)) revert MissingEvidence();
        _requireFresh(ev.eventTime);
    }

    /// @dev Calls each named escrow with exactly NOTIFY_GAS; logs and skips non-escrows and failures.
    function _notify(bytes4 selector, bytes32 eventId, ShipmentEvent calldata ev, Notify[] calldata notify) private {
        uint256 n = notify.length; // <= MAX_NOTIFY_PER_REPORT
        for (uint256 i = 0; i < n; ++i) {
            Notify calldata t = notify[i];
            if (registry.contractKind(t.listener) != ContractKind.Escrow) {
                emit ListenerFailed(eventId, t.listener, t.ref);
                continue;
            }
            // a call gets at most 63/64 of the gas left: make sure the stipend is really available
            uint256 needed = (NOTIFY_GAS * 64) / 63 + NOTIFY_GAS_RESERVE;
            if (gasleft() < needed) revert InsufficientNotificationGas(gasleft(), needed);
            (bool ok,) = t.listener.call{gas: NOTIFY_GAS}(
                abi.encodeWithSelector(selector, eventId, ev.shipmentId, ev.eventCode, ev.location, t.ref)
            );
            if (!ok) emit ListenerFailed(eventId, t.listener, t.ref);
        }
    }

    /// @dev The entry of `location` (found), else the first free entry (page = max if none is free).
    /// Stops reading pages once every confirmed call was seen and a free entry is known.
    function _find(bytes32 key, bytes5 location)
        private
        view
        returns (bool found, uint256 page, uint256 index, uint40 tag)
    {
        page = type(uint256).max;
        uint256 want = uint40(location);
        uint256 word = _calls[key][0];
        uint256 remaining = word >> COUNT_SHIFT;
        for (uint256 p = 0; p * ENTRIES_PER_WORD < MAX_CALLS; ++p) {
            if (p > 0) {
                if (remaining == 0 && page != type(uint256).max) break;
                word = _calls[key][p];
            }
            for (uint256 i = 0; i < ENTRIES_PER_WORD; ++i) {
                uint256 entry = (word >> (i * ENTRY_BITS)) & ((1 << ENTRY_BITS) - 1);
                if (entry == 0) {
                    if (page == type(uint256).max) (page, index) = (p, i);
                } else {
                    if (entry >> 40 == want) return (true, p, i, uint40(entry));
                    --remaining;
                }
            }
        }
    }

    /// @dev Writes an entry (location 0 clears it) and moves the page-0 count by `delta`.
    function _setEntry(bytes32 key, uint256 page, uint256 index, bytes5 location, uint40 tag, int256 delta) private {
        uint256 shift = index * ENTRY_BITS;
        uint256 entry = (uint256(uint40(location)) << 40) | tag;
        uint256 word = _calls[key][page];
        word = (word & ~(((1 << ENTRY_BITS) - 1) << shift)) | (entry << shift);
        if (page == 0) {
            uint256 count = uint256(int256(word >> COUNT_SHIFT) + delta);
            _calls[key][0] = (word & ((1 << COUNT_SHIFT) - 1)) | (count << COUNT_SHIFT);
        } else {
            _calls[key][page] = word;
            uint256 first = _calls[key][0];
            uint256 count = uint256(int256(first >> COUNT_SHIFT) + delta);
            _calls[key][0] = (first & ((1 << COUNT_SHIFT) - 1)) | (count << COUNT_SHIFT);
        }
    }

    function _shipmentCode(bytes32 shipmentId, bytes4 eventCode) private pure returns (bytes32) {
        return keccak256(abi.encode(shipmentId, eventCode));
    }
}
