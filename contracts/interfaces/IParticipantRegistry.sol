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

/// @notice How the network knows a contract address (never a member's): an asset contract
/// (tokens) or an escrow that holds and pays out assets (deals, pools). Set by governance.
enum ContractKind {
    None,
    Asset,
    Escrow
}

/// @title What the other tradenet contracts ask of the participant registry.
/// @notice Standing of a member: *active* (member, not suspended, not sanctioned, KYC valid) may
/// start business; *suspended / KYC-expired* may only close running obligations (pay into
/// escrows, receive payouts); *sanctioned* can do nothing and receive nothing.
interface IParticipantRegistry {
    /// @notice Reverts unless `account` is a member in good standing (not suspended, not sanctioned,
    /// KYC not expired) holding every role in `roles`. Used to gate new business.
    function requireActive(address account, uint32 roles) external view;

    /// @notice {requireActive} for two parties in one call; returns their LEIs.
    function requireActivePair(address a, uint32 rolesA, address b, uint32 rolesB)
        external
        view
        returns (bytes20 leiA, bytes20 leiB);

    /// @notice Reverts if `account` may not receive assets: non-member or sanctioned (a suspended or
    /// KYC-expired member still receives repayments of running obligations). Escrows may receive.
    function requireCanReceive(address account) external view;

    /// @notice The network's one transfer rule, for any asset moving from `from` to `to`:
    /// - out of an escrow (a payout): the receiver must be an escrow or a member that is not
    ///   sanctioned and holds `roles` (a suspended lender still takes back its defaulted collateral);
    /// - into an escrow (paying in, pledging): the sender must be a member that is not sanctioned
    ///   and holds `roles` (a suspended buyer can still repay a running deal);
    /// - between members: both active, both holding `roles`.
    /// Reverts with the registry's standing error (NotMember, MemberIsSanctioned, ...) otherwise.
    function requireTransfer(address from, address to, uint32 roles) external view;

    /// @notice {requireTransfer} for a move made by `operator` (the caller of the token): an
    /// operator that is neither party (a holder's approved spender) must itself be an escrow or an
    /// active member, so a sanctioned, suspended or departed member cannot move others' assets
    /// through an approval given earlier.
    function requireTransferBy(address operator, address from, address to, uint32 roles) external view;

    /// @notice True if `account` is a member in good standing holding every role in `roles`.
    function isActive(address account, uint32 roles) external view returns (bool);

    /// @notice True if `account` is a member (in any standing).
    function isMember(address account) external view returns (bool);

    /// @notice True if `account` is flagged as sanctioned.
    function isSanctioned(address account) external view returns (bool);

    /// @notice True if governance registered `account` as a tradenet escrow (deals, pools): it may
    /// hold assets, and members in any standing but sanctioned may pay into it.
    function isSystemContract(address account) external view returns (bool);

    /// @notice How governance classified the contract at `account` (None for members and others).
    function contractKind(address account) external view returns (ContractKind);

    /// @notice The member's 20-character legal-entity identifier; reverts for a non-member.
    function leiOf(address account) external view returns (bytes20);

    /// @notice The legal entity behind each account, as a key for rules that must see one
    /// organisation across its accounts: a member's LEI; for anything else (a contract such as an
    /// ABS pool, or zero) the address itself.
    function entityKeys(address a, address b, address c) external view returns (bytes20, bytes20, bytes20);

    /// @notice The settlement token registered for an ISO 4217 currency (zero if none).
    function settlementToken(bytes3 currency) external view returns (address);
}
