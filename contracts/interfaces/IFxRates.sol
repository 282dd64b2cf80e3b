// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What deals ask of the FX rate store.
interface IFxRates {
    /// @notice Fixed decimals of every rate (8): `rate` is the price of one major unit of the base
    /// currency in major units of the quote currency, times 10**8.
    function RATE_DECIMALS() external view returns (uint8);

    /// @notice The latest rate for base/quote if it is fresh (within the store's staleness window);
    /// reverts otherwise (a stale rate blocks new business rather than guessing).
    function freshRate(bytes3 baseCurrency, bytes3 quoteCurrency) external view returns (uint256 rate, uint64 observedAt);
}
