// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {IRiskRules} from "../interfaces/IRiskRules.sol";
import {IFxRates} from "../interfaces/IFxRates.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {InvalidAmount} from "../common/Errors.sol";

/// @dev What the rules ask of the deal engine and of settlement tokens.
interface IEngineParties {
    function parties(uint256 dealId) external view returns (uint8 state, address borrower, address lender, address obligor);
}

interface IDecimals {
    function decimals() external view returns (uint8);
}

/// @title The network's risk rules: limits, concentration caps, the overdue freeze, four-eyes review.
/// @notice Consulted by the deal engine for every deal of every product, at acceptance and at
/// funding ({IRiskRules}); nobody can bypass them. Rules see **legal entities**, not accounts:
/// parties are keyed by their LEI ({IParticipantRegistry-entityKeys}; a contract such as an ABS
/// pool by its address), so an organisation cannot escape a limit through a second account.
///
/// Rule parameters are data, set with events and without redeploying:
/// - each lender's **policy** (its book currency, concentration cap in bps, four-eyes review
///   threshold) and its **limit per obligor** (in the book currency), set by the lender itself;
/// - the **network obligor limit** (in the network currency) and the network review threshold,
///   set by governance.
///
/// **Exposure** = principal of funded deals not yet settled. Each deal is booked into three
/// aggregates: the (lender, obligor) pair and the lender's book in the lender's book currency,
/// and the obligor's network total in the network currency, converted at the FX feed's rate at
/// funding (rounded up) and released at exactly the booked amounts. A stale or missing rate
/// blocks the deal (the feed's {IFxRates-freshRate} reverts) rather than guessing. A lender's
/// book currency can change only while its book is empty.
///
/// A deal is refused if, with it, the pair exceeds the lender's limit for the obligor, the
/// obligor's share of the lender's book (or of its capital base, if larger) exceeds the cap, or the obligor's network total exceeds
/// the network limit; or if its borrower or obligor is **frozen**; or, at funding, if it is at or
/// above a review threshold and no second key of the lender's organisation approved it
/// ({approveFunding}). Early warnings are emitted when a figure crosses 80% of its limit or cap.
///
/// **Overdue rule**: a deal past maturity + grace unpaid counts as overdue for its borrower and
/// obligor; three in a row freeze the party (no new deals in any product) until an M-of-N
/// governance proposal {unfreeze}s it; a deal repaid before it counted as overdue resets the run.
contract RiskRules is RegistryBound, IRiskRules {
    // Each aggregate is one storage word. `used` is set at its first booking and never cleared,
    // so a word that returns to zero exposure is not wiped (the next booking costs a warm rewrite).
    struct LenderBook {
        bytes3 currency; // book currency (zero until the lender sets a policy)
        uint16 capBps; // concentration cap, bps of the book (0: none)
        uint96 reviewThreshold; // four-eyes threshold in the book currency (0: none)
        uint96 exposure; // the book, in the book currency
        bool used;
    }

    struct PairExposure {
        bool limited;
        uint96 limit; // in the lender's book currency
        uint96 exposure; // in the lender's book currency
        bool used;
    }

    struct Party {
        bool frozen;
        uint8 overdueRun;
        uint96 networkLimit; // in the network currency (0: none)
        bool networkLimited;
        uint96 networkExposure; // in the network currency, all lenders
        bool used;
    }

    /// @dev Booked amounts of a deal whose currency differed from an aggregate's.
    struct Booking {
        uint96 book;
        uint96 network;
        bool converted;
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant WARNING_BPS = 8_000;
    uint8 public constant FREEZE_AFTER = 3;

    IFxRates public immutable fxRates;
    /// @notice The currency of network-wide limits and the network review threshold.
    bytes3 public immutable networkCurrency;
    /// @notice The deal engine whose hooks these rules serve (set once by governance).
    address public engine;
    /// @notice Network four-eyes threshold, in the network currency (0: none). Shares the engine's
    /// storage word, which every hook reads anyway.
    uint96 public networkReviewThreshold;

    mapping(bytes20 lender => LenderBook) private _books;
    mapping(bytes20 lender => mapping(bytes20 obligor => PairExposure)) private _pairs;
    mapping(bytes20 party => Party) private _parties;
    mapping(uint256 dealId => Booking) private _bookings;
    /// @notice The second key of the lender's organisation that approved funding a deal.
    mapping(uint256 dealId => address approver) public fundingApprover;
    /// @dev Each lender's capital base in its book currency (0: none): the concentration cap is
    /// measured against the larger of the book and this base.
    mapping(bytes20 lender => uint96) private _capitalBase;

    error NotEngine(address caller);
    error EngineAlreadySet(address engine);
    error PartyFrozen(bytes20 party);
    error ExposureLimitExceeded(bytes20 lender, bytes20 obligor, uint256 limit, uint256 current, uint256 requested);
    error ConcentrationCapExceeded(bytes20 lender, bytes20 obligor, uint256 capBps, uint256 resultingBps);
    error NetworkLimitExceeded(bytes20 obligor, uint256 limit, uint256 current, uint256 requested);
    error ReviewRequired(uint256 dealId, uint256 threshold, uint256 amount);
    error BookNotEmpty(bytes20 lender, uint256 exposure);
    error NoBookCurrency(bytes20 lender);
    error InvalidCap(uint256 capBps);
    error NotSecondKey(uint256 dealId, address approver);
    error NotFrozen(bytes20 party);

    event EngineSet(address indexed engine);
    event LenderPolicySet(bytes20 indexed lender, bytes3 currency, uint16 capBps, uint96 reviewThreshold, address by);
    event CapitalBaseSet(bytes20 indexed lender, uint96 capitalBase, address by);
    event LimitSet(bytes20 indexed lender, bytes20 indexed obligor, bool limited, uint96 limit, address by);
    event NetworkLimitSet(bytes20 indexed obligor, bool limited, uint96 limit);
    event NetworkReviewThresholdSet(uint96 threshold);
    event ExposureBooked(
        uint256 indexed dealId, bytes20 indexed lender, bytes20 indexed obligor, int256 pairChange, uint256 pairExposure, uint256 book
    );
    /// @notice Early warning: a figure crossed 80% of its limit or cap (`kind`: 1 pair limit,
    /// 2 concentration, 3 network limit); `used` and `limit` in the figure's unit (amount or bps).
    event RiskWarning(uint8 indexed kind, bytes20 indexed lender, bytes20 indexed obligor, uint256 used, uint256 limit);
    event OverdueCounted(uint256 indexed dealId, bytes20 indexed party, uint8 run);
    event OverdueRunReset(bytes20 indexed party);
    event Frozen(bytes20 indexed party, uint8 run);
    event Unfrozen(bytes20 indexed party);
    event FundingApproved(uint256 indexed dealId, address indexed approver, bytes20 lender);

    modifier onlyEngine() {
        if (msg.sender != engine) revert NotEngine(msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_, IFxRates fxRates_, bytes3 networkCurrency_) RegistryBound(registry_) {
        TradeCodes.requireCurrency(networkCurrency_);
        fxRates = fxRates_;
        networkCurrency = networkCurrency_;
    }

    // ------------------------------------------------------------------ configuration

    /// @notice Binds the rules to the deal engine, once. Governance only.
    function setEngine(address engine_) external onlyGovernance {
        if (engine != address(0)) revert EngineAlreadySet(engine);
        engine = engine_;
        emit EngineSet(engine_);
    }

    /// @notice The caller's organisation (an active LENDER) sets its book currency, concentration
    /// cap (bps of its book, 0: none) and four-eyes threshold (in the book currency, 0: none).
    function setLenderPolicy(bytes3 currency, uint16 capBps, uint96 reviewThreshold) external {
        bytes20 lender = _activeLender();
        TradeCodes.requireCurrency(currency);
        if (capBps > BPS) revert InvalidCap(capBps);
        LenderBook storage b = _books[lender];
        if (b.currency != currency && b.exposure != 0) revert BookNotEmpty(lender, b.exposure);
        b.currency = currency;
        b.capBps = capBps;
        b.reviewThreshold = reviewThreshold;
        emit LenderPolicySet(lender, currency, capBps, reviewThreshold, msg.sender);
    }

    /// @notice The caller's organisation (an active LENDER with a policy) sets its capital base in
    /// its book currency (for example its Tier 1 capital; 0: none). The concentration cap is then
    /// measured against the larger of the book and the base (a large-exposure rule): without a
    /// base, a cap below 100% refuses a new book's first deal, which is all of the book.
    function setCapitalBase(uint96 base) external {
        bytes20 lender = _activeLender();
        if (_books[lender].currency == bytes3(0)) revert NoBookCurrency(lender);
        _capitalBase[lender] = base;
        emit CapitalBaseSet(lender, base, msg.sender);
    }

    /// @notice The caller's organisation (an active LENDER with a policy) sets (limited) or lifts
    /// its exposure limit for `obligor`, in its book currency. A limit of 0 refuses every new deal.
    function setLimit(address obligor, bool limited, uint96 limit) external {
        bytes20 lender = _activeLender();
        if (_books[lender].currency == bytes3(0)) revert NoBookCurrency(lender);
        bytes20 o = _key(obligor);
        PairExposure storage p = _pairs[lender][o];
        p.limited = limited;
        p.limit = limited ? limit : 0;
        emit LimitSet(lender, o, limited, p.limit, msg.sender);
    }

    /// @notice Sets or lifts the network-wide limit of `obligor` (network currency). Governance only.
    function setNetworkLimit(address obligor, bool limited, uint96 limit) external onlyGovernance {
        bytes20 o = _key(obligor);
        Party storage p = _parties[o];
        p.networkLimited = limited;
        p.networkLimit = limited ? limit : 0;
        emit NetworkLimitSet(o, limited, p.networkLimit);
    }

    /// @notice Sets the network four-eyes threshold (network currency, 0: none). Governance only.
    function setNetworkReviewThreshold(uint96 threshold) external onlyGovernance {
        networkReviewThreshold = threshold;
        emit NetworkReviewThresholdSet(threshold);
    }

    /// @notice Lifts the freeze of a party (and resets its overdue run). Governance only (M-of-N).
    function unfreeze(address party) external onlyGovernance {
        bytes20 k = _key(party);
        Party storage p = _parties[k];
        if (!p.frozen) revert NotFrozen(k);
        p.frozen = false;
        p.overdueRun = 0;
        emit Unfrozen(k);
    }

    /// @notice A second key of the deal lender's organisation (an active LENDER account with the
    /// same LEI, not the lender's own account) approves funding the deal (four-eyes review).
    function approveFunding(uint256 dealId) external {
        (uint8 state,, address lender,) = IEngineParties(engine).parties(dealId);
        registry.requireActive(msg.sender, Roles.LENDER);
        (bytes20 lenderKey, bytes20 approverKey,) = registry.entityKeys(lender, msg.sender, address(0));
        if (msg.sender == lender || lenderKey != approverKey || state != 1) revert NotSecondKey(dealId, msg.sender);
        fundingApprover[dealId] = msg.sender;
        emit FundingApproved(dealId, msg.sender, lenderKey);
    }

    // ------------------------------------------------------------------ engine hooks

    /// @inheritdoc IRiskRules
    function checkDeal(uint256, address borrower, address lender, address obligor, address token, uint256 principal)
        external
        view
    {
        (bytes20 b, bytes20 l, bytes20 o) = registry.entityKeys(borrower, lender, obligor);
        _check(b, l, o, obligor != address(0), _currencyOf(token), principal);
    }

    /// @inheritdoc IRiskRules
    function onFunded(uint256 dealId, address borrower, address lender, address obligor, address token, uint256 principal)
        external
        onlyEngine
    {
        (bytes20 b, bytes20 l, bytes20 o) = registry.entityKeys(borrower, lender, obligor);
        bytes3 currency = _currencyOf(token);
        (uint256 bookAmount, uint256 networkAmount) = _check(b, l, o, obligor != address(0), currency, principal);
        _requireReview(dealId, l, bookAmount, networkAmount);
        if (obligor == address(0)) return;
        if (bookAmount != principal || networkAmount != principal) {
            _bookings[dealId] = Booking(uint96(bookAmount), uint96(networkAmount), true);
        }
        _book(dealId, l, o, int256(bookAmount), int256(networkAmount));
    }

    /// @inheritdoc IRiskRules
    function onSettled(
        uint256 dealId,
        address borrower,
        address lender,
        address obligor,
        address,
        uint256 principal,
        bool onTime
    ) external onlyEngine {
        (bytes20 b, bytes20 l, bytes20 o) = registry.entityKeys(borrower, lender, obligor);
        if (onTime) {
            _resetRun(b);
            if (obligor != address(0)) _resetRun(o);
        }
        if (obligor == address(0)) return;
        (uint256 bookAmount, uint256 networkAmount) = _booked(dealId, principal);
        _book(dealId, l, o, -int256(bookAmount), -int256(networkAmount));
    }

    /// @inheritdoc IRiskRules
    function onOverdue(uint256 dealId, address borrower, address obligor) external onlyEngine {
        (bytes20 b, bytes20 o,) = registry.entityKeys(borrower, obligor, address(0));
        _countOverdue(dealId, b);
        if (obligor != address(0) && o != b) _countOverdue(dealId, o);
    }

    /// @inheritdoc IRiskRules
    function onAssigned(uint256 dealId, address from, address to, address obligor, address, uint256 principal)
        external
        onlyEngine
    {
        if (obligor == address(0)) return;
        (bytes20 f, bytes20 t, bytes20 o) = registry.entityKeys(from, to, obligor);
        (uint256 bookAmount, uint256 networkAmount) = _booked(dealId, principal);
        // the obligor's network total is unchanged; the exposure leaves the assignor's book at its
        // booked amount and enters the assignee's at today's rate if their book currencies differ
        _book(dealId, f, o, -int256(bookAmount), 0);
        uint256 received = _convert(bookAmount, _bookCurrency(_books[f]), _bookCurrency(_books[t]));
        // rebook also when an earlier booking was converted: left in place, its stale book amount
        // (the assignor's currency) would be released from the assignee's book at settlement
        if (received != principal || networkAmount != principal || _bookings[dealId].converted) {
            _bookings[dealId] = Booking(uint96(received), uint96(networkAmount), true);
        }
        _book(dealId, t, o, int256(received), 0);
    }

    /// @inheritdoc IRiskRules
    function onObligorChanged(uint256 dealId, address lender, address from, address to, address, uint256 principal)
        external
        onlyEngine
    {
        (bytes20 l, bytes20 f, bytes20 t) = registry.entityKeys(lender, from, to);
        if (f == t) return;
        // the same lender's book, the same currency: the booked amounts move from one obligor to
        // the other (products only ever replace one obligor by another)
        (uint256 bookAmount, uint256 networkAmount) = _booked(dealId, principal);
        if (from != address(0)) _book(dealId, l, f, -int256(bookAmount), -int256(networkAmount));
        if (to != address(0)) _book(dealId, l, t, int256(bookAmount), int256(networkAmount));
    }

    // ------------------------------------------------------------------ views

    /// @notice A lender organisation's policy and book.
    function lenderBook(address lender) external view returns (LenderBook memory) {
        return _books[_key(lender)];
    }

    /// @notice A lender organisation's capital base in its book currency (0: none).
    function capitalBaseOf(address lender) external view returns (uint96) {
        return _capitalBase[_key(lender)];
    }

    /// @notice The (lender, obligor) limit and exposure, in the lender's book currency.
    function pair(address lender, address obligor) external view returns (PairExposure memory) {
        return _pairs[_key(lender)][_key(obligor)];
    }

    /// @notice A party's network limit and exposure (network currency), overdue run and freeze.
    function party(address account) external view returns (Party memory) {
        return _parties[_key(account)];
    }

    /// @notice True if the party (its organisation) is frozen.
    function isFrozen(address account) external view returns (bool) {
        return _parties[_key(account)].frozen;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every rule for a new deal; returns the amounts it would book (book, network currency).
    function _check(bytes20 b, bytes20 l, bytes20 o, bool hasObligor, bytes3 currency, uint256 principal)
        private
        view
        returns (uint256 bookAmount, uint256 networkAmount)
    {
        if (_parties[b].frozen) revert PartyFrozen(b);
        LenderBook storage book = _books[l];
        bookAmount = _convert(principal, currency, _bookCurrency(book));
        networkAmount = _convert(principal, currency, networkCurrency);
        if (!hasObligor) return (bookAmount, networkAmount);
        Party storage op = _parties[o];
        if (op.frozen) revert PartyFrozen(o);
        PairExposure storage p = _pairs[l][o];
        if (p.limited && uint256(p.exposure) + bookAmount > p.limit) {
            revert ExposureLimitExceeded(l, o, p.limit, p.exposure, bookAmount);
        }
        if (book.capBps != 0) {
            // exact: pair / denominator > cap / BPS, compared without rounding; the share the
            // error reports is rounded up (a refused deal never shows a share at the cap)
            uint256 scaled = (uint256(p.exposure) + bookAmount) * BPS;
            uint256 denominator = _capDenominator(l, uint256(book.exposure) + bookAmount);
            if (scaled > uint256(book.capBps) * denominator) {
                revert ConcentrationCapExceeded(l, o, book.capBps, (scaled + denominator - 1) / denominator);
            }
        }
        if (op.networkLimited && uint256(op.networkExposure) + networkAmount > op.networkLimit) {
            revert NetworkLimitExceeded(o, op.networkLimit, op.networkExposure, networkAmount);
        }
    }

    /// @dev The approver is read only when a threshold applies.
    function _requireReview(uint256 dealId, bytes20 l, uint256 bookAmount, uint256 networkAmount) private view {
        uint96 threshold = _books[l].reviewThreshold;
        uint96 network = networkReviewThreshold;
        bool lenderRule = threshold != 0 && bookAmount >= threshold;
        bool networkRule = network != 0 && networkAmount >= network;
        if (!lenderRule && !networkRule) return;
        if (fundingApprover[dealId] != address(0)) return;
        if (lenderRule) revert ReviewRequired(dealId, threshold, bookAmount);
        revert ReviewRequired(dealId, network, networkAmount);
    }

    function _book(uint256 dealId, bytes20 l, bytes20 o, int256 bookChange, int256 networkChange) private {
        LenderBook storage book = _books[l];
        PairExposure storage p = _pairs[l][o];
        Party storage op = _parties[o];
        uint256 before = p.exposure;
        uint256 bookBefore = book.exposure;
        p.exposure = _moved(before, bookChange);
        p.used = true;
        book.exposure = _moved(bookBefore, bookChange);
        book.used = true;
        if (book.currency == bytes3(0) && bookChange > 0) book.currency = networkCurrency;
        uint256 netBefore = op.networkExposure;
        if (networkChange != 0) {
            op.networkExposure = _moved(netBefore, networkChange);
            op.used = true;
        }
        emit ExposureBooked(dealId, l, o, bookChange, p.exposure, book.exposure);
        if (bookChange <= 0) return;
        if (p.limited) _warn(1, l, o, before, p.exposure, p.limit);
        if (book.capBps != 0) {
            uint256 baseBefore = _capDenominator(l, bookBefore);
            uint256 shareBefore = baseBefore == 0 ? 0 : (before * BPS) / baseBefore;
            uint256 shareAfter = (uint256(p.exposure) * BPS) / _capDenominator(l, book.exposure);
            _warn(2, l, o, shareBefore, shareAfter, book.capBps);
        }
        if (op.networkLimited) _warn(3, bytes20(0), o, netBefore, op.networkExposure, op.networkLimit);
    }

    /// @dev An exposure moved by `change`; it can never go below zero or past 96 bits (checked:
    /// the engine releases exactly what it booked, so a failure here is a bug, not a rule).
    function _moved(uint256 value, int256 change) private pure returns (uint96) {
        int256 next = int256(value) + change;
        if (next < 0 || next > int256(uint256(type(uint96).max))) revert InvalidAmount(uint256(value), type(uint96).max);
        return uint96(uint256(next));
    }

    /// @dev Emits a warning when `used` crosses 80% of `limit` (79.99% no, 80% yes).
    function _warn(uint8 kind, bytes20 l, bytes20 o, uint256 usedBefore, uint256 used, uint256 limit) private {
        if (used * BPS >= limit * WARNING_BPS && usedBefore * BPS < limit * WARNING_BPS) {
            emit RiskWarning(kind, l, o, used, limit);
        }
    }

    function _booked(uint256 dealId, uint256 principal) private view returns (uint256, uint256) {
        Booking storage bk = _bookings[dealId];
        if (bk.converted) return (bk.book, bk.network);
        return (principal, principal);
    }

    function _countOverdue(uint256 dealId, bytes20 k) private {
        Party storage p = _parties[k];
        uint8 run = p.overdueRun < type(uint8).max ? p.overdueRun + 1 : p.overdueRun;
        p.overdueRun = run;
        emit OverdueCounted(dealId, k, run);
        if (run >= FREEZE_AFTER && !p.frozen) {
            p.frozen = true;
            emit Frozen(k, run);
        }
    }

    function _resetRun(bytes20 k) private {
        Party storage p = _parties[k];
        if (p.overdueRun == 0) return;
        p.overdueRun = 0;
        emit OverdueRunReset(k);
    }

    /// @dev `amount` minor units of `from` in minor units of `to` at the feed's fresh rate, rounded up.
    function _convert(uint256 amount, bytes3 from, bytes3 to) private view returns (uint256) {
        if (from == to) return amount;
        (uint256 rate,) = fxRates.freshRate(from, to);
        uint256 num = amount * rate * 10 ** _decimals(to);
        uint256 den = 10 ** fxRates.RATE_DECIMALS() * 10 ** _decimals(from);
        uint256 converted = (num + den - 1) / den;
        if (converted > type(uint96).max) revert InvalidAmount(converted, type(uint96).max);
        return converted;
    }

    /// @dev A lender that set no policy books in the network currency.
    function _bookCurrency(LenderBook storage book) private view returns (bytes3) {
        bytes3 c = book.currency;
        return c == bytes3(0) ? networkCurrency : c;
    }

    function _decimals(bytes3 currency) private view returns (uint256) {
        return IDecimals(registry.settlementToken(currency)).decimals();
    }

    function _currencyOf(address token) private view returns (bytes3) {
        return ICurrency(token).currencyCode();
    }

    /// @dev What a concentration share is measured against: the book (after the deal), or the
    /// lender's capital base if larger, so a new book's first deals are not refused for being
    /// most of a small book.
    function _capDenominator(bytes20 l, uint256 book) private view returns (uint256) {
        uint256 base = _capitalBase[l];
        return base > book ? base : book;
    }

    function _activeLender() private view returns (bytes20 lei) {
        registry.requireActive(msg.sender, Roles.LENDER);
        (lei,,) = registry.entityKeys(msg.sender, address(0), address(0));
    }

    function _key(address account) private view returns (bytes20 k) {
        (k,,) = registry.entityKeys(account, address(0), address(0));
    }
}

interface ICurrency {
    function currencyCode() external view returns (bytes3);
}
