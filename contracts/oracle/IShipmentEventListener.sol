// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the logistics oracle calls on a contract (a deal) waiting for a shipment event.
/// @notice `ref` is the listener's own reference given to {ILogisticsOracle.watch} (e.g. a deal
/// and milestone index); the oracle passes it back unchanged.
interface IShipmentEventListener {
    /// @notice `eventId` was confirmed for (`shipmentId`, `eventCode`). Called inside the oracle's
    /// report transaction with a fixed gas stipend; a revert is caught (the waiter stays pokeable).
    function onEventConfirmed(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, uint96 ref) external;

    /// @notice `eventId` is being retracted. The listener undoes what the event released, or
    /// reverts (e.g. `FundsAlreadyMovedOn`), which makes the whole retraction revert.
    function onEventRetracted(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, uint96 ref) external;
}
