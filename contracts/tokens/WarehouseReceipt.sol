// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ContractKind, IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";

/// @title Tokenised warehouse receipts for goods held by a licensed warehouse.
/// @notice Issued only by a WAREHOUSE member to a depositor. A receipt can be pledged to one
/// pledgee at a time; while pledged it is locked (no transfer, no redemption). Two kinds of pledge:
/// - **to a financing deal** (a registered escrow): created by the escrow itself
///   ({pledgeToEscrow}), with the holder's ERC-721 approval as consent, so only a contract that
///   can release and enforce pledges ever holds one. The escrow releases it on repayment and
///   enforces it (the receipt goes to the deal's lender) only under its own default rule;
/// - **directly to a lender** (an active LENDER member, {pledge}): carries a maturity and grace
///   period fixed at pledge time; the lender may release it at any time and enforce it only after
///   maturity + grace.
/// A pledge must end before the receipt expires; nothing is enforced on an expired receipt.
/// The holder surrenders the receipt for redemption and the issuing warehouse burns it when the
/// goods leave; a sanctioned holder can neither surrender nor take delivery.
contract WarehouseReceipt is ERC721, RegistryBound {
    struct Receipt {
        address warehouse;
        address pledgee;
        uint64 issuedAt;
        uint64 expiry;
        bool redemptionRequested;
        bytes5 location;
        bytes3 currency;
        uint64 pledgeEnforceableAfter; // direct pledges: maturity + grace; escrow pledges: 0
        uint256 quantity;
        uint256 insuredValue;
        bytes32 documentHash;
        string commodity;
        string unit;
        string grade;
        string documentCid;
    }

    /// @notice What the warehouse supplies at issue.
    struct ReceiptInput {
        address depositor;
        string commodity;
        uint256 quantity;
        string unit;
        string grade;
        bytes5 location;
        uint256 insuredValue;
        bytes3 currency;
        uint64 expiry;
        bytes32 documentHash;
        string documentCid;
    }

    uint256 public constant MAX_TEXT_LENGTH = 64;
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Longest grace period of a direct pledge.
    uint64 public constant MAX_GRACE_PERIOD = 365 days;

    uint256 public nextReceiptId = 1;
    mapping(uint256 id => Receipt) private _receipts;

    error UnknownReceipt(uint256 id);
    error NotReceiptHolder(uint256 id, address caller);
    error NotPledgee(uint256 id, address caller);
    error NotIssuingWarehouse(uint256 id, address caller);
    error ReceiptAlreadyPledged(uint256 id, address pledgee);
    error ReceiptPledged(uint256 id, address pledgee);
    error ReceiptNotPledged(uint256 id);
    error ReceiptExpired(uint256 id, uint64 expiry);
    error RedemptionPending(uint256 id);
    error RedemptionNotRequested(uint256 id);
    error InvalidReceipt();
    error SelfPledge(uint256 id);
    /// @dev A direct pledge goes to an active LENDER member, never to a contract: a contract that
    /// wants a pledge creates it itself with {pledgeToEscrow}.
    error InvalidPledgee(uint256 id, address pledgee);
    /// @dev Maturity in the past, grace too long, or maturity + grace not before the receipt expires.
    error InvalidPledgeTerm(uint256 id, uint64 maturity, uint64 gracePeriod, uint64 expiry);
    error PledgeNotEnforceable(uint256 id, uint64 enforceableAfter);
    /// @dev The escrow is not approved by the holder to take the pledge.
    error PledgeNotApproved(uint256 id, address escrow);

    event ReceiptIssued(uint256 indexed id, address indexed warehouse, address indexed depositor, ReceiptInput terms);
    event ReceiptPledgedTo(
        uint256 indexed id, address indexed holder, address indexed pledgee, uint64 enforceableAfter
    );
    event PledgeReleased(uint256 indexed id, address indexed pledgee);
    event PledgeEnforced(uint256 indexed id, address indexed pledgee, address indexed previousHolder, address to);
    event RedemptionRequested(uint256 indexed id, address indexed holder);
    event ReceiptRedeemed(uint256 indexed id, address indexed warehouse, address indexed holder);

    constructor(IParticipantRegistry registry_) ERC721("tradenet Warehouse Receipt", "TNWR") RegistryBound(registry_) {}

    /// @notice Issues a receipt for goods the caller (an active WAREHOUSE) holds for `depositor`.
    function issue(ReceiptInput calldata input) external returns (uint256 id) {
        registry.requireActivePair(msg.sender, Roles.WAREHOUSE, input.depositor, 0);
        uint256 cid = bytes(input.documentCid).length;
        if (
            input.quantity == 0 || input.documentHash == bytes32(0) || cid == 0 || cid > MAX_CID_LENGTH
                || bytes(input.grade).length > MAX_TEXT_LENGTH
        ) revert InvalidReceipt();
        TradeCodes.requireText(input.commodity, MAX_TEXT_LENGTH);
        TradeCodes.requireText(input.unit, MAX_TEXT_LENGTH);
        TradeCodes.requireLocode(input.location);
        TradeCodes.requireCurrency(input.currency);
        if (input.expiry <= block.timestamp) revert ReceiptExpired(0, input.expiry);

        id = nextReceiptId++;
        Receipt storage r = _receipts[id];
        r.warehouse = msg.sender;
        r.issuedAt = uint64(block.timestamp);
        r.expiry = input.expiry;
        r.location = input.location;
        r.currency = input.currency;
        r.quantity = input.quantity;
        r.insuredValue = input.insuredValue;
        r.documentHash = input.documentHash;
        r.commodity = input.commodity;
        r.unit = input.unit;
        r.grade = input.grade;
        r.documentCid = input.documentCid;
        _mint(input.depositor, id);
        emit ReceiptIssued(id, msg.sender, input.depositor, input);
    }

    /// @notice The holder pledges the receipt directly to `lender` (an active LENDER member) for a
    /// loan maturing at `maturity`; the lender may enforce only after `maturity + gracePeriod`,
    /// which must fall before the receipt expires.
    function pledge(uint256 id, address lender, uint64 maturity, uint64 gracePeriod) external {
        Receipt storage r = _pledgeable(id, msg.sender);
        if (lender == msg.sender) revert SelfPledge(id);
        if (registry.contractKind(lender) != ContractKind.None) revert InvalidPledgee(id, lender);
        registry.requireActivePair(msg.sender, 0, lender, Roles.LENDER);
        uint256 enforceableAfter = uint256(maturity) + gracePeriod;
        if (maturity <= block.timestamp || gracePeriod > MAX_GRACE_PERIOD || enforceableAfter >= r.expiry) {
            revert InvalidPledgeTerm(id, maturity, gracePeriod, r.expiry);
        }
        r.pledgee = lender;
        r.pledgeEnforceableAfter = uint64(enforceableAfter);
        emit ReceiptPledgedTo(id, msg.sender, lender, uint64(enforceableAfter));
    }

    /// @notice A registered escrow (a financing deal) takes the pledge of `id` for itself; the
    /// holder must have approved the escrow for the token. The escrow's own rules decide release
    /// and enforcement.
    function pledgeToEscrow(uint256 id) external {
        if (registry.contractKind(msg.sender) != ContractKind.Escrow) revert InvalidPledgee(id, msg.sender);
        address holder = _ownerOf(id);
        Receipt storage r = _pledgeable(id, holder);
        if (!_isAuthorized(holder, msg.sender, id)) revert PledgeNotApproved(id, msg.sender);
        registry.requireActive(holder, 0);
        r.pledgee = msg.sender;
        r.pledgeEnforceableAfter = 0;
        emit ReceiptPledgedTo(id, holder, msg.sender, 0);
    }

    /// @notice The pledgee releases the pledge (loan repaid).
    function releasePledge(uint256 id) external {
        Receipt storage r = _pledged(id);
        r.pledgee = address(0);
        r.pledgeEnforceableAfter = 0;
        emit PledgeReleased(id, msg.sender);
    }

    /// @notice The pledgee enforces the pledge: the receipt moves to `to` (an escrow enforcing on
    /// default names its lender; a direct pledgee names itself or another account of its choice).
    /// A direct pledge is enforceable only after maturity + grace; never on an expired receipt.
    function enforcePledge(uint256 id, address to) external {
        Receipt storage r = _pledged(id);
        if (r.expiry <= block.timestamp) revert ReceiptExpired(id, r.expiry);
        uint64 after_ = r.pledgeEnforceableAfter;
        if (after_ != 0 && block.timestamp <= after_) revert PledgeNotEnforceable(id, after_);
        // the pledgee itself must not be sanctioned (an escrow passes): else a sanctioned lender
        // could still direct the collateral to an account of its choice
        registry.requireCanReceive(msg.sender);
        registry.requireCanReceive(to);
        address holder = _ownerOf(id);
        r.pledgee = address(0);
        r.pledgeEnforceableAfter = 0;
        emit PledgeEnforced(id, msg.sender, holder, to);
        _transfer(holder, to, id);
    }

    /// @notice The holder surrenders the receipt to take the goods out (no pledge may be on it).
    function requestRedemption(uint256 id) external {
        Receipt storage r = _existing(id);
        if (msg.sender != _ownerOf(id)) revert NotReceiptHolder(id, msg.sender);
        if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
        if (r.redemptionRequested) revert RedemptionPending(id);
        registry.requireCanReceive(msg.sender);
        r.redemptionRequested = true;
        emit RedemptionRequested(id, msg.sender);
    }

    /// @notice The issuing warehouse burns a surrendered receipt when the goods leave; the holder
    /// must not be sanctioned at that moment.
    function redeem(uint256 id) external {
        Receipt storage r = _existing(id);
        if (msg.sender != r.warehouse) revert NotIssuingWarehouse(id, msg.sender);
        if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
        if (!r.redemptionRequested) revert RedemptionNotRequested(id);
        address holder = _ownerOf(id);
        registry.requireCanReceive(holder);
        _burn(id);
        emit ReceiptRedeemed(id, msg.sender, holder);
    }

    /// @notice The receipt's full record (kept after redemption).
    function receipt(uint256 id) external view returns (Receipt memory) {
        Receipt storage r = _receipts[id];
        if (r.warehouse == address(0)) revert UnknownReceipt(id);
        return r;
    }

    /// @notice True if the receipt is pledged.
    function isPledged(uint256 id) external view returns (bool) {
        return _existing(id).pledgee != address(0);
    }

    /// @dev Transfers (not issue / redeem) need an unpledged, unexpired, unsurrendered receipt and
    /// follow the network's transfer rule. The one internal transfer (auth == 0) is a pledgee's
    /// enforcement in {enforcePledge}, which is exempt from the pledge lock (its receiver was
    /// checked there).
    function _update(address to, uint256 id, address auth) internal override returns (address) {
        address from = _ownerOf(id);
        if (from != address(0) && to != address(0) && auth != address(0)) {
            Receipt storage r = _receipts[id];
            if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
            if (r.redemptionRequested) revert RedemptionPending(id);
            if (r.expiry <= block.timestamp) revert ReceiptExpired(id, r.expiry);
            _requireTransfer(from, to, 0);
        }
        return super._update(to, id, auth);
    }

    function _pledgeable(uint256 id, address holder) private view returns (Receipt storage r) {
        r = _existing(id);
        if (_ownerOf(id) != holder) revert NotReceiptHolder(id, holder);
        if (r.pledgee != address(0)) revert ReceiptAlreadyPledged(id, r.pledgee);
        if (r.redemptionRequested) revert RedemptionPending(id);
        if (r.expiry <= block.timestamp) revert ReceiptExpired(id, r.expiry);
    }

    function _existing(uint256 id) private view returns (Receipt storage r) {
        r = _receipts[id];
        if (r.warehouse == address(0) || _ownerOf(id) == address(0)) revert UnknownReceipt(id);
    }

    function _pledged(uint256 id) private view returns (Receipt storage r) {
        r = _existing(id);
        if (r.pledgee == address(0)) revert ReceiptNotPledged(id);
        if (msg.sender != r.pledgee) revert NotPledgee(id, msg.sender);
    }
}
