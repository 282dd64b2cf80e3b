// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {MemberGovernance} from "./MemberGovernance.sol";
import {TradeCodes} from "../common/TradeCodes.sol";

/// @title The consortium's membership: roles, KYC, LEI, country, suspension, sanctions.
/// @notice Every change goes through M-of-N admin governance (see {MemberGovernance}). Other
/// tradenet contracts ask this registry before any new business and before any asset moves.
/// Also answers Hyperledger Besu's account-permissioning check {transactionAllowed}.
contract ParticipantRegistry is IParticipantRegistry, MemberGovernance {
    struct Member {
        bool exists;
        bool suspended;
        bool sanctioned;
        uint32 roles;
        uint64 kycExpiry;
        bytes2 country;
        bytes20 lei;
    }

    /// @notice Input for a new member.
    struct MemberInput {
        address account;
        uint32 roles;
        bytes20 lei;
        bytes2 country;
        uint64 kycExpiry;
    }

    mapping(address account => Member) private _members;
    /// @notice Accounts registered under each LEI: an organisation may hold several accounts
    /// (operator keys); they share its LEI, so LEI-based rules (invoice fingerprints) see one entity.
    mapping(bytes20 lei => uint256 accounts) public accountsByLei;
    mapping(address account => string) public suspensionReason;
    /// @notice How the network knows a contract: an asset contract (tokens) or an escrow that holds
    /// and pays out assets (deals, pools). Both may be called by suspended members.
    enum ContractKind {
        None,
        Asset,
        Escrow
    }

    mapping(address account => ContractKind) public contractKind;
    uint256 public memberCount;
    uint256 private _adminCount;

    error ZeroAddress();
    error NotMember(address account);
    error MemberExists(address account);
    error InvalidRoles(uint32 roles);
    error KycExpiryInPast(uint64 kycExpiry);
    error KycExpired(address account, uint64 kycExpiry);
    error MemberIsSuspended(address account);
    error MemberIsSanctioned(address account);
    error MissingRole(address account, uint32 required, uint32 held);
    error AlreadySuspended(address account);
    error NotSuspended(address account);
    error EmptyReason();
    error SanctionsFlagUnchanged(address account, bool sanctioned);

    event MemberAdded(address indexed account, uint32 roles, bytes20 lei, bytes2 country, uint64 kycExpiry);
    event RolesChanged(address indexed account, uint32 previous, uint32 current);
    event KycRenewed(address indexed account, uint64 kycExpiry);
    event MemberSuspended(address indexed account, string reason);
    event MemberReinstated(address indexed account);
    event SanctionsFlagSet(address indexed account, bool sanctioned, string reason);
    event NetworkContractSet(address indexed account, ContractKind kind);

    /// @param founders the founding members; at least `threshold` of them must hold ADMIN
    /// @param threshold M, the approvals a governance proposal needs (at least 2)
    constructor(MemberInput[] memory founders, uint16 threshold) {
        for (uint256 i = 0; i < founders.length; ++i) {
            _addMember(founders[i]);
        }
        _setApprovalThreshold(threshold);
    }

    // ------------------------------------------------------------------ governance-only changes

    /// @notice Admits a member. Governance only.
    function addMember(MemberInput calldata input) external onlyGovernance {
        _addMember(input);
    }

    /// @notice Replaces a member's role set (grant and revoke in one step). Governance only.
    function setRoles(address account, uint32 roles) external onlyGovernance {
        Member storage m = _member(account);
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
        uint32 previous = m.roles;
        bool wasAdmin = _countsAsAdmin(m);
        m.roles = roles;
        _adjustAdminCount(wasAdmin, _countsAsAdmin(m));
        emit RolesChanged(account, previous, roles);
    }

    /// @notice Records a renewed KYC attestation valid until `kycExpiry`. Governance only.
    function renewKyc(address account, uint64 kycExpiry) external onlyGovernance {
        Member storage m = _member(account);
        if (kycExpiry <= block.timestamp) revert KycExpiryInPast(kycExpiry);
        m.kycExpiry = kycExpiry;
        emit KycRenewed(account, kycExpiry);
    }

    /// @notice Suspends a member: no new business; running obligations can still be closed.
    function suspend(address account, string calldata reason) external onlyGovernance {
        Member storage m = _member(account);
        if (m.suspended) revert AlreadySuspended(account);
        if (bytes(reason).length == 0) revert EmptyReason();
        bool wasAdmin = _countsAsAdmin(m);
        m.suspended = true;
        suspensionReason[account] = reason;
        _adjustAdminCount(wasAdmin, false);
        emit MemberSuspended(account, reason);
    }

    /// @notice Lifts a suspension. Governance only.
    function reinstate(address account) external onlyGovernance {
        Member storage m = _member(account);
        if (!m.suspended) revert NotSuspended(account);
        m.suspended = false;
        delete suspensionReason[account];
        _adjustAdminCount(false, _countsAsAdmin(m));
        emit MemberReinstated(account);
    }

    /// @notice Sets or clears the sanctions flag: a sanctioned member can do nothing new and
    /// receives nothing. Governance only.
    function setSanctioned(address account, bool sanctioned, string calldata reason) external onlyGovernance {
        Member storage m = _member(account);
        if (m.sanctioned == sanctioned) revert SanctionsFlagUnchanged(account, sanctioned);
        if (bytes(reason).length == 0) revert EmptyReason();
        bool wasAdmin = _countsAsAdmin(m);
        m.sanctioned = sanctioned;
        _adjustAdminCount(wasAdmin, _countsAsAdmin(m));
        emit SanctionsFlagSet(account, sanctioned, reason);
    }

    /// @notice Registers (kind != None) or deregisters a tradenet contract. Governance only.
    function setNetworkContract(address account, ContractKind kind) external onlyGovernance {
        if (account == address(0)) revert ZeroAddress();
        contractKind[account] = kind;
        emit NetworkContractSet(account, kind);
    }

    // ------------------------------------------------------------------ views for other contracts

    /// @inheritdoc IParticipantRegistry
    function requireActive(address account, uint32 roles) public view {
        Member storage m = _members[account];
        if (!m.exists) revert NotMember(account);
        if (m.sanctioned) revert MemberIsSanctioned(account);
        if (m.suspended) revert MemberIsSuspended(account);
        if (m.kycExpiry <= block.timestamp) revert KycExpired(account, m.kycExpiry);
        if (m.roles & roles != roles) revert MissingRole(account, roles, m.roles);
    }

    /// @inheritdoc IParticipantRegistry
    function requireCanReceive(address account) external view {
        if (contractKind[account] == ContractKind.Escrow) return;
        Member storage m = _members[account];
        if (!m.exists) revert NotMember(account);
        if (m.sanctioned) revert MemberIsSanctioned(account);
    }

    /// @inheritdoc IParticipantRegistry
    function isActive(address account, uint32 roles) public view returns (bool) {
        Member storage m = _members[account];
        return m.exists && !m.sanctioned && !m.suspended && m.kycExpiry > block.timestamp
            && m.roles & roles == roles;
    }

    /// @inheritdoc IParticipantRegistry
    function isMember(address account) external view returns (bool) {
        return _members[account].exists;
    }

    /// @inheritdoc IParticipantRegistry
    function isSanctioned(address account) external view returns (bool) {
        return _members[account].sanctioned;
    }

    /// @inheritdoc IParticipantRegistry
    function isSystemContract(address account) external view returns (bool) {
        return contractKind[account] == ContractKind.Escrow;
    }

    /// @inheritdoc IParticipantRegistry
    function leiOf(address account) external view returns (bytes20) {
        return _member(account).lei;
    }

    /// @notice The member's full record (zeroed for a non-member).
    function member(address account) external view returns (Member memory) {
        return _members[account];
    }

    /// @notice Admins that are neither suspended nor sanctioned (N of M-of-N).
    function activeAdminCount() external view returns (uint256) {
        return _adminCount;
    }

    /// @notice Hyperledger Besu account-permissioning check.
    /// @dev Non-members and sanctioned members may not transact; contract creation needs an active
    /// ADMIN; a suspended or KYC-expired member may still call registered tradenet contracts (to
    /// repay and close running obligations) but nothing else, and sends no value; an admin whose
    /// KYC lapsed may still govern (call this registry).
    function transactionAllowed(
        address sender,
        address target,
        uint256 value,
        uint256, /* gasPrice */
        uint256, /* gasLimit */
        bytes calldata /* payload */
    ) external view returns (bool) {
        Member storage m = _members[sender];
        if (!m.exists || m.sanctioned) return false;
        if (target == address(0)) return isActive(sender, Roles.ADMIN);
        if (isActive(sender, 0)) return true;
        if (target == address(this) && _countsAsAdmin(m)) return value == 0;
        return contractKind[target] != ContractKind.None && value == 0;
    }

    // ------------------------------------------------------------------ internals

    function _addMember(MemberInput memory input) private {
        if (input.account == address(0)) revert ZeroAddress();
        if (_members[input.account].exists) revert MemberExists(input.account);
        if (input.roles == 0 || input.roles & ~Roles.ALL != 0) revert InvalidRoles(input.roles);
        TradeCodes.requireLei(input.lei);
        TradeCodes.requireCountry(input.country);
        if (input.kycExpiry <= block.timestamp) revert KycExpiryInPast(input.kycExpiry);

        Member storage m = _members[input.account];
        m.exists = true;
        m.roles = input.roles;
        m.kycExpiry = input.kycExpiry;
        m.country = input.country;
        m.lei = input.lei;
        ++accountsByLei[input.lei];
        ++memberCount;
        _adjustAdminCount(false, _countsAsAdmin(m));
        emit MemberAdded(input.account, input.roles, input.lei, input.country, input.kycExpiry);
    }

    function _member(address account) private view returns (Member storage m) {
        m = _members[account];
        if (!m.exists) revert NotMember(account);
    }

    function _countsAsAdmin(Member storage m) private view returns (bool) {
        return m.exists && !m.suspended && !m.sanctioned && m.roles & Roles.ADMIN != 0;
    }

    function _adjustAdminCount(bool before, bool afterChange) private {
        if (before == afterChange) return;
        if (afterChange) {
            ++_adminCount;
        } else {
            --_adminCount;
            _requireThresholdReachable();
        }
    }

    /// @dev Governance power follows suspension and sanctions, not KYC expiry: a lapsed KYC
    /// attestation stops new business, but governance must always be able to act (not least to
    /// renew that KYC), so N and the approvers are the same set.
    function _isActiveAdmin(address account) internal view override returns (bool) {
        return _countsAsAdmin(_members[account]);
    }

    function _activeAdminCount() internal view override returns (uint256) {
        return _adminCount;
    }
}
