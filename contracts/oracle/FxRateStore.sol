// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {QuorumSigners} from "./QuorumSigners.sol";

/// @title FX rates signed by k of n oracle operators.
/// @notice Operators sign `FxRate(bytes3 baseCurrency,bytes3 quoteCurrency,uint256 rate,uint64 observedAt)`
/// under the domain {name: "tradenet FxRateStore", version: "1", chainId, verifyingContract: this}.
/// `rate` is the price of one unit of the base currency in the quote currency, as an integer with
/// RATE_DECIMALS (8) fixed decimals: 1 EUR = 1.08250000 USD is `FxRate("EUR", "USD", 108250000, t)`.
/// Rates are per major unit; converting minor-unit amounts must also scale by the tokens' decimals.
/// Only a strictly newer observation replaces the stored one, so a signed rate cannot be replayed;
/// observation times must lie within [now - stalenessWindow, now + MAX_CLOCK_SKEW].
contract FxRateStore is QuorumSigners {
    struct FxRate {
        bytes3 baseCurrency;
        bytes3 quoteCurrency;
        uint256 rate;
        uint64 observedAt;
    }

    struct StoredRate {
        uint256 rate;
        uint64 observedAt;
    }

    bytes32 public constant FX_RATE_TYPEHASH =
        keccak256("FxRate(bytes3 baseCurrency,bytes3 quoteCurrency,uint256 rate,uint64 observedAt)");
    /// @notice Fixed decimals of every rate.
    uint8 public constant RATE_DECIMALS = 8;

    mapping(bytes3 base => mapping(bytes3 quote => StoredRate)) private _rates;

    error SameCurrency(bytes3 currency);
    error ZeroRate();
    error ObservationNotNewer(bytes3 baseCurrency, bytes3 quoteCurrency, uint64 observedAt, uint64 latestObservedAt);
    error RateUnavailable(bytes3 baseCurrency, bytes3 quoteCurrency);
    error RateTooOld(bytes3 baseCurrency, bytes3 quoteCurrency, uint64 observedAt, uint64 maxAge);

    event RateUpdated(
        bytes3 indexed baseCurrency,
        bytes3 indexed quoteCurrency,
        uint256 rate,
        uint64 observedAt,
        bytes32 digest,
        address submitter,
        address[] signers
    );

    /// @param registry_ the participant registry (operators must be active ORACLE members; it
    /// executes governance)
    /// @param stalenessWindow_ oldest acceptable observation age, in seconds
    constructor(IParticipantRegistry registry_, uint64 stalenessWindow_)
        QuorumSigners(registry_, "tradenet FxRateStore", "1", stalenessWindow_)
    {}

    /// @notice Stores a rate signed by k distinct current operators, if newer than the stored one.
    /// @param r the rate, exactly as the operators signed it
    /// @param signatures 65-byte ECDSA signatures over {rateDigest}(r)
    /// @return digest the EIP-712 digest of `r`
    function submitRate(FxRate calldata r, bytes[] calldata signatures) external returns (bytes32 digest) {
        TradeCodes.requireCurrency(r.baseCurrency);
        TradeCodes.requireCurrency(r.quoteCurrency);
        if (r.baseCurrency == r.quoteCurrency) revert SameCurrency(r.baseCurrency);
        if (r.rate == 0) revert ZeroRate();
        _requireFresh(r.observedAt);
        StoredRate storage stored = _rates[r.baseCurrency][r.quoteCurrency];
        if (r.observedAt <= stored.observedAt) {
            revert ObservationNotNewer(r.baseCurrency, r.quoteCurrency, r.observedAt, stored.observedAt);
        }
        digest = rateDigest(r);
        address[] memory signers = _verifyQuorum(digest, signatures);
        stored.rate = r.rate;
        stored.observedAt = r.observedAt;
        emit RateUpdated(r.baseCurrency, r.quoteCurrency, r.rate, r.observedAt, digest, msg.sender, signers);
    }

    /// @notice The latest stored rate for base/quote and when it was observed.
    /// @dev Reverts {RateUnavailable} if no rate was ever stored for the pair (never returns 0).
    function latestRate(bytes3 baseCurrency, bytes3 quoteCurrency)
        public
        view
        returns (uint256 rate, uint64 observedAt)
    {
        StoredRate storage stored = _rates[baseCurrency][quoteCurrency];
        if (stored.observedAt == 0) revert RateUnavailable(baseCurrency, quoteCurrency);
        return (stored.rate, stored.observedAt);
    }

    /// @notice The latest rate, reverting {RateTooOld} if it was observed more than `maxAge` ago.
    function rateNoOlderThan(bytes3 baseCurrency, bytes3 quoteCurrency, uint64 maxAge)
        external
        view
        returns (uint256 rate, uint64 observedAt)
    {
        (rate, observedAt) = latestRate(baseCurrency, quoteCurrency);
        if (uint256(observedAt) + maxAge < block.timestamp) {
            revert RateTooOld(baseCurrency, quoteCurrency, observedAt, maxAge);
        }
    }

    /// @notice The latest rate if it is fresh (observed within the staleness window): what a deal
    /// locking a rate at booking calls. Reverts {RateUnavailable} or {RateTooOld}.
    function freshRate(bytes3 baseCurrency, bytes3 quoteCurrency) external view returns (uint256 rate, uint64 observedAt) {
        (rate, observedAt) = latestRate(baseCurrency, quoteCurrency);
        uint64 window = stalenessWindow();
        if (uint256(observedAt) + window < block.timestamp) {
            revert RateTooOld(baseCurrency, quoteCurrency, observedAt, window);
        }
    }

    /// @notice The EIP-712 digest of `r` under this store's domain.
    function rateDigest(FxRate calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(FX_RATE_TYPEHASH, r.baseCurrency, r.quoteCurrency, r.rate, r.observedAt))
        );
    }
}
