// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ContractKind, IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {MemberGovernance} from "./MemberGovernance.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {ZeroAddress} from "../common/Errors.sol";

/// @dev What the registry asks of a settlement token when governance registers it for a currency.
interface ICurrencyToken {
    function currencyCode() external view returns (bytes3);
}

/// @title The consortium's membership: roles, KYC, LEI, legal name, country, suspension,
/// sanctions; the network's contract directory and its one transfer rule.
/// @notice Every change goes through M-of-N admin governance (see {MemberGovernance}). Other
/// tradenet contracts ask this registry before any new business and before any asset moves.
/// Also answers Hyperledger Besu's account-permissioning check {transactionAllowed}.
///
/// Invariants:
/// - an address is either a member or a registered contract (asset / escrow), never both; a
///   registered contract has code;
/// - at most one account per LEI holds ADMIN (M-of-N counts organisations, not keys);
/// - M never exceeds the admins able to vote (neither suspended nor sanctioned);
/// - each currency has at most one registered settlement token, whose `currencyCode` is it.
/// @dev Everything a standing check needs about an address sits in one storage word ({Record}),
/// so a token's transfer check costs one call and two storage reads.
contract ParticipantRegistry is IParticipantRegistry, MemberGovernance {
    /// @dev One storage word per address: 20 + 3 + 5 + 2 + 1 + 1 bytes.
    struct Record {
        bytes20 lei;
        uint24 roles;
        uint40 kycExpiry;
        bytes2 country;
        uint8 flags; // FLAG_*
        ContractKind kind; // None for members
    }

    /// @notice A member's record as other contracts and clients read it.
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
        string legalName;
    }

    uint8 private constant FLAG_EXISTS = 1;
    uint8 private constant FLAG_SUSPENDED = 2;
    uint8 private constant FLAG_SANCTIONED = 4;
    /// @notice Longest legal name, reason or description stored, in bytes.
    uint256 public constant MAX_TEXT_LENGTH = 140;

    mapping(address account => Record) private _records;
    /// @notice Accounts registered under each LEI: an organisation may hold several accounts
    /// (operator keys); they share its LEI, so LEI-based rules (invoice fingerprints,
    /// self-invoicing) see one entity.
    mapping(bytes20 lei => uint256 accounts) public accountsByLei;
    /// @notice The one account of an LEI that holds ADMIN (zero if none).
    mapping(bytes20 lei => address admin) public adminOf;
    mapping(address account => string) public suspensionReason;
    /// @notice The member's registered legal name.
    mapping(address account => string) public legalName;
    mapping(bytes3 currency => address token) private _settlementTokens;
    uint256 public memberCount;
    uint256 private _adminCount;

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
    error SanctionsFlagUnchanged(address account, bool sanctioned);
    /// @dev Another account of the same legal entity already holds ADMIN.
    error LeiAlreadyHasAdmin(bytes20 lei, address admin);
    /// @dev Only contracts (with code) that are not members can be registered as network contracts.
    error NotAContract(address account);
    /// @dev The address is a registered network contract and cannot become a member.
    error IsNetworkContract(address account, ContractKind kind);
    /// @dev The token is not a registered asset contract denominated in `currency`.
    error InvalidSettlementToken(bytes3 currency, address token);

    event MemberAdded(
        address indexed account, uint32 roles, bytes20 lei, bytes2 country, uint64 kycExpiry, string legalName
    );
    event RolesChanged(address indexed account, uint32 previous, uint32 current);
    event KycRenewed(address indexed account, uint64 kycExpiry);
    event LegalNameChanged(address indexed account, string legalName);
    event MemberSuspended(address indexed account, string reason);
    event MemberReinstated(address indexed account);
    event SanctionsFlagSet(address indexed account, bool sanctioned, string reason);
    event NetworkContractSet(address indexed account, ContractKind kind);
    event SettlementTokenSet(bytes3 indexed currency, address indexed token);

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
        Record storage m = _member(account);
        _requireRoles(roles);
        uint32 previous = m.roles;
        bool wasAdmin = _countsAsAdmin(m);
        _claimAdminSeat(account, m.lei, previous, roles);
        m.roles = uint24(roles);
        _adjustAdminCount(wasAdmin, _countsAsAdmin(m));
        emit RolesChanged(account, previous, roles);
    }

    /// @notice Records a renewed KYC attestation valid until `kycExpiry`. Governance only.
    function renewKyc(address account, uint64 kycExpiry) external onlyGovernance {
        Record storage m = _member(account);
        _requireKycExpiry(kycExpiry);
        m.kycExpiry = uint40(kycExpiry);
        emit KycRenewed(account, kycExpiry);
    }

    /// @notice Corrects a member's registered legal name. Governance only.
    function setLegalName(address account, string calldata name) external onlyGovernance {
        _member(account);
        TradeCodes.requireText(name, MAX_TEXT_LENGTH);
        legalName[account] = name;
        emit LegalNameChanged(account, name);
    }

    /// @notice Suspends a member: no new business; running obligations can still be closed.
    function suspend(address account, string calldata reason) external onlyGovernance {
        Record storage m = _member(account);
        if (m.flags & FLAG_SUSPENDED != 0) revert AlreadySuspended(account);
        TradeCodes.requireText(reason, MAX_TEXT_LENGTH);
        bool wasAdmin = _countsAsAdmin(m);
        m.flags |= FLAG_SUSPENDED;
        suspensionReason[account] = reason;
        _adjustAdminCount(wasAdmin, false);
        emit MemberSuspended(account, reason);
    }

    /// @notice Lifts a suspension. Governance only.
    function reinstate(address account) external onlyGovernance {
        Record storage m = _member(account);
        if (m.flags & FLAG_SUSPENDED == 0) revert NotSuspended(account);
        m.flags &= ~FLAG_SUSPENDED;
        delete suspensionReason[account];
        _adjustAdminCount(false, _countsAsAdmin(m));
        emit MemberReinstated(account);
    }

    /// @notice Sets or clears the sanctions flag: a sanctioned member can do nothing new and
    /// receives nothing. Governance only.
    function setSanctioned(address account, bool sanctioned, string calldata reason) external onlyGovernance {
        Record storage m = _member(account);
        if ((m.flags & FLAG_SANCTIONED != 0) == sanctioned) revert SanctionsFlagUnchanged(account, sanctioned);
        TradeCodes.requireText(reason, MAX_TEXT_LENGTH);
        bool wasAdmin = _countsAsAdmin(m);
        m.flags = sanctioned ? m.flags | FLAG_SANCTIONED : m.flags & ~FLAG_SANCTIONED;
        _adjustAdminCount(wasAdmin, _countsAsAdmin(m));
        emit SanctionsFlagSet(account, sanctioned, reason);
    }

    /// @notice Registers (kind != None) or deregisters a tradenet contract. Governance only.
    /// @dev Deregistering an escrow freezes what it holds: tokens stop treating it as an escrow, so
    /// its payouts fail the transfer rule until it is registered again (see docs/governance.md).
    function setNetworkContract(address account, ContractKind kind) external onlyGovernance {
        if (account == address(0)) revert ZeroAddress();
        Record storage r = _records[account];
        if (r.flags & FLAG_EXISTS != 0) revert MemberExists(account);
        if (kind != ContractKind.None && account.code.length == 0) revert NotAContract(account);
        r.kind = kind;
        emit NetworkContractSet(account, kind);
    }

    /// @notice Makes `token` (a registered asset contract whose `currencyCode()` is `currency`)
    /// the settlement token of `currency`, or clears it with token = 0. Governance only.
    function setSettlementToken(bytes3 currency, address token) external onlyGovernance {
        TradeCodes.requireCurrency(currency);
        if (token != address(0)) {
            if (_records[token].kind != ContractKind.Asset) revert InvalidSettlementToken(currency, token);
            bytes3 code;
            try ICurrencyToken(token).currencyCode() returns (bytes3 c) {
                code = c;
            } catch {
                revert InvalidSettlementToken(currency, token);
            }
            if (code != currency) revert InvalidSettlementToken(currency, token);
        }
        _settlementTokens[currency] = token;
        emit SettlementTokenSet(currency, token);
    }

    // ------------------------------------------------------------------ views for other contracts

    /// @inheritdoc IParticipantRegistry
    function requireActive(address account, uint32 roles) public view {
        _requireActive(account, _records[account], roles);
    }

    /// @inheritdoc IParticipantRegistry
    function requireActivePair(address a, uint32 rolesA, address b, uint32 rolesB)
        external
        view
        returns (bytes20 leiA, bytes20 leiB)
    {
        Record memory ra = _records[a];
        Record memory rb = _records[b];
        _requireActive(a, ra, rolesA);
        _requireActive(b, rb, rolesB);
        return (ra.lei, rb.lei);
    }

    /// @inheritdoc IParticipantRegistry
    function requireCanReceive(address account) external view {
        Record memory r = _records[account];
        if (r.kind == ContractKind.Escrow) return;
        _requireCanReceive(account, r, 0);
    }

    /// @inheritdoc IParticipantRegistry
    function requireTransfer(address from, address to, uint32 roles) external view {
        _requireTransfer(from, to, roles);
    }

    /// @inheritdoc IParticipantRegistry
    function requireTransferBy(address operator, address from, address to, uint32 roles) external view {
        _requireTransfer(from, to, roles);
        if (operator != from && operator != to) {
            Record memory o = _records[operator];
            if (o.kind != ContractKind.Escrow) _requireActive(operator, o, 0);
        }
    }

    function _requireTransfer(address from, address to, uint32 roles) private view {
        Record memory f = _records[from];
        Record memory t = _records[to];
        if (f.kind == ContractKind.Escrow) {
            if (t.kind != ContractKind.Escrow) _requireCanReceive(to, t, roles);
        } else if (t.kind == ContractKind.Escrow) {
            _requireCanReceive(from, f, roles);
        } else {
            _requireActive(from, f, roles);
            _requireActive(to, t, roles);
        }
    }

    /// @inheritdoc IParticipantRegistry
    function isActive(address account, uint32 roles) public view returns (bool) {
        Record memory m = _records[account];
        return m.flags == FLAG_EXISTS && m.kycExpiry > block.timestamp && m.roles & roles == roles;
    }

    /// @inheritdoc IParticipantRegistry
    function isMember(address account) external view returns (bool) {
        return _records[account].flags & FLAG_EXISTS != 0;
    }

    /// @inheritdoc IParticipantRegistry
    function isSanctioned(address account) external view returns (bool) {
        return _records[account].flags & FLAG_SANCTIONED != 0;
    }

    /// @inheritdoc IParticipantRegistry
    function isSystemContract(address account) external view returns (bool) {
        return _records[account].kind == ContractKind.Escrow;
    }

    /// @inheritdoc IParticipantRegistry
    function contractKind(address account) external view returns (ContractKind) {
        return _records[account].kind;
    }

    /// @inheritdoc IParticipantRegistry
    function leiOf(address account) external view returns (bytes20) {
        return _member(account).lei;
    }

    /// @inheritdoc IParticipantRegistry
    function entityKeys(address a, address b, address c) external view returns (bytes20, bytes20, bytes20) {
        return (_entityKey(a), _entityKey(b), _entityKey(c));
    }

    /// @inheritdoc IParticipantRegistry
    function settlementToken(bytes3 currency) external view returns (address) {
        return _settlementTokens[currency];
    }

    /// @notice The member's full record (zeroed for a non-member).
    function member(address account) external view returns (Member memory m) {
        Record memory r = _records[account];
        m.exists = r.flags & FLAG_EXISTS != 0;
        m.suspended = r.flags & FLAG_SUSPENDED != 0;
        m.sanctioned = r.flags & FLAG_SANCTIONED != 0;
        m.roles = r.roles;
        m.kycExpiry = r.kycExpiry;
        m.country = r.country;
        m.lei = r.lei;
    }

    /// @notice Admins that are neither suspended nor sanctioned (N of M-of-N; one per LEI).
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
        Record storage m = _records[sender];
        if (m.flags & FLAG_EXISTS == 0 || m.flags & FLAG_SANCTIONED != 0) return false;
        if (target == address(0)) return isActive(sender, Roles.ADMIN);
        if (isActive(sender, 0)) return true;
        if (target == address(this) && _countsAsAdmin(m)) return value == 0;
        return _records[target].kind != ContractKind.None && value == 0;
    }

    // ------------------------------------------------------------------ internals

    function _addMember(MemberInput memory input) private {
        if (input.account == address(0)) revert ZeroAddress();
        Record storage m = _records[input.account];
        if (m.flags & FLAG_EXISTS != 0) revert MemberExists(input.account);
        if (m.kind != ContractKind.None) revert IsNetworkContract(input.account, m.kind);
        _requireRoles(input.roles);
        TradeCodes.requireLei(input.lei);
        TradeCodes.requireCountry(input.country);
        _requireKycExpiry(input.kycExpiry);
        TradeCodes.requireText(input.legalName, MAX_TEXT_LENGTH);

        _claimAdminSeat(input.account, input.lei, 0, input.roles);
        m.flags = FLAG_EXISTS;
        m.roles = uint24(input.roles);
        m.kycExpiry = uint40(input.kycExpiry);
        m.country = input.country;
        m.lei = input.lei;
        legalName[input.account] = input.legalName;
        ++accountsByLei[input.lei];
        ++memberCount;
        _adjustAdminCount(false, _countsAsAdmin(m));
        emit MemberAdded(input.account, input.roles, input.lei, input.country, input.kycExpiry, input.legalName);
    }

    /// @dev One ADMIN account per LEI: taking the role claims the entity's seat, dropping it frees it.
    function _claimAdminSeat(address account, bytes20 lei, uint32 previous, uint32 roles) private {
        bool had = previous & Roles.ADMIN != 0;
        bool has = roles & Roles.ADMIN != 0;
        if (had == has) return;
        if (has) {
            address holder = adminOf[lei];
            if (holder != address(0)) revert LeiAlreadyHasAdmin(lei, holder);
            adminOf[lei] = account;
        } else {
            delete adminOf[lei];
        }
    }

    function _requireActive(address account, Record memory m, uint32 roles) private view {
        uint8 flags = m.flags;
        if (flags & FLAG_EXISTS == 0) revert NotMember(account);
        if (flags & FLAG_SANCTIONED != 0) revert MemberIsSanctioned(account);
        if (flags & FLAG_SUSPENDED != 0) revert MemberIsSuspended(account);
        if (m.kycExpiry <= block.timestamp) revert KycExpired(account, m.kycExpiry);
        if (m.roles & roles != roles) revert MissingRole(account, roles, m.roles);
    }

    function _requireCanReceive(address account, Record memory m, uint32 roles) private pure {
        if (m.flags & FLAG_EXISTS == 0) revert NotMember(account);
        if (m.flags & FLAG_SANCTIONED != 0) revert MemberIsSanctioned(account);
        if (m.roles & roles != roles) revert MissingRole(account, roles, m.roles);
    }

    function _requireRoles(uint32 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }

    function _requireKycExpiry(uint64 kycExpiry) private view {
        if (kycExpiry <= block.timestamp || kycExpiry > type(uint40).max) revert KycExpiryInPast(kycExpiry);
    }

    function _entityKey(address account) private view returns (bytes20) {
        Record storage r = _records[account];
        if (r.flags & FLAG_EXISTS != 0) return r.lei;
        return bytes20(account);
    }

    function _member(address account) private view returns (Record storage m) {
        m = _records[account];
        if (m.flags & FLAG_EXISTS == 0) revert NotMember(account);
    }

    function _countsAsAdmin(Record storage m) private view returns (bool) {
        uint8 flags = m.flags;
        return flags & FLAG_EXISTS != 0 && flags & (FLAG_SUSPENDED | FLAG_SANCTIONED) == 0
            && m.roles & Roles.ADMIN != 0;
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
        return _countsAsAdmin(_records[account]);
    }

    function _activeAdminCount() internal view override returns (uint256) {
        return _adminCount;
    }
}
