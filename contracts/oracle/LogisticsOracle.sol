// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {QuorumSigners} from "./QuorumSigners.sol";
import {ShipmentEventCodes} from "./ShipmentEventCodes.sol";
import {ILogisticsOracle} from "./ILogisticsOracle.sol";
import {IShipmentEventListener} from "./IShipmentEventListener.sol";

/// @title The logistics oracle: shipment events confirmed by k of n oracle operators.
/// @notice Each operator signs a normalised carrier event as EIP-712 typed data
/// `ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)`
/// under the domain {name: "tradenet LogisticsOracle", version: "1", chainId, verifyingContract: this}.
/// Anyone submits a report with k signatures in one transaction; the event is then confirmed
/// for its slot (shipmentId, eventCode) and the deals waiting for that slot are called in the
/// same transaction to release their milestone shares.
///
/// Rules: one confirmed event per slot; an eventId (the EIP-712 digest) is processed once ever;
/// the event time must lie within [now - stalenessWindow, now + MAX_CLOCK_SKEW]. A confirmed
/// event can be retracted by a k-of-n `Retraction(bytes32 eventId,bytes32 reasonHash)` report
/// while every deal that it released funds in can still undo the release (the seller has not
/// withdrawn them and the deal is not settled); the slot is then free for a corrected event.
///
/// Fan-out bound: a slot holds at most MAX_WAITERS_PER_SLOT waiters; a report calls at most
/// MAX_NOTIFY_PER_REPORT of them, each with a fixed NOTIFY_GAS stipend. Waiters beyond the cap,
/// and waiters whose call failed or ran out of its stipend, are left releasable: the slot is
/// confirmed on chain and anyone may `poke` the deal. The stipend is fixed (the transaction
/// reverts with {InsufficientNotificationGas} rather than skipping waiters when the caller's
/// gas limit is too low), so whether a waiter is called never depends on the submitter's gas
/// limit: gas estimation cannot silently skip releases and a submitter cannot choose to skip them.
contract LogisticsOracle is QuorumSigners, ReentrancyGuard, ILogisticsOracle {
    /// @notice A normalised carrier event (see the contract notice for the fields' conventions).
    /// @param shipmentId keccak256 of the UTF-8 transport document reference
    /// @param eventCode four ASCII characters, see {ShipmentEventCodes}
    /// @param location UN/LOCODE of the place of the event
    /// @param eventTime when the event happened (unix seconds)
    /// @param evidenceHash hash of the carrier's event message the operators saw
    struct ShipmentEvent {
        bytes32 shipmentId;
        bytes4 eventCode;
        bytes5 location;
        uint64 eventTime;
        bytes32 evidenceHash;
    }

    enum EventStatus {
        None,
        Confirmed,
        Retracted
    }

    struct EventRecord {
        bytes32 shipmentId;
        bytes4 eventCode;
        EventStatus status;
        uint64 confirmedAt;
        uint64 retractedAt;
    }

    /// @notice A contract (deal) waiting for a slot, with its own reference.
    struct Waiter {
        address listener;
        uint96 ref;
    }

    bytes32 public constant SHIPMENT_EVENT_TYPEHASH = keccak256(
        "ShipmentEvent(bytes32 shipmentId,bytes4 eventCode,bytes5 location,uint64 eventTime,bytes32 evidenceHash)"
    );
    bytes32 public constant RETRACTION_TYPEHASH = keccak256("Retraction(bytes32 eventId,bytes32 reasonHash)");
    /// @notice Most waiters one slot may hold (bounds a retraction, which asks all of them).
    uint256 public constant MAX_WAITERS_PER_SLOT = 32;
    /// @notice Most waiters a confirming report calls; the rest are left to `poke`.
    uint256 public constant MAX_NOTIFY_PER_REPORT = 8;
    /// @notice Gas given to each waiter's `onEventConfirmed`.
    uint256 public constant NOTIFY_GAS = 150_000;
    /// @notice Gas kept back for the rest of the report after the last call.
    uint256 public constant NOTIFY_GAS_RESERVE = 30_000;

    mapping(bytes32 eventId => EventRecord) private _events;
    mapping(bytes32 slot => bytes32 eventId) private _confirmed;
    mapping(bytes32 slot => Waiter[]) private _waiters;
    mapping(bytes32 slot => mapping(address listener => mapping(uint96 ref => uint256 position))) private
        _waiterPosition;

    error InvalidEventCode(bytes4 eventCode);
    error InvalidShipmentId();
    error MissingEvidence();
    error EventReplayed(bytes32 eventId);
    error EventAlreadyConfirmed(bytes32 shipmentId, bytes4 eventCode, bytes32 confirmedEventId);
    error EventNotConfirmed(bytes32 eventId);
    error NotEscrowContract(address caller);
    error AlreadyWatching(bytes32 shipmentId, bytes4 eventCode, address listener, uint96 ref);
    error NotWatching(bytes32 shipmentId, bytes4 eventCode, address listener, uint96 ref);
    error WaitlistFull(bytes32 shipmentId, bytes4 eventCode);
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
        bytes32 reasonHash,
        address submitter,
        address[] signers
    );
    event WaiterAdded(bytes32 indexed shipmentId, bytes4 indexed eventCode, address indexed listener, uint96 ref);
    event WaiterRemoved(bytes32 indexed shipmentId, bytes4 indexed eventCode, address indexed listener, uint96 ref);
    /// @notice A waiter's `onEventConfirmed` reverted or ran out of its stipend; it can be poked.
    event ListenerFailed(bytes32 indexed eventId, address indexed listener, uint96 ref);
    /// @notice More waiters than MAX_NOTIFY_PER_REPORT: waiters from position `notified` on were
    /// not called and are releasable by `poke`.
    event ReleasesDeferred(bytes32 indexed eventId, uint256 notified, uint256 waiting);

    /// @param registry_ the participant registry (operators must be active ORACLE members; it
    /// executes governance)
    /// @param stalenessWindow_ oldest acceptable event age, in seconds
    constructor(IParticipantRegistry registry_, uint64 stalenessWindow_)
        QuorumSigners(registry_, "tradenet LogisticsOracle", stalenessWindow_)
    {}

    // ------------------------------------------------------------------ reports

    /// @notice Confirms a shipment event signed by k distinct current operators, then calls the
    /// deals waiting for its slot (see the contract notice for the fan-out bound).
    /// @param ev the event, exactly as the operators signed it
    /// @param signatures 65-byte ECDSA signatures over {eventDigest}(ev), one per operator
    /// @return eventId the EIP-712 digest of `ev`, the event's permanent identifier
    function submitReport(ShipmentEvent calldata ev, bytes[] calldata signatures)
        external
        nonReentrant
        returns (bytes32 eventId)
    {
        _validateEvent(ev);
        eventId = eventDigest(ev);
        if (_events[eventId].status != EventStatus.None) revert EventReplayed(eventId);
        bytes32 slot = _slot(ev.shipmentId, ev.eventCode);
        bytes32 existing = _confirmed[slot];
        if (existing != bytes32(0)) revert EventAlreadyConfirmed(ev.shipmentId, ev.eventCode, existing);
        address[] memory signers = _verifyQuorum(eventId, signatures);

        _events[eventId] = EventRecord(ev.shipmentId, ev.eventCode, EventStatus.Confirmed, uint64(block.timestamp), 0);
        _confirmed[slot] = eventId;
        _emitConfirmed(eventId, ev, signers);
        _notifyConfirmed(eventId, ev.shipmentId, ev.eventCode, slot);
    }

    /// @notice Retracts a confirmed event on a k-of-n `Retraction(eventId, reasonHash)` report.
    /// Every deal waiting for the event's slot is asked to undo what the event released; if any
    /// cannot (funds already moved on), the retraction reverts. The slot becomes free for a
    /// corrected event; the retracted eventId can never be confirmed again.
    /// @param eventId the confirmed event
    /// @param reasonHash hash of the retraction reason (e.g. the DCSA retraction message)
    /// @param signatures signatures over {retractionDigest}(eventId, reasonHash)
    function submitRetraction(bytes32 eventId, bytes32 reasonHash, bytes[] calldata signatures) external nonReentrant {
        EventRecord storage rec = _events[eventId];
        if (rec.status != EventStatus.Confirmed) revert EventNotConfirmed(eventId);
        address[] memory signers = _verifyQuorum(retractionDigest(eventId, reasonHash), signatures);

        bytes32 shipmentId = rec.shipmentId;
        bytes4 eventCode = rec.eventCode;
        bytes32 slot = _slot(shipmentId, eventCode);
        rec.status = EventStatus.Retracted;
        rec.retractedAt = uint64(block.timestamp);
        delete _confirmed[slot];
        emit EventRetracted(eventId, shipmentId, eventCode, reasonHash, msg.sender, signers);

        Waiter[] storage waiting = _waiters[slot];
        uint256 n = waiting.length; // <= MAX_WAITERS_PER_SLOT
        for (uint256 i = 0; i < n; ++i) {
            Waiter memory w = waiting[i];
            // a code-less waiter (an EOA registered as escrow) holds no releases to undo
            if (w.listener.code.length == 0) continue;
            IShipmentEventListener(w.listener).onEventRetracted(eventId, shipmentId, eventCode, w.ref);
        }
    }

    // ------------------------------------------------------------------ waiters (deals)

    /// @inheritdoc ILogisticsOracle
    /// @dev Only registered tradenet escrows (registry ContractKind.Escrow) may wait; a slot
    /// holds at most MAX_WAITERS_PER_SLOT waiters. Watching an already-confirmed slot is allowed
    /// (the caller releases by itself) so that a later retraction still reaches it.
    function watch(bytes32 shipmentId, bytes4 eventCode, uint96 ref) external nonReentrant {
        if (!registry.isSystemContract(msg.sender)) revert NotEscrowContract(msg.sender);
        if (shipmentId == bytes32(0)) revert InvalidShipmentId();
        if (!ShipmentEventCodes.isValid(eventCode)) revert InvalidEventCode(eventCode);
        bytes32 slot = _slot(shipmentId, eventCode);
        if (_waiterPosition[slot][msg.sender][ref] != 0) revert AlreadyWatching(shipmentId, eventCode, msg.sender, ref);
        Waiter[] storage waiting = _waiters[slot];
        if (waiting.length >= MAX_WAITERS_PER_SLOT) revert WaitlistFull(shipmentId, eventCode);
        waiting.push(Waiter(msg.sender, ref));
        _waiterPosition[slot][msg.sender][ref] = waiting.length;
        emit WaiterAdded(shipmentId, eventCode, msg.sender, ref);
    }

    /// @inheritdoc ILogisticsOracle
    function unwatch(bytes32 shipmentId, bytes4 eventCode, uint96 ref) external nonReentrant {
        bytes32 slot = _slot(shipmentId, eventCode);
        uint256 position = _waiterPosition[slot][msg.sender][ref];
        if (position == 0) revert NotWatching(shipmentId, eventCode, msg.sender, ref);
        Waiter[] storage waiting = _waiters[slot];
        uint256 last = waiting.length;
        if (position != last) {
            Waiter memory moved = waiting[last - 1];
            waiting[position - 1] = moved;
            _waiterPosition[slot][moved.listener][moved.ref] = position;
        }
        waiting.pop();
        delete _waiterPosition[slot][msg.sender][ref];
        emit WaiterRemoved(shipmentId, eventCode, msg.sender, ref);
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

    /// @notice The EIP-712 digest of `Retraction(eventId, reasonHash)` under this oracle's domain.
    function retractionDigest(bytes32 eventId, bytes32 reasonHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RETRACTION_TYPEHASH, eventId, reasonHash)));
    }

    /// @inheritdoc ILogisticsOracle
    function isConfirmed(bytes32 shipmentId, bytes4 eventCode) external view returns (bool) {
        return _confirmed[_slot(shipmentId, eventCode)] != bytes32(0);
    }

    /// @inheritdoc ILogisticsOracle
    function confirmedEvent(bytes32 shipmentId, bytes4 eventCode) external view returns (bytes32) {
        return _confirmed[_slot(shipmentId, eventCode)];
    }

    /// @notice What the oracle knows of an eventId (status None if never seen).
    function eventRecord(bytes32 eventId) external view returns (EventRecord memory) {
        return _events[eventId];
    }

    /// @notice The contracts waiting for (`shipmentId`, `eventCode`).
    function waiters(bytes32 shipmentId, bytes4 eventCode) external view returns (Waiter[] memory) {
        return _waiters[_slot(shipmentId, eventCode)];
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

    function _emitConfirmed(bytes32 eventId, ShipmentEvent calldata ev, address[] memory signers) private {
        emit EventConfirmed(
            eventId, ev.shipmentId, ev.eventCode, ev.location, ev.eventTime, ev.evidenceHash, msg.sender, signers
        );
    }

    /// @dev Calls up to MAX_NOTIFY_PER_REPORT waiters, each with exactly NOTIFY_GAS.
    function _notifyConfirmed(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, bytes32 slot) private {
        Waiter[] storage waiting = _waiters[slot];
        uint256 n = waiting.length;
        uint256 calls = n < MAX_NOTIFY_PER_REPORT ? n : MAX_NOTIFY_PER_REPORT;
        for (uint256 i = 0; i < calls; ++i) {
            // a call gets at most 63/64 of the gas left: make sure the stipend is really available
            uint256 needed = (NOTIFY_GAS * 64) / 63 + NOTIFY_GAS_RESERVE;
            if (gasleft() < needed) revert InsufficientNotificationGas(gasleft(), needed);
            Waiter memory w = waiting[i];
            // a call to a code-less address would revert outside try/catch
            if (w.listener.code.length == 0) {
                emit ListenerFailed(eventId, w.listener, w.ref);
                continue;
            }
            try IShipmentEventListener(w.listener).onEventConfirmed{gas: NOTIFY_GAS}(
                eventId, shipmentId, eventCode, w.ref
            ) {} catch {
                emit ListenerFailed(eventId, w.listener, w.ref);
            }
        }
        if (n > calls) emit ReleasesDeferred(eventId, calls, n);
    }

    function _slot(bytes32 shipmentId, bytes4 eventCode) private pure returns (bytes32) {
        return keccak256(abi.encode(shipmentId, eventCode));
    }
}
