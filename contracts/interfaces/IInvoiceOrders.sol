// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the purchase-order token asks of the invoice token.
interface IInvoiceOrders {
    /// @notice The live invoice issued against `orderId` (zero if none, or if it was cancelled).
    function invoiceByOrder(uint256 orderId) external view returns (uint256 invoiceId);
}
