// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the deal engine asks of the network's risk rules, for every deal of every product.
/// @notice Called by the engine only. A refused deal reverts with the rule's own error, naming
/// the figures (limit, current, requested).
interface IRiskRules {
    /// @notice Reverts unless a new deal of `principal` (in `token`'s currency) between these
    /// parties passes every rule now. Called at acceptance.
    function checkDeal(uint256 dealId, address borrower, address lender, address obligor, address token, uint256 principal)
        external
        view;

    /// @notice The deal is being funded: checks the rules again and records the exposure.
    function onFunded(uint256 dealId, address borrower, address lender, address obligor, address token, uint256 principal)
        external;

    /// @notice The deal was repaid, settled or defaulted: its exposure ends. `onTime` is true for
    /// a repayment before the deal ever counted as overdue (it resets the parties' overdue runs).
    function onSettled(
        uint256 dealId,
        address borrower,
        address lender,
        address obligor,
        address token,
        uint256 principal,
        bool onTime
    ) external;

    /// @notice The deal passed maturity + grace unpaid: it counts as overdue for its borrower and
    /// obligor (three in a row freeze the party).
    function onOverdue(uint256 dealId, address borrower, address obligor) external;

    /// @notice A funded deal's product replaced its obligor (an order financing rolled into its
    /// invoice: the buyer replaces the supplier): the exposure moves from `from` to `to`, at the
    /// amounts booked at funding, without a limit check (the exposure already exists).
    function onObligorChanged(uint256 dealId, address lender, address from, address to, address token, uint256 principal)
        external;

    /// @notice The lender assigned its position: the exposure moves from `from` to `to`.
    function onAssigned(uint256 dealId, address from, address to, address obligor, address token, uint256 principal)
        external;
}
