// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {NotGovernance, ZeroAddress} from "./Errors.sol";

/// @title The base of every tradenet contract bound to the consortium's participant registry.
/// @notice Holds the registry (immutable, never zero) and the one meaning of "governance": the
/// registry executes approved M-of-N proposals as calls to any target
/// ({MemberGovernance-execute}), so "called by the registry" means "approved by M of N admins".
/// @dev The network-wide transfer rule lives in the registry ({IParticipantRegistry-requireTransfer})
/// so that every token asks one question in one call; {_requireTransfer} is the tokens' way in.
abstract contract RegistryBound {
    /// @notice The consortium's participant registry (also the governance executor).
    IParticipantRegistry public immutable registry;

    modifier onlyGovernance() {
        if (msg.sender != address(registry)) revert NotGovernance(msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @dev The network's transfer rule for a move of an asset from `from` to `to` (neither zero)
    /// made by this call's sender: see {IParticipantRegistry-requireTransferBy}. `roles` are
    /// required of member parties; an approved spender moving a holder's asset must be active.
    function _requireTransfer(address from, address to, uint32 roles) internal view {
        registry.requireTransferBy(msg.sender, from, to, roles);
    }
}
