// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title A stand-in for a tradenet escrow (a deal engine, a product module) in the token tests.
/// @notice Governance registers it as an ESCROW; its operator then makes it call any contract as
/// an escrow would: take a pledge (`pledgeToEscrow`), release or enforce it, mark an invoice or an
/// order financed, bind a shipment, pay tokens out. A call's revert data is passed up unchanged,
/// so a test sees the token's own error.
contract StandInEscrow {
    address public immutable operator;

    error NotOperator(address caller);

    constructor() {
        operator = msg.sender;
    }

    /// @notice Calls `target` with `data` as this escrow; only the operator.
    function exec(address target, bytes calldata data) external returns (bytes memory ret) {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    /// @notice Accepts ERC-721 tokens sent with `safeTransferFrom`.
    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }
}
