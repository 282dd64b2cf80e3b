// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {TradeCodes} from "../common/TradeCodes.sol";

/// @title Tokenised trade invoices (receivables).
/// @notice Minted by the seller; the buyer (obligor) confirms it (確權); only a confirmed invoice
/// can be financed. A fingerprint of (seller LEI, buyer LEI, invoice number, face value, currency,
/// issue date) is unique across the network, so the same receivable cannot be tokenised twice,
/// not even through another account of the same seller.
/// @dev State changes driven by financing (Financed, Paid, Defaulted) come from tradenet system
/// contracts registered by governance.
contract InvoiceToken is ERC721 {
    enum InvoiceState {
        None,
        Issued,
        Confirmed,
        Financed,
        Paid,
        Defaulted,
        Cancelled,
        Split
    }

    struct Invoice {
        address seller;
        address buyer;
        uint64 issueDate;
        uint64 dueDate;
        InvoiceState state;
        bytes3 currency;
        uint256 faceValue;
        bytes32 fingerprint;
        bytes32 documentHash;
        uint256 parentId;
        string invoiceNumber;
        string documentCid;
    }

    /// @notice What the seller supplies at minting.
    struct InvoiceInput {
        address buyer;
        string invoiceNumber;
        uint256 faceValue;
        bytes3 currency;
        uint64 issueDate;
        uint64 dueDate;
        bytes32 documentHash;
        string documentCid;
    }

    uint256 public constant MAX_SPLIT_PARTS = 16;
    uint256 public constant MAX_INVOICE_NUMBER_LENGTH = 64;
    /// @notice Tolerated clock difference for an issue date slightly ahead of block time.
    uint64 public constant ISSUE_DATE_SKEW = 1 days;

    IParticipantRegistry public immutable registry;
    uint256 public nextInvoiceId = 1;
    mapping(uint256 id => Invoice) private _invoices;
    /// @notice Invoice id holding a fingerprint (0 if none); a fingerprint is never released.
    mapping(bytes32 fingerprint => uint256 id) public invoiceByFingerprint;

    error DuplicateInvoice(bytes32 fingerprint, uint256 existingId);
    error UnknownInvoice(uint256 id);
    error InvalidInvoiceState(uint256 id, InvoiceState state);
    error NotInvoiceBuyer(uint256 id, address caller);
    error NotInvoiceHolder(uint256 id, address caller);
    error NotSystemContract(address caller);
    error SellerIsBuyer(address account);
    error ZeroFaceValue();
    error InvalidInvoiceNumber();
    error InvalidDates(uint64 issueDate, uint64 dueDate);
    error MissingDocument();
    error InvalidSplit(uint256 parts, uint256 sum, uint256 faceValue);
    error InvoiceNotTransferable(uint256 id, InvoiceState state);
    error EmptyReason();

    event InvoiceIssued(
        uint256 indexed id, address indexed seller, address indexed buyer, bytes32 fingerprint, InvoiceInput terms
    );
    event InvoiceConfirmed(uint256 indexed id, address indexed buyer);
    event InvoiceFinanced(uint256 indexed id, address indexed financier);
    event InvoicePaid(uint256 indexed id, address indexed settler);
    event InvoiceDefaulted(uint256 indexed id, address indexed settler);
    event InvoiceCancelled(uint256 indexed id, address indexed by, string reason);
    event InvoiceSplit(uint256 indexed parentId, uint256[] childIds, uint256[] faceValues);

    /// @dev Financing states are driven by the escrow that holds the invoice, and only by it.
    modifier onlyHoldingEscrow(uint256 id) {
        if (!registry.isSystemContract(msg.sender)) revert NotSystemContract(msg.sender);
        if (_invoices[id].state == InvoiceState.None) revert UnknownInvoice(id);
        if (_ownerOf(id) != msg.sender) revert NotInvoiceHolder(id, msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_) ERC721("tradenet Invoice", "TNINV") {
        registry = registry_;
    }

    /// @notice Tokenises an invoice issued by the caller (an active SELLER) to an active BUYER.
    /// @return id the new token id, held by the seller
    function mint(InvoiceInput calldata input) external returns (uint256 id) {
        registry.requireActive(msg.sender, Roles.SELLER);
        registry.requireActive(input.buyer, Roles.BUYER);
        if (input.buyer == msg.sender) revert SellerIsBuyer(msg.sender);
        if (input.faceValue == 0) revert ZeroFaceValue();
        TradeCodes.requireCurrency(input.currency);
        uint256 numberLength = bytes(input.invoiceNumber).length;
        if (numberLength == 0 || numberLength > MAX_INVOICE_NUMBER_LENGTH) revert InvalidInvoiceNumber();
        if (
            input.dueDate <= input.issueDate || input.issueDate > block.timestamp + ISSUE_DATE_SKEW
                || input.dueDate <= block.timestamp
        ) revert InvalidDates(input.issueDate, input.dueDate);
        if (input.documentHash == bytes32(0) || bytes(input.documentCid).length == 0) revert MissingDocument();

        bytes32 fp = fingerprint(
            registry.leiOf(msg.sender),
            registry.leiOf(input.buyer),
            input.invoiceNumber,
            input.faceValue,
            input.currency,
            input.issueDate
        );
        uint256 existing = invoiceByFingerprint[fp];
        if (existing != 0) revert DuplicateInvoice(fp, existing);

        id = nextInvoiceId++;
        invoiceByFingerprint[fp] = id;
        Invoice storage inv = _invoices[id];
        inv.seller = msg.sender;
        inv.buyer = input.buyer;
        inv.issueDate = input.issueDate;
        inv.dueDate = input.dueDate;
        inv.state = InvoiceState.Issued;
        inv.currency = input.currency;
        inv.faceValue = input.faceValue;
        inv.fingerprint = fp;
        inv.documentHash = input.documentHash;
        inv.invoiceNumber = input.invoiceNumber;
        inv.documentCid = input.documentCid;
        _mint(msg.sender, id);
        emit InvoiceIssued(id, msg.sender, input.buyer, fp, input);
    }

    /// @notice The buyer acknowledges the debt (確權): Issued -> Confirmed.
    function confirm(uint256 id) external {
        Invoice storage inv = _existing(id);
        if (msg.sender != inv.buyer) revert NotInvoiceBuyer(id, msg.sender);
        registry.requireActive(msg.sender, Roles.BUYER);
        _requireState(id, inv, InvoiceState.Issued);
        inv.state = InvoiceState.Confirmed;
        emit InvoiceConfirmed(id, msg.sender);
    }

    /// @notice The buyer disputes an unconfirmed invoice: Issued -> Cancelled.
    function dispute(uint256 id, string calldata reason) external {
        Invoice storage inv = _existing(id);
        if (msg.sender != inv.buyer) revert NotInvoiceBuyer(id, msg.sender);
        _requireState(id, inv, InvoiceState.Issued);
        _cancel(id, inv, reason);
    }

    /// @notice The holder withdraws an invoice that is not financed: Issued|Confirmed -> Cancelled.
    function cancel(uint256 id, string calldata reason) external {
        Invoice storage inv = _existing(id);
        if (msg.sender != _ownerOf(id)) revert NotInvoiceHolder(id, msg.sender);
        if (inv.state != InvoiceState.Issued && inv.state != InvoiceState.Confirmed) {
            revert InvalidInvoiceState(id, inv.state);
        }
        _cancel(id, inv, reason);
    }

    /// @notice The escrow holding the invoice financed it: Confirmed -> Financed.
    function markFinanced(uint256 id) external onlyHoldingEscrow(id) {
        Invoice storage inv = _existing(id);
        _requireState(id, inv, InvoiceState.Confirmed);
        inv.state = InvoiceState.Financed;
        emit InvoiceFinanced(id, msg.sender);
    }

    /// @notice The obligor paid in full: Confirmed|Financed -> Paid.
    function markPaid(uint256 id) external onlyHoldingEscrow(id) {
        Invoice storage inv = _existing(id);
        if (inv.state != InvoiceState.Confirmed && inv.state != InvoiceState.Financed) {
            revert InvalidInvoiceState(id, inv.state);
        }
        inv.state = InvoiceState.Paid;
        emit InvoicePaid(id, msg.sender);
    }

    /// @notice The obligor defaulted on a financed invoice: Financed -> Defaulted.
    function markDefaulted(uint256 id) external onlyHoldingEscrow(id) {
        Invoice storage inv = _existing(id);
        _requireState(id, inv, InvoiceState.Financed);
        inv.state = InvoiceState.Defaulted;
        emit InvoiceDefaulted(id, msg.sender);
    }

    /// @notice Splits a financed invoice held by the caller into parts whose face values sum
    /// exactly to the parent's. The parent is burned (state Split); each part keeps the parent's
    /// terms and gets its own fingerprint derived from the parent's.
    /// @return childIds the new token ids, held by the caller
    function split(uint256 id, uint256[] calldata faceValues) external returns (uint256[] memory childIds) {
        Invoice storage parent = _existing(id);
        if (msg.sender != _ownerOf(id)) revert NotInvoiceHolder(id, msg.sender);
        registry.requireActive(msg.sender, 0);
        _requireState(id, parent, InvoiceState.Financed);
        uint256 n = faceValues.length;
        uint256 sum;
        for (uint256 i = 0; i < n; ++i) {
            if (faceValues[i] == 0) revert InvalidSplit(n, sum, parent.faceValue);
            sum += faceValues[i];
        }
        if (n < 2 || n > MAX_SPLIT_PARTS || sum != parent.faceValue) revert InvalidSplit(n, sum, parent.faceValue);

        parent.state = InvoiceState.Split;
        _burn(id);
        childIds = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 childId = nextInvoiceId++;
            bytes32 fp = keccak256(abi.encode(parent.fingerprint, i));
            invoiceByFingerprint[fp] = childId;
            Invoice storage child = _invoices[childId];
            child.seller = parent.seller;
            child.buyer = parent.buyer;
            child.issueDate = parent.issueDate;
            child.dueDate = parent.dueDate;
            child.state = InvoiceState.Financed;
            child.currency = parent.currency;
            child.faceValue = faceValues[i];
            child.fingerprint = fp;
            child.documentHash = parent.documentHash;
            child.parentId = id;
            child.invoiceNumber = parent.invoiceNumber;
            child.documentCid = parent.documentCid;
            _mint(msg.sender, childId);
            childIds[i] = childId;
        }
        emit InvoiceSplit(id, childIds, faceValues);
    }

    /// @notice The invoice's full record.
    function invoice(uint256 id) external view returns (Invoice memory) {
        Invoice storage inv = _invoices[id];
        if (inv.state == InvoiceState.None) revert UnknownInvoice(id);
        return inv;
    }

    /// @notice The network-wide uniqueness key of an invoice.
    function fingerprint(
        bytes20 sellerLei,
        bytes20 buyerLei,
        string memory invoiceNumber,
        uint256 faceValue,
        bytes3 currency,
        uint64 issueDate
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(sellerLei, buyerLei, keccak256(bytes(invoiceNumber)), faceValue, currency, issueDate)
        );
    }

    /// @dev Transfers (not mint / burn) only for live confirmed, financed or defaulted invoices.
    /// Between members both must be in good standing; into an escrow the sender must be (new
    /// business); out of an escrow the receiver only has to be allowed to receive, so a suspended
    /// lender or seller can still take an invoice back when a running deal closes.
    function _update(address to, uint256 id, address auth) internal override returns (address from) {
        from = _ownerOf(id);
        if (from != address(0) && to != address(0)) {
            InvoiceState state = _invoices[id].state;
            if (
                state != InvoiceState.Confirmed && state != InvoiceState.Financed
                    && state != InvoiceState.Defaulted
            ) revert InvoiceNotTransferable(id, state);
            if (registry.isSystemContract(from)) {
                registry.requireCanReceive(to);
            } else {
                registry.requireActive(from, 0);
                if (!registry.isSystemContract(to)) registry.requireActive(to, 0);
            }
        }
        return super._update(to, id, auth);
    }

    function _cancel(uint256 id, Invoice storage inv, string calldata reason) private {
        if (bytes(reason).length == 0) revert EmptyReason();
        inv.state = InvoiceState.Cancelled;
        emit InvoiceCancelled(id, msg.sender, reason);
    }

    function _existing(uint256 id) private view returns (Invoice storage inv) {
        inv = _invoices[id];
        if (inv.state == InvoiceState.None) revert UnknownInvoice(id);
    }

    function _requireState(uint256 id, Invoice storage inv, InvoiceState expected) private view {
        if (inv.state != expected) revert InvalidInvoiceState(id, inv.state);
    }
}
