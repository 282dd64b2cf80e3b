// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";

/// @title Configuration reachable only through the consortium's M-of-N governance.
/// @notice The participant registry executes approved proposals as calls to any target
/// (`MemberGovernance.execute`), so "called by the registry" means "approved by M of N admins".
abstract contract RegistryGoverned {
    /// @notice The consortium's participant registry (also the governance executor).
    IParticipantRegistry public immutable registry;

    /// @dev The caller is not the registry executing an approved governance proposal.
    error NotGovernance(address caller);
    /// @dev A required address is zero.
    error ZeroAddress();

    modifier onlyGovernance() {
        if (msg.sender != address(registry)) revert NotGovernance(msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }
}
