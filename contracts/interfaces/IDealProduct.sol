// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the deal engine asks of a financing product (a module registered with it).
/// @notice A product holds its deals' collateral (it is a registered escrow) and decides only its
/// collateral, payee and settlement rules; the engine runs the lifecycle, the milestone schedule,
/// the funds and the credits. Every hook is called by the engine only.
interface IDealProduct {
    /// @notice Validates the collateral of a new deal and takes it into custody; anchors the shipment.
    /// @param extra the product terms of the deal (ABI-encoded as the product documents)
    /// @return obligor who owes the repayment (zero if none)
    /// @return obligation the amount due from the obligor in `currency` minor units (zero: the
    /// borrower repays what was released plus the fee)
    /// @return currency the collateral's currency (the engine locks FX if it is not the deal's)
    function onAccept(
        uint256 dealId,
        uint256 collateralId,
        address borrower,
        address lender,
        uint64 maturity,
        uint64 gracePeriod,
        bytes32 shipmentId,
        bytes calldata extra
    ) external returns (address obligor, uint256 obligation, bytes3 currency);

    /// @notice The deal was funded; `shipmentId` is the deal's shipment (anchor it to the collateral
    /// now: a deal cancelled before funding leaves the collateral unbound).
    function onFund(uint256 dealId, uint256 collateralId, address borrower, bytes32 shipmentId) external;

    /// @notice The deal was cancelled before funding: give the collateral back to the borrower.
    function onCancel(uint256 dealId, uint256 collateralId, address borrower) external;

    /// @notice The deal was repaid (or, for a documentary payment, settled).
    function onRepay(uint256 dealId, uint256 collateralId, address borrower) external;

    /// @notice The deal defaulted (or expired): enforce the collateral for `lender`.
    function onDefault(uint256 dealId, uint256 collateralId, address borrower, address lender) external;

    /// @notice Extra release condition (only asked if the product registered as gating releases).
    function releaseAllowed(uint256 dealId) external view returns (bool);
}
