// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The shipment event codes the logistics oracle attests on chain.
/// @notice DCSA Track & Trace codes: transport `DEPA` (departed) / `ARRI` (arrived); equipment
/// `LOAD` / `DISC` (loaded, discharged) and `GTIN` / `GTOT` (gated in, gated out); shipment `RECE`
/// (documents received), `CONF` (booking confirmed), `ISSU` (transport document issued); plus the
/// tradenet extensions `CUSC` (customs cleared), `WHIN` / `WHOU` (warehouse in / out).
library ShipmentEventCodes {
    bytes4 internal constant DEPA = "DEPA";
    bytes4 internal constant ARRI = "ARRI";
    bytes4 internal constant LOAD = "LOAD";
    bytes4 internal constant DISC = "DISC";
    bytes4 internal constant GTIN = "GTIN";
    bytes4 internal constant GTOT = "GTOT";
    bytes4 internal constant RECE = "RECE";
    bytes4 internal constant CONF = "CONF";
    bytes4 internal constant ISSU = "ISSU";
    bytes4 internal constant CUSC = "CUSC";
    bytes4 internal constant WHIN = "WHIN";
    bytes4 internal constant WHOU = "WHOU";

    /// @notice True for one of the twelve attested codes.
    function isValid(bytes4 code) internal pure returns (bool) {
        return code == DEPA || code == ARRI || code == LOAD || code == DISC || code == GTIN || code == GTOT
            || code == RECE || code == CONF || code == ISSU || code == CUSC || code == WHIN || code == WHOU;
    }
}
