// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What deals ask of the logistics oracle.
/// @notice A confirmation is kept per transport call: the slot (shipmentId, eventCode, location),
/// so the same event code can be confirmed at each port of a multi-leg (transshipment) voyage.
interface ILogisticsOracle {
    /// @notice True if an event of `eventCode` is confirmed (and not retracted) for the shipment at `location`.
    function isConfirmed(bytes32 shipmentId, bytes4 eventCode, bytes5 location) external view returns (bool);

    /// @notice How many transport calls of the shipment have a confirmed `eventCode` event (a
    /// milestone waiting for "any location" is met while this is above zero).
    function confirmedCalls(bytes32 shipmentId, bytes4 eventCode) external view returns (uint256);

    /// @notice True for an event code the oracle attests.
    function isEventCode(bytes4 eventCode) external pure returns (bool);
}
