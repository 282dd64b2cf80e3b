// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the logistics oracle calls on a contract (a deal escrow) named in a report.
/// @notice The submitter of a report names the escrows and their references (deal ids) to tell;
/// the oracle calls each with a fixed gas stipend inside the report's transaction and catches
/// any failure. Nothing depends on being told: a deal also pulls confirmations and retractions
/// from the oracle's state by itself (`poke`), so no listener can block or veto a report.
interface IShipmentEventListener {
    /// @notice `eventId` was confirmed for (`shipmentId`, `eventCode`) at `location`.
    function onEventConfirmed(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, bytes5 location, uint256 ref)
        external;

    /// @notice The confirmed `eventId` of (`shipmentId`, `eventCode`, `location`) was retracted.
    function onEventRetracted(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, bytes5 location, uint256 ref)
        external;
}
