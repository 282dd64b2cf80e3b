// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";
import {PurchaseOrder} from "../tokens/PurchaseOrder.sol";
import {DealProduct, IDealEngine} from "./DealProduct.sol";

/// @title Order financing (订单融资, pre-shipment) against a buyer's confirmed purchase order.
/// @notice A product of the {DealEngine} (registered as an ESCROW; it holds the orders and the
/// invoices they roll into):
/// - collateral: a live purchase order held by its supplier; the borrower must be that supplier,
///   so every release is credited to the order's named supplier and to nobody else (受托支付);
///   the deal's shipment must be the order's, if the order names one;
/// - repayment, before rollover: the supplier repays what was released plus the fee; the order
///   is then closed and stays here, settled;
/// - rollover ({rollToInvoice}): once the supplier has tokenised and the buyer confirmed the
///   invoice issued against the order, borrower or lender moves it into the deal, which then
///   becomes a receivable: the invoice's buyer pays what is open on it (face value less direct
///   T/T payments) into the deal at maturity and
///   the engine's waterfall pays lender and supplier; the order is closed;
/// - default: the collateral (order, or invoice once rolled) goes to the lender.
contract OrderFinancing is DealProduct {
    PurchaseOrder public immutable orders;
    InvoiceToken public immutable invoices;

    /// @notice The order a deal finances (kept after rollover).
    mapping(uint256 dealId => uint256 orderId) public orderOfDeal;
    /// @notice The invoice a deal rolled into (zero before rollover).
    mapping(uint256 dealId => uint256 invoiceId) public invoiceOfDeal;

    error OrderNotLive(uint256 orderId, PurchaseOrder.OrderState state);
    error NotOrderSupplier(uint256 orderId, address borrower);
    error ShipmentMismatch(uint256 orderId, bytes32 orderShipment, bytes32 dealShipment);
    error NotDealParty(uint256 dealId, address caller);
    error AlreadyRolled(uint256 dealId, uint256 invoiceId);
    error InvoiceNotForOrder(uint256 invoiceId, uint256 orderId);
    error InvoiceNotConfirmed(uint256 invoiceId, InvoiceToken.InvoiceState state);
    error NotInvoiceHolder(uint256 invoiceId, address holder);

    event RolledToInvoice(uint256 indexed dealId, uint256 indexed orderId, uint256 indexed invoiceId, address by);

    constructor(IParticipantRegistry registry_, address engine_, PurchaseOrder orders_, InvoiceToken invoices_)
        DealProduct(registry_, engine_)
    {
        orders = orders_;
        invoices = invoices_;
    }

    function onAccept(
        uint256 dealId,
        uint256 orderId,
        address borrower,
        address,
        uint64,
        uint64,
        bytes32 shipmentId,
        bytes calldata
    ) external onlyEngine returns (address obligor, uint256 obligation, bytes3 currency) {
        PurchaseOrder.Order memory o = orders.order(orderId);
        if (o.state != PurchaseOrder.OrderState.Issued) revert OrderNotLive(orderId, o.state);
        if (o.supplier != borrower || orders.ownerOf(orderId) != borrower) revert NotOrderSupplier(orderId, borrower);
        if (o.shipmentId != bytes32(0) && shipmentId != bytes32(0) && o.shipmentId != shipmentId) {
            revert ShipmentMismatch(orderId, o.shipmentId, shipmentId);
        }
        orderOfDeal[dealId] = orderId;
        orders.transferFrom(borrower, address(this), orderId);
        // before rollover the supplier is the obligor and repays released + fee
        return (borrower, 0, o.currency);
    }

    /// @notice Rolls a deal into the invoice its order turned into (see the contract notice).
    /// Borrower or lender; the invoice must be confirmed, issued against the deal's order, and
    /// held by the supplier.
    function rollToInvoice(uint256 dealId, uint256 invoiceId) external {
        uint256 orderId = orderOfDeal[dealId];
        (, address supplier, address lender,) = IDealEngine(engine).parties(dealId);
        if (orderId == 0 || (msg.sender != supplier && msg.sender != lender)) revert NotDealParty(dealId, msg.sender);
        uint256 rolled = invoiceOfDeal[dealId];
        if (rolled != 0) revert AlreadyRolled(dealId, rolled);
        InvoiceToken.Invoice memory inv = invoices.invoice(invoiceId);
        if (inv.orderId != orderId) revert InvoiceNotForOrder(invoiceId, orderId);
        if (inv.state != InvoiceToken.InvoiceState.Confirmed) revert InvoiceNotConfirmed(invoiceId, inv.state);
        if (inv.holder != supplier) revert NotInvoiceHolder(invoiceId, inv.holder);
        invoiceOfDeal[dealId] = invoiceId;
        emit RolledToInvoice(dealId, orderId, invoiceId, msg.sender);
        invoices.transferFrom(supplier, address(this), invoiceId);
        uint256 open = _openAmount(invoices.settlement(), invoiceId, inv.faceValue);
        IDealEngine(engine).setObligation(dealId, invoiceId, inv.buyer, open, inv.currency);
        if (orders.order(orderId).state == PurchaseOrder.OrderState.Financed) {
            orders.markClosed(orderId);
            invoices.markFinanced(invoiceId);
        }
    }

    function onFund(uint256 dealId, uint256, address, bytes32) external onlyEngine {
        orders.markFinanced(orderOfDeal[dealId]);
        uint256 invoiceId = invoiceOfDeal[dealId];
        if (invoiceId != 0) {
            orders.markClosed(orderOfDeal[dealId]);
            invoices.markFinanced(invoiceId);
        }
    }

    function onCancel(uint256 dealId, uint256, address borrower) external onlyEngine {
        orders.transferFrom(address(this), borrower, orderOfDeal[dealId]);
        uint256 invoiceId = invoiceOfDeal[dealId];
        if (invoiceId != 0) invoices.transferFrom(address(this), borrower, invoiceId);
    }

    function onRepay(uint256 dealId, uint256, address) external onlyEngine {
        uint256 invoiceId = invoiceOfDeal[dealId];
        if (invoiceId != 0) {
            invoices.markPaid(invoiceId);
        } else {
            // The closed order stays here, settled (as a repaid invoice stays with its product): a
            // Closed order can no longer move (PurchaseOrder allows only live orders to), so handing
            // it back after markClosed made every repayment without rollover revert.
            orders.markClosed(orderOfDeal[dealId]);
        }
    }

    function onDefault(uint256 dealId, uint256, address, address lender) external onlyEngine {
        uint256 invoiceId = invoiceOfDeal[dealId];
        if (invoiceId != 0) {
            invoices.markDefaulted(invoiceId);
            invoices.transferFrom(address(this), lender, invoiceId);
        } else {
            uint256 orderId = orderOfDeal[dealId];
            orders.markDefaulted(orderId);
            orders.transferFrom(address(this), lender, orderId);
        }
    }
}
