// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {WarehouseReceipt} from "../tokens/WarehouseReceipt.sol";
import {DealProduct} from "./DealProduct.sol";

/// @title Receipt-pledge financing (存货/仓单质押) against a warehouse receipt.
/// @notice A product of the {DealEngine} (registered as an ESCROW; it becomes the receipts'
/// pledgee):
/// - collateral: a warehouse receipt held by the borrower (the depositor), who approves this
///   module for it; the deal's maturity + grace must end before the receipt expires;
/// - the receipt is pledged to this module when the terms are accepted (locked: no transfer, no
///   redemption, no other pledge, so no second deal can be accepted on it) and the pledge is
///   released on full repayment or when the accepted deal is cancelled before funding;
/// - the borrower repays what was released plus the fee (the depositor is the obligor);
/// - only a default of the deal enforces the pledge: the receipt goes to the lender. Nobody can
///   enforce it otherwise, and nobody but this module can release it.
/// Milestones may wait for warehouse events (WHIN / WHOU) of a shipment reference like any other.
contract ReceiptPledgeFinancing is DealProduct {
    WarehouseReceipt public immutable receipts;

    error NotReceiptHolder(uint256 receiptId, address borrower);
    error ReceiptExpiresFirst(uint256 receiptId, uint64 expiry, uint256 defaultableAfter);
    error ReceiptUnavailable(uint256 receiptId);

    constructor(IParticipantRegistry registry_, address engine_, WarehouseReceipt receipts_) DealProduct(registry_, engine_) {
        receipts = receipts_;
    }

    /// @dev `extra` is empty. Maturity + grace must fall before the receipt's expiry, so that an
    /// enforcement on default always precedes it. Pledges the receipt (the holder approved this
    /// module for it).
    function onAccept(
        uint256,
        uint256 receiptId,
        address borrower,
        address,
        uint64 maturity,
        uint64 gracePeriod,
        bytes32,
        bytes calldata
    )
        external
        onlyEngine
        returns (address obligor, uint256 obligation, bytes3 currency)
    {
        WarehouseReceipt.Receipt memory r = receipts.receipt(receiptId);
        if (receipts.ownerOf(receiptId) != borrower) revert NotReceiptHolder(receiptId, borrower);
        if (r.pledgee != address(0) || r.redemptionRequested) revert ReceiptUnavailable(receiptId);
        uint256 defaultableAfter = uint256(maturity) + gracePeriod;
        if (defaultableAfter >= r.expiry) revert ReceiptExpiresFirst(receiptId, r.expiry, defaultableAfter);
        receipts.pledgeToEscrow(receiptId);
        return (borrower, 0, bytes3(0));
    }

    /// @dev The receipt has been pledged to this module since acceptance (only this module
    /// releases it), so funding has nothing to take.
    function onFund(uint256, uint256, address, bytes32) external onlyEngine {}

    function onCancel(uint256, uint256 receiptId, address) external onlyEngine {
        receipts.releasePledge(receiptId);
    }

    function onRepay(uint256, uint256 receiptId, address) external onlyEngine {
        receipts.releasePledge(receiptId);
    }

    function onDefault(uint256, uint256 receiptId, address, address lender) external onlyEngine {
        // Nothing is enforced on an expired receipt (WarehouseReceipt.enforcePledge reverts): a
        // default declared after expiry used to revert for ever, keeping the lender's unreleased
        // escrow in the engine. The default goes through; the expired receipt's pledge is released.
        if (receipts.receipt(receiptId).expiry <= block.timestamp) {
            receipts.releasePledge(receiptId);
        } else {
            receipts.enforcePledge(receiptId, lender);
        }
    }
}
