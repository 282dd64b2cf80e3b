// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the invoice token and the deals ask of the purchase-order token.
interface IPurchaseOrders {
    /// @notice The terms of a purchase order as rules read them.
    /// @param invoiceable true while the order is live (issued and confirmed by its buyer, not
    /// cancelled, not yet closed): the supplier may tokenise its invoice against it
    struct OrderView {
        address buyer;
        address supplier;
        bytes3 currency;
        uint64 deliveryDate;
        uint256 amount;
        bool invoiceable;
    }

    /// @notice The order's terms; reverts for an unknown order.
    function orderTerms(uint256 orderId) external view returns (OrderView memory);
}
