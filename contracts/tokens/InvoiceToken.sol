// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {ContractKind, IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {IPurchaseOrders} from "../interfaces/IPurchaseOrders.sol";
import {IInvoiceOrders} from "../interfaces/IInvoiceOrders.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {InvalidAmount} from "../common/Errors.sol";

/// @title Tokenised trade invoices (receivables).
/// @notice Minted by the seller; the buyer (obligor) confirms it (確權); only a confirmed invoice
/// can be financed.
///
/// **One receivable, one token.** The token id *is* the invoice's fingerprint:
/// `keccak256(abi.encode(sellerLei, buyerLei, keccak256(canonical number), faceValue, currency, issueDay))`
/// where the canonical number keeps only letters and digits, letters upper-cased
/// ({TradeCodes-canonicalReference}: `INV-2025-0042`, `inv 2025 0042` and `Inv/2025/0042` are one
/// number; non-printable or non-ASCII bytes revert), and `issueDay = issueDate / 86400` (the UTC
/// day). LEIs, not accounts, enter the fingerprint, so a second account of the same seller cannot
/// tokenise the receivable again; a fingerprint is never released, not even by cancellation.
/// Independently, one invoice token may exist per document hash ({invoiceByDocument}); the same
/// document may still be presented under other instruments (e.g. a documentary payment).
/// The seller and buyer must be different legal entities (LEIs), and the currency must have a
/// settlement token registered by governance.
///
/// **States**: `Issued -> Confirmed -> Financed -> Paid | Defaulted`, `Issued|Confirmed -> Cancelled`,
/// `Confirmed -> Split` (the parent of parts). Financing states (Financed, Paid, Defaulted) are set
/// only by the registered escrow holding the token.
///
/// **Multi-tier transfer (多级流转)**: the holder of a confirmed invoice may split it into parts
/// whose face values sum exactly to the parent's; each part keeps the parent's buyer, due date,
/// currency, shipment and lineage (part id = keccak256(abi.encode(parentId, index))), is
/// confirmed, and can be transferred to the holder's own suppliers and financed by its holder.
/// Parts may be split again; a root invoice has at most {MAX_PARTS} live parts, listed by
/// {partsOf} so that the buyer's maturity payment reaches every holder in one call.
///
/// **Shipment**: an invoice names the transport document (B/L) of its goods, at mint or when a
/// financing deal anchors it ({bindShipment}); release milestones of deals on it must wait for
/// that shipment.
/// @dev Storage per invoice: the ERC-721 ownership word carries state, due date and currency; one
/// more word holds buyer and face value. Everything else is in the {InvoiceIssued} event.
contract InvoiceToken is ERC721, RegistryBound, IInvoiceOrders {
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

    /// @notice An invoice as stored on chain.
    struct Invoice {
        address holder; // zero once burned (split parent)
        address buyer;
        uint64 dueDate;
        InvoiceState state;
        bytes3 currency;
        uint256 faceValue;
        uint256 parentId; // zero for a root invoice
        uint256 rootId; // the root invoice of a part (its own id for a root)
        bytes32 shipmentId; // zero until anchored
        uint256 orderId; // the purchase order it was issued against (zero if none)
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
        bytes32 shipmentId; // keccak256 of the transport document reference, or zero
        uint256 orderId; // a purchase order of the buyer to this seller, or zero
    }

    uint256 public constant MAX_SPLIT_PARTS = 16;
    /// @notice Most live parts one root invoice may be split into, over all tiers.
    uint256 public constant MAX_PARTS = 32;
    uint256 public constant MAX_INVOICE_NUMBER_LENGTH = 64;
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Largest face value, in minor units.
    uint256 public constant MAX_FACE_VALUE = type(uint96).max;
    /// @notice Tolerated clock difference for an issue date slightly ahead of block time.
    uint64 public constant ISSUE_DATE_SKEW = 1 days;

    IPurchaseOrders public immutable purchaseOrders;
    /// @notice The contract through which buyers pay invoices directly (T/T), set once by governance.
    address public settlement;

    /// @dev id => buyer (low 160 bits) | face value (high 96 bits); never cleared.
    mapping(uint256 id => uint256) private _terms;
    /// @notice The invoice token anchoring each document hash (zero if none).
    mapping(bytes32 documentHash => uint256 id) public invoiceByDocument;
    mapping(uint256 id => bytes32) private _shipments;
    mapping(uint256 id => uint256) private _parents;
    mapping(uint256 id => uint256) private _orders;
    /// @notice The live invoice issued against each purchase order (one per order; zero if none or
    /// if it was cancelled, when the supplier may issue a corrected one).
    mapping(uint256 orderId => uint256 id) public override invoiceByOrder;
    mapping(uint256 rootId => uint256[]) private _parts;

    error DuplicateInvoice(uint256 id);
    error DuplicateDocument(bytes32 documentHash, uint256 existingId);
    error UnknownInvoice(uint256 id);
    error InvalidInvoiceState(uint256 id, InvoiceState state);
    error NotInvoiceBuyer(uint256 id, address caller);
    error NotInvoiceHolder(uint256 id, address caller);
    error NotSystemContract(address caller);
    /// @dev Seller and buyer are accounts of the same legal entity.
    error SellerIsBuyer(bytes20 lei);
    error UnsupportedCurrency(bytes3 currency);
    error InvalidDates(uint64 issueDate, uint64 dueDate);
    error MissingDocument();
    error InvalidSplit(uint256 parts, uint256 sum, uint256 faceValue);
    error TooManyParts(uint256 rootId, uint256 parts, uint256 maxParts);
    error InvoiceNotTransferable(uint256 id, InvoiceState state);
    error ShipmentMismatch(uint256 id, bytes32 anchored, bytes32 requested);
    error InvalidOrder(uint256 orderId);
    error SettlementAlreadySet(address settlement);
    error NotSettlement(address caller);

    event InvoiceIssued(uint256 indexed id, address indexed seller, address indexed buyer, InvoiceInput terms);
    event InvoiceConfirmed(uint256 indexed id, address indexed buyer);
    event InvoiceFinanced(uint256 indexed id, address indexed financier);
    event InvoicePaid(uint256 indexed id, address indexed settler);
    event InvoiceDefaulted(uint256 indexed id, address indexed settler);
    event InvoiceCancelled(uint256 indexed id, address indexed by, string reason);
    event InvoiceSplit(uint256 indexed parentId, uint256 indexed rootId, uint256[] childIds, uint256[] faceValues);
    event ShipmentBound(uint256 indexed id, bytes32 indexed shipmentId, address indexed by);
    event SettlementSet(address indexed settlement);

    /// @dev Financing states are driven by the escrow that holds the invoice, and only by it.
    modifier onlyHoldingEscrow(uint256 id) {
        if (!registry.isSystemContract(msg.sender)) revert NotSystemContract(msg.sender);
        if (_terms[id] == 0) revert UnknownInvoice(id);
        if (_ownerOf(id) != msg.sender) revert NotInvoiceHolder(id, msg.sender);
        _;
    }

    /// @param purchaseOrders_ the purchase-order token invoices may be issued against (zero: none)
    constructor(IParticipantRegistry registry_, IPurchaseOrders purchaseOrders_) RegistryBound(registry_) {
        purchaseOrders = purchaseOrders_;
    }

    function name() public pure override returns (string memory) {
        return "tradenet Invoice";
    }

    function symbol() public pure override returns (string memory) {
        return "TNINV";
    }

    /// @dev Invoices have no off-chain metadata URI: the document is referenced by CID in the
    /// {InvoiceIssued} event and served, encrypted, by the parties' nodes.
    function tokenURI(uint256 id) public view override returns (string memory) {
        if (_terms[id] == 0) revert UnknownInvoice(id);
        return "";
    }

    /// @notice Tokenises an invoice issued by the caller (an active SELLER) to an active BUYER.
    /// @return id the new token id: the invoice's fingerprint, held by the seller
    function mint(InvoiceInput calldata input) external returns (uint256 id) {
        (bytes20 sellerLei, bytes20 buyerLei) = registry.requireActivePair(msg.sender, Roles.SELLER, input.buyer, Roles.BUYER);
        if (sellerLei == buyerLei) revert SellerIsBuyer(sellerLei);
        if (input.faceValue == 0 || input.faceValue > MAX_FACE_VALUE) revert InvalidAmount(input.faceValue, MAX_FACE_VALUE);
        TradeCodes.requireCurrency(input.currency);
        if (registry.settlementToken(input.currency) == address(0)) revert UnsupportedCurrency(input.currency);
        bytes32 number = TradeCodes.canonicalReference(input.invoiceNumber, MAX_INVOICE_NUMBER_LENGTH);
        if (
            input.dueDate <= input.issueDate || input.issueDate > block.timestamp + ISSUE_DATE_SKEW
                || input.dueDate <= block.timestamp || input.dueDate >= 1 << 40
        ) revert InvalidDates(input.issueDate, input.dueDate);
        uint256 cidLength = bytes(input.documentCid).length;
        if (input.documentHash == bytes32(0) || cidLength == 0 || cidLength > MAX_CID_LENGTH) revert MissingDocument();
        uint256 byDocument = invoiceByDocument[input.documentHash];
        if (byDocument != 0) revert DuplicateDocument(input.documentHash, byDocument);

        bytes32 fp = fingerprint(sellerLei, buyerLei, number, input.faceValue, input.currency, input.issueDate);
        id = uint256(fp);
        if (_terms[id] != 0) revert DuplicateInvoice(id);
        if (input.orderId != 0) _requireOrder(input);

        _terms[id] = _packTerms(input.buyer, input.faceValue);
        invoiceByDocument[input.documentHash] = id;
        if (input.shipmentId != bytes32(0)) _shipments[id] = input.shipmentId;
        if (input.orderId != 0) {
            _orders[id] = input.orderId;
            invoiceByOrder[input.orderId] = id;
        }
        _mintAndSetExtraDataUnchecked(msg.sender, id, _packExtra(InvoiceState.Issued, input.dueDate, input.currency));
        emit InvoiceIssued(id, msg.sender, input.buyer, input);
    }

    /// @notice The buyer acknowledges the debt (確權): Issued -> Confirmed.
    function confirm(uint256 id) external {
        _requireBuyer(id);
        registry.requireActive(msg.sender, Roles.BUYER);
        _requireState(id, InvoiceState.Issued);
        _setState(id, InvoiceState.Confirmed);
        emit InvoiceConfirmed(id, msg.sender);
    }

    /// @notice The buyer disputes an unconfirmed invoice: Issued -> Cancelled.
    function dispute(uint256 id, string calldata reason) external {
        _requireBuyer(id);
        _requireState(id, InvoiceState.Issued);
        _cancel(id, reason);
    }

    /// @notice The holder withdraws an invoice that is not financed: Issued|Confirmed -> Cancelled.
    function cancel(uint256 id, string calldata reason) external {
        InvoiceState s = _existingState(id);
        if (msg.sender != _ownerOf(id)) revert NotInvoiceHolder(id, msg.sender);
        if (s != InvoiceState.Issued && s != InvoiceState.Confirmed) revert InvalidInvoiceState(id, s);
        _cancel(id, reason);
    }

    /// @notice The escrow holding the invoice financed it: Confirmed -> Financed.
    function markFinanced(uint256 id) external onlyHoldingEscrow(id) {
        _requireState(id, InvoiceState.Confirmed);
        _setState(id, InvoiceState.Financed);
        emit InvoiceFinanced(id, msg.sender);
    }

    /// @notice The obligor paid in full: Confirmed|Financed -> Paid.
    function markPaid(uint256 id) external onlyHoldingEscrow(id) {
        InvoiceState s = _stateOf(id);
        if (s != InvoiceState.Confirmed && s != InvoiceState.Financed) revert InvalidInvoiceState(id, s);
        _setState(id, InvoiceState.Paid);
        emit InvoicePaid(id, msg.sender);
    }

    /// @notice The obligor defaulted on a financed invoice: Financed -> Defaulted.
    function markDefaulted(uint256 id) external onlyHoldingEscrow(id) {
        _requireState(id, InvoiceState.Financed);
        _setState(id, InvoiceState.Defaulted);
        emit InvoiceDefaulted(id, msg.sender);
    }

    /// @notice Names the direct-payment (T/T) contract, once. Governance only.
    function setSettlement(address settlement_) external onlyGovernance {
        if (settlement != address(0)) revert SettlementAlreadySet(settlement);
        if (registry.contractKind(settlement_) != ContractKind.Escrow) revert NotSystemContract(settlement_);
        settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @notice The buyer paid a confirmed invoice held by a member in full, directly (T/T):
    /// Confirmed -> Paid. Only the settlement contract, and never for an invoice an escrow holds
    /// (a financed invoice is repaid through its deal).
    function markSettled(uint256 id) external {
        if (msg.sender != settlement || msg.sender == address(0)) revert NotSettlement(msg.sender);
        _requireState(id, InvoiceState.Confirmed);
        address holder = _ownerOf(id);
        if (registry.contractKind(holder) != ContractKind.None) revert InvalidInvoiceState(id, InvoiceState.Confirmed);
        _setState(id, InvoiceState.Paid);
        emit InvoicePaid(id, msg.sender);
    }

    /// @notice The escrow holding the invoice anchors the shipment its deal's milestones wait for.
    /// Sets it if none is anchored yet; otherwise it must be the anchored one.
    function bindShipment(uint256 id, bytes32 shipmentId) external onlyHoldingEscrow(id) {
        bytes32 anchored = _shipments[id];
        if (anchored == shipmentId) return;
        if (anchored != bytes32(0) || shipmentId == bytes32(0)) revert ShipmentMismatch(id, anchored, shipmentId);
        _shipments[id] = shipmentId;
        emit ShipmentBound(id, shipmentId, msg.sender);
    }

    /// @notice Splits a confirmed invoice held by the caller (an active member) into parts whose
    /// face values sum exactly to the parent's. The parent is burned (state Split); each part is
    /// confirmed, held by the caller, and keeps the parent's terms.
    /// @return childIds the new token ids
    function split(uint256 id, uint256[] calldata faceValues) external returns (uint256[] memory childIds) {
        _requireState(id, InvoiceState.Confirmed);
        if (msg.sender != _ownerOf(id)) revert NotInvoiceHolder(id, msg.sender);
        registry.requireActive(msg.sender, 0);
        (address buyer, uint256 parentFace) = _unpackTerms(_terms[id]);
        uint256 n = faceValues.length;
        uint256 sum;
        for (uint256 i = 0; i < n; ++i) {
            if (faceValues[i] == 0) revert InvalidSplit(n, sum, parentFace);
            sum += faceValues[i];
        }
        if (n < 2 || n > MAX_SPLIT_PARTS || sum != parentFace) revert InvalidSplit(n, sum, parentFace);

        uint256 root = rootOf(id);
        uint256[] storage parts = _parts[root];
        uint256 live = parts.length == 0 ? 1 : parts.length; // an unsplit root is its own single part
        if (live - 1 + n > MAX_PARTS) revert TooManyParts(root, live - 1 + n, MAX_PARTS);
        _removePart(parts, id);
        _setState(id, InvoiceState.Split);
        _burn(id);
        childIds = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 childId = uint256(keccak256(abi.encode(id, i)));
            _mintPart(id, childId, buyer, faceValues[i]);
            parts.push(childId);
            childIds[i] = childId;
        }
        emit InvoiceSplit(id, root, childIds, faceValues);
    }

    // ------------------------------------------------------------------ views

    /// @notice The invoice's on-chain record (kept after a split burns the parent).
    function invoice(uint256 id) external view returns (Invoice memory inv) {
        uint256 terms = _terms[id];
        if (terms == 0) revert UnknownInvoice(id);
        (inv.buyer, inv.faceValue) = _unpackTerms(terms);
        (inv.state, inv.dueDate, inv.currency) = _unpackExtra(_getExtraData(id));
        inv.holder = _ownerOf(id);
        inv.parentId = _parents[id];
        inv.rootId = rootOf(id);
        inv.shipmentId = _shipments[id];
        inv.orderId = _orders[id];
    }

    /// @notice The financing state of an invoice (None if unknown).
    function stateOf(uint256 id) external view returns (InvoiceState) {
        return _stateOf(id);
    }

    /// @notice The root invoice a part descends from (the id itself for a root invoice).
    function rootOf(uint256 id) public view returns (uint256 root) {
        root = id;
        uint256 parent = _parents[root];
        while (parent != 0) {
            // depth is bounded: every split adds >= 1 live part and a root has <= MAX_PARTS
            root = parent;
            parent = _parents[root];
        }
    }

    /// @notice The live parts of a root invoice (empty if it was never split).
    function partsOf(uint256 rootId) external view returns (uint256[] memory) {
        return _parts[rootId];
    }

    /// @notice The network-wide uniqueness key of an invoice (its token id).
    /// @param canonicalNumber {TradeCodes-canonicalReference} of the invoice number
    function fingerprint(
        bytes20 sellerLei,
        bytes20 buyerLei,
        bytes32 canonicalNumber,
        uint256 faceValue,
        bytes3 currency,
        uint64 issueDate
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(sellerLei, buyerLei, canonicalNumber, faceValue, currency, issueDate / 1 days));
    }

    /// @notice {TradeCodes-canonicalReference} of an invoice number, as the fingerprint uses it.
    function canonicalNumber(string calldata invoiceNumber) external pure returns (bytes32) {
        return TradeCodes.canonicalReference(invoiceNumber, MAX_INVOICE_NUMBER_LENGTH);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Transfers (not mint / burn) only of confirmed, financed or defaulted invoices, under the
    /// network's transfer rule ({IParticipantRegistry-requireTransfer}).
    function _beforeTokenTransfer(address from, address to, uint256 id) internal view override {
        if (from == address(0) || to == address(0)) return;
        InvoiceState s = _stateOf(id);
        if (s != InvoiceState.Confirmed && s != InvoiceState.Financed && s != InvoiceState.Defaulted) {
            revert InvoiceNotTransferable(id, s);
        }
        _requireTransfer(from, to, 0);
    }

    /// @dev A part inherits its parent's state word (confirmed, due date, currency), shipment and order.
    function _mintPart(uint256 parentId, uint256 childId, address buyer, uint256 faceValue) private {
        _terms[childId] = _packTerms(buyer, faceValue);
        _parents[childId] = parentId;
        bytes32 shipment = _shipments[parentId];
        if (shipment != bytes32(0)) _shipments[childId] = shipment;
        uint256 order = _orders[parentId];
        if (order != 0) _orders[childId] = order;
        uint96 extra = (_getExtraData(parentId) & ~uint96(0xff)) | uint96(uint8(InvoiceState.Confirmed));
        _mintAndSetExtraDataUnchecked(msg.sender, childId, extra);
    }

    function _requireOrder(InvoiceInput calldata input) private view {
        IPurchaseOrders orders = purchaseOrders;
        if (address(orders) == address(0)) revert InvalidOrder(input.orderId);
        IPurchaseOrders.OrderView memory o = orders.orderTerms(input.orderId);
        if (
            o.supplier != msg.sender || o.buyer != input.buyer || o.currency != input.currency || !o.invoiceable
                || invoiceByOrder[input.orderId] != 0
        ) revert InvalidOrder(input.orderId);
    }

    function _cancel(uint256 id, string calldata reason) private {
        TradeCodes.requireText(reason, 280);
        _setState(id, InvoiceState.Cancelled);
        uint256 order = _orders[id];
        if (order != 0 && invoiceByOrder[order] == id) delete invoiceByOrder[order]; // invoiceable again
        emit InvoiceCancelled(id, msg.sender, reason);
    }

    function _requireBuyer(uint256 id) private view {
        uint256 terms = _terms[id];
        if (terms == 0) revert UnknownInvoice(id);
        if (address(uint160(terms)) != msg.sender) revert NotInvoiceBuyer(id, msg.sender);
    }

    function _removePart(uint256[] storage parts, uint256 id) private {
        uint256 n = parts.length; // <= MAX_PARTS
        for (uint256 i = 0; i < n; ++i) {
            if (parts[i] == id) {
                parts[i] = parts[n - 1];
                parts.pop();
                return;
            }
        }
    }

    function _existingState(uint256 id) private view returns (InvoiceState s) {
        s = _stateOf(id);
        if (s == InvoiceState.None) revert UnknownInvoice(id);
    }

    function _requireState(uint256 id, InvoiceState expected) private view {
        InvoiceState s = _existingState(id);
        if (s != expected) revert InvalidInvoiceState(id, s);
    }

    function _stateOf(uint256 id) private view returns (InvoiceState) {
        return InvoiceState(uint8(_getExtraData(id)));
    }

    function _setState(uint256 id, InvoiceState s) private {
        _setExtraData(id, (_getExtraData(id) & ~uint96(0xff)) | uint96(uint8(s)));
    }

    /// @dev Extra data of the ownership word: state (8 bits) | due date (40) | currency (24).
    function _packExtra(InvoiceState s, uint64 dueDate, bytes3 currency) private pure returns (uint96) {
        return uint96(uint8(s)) | (uint96(dueDate) << 8) | (uint96(uint24(currency)) << 48);
    }

    function _unpackExtra(uint96 extra) private pure returns (InvoiceState s, uint64 dueDate, bytes3 currency) {
        s = InvoiceState(uint8(extra));
        dueDate = uint64((extra >> 8) & ((1 << 40) - 1));
        currency = bytes3(uint24(extra >> 48));
    }

    function _packTerms(address buyer, uint256 faceValue) private pure returns (uint256) {
        return uint256(uint160(buyer)) | (faceValue << 160);
    }

    function _unpackTerms(uint256 terms) private pure returns (address buyer, uint256 faceValue) {
        buyer = address(uint160(terms));
        faceValue = terms >> 160;
    }
}
