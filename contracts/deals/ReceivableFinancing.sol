// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";
import {DealProduct} from "./DealProduct.sol";

/// @title Receivable financing (O/A factoring) of confirmed invoices, released on shipment events.
/// @notice A product of the {DealEngine} (registered as an ESCROW; it holds the invoices):
/// - collateral: a confirmed invoice (or a part of one) held by the borrower (a SELLER); it moves
///   into this module at acceptance and its shipment is anchored to the deal's, so the
///   milestones wait for the goods of this invoice;
/// - the deal's maturity is not before the invoice's due date; principal + fee never exceed the
///   amount due, what is open on the invoice (converted at the locked FX rate when the deal's currency differs: the engine);
/// - obligor and payer: the invoice's buyer, who pays what is open on it (the face value less any
///   direct T/T payment already made, {InvoiceSettlement-paidOf}) into the deal at maturity;
///   the invoice is then marked Paid (and stays here, settled);
/// - default: the invoice, marked Defaulted, goes to the lender; released amounts stay with the
///   borrower (non-recourse).
contract ReceivableFinancing is DealProduct {
    InvoiceToken public immutable invoices;

    error InvoiceNotConfirmed(uint256 invoiceId, InvoiceToken.InvoiceState state);
    error NotInvoiceHolder(uint256 invoiceId, address borrower);
    error MaturityBeforeDueDate(uint64 maturity, uint64 dueDate);

    constructor(IParticipantRegistry registry_, address engine_, InvoiceToken invoices_) DealProduct(registry_, engine_) {
        invoices = invoices_;
    }

    function onAccept(
        uint256,
        uint256 invoiceId,
        address borrower,
        address,
        uint64 maturity,
        uint64,
        bytes32 shipmentId,
        bytes calldata
    )
        external
        onlyEngine
        returns (address obligor, uint256 obligation, bytes3 currency)
    {
        InvoiceToken.Invoice memory inv = invoices.invoice(invoiceId);
        if (inv.state != InvoiceToken.InvoiceState.Confirmed) revert InvoiceNotConfirmed(invoiceId, inv.state);
        if (inv.holder != borrower) revert NotInvoiceHolder(invoiceId, borrower);
        if (maturity < inv.dueDate) revert MaturityBeforeDueDate(maturity, inv.dueDate);
        // the invoice's anchored shipment must be the deal's; a new anchor is written only at
        // funding, so terms with a mistyped B/L cancelled before funding leave the invoice free
        if (shipmentId != bytes32(0) && inv.shipmentId != bytes32(0) && inv.shipmentId != shipmentId) {
            revert InvoiceToken.ShipmentMismatch(invoiceId, inv.shipmentId, shipmentId);
        }
        invoices.transferFrom(borrower, address(this), invoiceId);
        return (inv.buyer, _openAmount(invoices.settlement(), invoiceId, inv.faceValue), inv.currency);
    }

    function onFund(uint256, uint256 invoiceId, address, bytes32 shipmentId) external onlyEngine {
        if (shipmentId != bytes32(0)) invoices.bindShipment(invoiceId, shipmentId);
        invoices.markFinanced(invoiceId);
    }

    function onCancel(uint256, uint256 invoiceId, address borrower) external onlyEngine {
        invoices.transferFrom(address(this), borrower, invoiceId);
    }

    function onRepay(uint256, uint256 invoiceId, address) external onlyEngine {
        invoices.markPaid(invoiceId);
    }

    function onDefault(uint256, uint256 invoiceId, address, address lender) external onlyEngine {
        invoices.markDefaulted(invoiceId);
        invoices.transferFrom(address(this), lender, invoiceId);
    }
}
