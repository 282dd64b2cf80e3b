// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ContractKind, IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {IPurchaseOrders} from "../interfaces/IPurchaseOrders.sol";
import {IInvoiceOrders} from "../interfaces/IInvoiceOrders.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {InvalidAmount, ZeroAddress} from "../common/Errors.sol";

/// @title Tokenised purchase orders: the buyer's confirmed order to a supplier.
/// @notice Issued by an active BUYER to an active SELLER (the supplier) of another legal entity;
/// issuing is the buyer's confirmation. The token is held by the supplier: it is the supplier's
/// claim to deliver and be paid, which it may finance (order financing, 订单融资) by moving it into
/// a registered financing escrow. One order per (buyer LEI, supplier LEI, canonical order number)
/// for ever. The supplier tokenises its invoice against the order once delivered; the invoice
/// token records the link.
///
/// States: `Issued -> Financed` (held by an escrow) `-> Closed` (repaid or rolled into its
/// invoice) `| Defaulted`; `Issued -> Cancelled` (by the buyer, while neither financed nor
/// invoiced). Financing states are set only by the escrow holding the order.
///
/// Invariant: an order against which a live invoice exists (one not cancelled) cannot be
/// cancelled: the goods were delivered and invoiced. Governance links the invoice token once
/// ({setInvoices}); until then nothing is invoiced against any order.
contract PurchaseOrder is ERC721, RegistryBound, IPurchaseOrders {
    enum OrderState {
        None,
        Issued,
        Financed,
        Closed,
        Defaulted,
        Cancelled
    }

    struct Order {
        address buyer;
        address supplier;
        OrderState state;
        bytes3 currency;
        uint64 deliveryDate;
        uint256 amount;
        bytes32 shipmentId;
        bytes32 documentHash;
    }

    struct OrderInput {
        address supplier;
        string orderNumber;
        string goods;
        uint256 quantity;
        string unit;
        uint256 amount; // total price, minor units
        bytes3 currency;
        uint64 deliveryDate;
        bytes32 shipmentId; // booking / transport document the goods will travel under, or zero
        bytes32 documentHash;
        string documentCid;
    }

    uint256 public constant MAX_ORDER_NUMBER_LENGTH = 64;
    uint256 public constant MAX_TEXT_LENGTH = 64;
    uint256 public constant MAX_CID_LENGTH = 128;
    uint256 public constant MAX_ORDER_AMOUNT = type(uint96).max;

    uint256 public nextOrderId = 1;
    mapping(uint256 id => Order) private _orders;
    /// @notice The order holding each fingerprint (zero if none); never released.
    mapping(bytes32 fingerprint => uint256 id) public orderByFingerprint;
    /// @notice The invoice token whose invoices may be issued against orders (set once by governance).
    IInvoiceOrders public invoices;

    error UnknownOrder(uint256 id);
    error DuplicateOrder(bytes32 fingerprint, uint256 existingId);
    error InvalidOrderState(uint256 id, OrderState state);
    error NotOrderBuyer(uint256 id, address caller);
    error NotOrderHolder(uint256 id, address caller);
    error NotSystemContract(address caller);
    error SupplierIsBuyer(bytes20 lei);
    error UnsupportedCurrency(bytes3 currency);
    error InvalidDeliveryDate(uint64 deliveryDate);
    error MissingDocument();
    error OrderNotTransferable(uint256 id, OrderState state);
    error OrderInvoiced(uint256 id, uint256 invoiceId);
    error InvoicesAlreadySet(address invoices);

    event OrderIssued(uint256 indexed id, address indexed buyer, address indexed supplier, bytes32 fingerprint, OrderInput terms);
    event OrderFinanced(uint256 indexed id, address indexed escrow);
    event OrderClosed(uint256 indexed id, address indexed escrow);
    event OrderDefaulted(uint256 indexed id, address indexed escrow);
    event OrderCancelled(uint256 indexed id, address indexed buyer, string reason);
    event InvoicesSet(address indexed invoices);

    modifier onlyHoldingEscrow(uint256 id) {
        if (registry.contractKind(msg.sender) != ContractKind.Escrow) revert NotSystemContract(msg.sender);
        if (_ownerOf(id) != msg.sender) revert NotOrderHolder(id, msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_) ERC721("tradenet Purchase Order", "TNPO") RegistryBound(registry_) {}

    /// @notice The caller (an active BUYER) issues and thereby confirms an order to `supplier`.
    function issue(OrderInput calldata input) external returns (uint256 id) {
        (bytes20 buyerLei, bytes20 supplierLei) =
            registry.requireActivePair(msg.sender, Roles.BUYER, input.supplier, Roles.SELLER);
        if (buyerLei == supplierLei) revert SupplierIsBuyer(buyerLei);
        if (input.amount == 0 || input.amount > MAX_ORDER_AMOUNT || input.quantity == 0) {
            revert InvalidAmount(input.amount, MAX_ORDER_AMOUNT);
        }
        TradeCodes.requireCurrency(input.currency);
        if (registry.settlementToken(input.currency) == address(0)) revert UnsupportedCurrency(input.currency);
        if (input.deliveryDate <= block.timestamp) revert InvalidDeliveryDate(input.deliveryDate);
        TradeCodes.requireText(input.goods, MAX_TEXT_LENGTH);
        TradeCodes.requireText(input.unit, MAX_TEXT_LENGTH);
        uint256 cid = bytes(input.documentCid).length;
        if (input.documentHash == bytes32(0) || cid == 0 || cid > MAX_CID_LENGTH) revert MissingDocument();
        bytes32 fp = keccak256(
            abi.encode(buyerLei, supplierLei, TradeCodes.canonicalReference(input.orderNumber, MAX_ORDER_NUMBER_LENGTH))
        );
        uint256 existing = orderByFingerprint[fp];
        if (existing != 0) revert DuplicateOrder(fp, existing);

        id = nextOrderId++;
        orderByFingerprint[fp] = id;
        _orders[id] = Order(
            msg.sender,
            input.supplier,
            OrderState.Issued,
            input.currency,
            input.deliveryDate,
            input.amount,
            input.shipmentId,
            input.documentHash
        );
        _mint(input.supplier, id);
        emit OrderIssued(id, msg.sender, input.supplier, fp, input);
    }

    /// @notice Governance links the invoice token, once (the two reference each other, so the link
    /// is made after both are deployed).
    function setInvoices(IInvoiceOrders invoices_) external onlyGovernance {
        if (address(invoices) != address(0)) revert InvoicesAlreadySet(address(invoices));
        if (address(invoices_) == address(0)) revert ZeroAddress();
        invoices = invoices_;
        emit InvoicesSet(address(invoices_));
    }

    /// @notice The buyer cancels an order that is neither financed, closed nor invoiced.
    function cancel(uint256 id, string calldata reason) external {
        Order storage o = _existing(id);
        if (msg.sender != o.buyer) revert NotOrderBuyer(id, msg.sender);
        if (o.state != OrderState.Issued || registry.contractKind(_ownerOf(id)) == ContractKind.Escrow) {
            revert InvalidOrderState(id, o.state);
        }
        IInvoiceOrders linked = invoices;
        if (address(linked) != address(0)) {
            uint256 invoiceId = linked.invoiceByOrder(id);
            if (invoiceId != 0) revert OrderInvoiced(id, invoiceId);
        }
        TradeCodes.requireText(reason, 280);
        o.state = OrderState.Cancelled;
        emit OrderCancelled(id, msg.sender, reason);
    }

    /// @notice The escrow holding the order financed it: Issued -> Financed.
    function markFinanced(uint256 id) external onlyHoldingEscrow(id) {
        _setState(id, OrderState.Issued, OrderState.Financed);
        emit OrderFinanced(id, msg.sender);
    }

    /// @notice The escrow holding a financed order closed it (repaid, or rolled into its invoice).
    function markClosed(uint256 id) external onlyHoldingEscrow(id) {
        _setState(id, OrderState.Financed, OrderState.Closed);
        emit OrderClosed(id, msg.sender);
    }

    /// @notice The escrow holding a financed order declared its deal in default.
    function markDefaulted(uint256 id) external onlyHoldingEscrow(id) {
        _setState(id, OrderState.Financed, OrderState.Defaulted);
        emit OrderDefaulted(id, msg.sender);
    }

    /// @notice The order's record.
    function order(uint256 id) external view returns (Order memory) {
        return _existing(id);
    }

    /// @inheritdoc IPurchaseOrders
    function orderTerms(uint256 id) external view returns (OrderView memory v) {
        Order storage o = _existing(id);
        v = OrderView(
            o.buyer,
            o.supplier,
            o.currency,
            o.deliveryDate,
            o.amount,
            o.state == OrderState.Issued || o.state == OrderState.Financed
        );
    }

    /// @dev Only live orders move, and only into or out of a registered escrow (financing): an
    /// order is the supplier's own claim and is not traded between members.
    function _update(address to, uint256 id, address auth) internal override returns (address from) {
        from = _ownerOf(id);
        if (from != address(0) && to != address(0)) {
            OrderState s = _orders[id].state;
            bool escrowSide = registry.contractKind(from) == ContractKind.Escrow || registry.contractKind(to) == ContractKind.Escrow;
            if ((s != OrderState.Issued && s != OrderState.Financed && s != OrderState.Defaulted) || !escrowSide) {
                revert OrderNotTransferable(id, s);
            }
            _requireTransfer(from, to, 0);
        }
        return super._update(to, id, auth);
    }

    function _setState(uint256 id, OrderState expected, OrderState next) private {
        Order storage o = _existing(id);
        if (o.state != expected) revert InvalidOrderState(id, o.state);
        o.state = next;
    }

    function _existing(uint256 id) private view returns (Order storage o) {
        o = _orders[id];
        if (o.state == OrderState.None) revert UnknownOrder(id);
    }
}
