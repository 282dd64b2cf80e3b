// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What deals ask of the logistics oracle.
interface ILogisticsOracle {
    /// @notice The eventId confirmed for (`shipmentId`, `eventCode`), or 0 if none (or retracted).
    function confirmedEvent(bytes32 shipmentId, bytes4 eventCode) external view returns (bytes32);

    /// @notice True if (`shipmentId`, `eventCode`) currently has a confirmed event.
    function isConfirmed(bytes32 shipmentId, bytes4 eventCode) external view returns (bool);

    /// @notice True for an event code the oracle attests.
    function isEventCode(bytes4 eventCode) external pure returns (bool);

    /// @notice Registers the caller (a registered tradenet escrow) as waiting for the slot.
    function watch(bytes32 shipmentId, bytes4 eventCode, uint96 ref) external;

    /// @notice Removes the caller's waiter registered with `ref` for the slot.
    function unwatch(bytes32 shipmentId, bytes4 eventCode, uint96 ref) external;
}
