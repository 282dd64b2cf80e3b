// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles of the tradenet consortium, as bit flags.
/// @dev A member's roles are a bitmask of these values; a participant may hold several.
library Roles {
    uint32 internal constant ADMIN = 1 << 0;
    uint32 internal constant SELLER = 1 << 1;
    uint32 internal constant BUYER = 1 << 2;
    uint32 internal constant LENDER = 1 << 3;
    uint32 internal constant LOGISTICS = 1 << 4;
    uint32 internal constant WAREHOUSE = 1 << 5;
    uint32 internal constant ORACLE = 1 << 6;
    uint32 internal constant INVESTOR = 1 << 7;
    uint32 internal constant AUDITOR = 1 << 8;
    uint32 internal constant TREASURY = 1 << 9;
    uint32 internal constant ALL = (1 << 10) - 1;
}

/// @title What the other tradenet contracts ask of the participant registry.
interface IParticipantRegistry {
    /// @notice Reverts unless `account` is a member in good standing (not suspended, not sanctioned,
    /// KYC not expired) holding every role in `roles`. Used to gate new business.
    function requireActive(address account, uint32 roles) external view;

    /// @notice Reverts if `account` may not receive assets: non-member or sanctioned (a suspended or
    /// KYC-expired member still receives repayments of running obligations).
    function requireCanReceive(address account) external view;

    /// @notice True if `account` is a member in good standing holding every role in `roles`.
    function isActive(address account, uint32 roles) external view returns (bool);

    /// @notice True if `account` is a member (in any standing).
    function isMember(address account) external view returns (bool);

    /// @notice True if `account` is flagged as sanctioned.
    function isSanctioned(address account) external view returns (bool);

    /// @notice True if governance registered `account` as a tradenet escrow (deals, pools): it may
    /// hold assets, and members in any standing but sanctioned may pay into it.
    function isSystemContract(address account) external view returns (bool);

    /// @notice The member's 20-character legal-entity identifier; reverts for a non-member.
    function leiOf(address account) external view returns (bytes20);
}
