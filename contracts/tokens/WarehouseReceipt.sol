// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {TradeCodes} from "../common/TradeCodes.sol";

/// @title Tokenised warehouse receipts for goods held by a licensed warehouse.
/// @notice Issued only by a WAREHOUSE member to a depositor. A receipt can be pledged to one
/// lender at a time: while pledged it is locked (no transfer, no redemption) until the lender
/// releases it on repayment or enforces it (takes the receipt) on default. The holder surrenders
/// it for redemption and the issuing warehouse burns it when the goods leave.
contract WarehouseReceipt is ERC721 {
    struct Receipt {
        address warehouse;
        address pledgee;
        uint64 issuedAt;
        uint64 expiry;
        bool redemptionRequested;
        bytes5 location;
        bytes3 currency;
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

    IParticipantRegistry public immutable registry;
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

    event ReceiptIssued(uint256 indexed id, address indexed warehouse, address indexed depositor, ReceiptInput terms);
    event ReceiptPledgedTo(uint256 indexed id, address indexed holder, address indexed pledgee);
    event PledgeReleased(uint256 indexed id, address indexed pledgee);
    event PledgeEnforced(uint256 indexed id, address indexed pledgee, address indexed previousHolder);
    event RedemptionRequested(uint256 indexed id, address indexed holder);
    event ReceiptRedeemed(uint256 indexed id, address indexed warehouse, address indexed holder);

    constructor(IParticipantRegistry registry_) ERC721("tradenet Warehouse Receipt", "TNWR") {
        registry = registry_;
    }

    /// @notice Issues a receipt for goods the caller (an active WAREHOUSE) holds for `depositor`.
    function issue(ReceiptInput calldata input) external returns (uint256 id) {
        registry.requireActive(msg.sender, Roles.WAREHOUSE);
        registry.requireActive(input.depositor, 0);
        if (
            input.quantity == 0 || bytes(input.commodity).length == 0 || bytes(input.unit).length == 0
                || input.documentHash == bytes32(0) || bytes(input.documentCid).length == 0
        ) revert InvalidReceipt();
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

    /// @notice The holder pledges the receipt to `pledgee` (an active LENDER or a tradenet escrow).
    function pledge(uint256 id, address pledgee) external {
        Receipt storage r = _existing(id);
        if (msg.sender != _ownerOf(id)) revert NotReceiptHolder(id, msg.sender);
        registry.requireActive(msg.sender, 0);
        if (pledgee == msg.sender) revert SelfPledge(id);
        if (!registry.isSystemContract(pledgee)) registry.requireActive(pledgee, Roles.LENDER);
        if (r.pledgee != address(0)) revert ReceiptAlreadyPledged(id, r.pledgee);
        if (r.redemptionRequested) revert RedemptionPending(id);
        if (r.expiry <= block.timestamp) revert ReceiptExpired(id, r.expiry);
        r.pledgee = pledgee;
        emit ReceiptPledgedTo(id, msg.sender, pledgee);
    }

    /// @notice The pledgee releases the pledge (loan repaid).
    function releasePledge(uint256 id) external {
        Receipt storage r = _pledged(id);
        address pledgee = r.pledgee;
        r.pledgee = address(0);
        emit PledgeReleased(id, pledgee);
    }

    /// @notice The pledgee enforces the pledge on default: the receipt moves to the pledgee.
    function enforcePledge(uint256 id) external {
        Receipt storage r = _pledged(id);
        address pledgee = r.pledgee;
        address holder = _ownerOf(id);
        registry.requireCanReceive(pledgee);
        r.pledgee = address(0);
        _transfer(holder, pledgee, id);
        emit PledgeEnforced(id, pledgee, holder);
    }

    /// @notice The holder surrenders the receipt to take the goods out (no pledge may be on it).
    function requestRedemption(uint256 id) external {
        Receipt storage r = _existing(id);
        if (msg.sender != _ownerOf(id)) revert NotReceiptHolder(id, msg.sender);
        if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
        if (r.redemptionRequested) revert RedemptionPending(id);
        r.redemptionRequested = true;
        emit RedemptionRequested(id, msg.sender);
    }

    /// @notice The issuing warehouse burns a surrendered receipt when the goods leave.
    function redeem(uint256 id) external {
        Receipt storage r = _existing(id);
        if (msg.sender != r.warehouse) revert NotIssuingWarehouse(id, msg.sender);
        if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
        if (!r.redemptionRequested) revert RedemptionNotRequested(id);
        address holder = _ownerOf(id);
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
    /// members in good standing on both sides. The one internal transfer (auth == 0) is the
    /// pledgee's enforcement in {enforcePledge}, which is exempt from the lock.
    function _update(address to, uint256 id, address auth) internal override returns (address) {
        address from = _ownerOf(id);
        if (from != address(0) && to != address(0) && auth != address(0)) {
            Receipt storage r = _receipts[id];
            if (r.pledgee != address(0)) revert ReceiptPledged(id, r.pledgee);
            if (r.redemptionRequested) revert RedemptionPending(id);
            if (r.expiry <= block.timestamp) revert ReceiptExpired(id, r.expiry);
            if (!registry.isSystemContract(from)) registry.requireActive(from, 0);
            if (!registry.isSystemContract(to)) registry.requireActive(to, 0);
        }
        return super._update(to, id, auth);
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
