// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ContractKind, IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {ILogisticsOracle} from "../interfaces/ILogisticsOracle.sol";
import {IShipmentEventListener} from "../interfaces/IShipmentEventListener.sol";
import {IFxRates} from "../interfaces/IFxRates.sol";
import {IRiskRules} from "../interfaces/IRiskRules.sol";
import {IDealProduct} from "../interfaces/IDealProduct.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {DealTerms} from "./DealTerms.sol";

/// @dev What the core asks of a settlement token besides ERC-20.
interface ISettlementCurrency {
    function currencyCode() external view returns (bytes3);
    function decimals() external view returns (uint8);
}

/// @title The deal engine: the one escrow every tradenet financing product runs on.
/// @notice One contract (registered by governance as an ESCROW) holds every deal of every
/// product and all their funds. A product is a small module registered with the engine
/// ({setProduct}; itself a registered escrow holding the collateral) that adds only its collateral,
/// payee and settlement rules through {IDealProduct}; the engine runs everything below for all.
///
/// Lifecycle per deal:
/// - **Accepted**: borrower and lender both sign the EIP-712 {DealTerms} (a party submitting the
///   terms itself needs no signature); {accept} checks the terms, takes the collateral into the
///   product's custody and assigns the next deal id. Signed terms are usable once; either party
///   may revoke unaccepted terms ({revokeTerms}).
/// - **Funded**: the lender pays the principal in ({fund}); advance milestones (event code zero)
///   are released at once. Each other milestone waits for the logistics oracle to confirm its
///   event code for the deal's shipment (at its location, or at any transport call).
/// - **Released** (partially / fully): a milestone's share is credited to the borrower when its
///   event is confirmed: in the oracle's report transaction if the submitter named the deal, or
///   by anyone with {poke}. Shares are `principal * shareBps / 10000` rounded down; the last
///   milestone takes the remainder, so the shares sum exactly to the principal.
/// - **Repaid**: the payer pays what is due ({repay}): the obligor (e.g. an invoice's buyer) if
///   the deal has an obligation, else the borrower; waterfall below. A self-liquidating product
///   (a documentary payment) has no repayment: it is settled once fully released ({settle}).
/// - **Defaulted**: after maturity + grace period the lender may {declareDefault}; milestones
///   whose events are confirmed are released first, so a default never takes back what the
///   borrower had earned. (A documentary payment's "default" is its expiry: the unreleased price
///   returns to the applicant.)
/// - **Cancelled**: borrower or lender, only before funding; the collateral goes back.
/// - **Closed**: a repaid or defaulted deal once every credit has been withdrawn.
///
/// **Payout model: pull.** Releases, the waterfall and default recoveries are credited to the
/// beneficiary ({claimable}) and leave only through {withdraw} by the beneficiary itself, so no
/// payee can make an oracle report, a repayment or a default fail.
///
/// **Retraction rule (per deal).** When the oracle retracts an event that met a milestone, the
/// release is undone (the milestone waits again, the share returns to escrow) while the deal is
/// Funded and the borrower has not withdrawn since that release; otherwise the funds have moved
/// on and the milestone is recorded as Contested ({MilestoneContested}) for the parties. No deal
/// can block a retraction.
///
/// **Waterfall on repayment** of the amount due A (principal P, fee, released R, unreleased
/// escrow U = P - R): the lender is credited P + fee (U back, plus R + fee out of A); the
/// borrower A - R - fee (>= 0). For a receivable A is the invoice's face value; a product whose
/// borrower repays sets A = R + fee.
///
/// **FX-locked settlement.** If the collateral's currency differs from the deal's token, the
/// feed's fresh rate is locked at acceptance and the amount due converts at it, rounded up to
/// the next minor unit (the obligor bears the fraction, no creditor loses a unit); after
/// `fxValidUntil` the lock has expired and repayment reverts.
///
/// **Balance invariant**: balance(this) of each token equals the sum over its deals of
/// {escrowBalance}: unreleased principal of Funded deals plus credits not yet withdrawn.
contract DealEngine is RegistryBound, EIP712, ReentrancyGuard, IShipmentEventListener {
    using SafeERC20 for IERC20;

    enum DealState {
        None,
        Accepted,
        Funded,
        Repaid,
        Defaulted,
        Cancelled,
        Closed
    }

    enum MilestoneStatus {
        Pending,
        Released,
        PaidOut,
        Contested
    }

    /// @notice How the engine runs a product's deals (set by governance).
    /// @param id the product's index (1..255); deals record it
    /// @param gatesRelease ask the product's {IDealProduct-releaseAllowed} before every release
    /// @param selfLiquidating no repayment: settled when fully released (documentary payments)
    /// @param borrowerRoles / lenderRoles roles the parties must hold, active, at accept and fund
    struct Product {
        uint8 id;
        bool enabled;
        bool gatesRelease;
        bool selfLiquidating;
        uint32 borrowerRoles;
        uint32 lenderRoles;
    }

    /// @dev Storage of a deal: nine words. Credits are derived, not kept per account: the borrower
    /// may withdraw `released + borrowerBonus - borrowerWithdrawn`, the lender `lenderCredit`.
    struct Deal {
        DealState state;
        uint8 product;
        uint8 milestoneCount;
        bool overdueFlagged; // the maturity warning was emitted
        bool overdueCounted; // maturity + grace passed unpaid: counted by the risk rules
        bool fxLocked;
        bool gatesRelease; // the product's releaseAllowed is asked before each release
        uint40 maturity;
        uint32 gracePeriod;
        uint40 acceptedAt;
        uint40 fundedAt;
        uint40 settledAt;
        address borrower;
        uint96 principal;
        address lender;
        uint96 fee;
        address obligor;
        uint96 obligation; // amount due in the collateral's currency (face value), 0 if borrower repays
        address token;
        uint96 released;
        uint128 borrowerWithdrawn;
        uint64 fxRate; // locked rate, IFxRates decimals (0 if not locked)
        uint40 fxValidUntil;
        bytes3 obligationCurrency;
        uint256 collateralId;
        bytes32 shipmentId;
        uint96 lenderCredit; // set at repayment or default, zeroed when withdrawn
        uint96 borrowerBonus; // the borrower's share of a repayment beyond its releases
    }

    struct MilestoneState {
        bytes4 eventCode;
        bytes5 location;
        uint16 shareBps;
        MilestoneStatus status;
        uint96 amount;
    }

    /// @notice How a repayment was split.
    struct Waterfall {
        uint256 amountDue;
        uint256 toLender;
        uint256 toBorrower;
        uint256 unreleasedReturned;
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_MILESTONES = 8;
    uint256 public constant MAX_AMOUNT = type(uint96).max;
    uint64 public constant MAX_GRACE_PERIOD = 365 days;
    uint256 public constant MAX_EXTRA_LENGTH = 2048;

    ILogisticsOracle public immutable oracle;
    IFxRates public immutable fxRates;
    /// @notice The network's risk rules, consulted by every deal (zero: none configured).
    IRiskRules public immutable riskRules;

    /// @notice Deals accepted so far (the last deal's id).
    uint256 public dealCount;
    /// @notice The deal created from each signed terms digest (REVOKED if revoked, 0 if unused).
    mapping(bytes32 termsDigest => uint256 dealId) public dealByTerms;
    mapping(uint256 dealId => Deal) private _deals;
    mapping(uint256 dealId => mapping(uint256 index => MilestoneState)) private _milestones;

    uint256 internal constant REVOKED = type(uint256).max;

    /// @notice The assignee each deal's lender approved (zero if none).
    mapping(uint256 dealId => address assignee) public assignmentApproval;
    /// @notice Registered products by module address.
    mapping(address module => Product) public products;
    /// @notice Module address of each product id.
    mapping(uint8 id => address module) public productModule;

    error UnknownDeal(uint256 dealId);
    error InvalidDealState(uint256 dealId, DealState state);
    error NotDealParty(uint256 dealId, address caller);
    error NotLender(uint256 dealId, address caller);
    error NotPayer(uint256 dealId, address caller, address payer);
    error NotOracle(address caller);
    error TermsExpired(uint64 acceptBy);
    error TermsUsed(bytes32 termsDigest, uint256 dealId);
    error InvalidPartySignature(address party);
    /// @dev Borrower and lender are accounts of the same legal entity.
    error SameParty(bytes20 lei);
    error InvalidSchedule(uint256 milestones, uint256 totalBps);
    error InvalidMilestone(uint256 index);
    error InvalidAmounts(uint256 principal, uint256 fee, uint256 limit);
    error InvalidMaturity(uint64 maturity, uint64 gracePeriod);
    error NotSettlementToken(address token);
    error InvalidFxLock(uint64 fxValidUntil, uint64 maturity);
    error CurrencyMismatch(bytes3 collateralCurrency, bytes3 dealCurrency);
    error FxLockExpired(uint256 dealId, uint64 validUntil);
    error ObligorSanctioned(address obligor);
    error MaturityPassed(uint256 dealId, uint64 maturity);
    error NotOverdue(uint256 dealId, uint64 maturity);
    error AlreadyFlaggedOverdue(uint256 dealId);
    error GracePeriodRunning(uint256 dealId, uint256 defaultableAfter);
    error NothingToSync(uint256 dealId);
    error NothingToWithdraw(uint256 dealId, address account);
    error InvalidAssignee(uint256 dealId, address assignee);
    error InvalidExtra(uint256 length);
    error UnknownProduct(address product);
    error InvalidProduct(address module, uint8 id);
    error NotProduct(uint256 dealId, address caller);
    error NotRepayable(uint256 dealId);
    error NotFullyReleased(uint256 dealId, uint256 released, uint256 principal);

    event DealAccepted(
        uint256 indexed dealId,
        uint256 indexed collateralId,
        address indexed lender,
        address borrower,
        DealTerms.Terms terms,
        bytes32 termsDigest,
        address obligor,
        uint256 obligation,
        address submitter
    );
    event TermsRevoked(bytes32 indexed termsDigest, address indexed by);
    event FxRateLocked(
        uint256 indexed dealId, bytes3 baseCurrency, bytes3 quoteCurrency, uint256 rate, uint64 observedAt, uint64 validUntil
    );
    /// @notice `shipmentId` is indexed so that oracle operators and keepers find the funded deals
    /// waiting for a shipment with one log query (whom to name in a report, whom to poke).
    event DealFunded(uint256 indexed dealId, address indexed lender, bytes32 indexed shipmentId, uint256 principal);
    event DealCancelled(uint256 indexed dealId, address indexed by);
    event MilestoneReleased(
        uint256 indexed dealId, uint256 milestone, bytes32 indexed eventId, uint256 amount, uint256 totalReleased
    );
    event MilestoneReversed(
        uint256 indexed dealId, uint256 milestone, bytes32 indexed eventId, uint256 amount, uint256 totalReleased
    );
    /// @notice The event that met a milestone was retracted after its funds moved on (withdrawn,
    /// or the deal settled): nothing is undone; the parties settle it between themselves.
    event MilestoneContested(uint256 indexed dealId, uint256 milestone, bytes32 indexed eventId, uint256 amount);
    event DealRepaid(uint256 indexed dealId, address indexed payer, Waterfall waterfall);
    event DealDefaulted(uint256 indexed dealId, address indexed lender, uint256 unreleasedReturned, uint256 released);
    /// @notice Early warning: the deal passed maturity unpaid; `owed` is principal + fee.
    event DealOverdue(
        uint256 indexed dealId, address indexed obligor, address indexed borrower, address lender, uint64 maturity, uint256 owed
    );
    /// @notice The deal passed maturity + grace unpaid and counts as overdue in the risk rules.
    event DealOverdueCounted(uint256 indexed dealId, address indexed obligor, address indexed borrower);
    event AssignmentApproved(uint256 indexed dealId, address indexed lender, address indexed assignee);
    event LenderAssigned(uint256 indexed dealId, address indexed previousLender, address indexed newLender);
    event Withdrawn(uint256 indexed dealId, address indexed account, uint256 amount);
    event DealClosed(uint256 indexed dealId);
    event DealSettled(uint256 indexed dealId, uint256 released);
    event ObligationChanged(uint256 indexed dealId, uint256 collateralId, address indexed obligor, uint256 obligation);
    event ProductSet(address indexed module, Product config);

    modifier onlyOracle() {
        if (msg.sender != address(oracle)) revert NotOracle(msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_, ILogisticsOracle oracle_, IFxRates fxRates_, IRiskRules riskRules_)
        RegistryBound(registry_)
        EIP712("tradenet DealEngine", "1")
    {
        oracle = oracle_;
        fxRates = fxRates_;
        riskRules = riskRules_;
    }

    // ------------------------------------------------------------------ governance

    /// @notice Registers, reconfigures or disables (enabled = false) a product module. Governance
    /// only. A product id names one module for ever; running deals keep their product.
    function setProduct(address module, Product calldata config) external onlyGovernance {
        if (module.code.length == 0 || config.id == 0) revert InvalidProduct(module, config.id);
        address holder = productModule[config.id];
        if ((holder != address(0) && holder != module) || (products[module].id != 0 && products[module].id != config.id)) {
            revert InvalidProduct(module, config.id);
        }
        productModule[config.id] = module;
        products[module] = config;
        emit ProductSet(module, config);
    }

    // ------------------------------------------------------------------ lifecycle

    /// @notice Accepts terms signed by both parties and creates the deal.
    /// @param borrowerSig the borrower's signature over {termsDigest}(t) (empty if it submits)
    /// @param lenderSig the lender's signature over {termsDigest}(t) (empty if it submits)
    /// @return dealId the id the contract assigned
    function accept(DealTerms.Terms calldata t, bytes calldata borrowerSig, bytes calldata lenderSig)
        external
        nonReentrant
        returns (uint256 dealId)
    {
        Product memory p = products[t.product];
        if (!p.enabled) revert UnknownProduct(t.product);
        bytes32 digest = _checkTerms(t, p, borrowerSig, lenderSig);
        dealId = ++dealCount;
        dealByTerms[digest] = dealId;
        Deal storage d = _deals[dealId];
        d.product = p.id;
        _createDeal(dealId, d, t, p);
        if (address(riskRules) != address(0)) {
            riskRules.checkDeal(dealId, d.borrower, d.lender, d.obligor, d.token, d.principal);
        }
        emit DealAccepted(dealId, t.collateralId, t.lender, t.borrower, t, digest, d.obligor, d.obligation, msg.sender);
    }

    /// @notice Either party revokes signed terms that were not accepted yet (an offer withdrawn).
    function revokeTerms(DealTerms.Terms calldata t) external {
        if (msg.sender != t.borrower && msg.sender != t.lender) revert NotDealParty(0, msg.sender);
        bytes32 digest = termsDigest(t);
        uint256 used = dealByTerms[digest];
        if (used != 0) revert TermsUsed(digest, used);
        dealByTerms[digest] = REVOKED;
        emit TermsRevoked(digest, msg.sender);
    }

    /// @notice The lender pays the principal into the deal (it must have approved the token).
    /// Borrower and lender must still be active and the obligor not sanctioned.
    function fund(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.lender) revert NotLender(dealId, msg.sender);
        _requireState(dealId, d, DealState.Accepted);
        if (block.timestamp >= d.maturity) revert MaturityPassed(dealId, d.maturity);
        Product memory p = _productOf(d);
        registry.requireActivePair(d.lender, p.lenderRoles, d.borrower, p.borrowerRoles);
        address obligor = d.obligor;
        if (obligor != address(0) && registry.isSanctioned(obligor)) revert ObligorSanctioned(obligor);
        d.state = DealState.Funded;
        d.fundedAt = uint40(block.timestamp);
        emit DealFunded(dealId, msg.sender, d.shipmentId, d.principal);
        IDealProduct(productModule[d.product]).onFund(dealId, d.collateralId, d.borrower, d.shipmentId);
        if (address(riskRules) != address(0)) {
            riskRules.onFunded(dealId, d.borrower, d.lender, obligor, d.token, d.principal);
        }
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.eventCode == bytes4(0)) _release(dealId, d, i, m, bytes32(0));
        }

        IERC20(d.token).safeTransferFrom(msg.sender, address(this), d.principal);
    }

    /// @notice Borrower or lender cancels an accepted deal before it is funded; the collateral
    /// returns to the borrower.
    function cancel(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.borrower && msg.sender != d.lender) revert NotDealParty(dealId, msg.sender);
        _requireState(dealId, d, DealState.Accepted);
        d.state = DealState.Cancelled;
        d.settledAt = uint40(block.timestamp);
        emit DealCancelled(dealId, msg.sender);
        IDealProduct(productModule[d.product]).onCancel(dealId, d.collateralId, d.borrower);
    }

    /// @notice The payer pays what is due into the deal (it must have approved the token): the
    /// obligor if the deal has an obligation, else the borrower. Runs the waterfall (see the
    /// contract notice). Allowed while the deal is Funded, also after maturity until a default is
    /// declared.
    function repay(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        _requireState(dealId, d, DealState.Funded);
        if (_productOf(d).selfLiquidating) revert NotRepayable(dealId);
        address payer = d.obligation != 0 ? d.obligor : d.borrower;
        if (msg.sender != payer) revert NotPayer(dealId, msg.sender, payer);
        uint256 released = d.released;
        uint256 due = amountDue(dealId);
        Waterfall memory w = Waterfall({
            amountDue: due,
            toLender: uint256(d.principal) + d.fee,
            toBorrower: due - released - d.fee,
            unreleasedReturned: d.principal - released
        });
        d.state = DealState.Repaid;
        d.settledAt = uint40(block.timestamp);
        d.lenderCredit = uint96(w.toLender); // principal + fee <= MAX_AMOUNT (accept)
        d.borrowerBonus = uint96(w.toBorrower);
        emit DealRepaid(dealId, msg.sender, w);
        IDealProduct(productModule[d.product]).onRepay(dealId, d.collateralId, d.borrower);
        _riskSettled(dealId, d, !d.overdueCounted && block.timestamp <= uint256(d.maturity) + d.gracePeriod);

        IERC20(d.token).safeTransferFrom(msg.sender, address(this), due);
    }

    /// @notice After maturity + grace period the lender declares the deal in default: milestones
    /// whose events are confirmed are released first; the unreleased escrow is then credited back
    /// to the lender and the product enforces the collateral for it.
    function declareDefault(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.lender) revert NotLender(dealId, msg.sender);
        _requireState(dealId, d, DealState.Funded);
        uint256 defaultableAfter = uint256(d.maturity) + d.gracePeriod;
        if (block.timestamp <= defaultableAfter) revert GracePeriodRunning(dealId, defaultableAfter);
        _sync(dealId, d);
        _countOverdue(dealId, d);
        uint256 unreleased = d.principal - d.released;
        d.state = DealState.Defaulted;
        d.settledAt = uint40(block.timestamp);
        d.lenderCredit = uint96(unreleased);
        emit DealDefaulted(dealId, d.lender, unreleased, d.released);
        _closeIfSettled(dealId, d);
        IDealProduct(productModule[d.product]).onDefault(dealId, d.collateralId, d.borrower, d.lender);
        _riskSettled(dealId, d, false);
    }

    /// @notice Settles a fully released deal of a self-liquidating product (a documentary payment
    /// whose conditions were all met). Anyone may call.
    function settle(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        _requireState(dealId, d, DealState.Funded);
        if (!_productOf(d).selfLiquidating) revert InvalidDealState(dealId, d.state);
        if (d.released != d.principal) revert NotFullyReleased(dealId, d.released, d.principal);
        d.state = DealState.Repaid;
        d.settledAt = uint40(block.timestamp);
        emit DealSettled(dealId, d.released);
        _closeIfSettled(dealId, d);
        IDealProduct(productModule[d.product]).onRepay(dealId, d.collateralId, d.borrower);
        _riskSettled(dealId, d, !d.overdueCounted);
    }

    /// @notice The deal's product replaces its collateral and obligation (an order financing
    /// rolled into the invoice the order turned into), in the collateral's currency as accepted.
    /// Product only, while Accepted or Funded.
    function setObligation(uint256 dealId, uint256 collateralId, address obligor, uint256 obligation, bytes3 currency)
        external
    {
        Deal storage d = _existing(dealId);
        if (msg.sender != productModule[d.product]) revert NotProduct(dealId, msg.sender);
        if (d.state != DealState.Accepted && d.state != DealState.Funded) revert InvalidDealState(dealId, d.state);
        if (d.fxLocked || currency != d.obligationCurrency) revert CurrencyMismatch(currency, d.obligationCurrency);
        if (registry.isSanctioned(obligor)) revert ObligorSanctioned(obligor);
        if (obligation > MAX_AMOUNT || (obligation != 0 && d.principal + uint256(d.fee) > obligation)) {
            revert InvalidAmounts(d.principal, d.fee, obligation);
        }
        address previous = d.obligor;
        d.collateralId = collateralId;
        d.obligor = obligor;
        d.obligation = uint96(obligation);
        emit ObligationChanged(dealId, collateralId, obligor, obligation);
        // a funded deal's exposure was booked against the previous obligor: it follows the
        // obligation (settlement releases it from the deal's obligor at that time)
        if (d.state == DealState.Funded && previous != obligor && address(riskRules) != address(0)) {
            riskRules.onObligorChanged(dealId, d.lender, previous, obligor, d.token, d.principal);
        }
    }

    /// @notice Marks a funded deal late, in two stages. Anyone may call.
    /// - past maturity: emits the early warning {DealOverdue}, once;
    /// - past maturity + grace: the deal counts as overdue for its borrower and obligor in the
    ///   risk rules ({DealOverdueCounted}), once (a default counts it too); never for a
    ///   self-liquidating product (a documentary credit's expiry is no payment failure).
    function flagOverdue(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        _requireState(dealId, d, DealState.Funded);
        if (block.timestamp <= d.maturity) revert NotOverdue(dealId, d.maturity);
        bool changed;
        if (!d.overdueFlagged) {
            d.overdueFlagged = true;
            emit DealOverdue(dealId, d.obligor, d.borrower, d.lender, d.maturity, uint256(d.principal) + d.fee);
            changed = true;
        }
        if (block.timestamp > uint256(d.maturity) + d.gracePeriod && _countOverdue(dealId, d)) changed = true;
        if (!changed) revert AlreadyFlaggedOverdue(dealId);
    }

    /// @notice Brings a deal in line with the oracle: releases every pending milestone whose event
    /// is confirmed, and applies the retraction rule to every released milestone whose event is
    /// no longer confirmed. Anyone may call.
    /// @return changes the milestones released, reversed or contested
    function poke(uint256 dealId) external nonReentrant returns (uint256 changes) {
        Deal storage d = _existing(dealId);
        if (d.state == DealState.Accepted || d.state == DealState.Cancelled) revert InvalidDealState(dealId, d.state);
        changes = _sync(dealId, d);
        if (changes == 0) revert NothingToSync(dealId);
    }

    /// @notice Pays the caller everything credited to it in the deal. The only way funds leave.
    /// @return amount the amount transferred
    function withdraw(uint256 dealId) external nonReentrant returns (uint256 amount) {
        Deal storage d = _existing(dealId);
        amount = claimable(dealId, msg.sender);
        if (amount == 0) revert NothingToWithdraw(dealId, msg.sender);
        if (msg.sender == d.borrower) {
            d.borrowerWithdrawn += uint128(amount);
            _markPaidOut(dealId, d);
        } else {
            d.lenderCredit = 0;
        }
        emit Withdrawn(dealId, msg.sender, amount);
        _closeIfSettled(dealId, d);

        IERC20(d.token).safeTransfer(msg.sender, amount);
    }

    /// @notice The lender of a funded deal lets `assignee` take its position with
    /// {assignLender} (an ABS pool buying the asset pays the lender in the same transaction).
    function approveAssignment(uint256 dealId, address assignee) external {
        _approveAssignment(dealId, assignee);
    }

    /// @notice {approveAssignment} for several deals of the caller (a portfolio sold to a pool).
    function approveAssignments(uint256[] calldata dealIds, address assignee) external {
        for (uint256 i = 0; i < dealIds.length; ++i) {
            _approveAssignment(dealIds[i], assignee);
        }
    }

    function _approveAssignment(uint256 dealId, address assignee) private {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.lender) revert NotLender(dealId, msg.sender);
        assignmentApproval[dealId] = assignee;
        emit AssignmentApproved(dealId, msg.sender, assignee);
    }

    /// @notice The lender of a funded deal (or the assignee it approved) assigns the lender's
    /// position (its claims on repayment, the collateral on default) to another active LENDER or
    /// to a registered escrow (an ABS pool). Credits already made stay with the previous lender.
    function assignLender(uint256 dealId, address newLender) external nonReentrant {
        Deal storage d = _existing(dealId);
        address lender = d.lender;
        if (msg.sender != lender && !(msg.sender == newLender && assignmentApproval[dealId] == newLender)) {
            revert NotLender(dealId, msg.sender);
        }
        _requireState(dealId, d, DealState.Funded);
        delete assignmentApproval[dealId];
        if (newLender == lender || newLender == d.borrower) revert InvalidAssignee(dealId, newLender);
        if (registry.contractKind(newLender) != ContractKind.Escrow) registry.requireActive(newLender, Roles.LENDER);
        d.lender = newLender;
        emit LenderAssigned(dealId, lender, newLender);
        if (address(riskRules) != address(0)) {
            riskRules.onAssigned(dealId, lender, newLender, d.obligor, d.token, d.principal);
        }
    }

    // ------------------------------------------------------------------ oracle callbacks

    /// @inheritdoc IShipmentEventListener
    /// @dev Releases the deal's pending milestones this event meets; ignores everything else.
    function onEventConfirmed(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, bytes5 location, uint256 ref)
        external
        onlyOracle
        nonReentrant
    {
        Deal storage d = _deals[ref];
        if (d.state != DealState.Funded || d.shipmentId != shipmentId || !_releaseAllowed(d, ref)) return;
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[ref][i];
            if (
                m.status == MilestoneStatus.Pending && m.eventCode == eventCode
                    && (m.location == location || m.location == bytes5(0))
            ) _release(ref, d, i, m, eventId);
        }
    }

    /// @inheritdoc IShipmentEventListener
    /// @dev Applies the retraction rule to the deal's released milestones this event had met.
    function onEventRetracted(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, bytes5 location, uint256 ref)
        external
        onlyOracle
        nonReentrant
    {
        Deal storage d = _deals[ref];
        if (d.state == DealState.None || d.shipmentId != shipmentId) return;
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[ref][i];
            if (m.eventCode != eventCode || m.status == MilestoneStatus.Pending || m.status == MilestoneStatus.Contested) {
                continue;
            }
            if (m.location == location || (m.location == bytes5(0) && !_met(d, m))) _unmet(ref, d, i, m, eventId);
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest both parties sign.
    function termsDigest(DealTerms.Terms calldata t) public view returns (bytes32) {
        return _hashTypedDataV4(DealTerms.structHash(t));
    }

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The deal's parties and state (what products and pools read).
    function parties(uint256 dealId)
        external
        view
        returns (DealState state, address borrower, address lender, address obligor)
    {
        Deal storage d = _existing(dealId);
        return (d.state, d.borrower, d.lender, d.obligor);
    }

    /// @notice The nine raw storage words of a deal ({Deal}, layout as the compiler packs it);
    /// decoded by {DealLens}, which serves the deal's full record and derived views.
    function dealWords(uint256 dealId) external view returns (bytes32[9] memory words) {
        _existing(dealId);
        assembly ("memory-safe") {
            mstore(0x00, dealId)
            mstore(0x20, _deals.slot)
            let base := keccak256(0x00, 0x40)
            for { let i := 0 } lt(i, 9) { i := add(i, 1) } { mstore(add(words, mul(i, 0x20)), sload(add(base, i))) }
        }
    }

    /// @notice The raw storage word of each milestone of a deal ({MilestoneState}), for {DealLens}.
    function milestoneWords(uint256 dealId) external view returns (bytes32[] memory words) {
        uint256 n = _existing(dealId).milestoneCount;
        words = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            bytes32 w;
            assembly ("memory-safe") {
                w := sload(m.slot)
            }
            words[i] = w;
        }
    }

    /// @notice What `account` can withdraw from the deal now.
    function claimable(uint256 dealId, address account) public view returns (uint256) {
        Deal storage d = _deals[dealId];
        if (account == d.borrower && account != address(0)) {
            return uint256(d.released) + d.borrowerBonus - d.borrowerWithdrawn;
        }
        if (account == d.lender && account != address(0)) return d.lenderCredit;
        return 0;
    }

    /// @notice What the payer must pay to repay the deal now, in the deal's token (the obligation
    /// converted at the locked rate, or released + fee for a product whose borrower repays).
    function amountDue(uint256 dealId) public view returns (uint256) {
        Deal storage d = _existing(dealId);
        if (d.obligation == 0) return uint256(d.released) + d.fee;
        if (!d.fxLocked) return d.obligation;
        if (block.timestamp > d.fxValidUntil) revert FxLockExpired(dealId, d.fxValidUntil);
        return _convertUp(d.obligation, d.fxRate, d.obligationCurrency, d.token);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Freshness, single use and both parties' consent and standing; returns the digest.
    function _checkTerms(
        DealTerms.Terms calldata t,
        Product memory p,
        bytes calldata borrowerSig,
        bytes calldata lenderSig
    ) private view returns (bytes32 digest) {
        if (block.timestamp > t.acceptBy) revert TermsExpired(t.acceptBy);
        digest = termsDigest(t);
        uint256 used = dealByTerms[digest];
        if (used != 0) revert TermsUsed(digest, used);
        if (msg.sender != t.borrower) _requireSigned(digest, t.borrower, borrowerSig);
        if (msg.sender != t.lender) _requireSigned(digest, t.lender, lenderSig);
        (bytes20 borrowerLei, bytes20 lenderLei) =
            registry.requireActivePair(t.borrower, p.borrowerRoles, t.lender, p.lenderRoles);
        if (borrowerLei == lenderLei) revert SameParty(borrowerLei);
        if (t.maturity <= block.timestamp || t.maturity >= 1 << 40 || t.gracePeriod > MAX_GRACE_PERIOD) {
            revert InvalidMaturity(t.maturity, t.gracePeriod);
        }
        if (t.extra.length > MAX_EXTRA_LENGTH) revert InvalidExtra(t.extra.length);
    }

    /// @dev Takes the collateral, checks the obligor and the amounts (FX-converted) and stores the deal.
    function _createDeal(uint256 dealId, Deal storage d, DealTerms.Terms calldata t, Product memory p) private {
        bytes3 currency = _tokenCurrency(t.settlementToken);
        (address obligor, uint256 obligation, bytes3 obligationCurrency) = IDealProduct(t.product).onAccept(
            dealId, t.collateralId, t.borrower, t.lender, t.maturity, t.gracePeriod, t.shipmentId, t.extra
        );
        if (p.selfLiquidating && (obligation != 0 || t.fee != 0)) revert InvalidAmounts(t.principal, t.fee, 0);
        if (obligor != address(0) && registry.isSanctioned(obligor)) revert ObligorSanctioned(obligor);
        d.state = DealState.Accepted;
        d.gatesRelease = p.gatesRelease;
        d.maturity = uint40(t.maturity);
        d.gracePeriod = uint32(t.gracePeriod);
        d.acceptedAt = uint40(block.timestamp);
        d.borrower = t.borrower;
        d.lender = t.lender;
        d.obligor = obligor;
        d.token = t.settlementToken;
        d.collateralId = t.collateralId;
        d.shipmentId = t.shipmentId;
        uint256 limit = obligation;
        if (obligationCurrency != bytes3(0) && obligationCurrency != currency) {
            if (obligation == 0) revert CurrencyMismatch(obligationCurrency, currency);
            limit = _lockFx(dealId, d, t, obligationCurrency, obligation);
        } else if (t.fxValidUntil != 0) {
            revert InvalidFxLock(t.fxValidUntil, t.maturity);
        }
        // every credit of a deal (principal + fee to the lender, the amount due less it to the
        // borrower) then fits the 96-bit fields
        if (t.principal == 0 || t.principal + t.fee > MAX_AMOUNT || obligation > MAX_AMOUNT || limit > MAX_AMOUNT) {
            revert InvalidAmounts(t.principal, t.fee, MAX_AMOUNT);
        }
        // a deal repaid from its collateral must be covered by it: principal + fee <= amount due
        if (obligation != 0 && t.principal + t.fee > limit) revert InvalidAmounts(t.principal, t.fee, limit);
        d.principal = uint96(t.principal);
        d.fee = uint96(t.fee);
        d.obligation = uint96(obligation);
        d.obligationCurrency = obligationCurrency;
        d.milestoneCount = uint8(_storeSchedule(dealId, t));
    }

    /// @dev A self-liquidating product extends no credit: an expired documentary credit is a
    /// presentation that did not comply, not a payment failure, and counts against no one.
    /// @return counted whether the deal was counted now (not before, and not self-liquidating)
    function _countOverdue(uint256 dealId, Deal storage d) private returns (bool counted) {
        if (d.overdueCounted || _productOf(d).selfLiquidating) return false;
        d.overdueCounted = true;
        emit DealOverdueCounted(dealId, d.obligor, d.borrower);
        if (address(riskRules) != address(0)) riskRules.onOverdue(dealId, d.borrower, d.obligor);
        return true;
    }

    function _riskSettled(uint256 dealId, Deal storage d, bool onTime) private {
        if (address(riskRules) == address(0)) return;
        riskRules.onSettled(dealId, d.borrower, d.lender, d.obligor, d.token, d.principal, onTime);
    }

    function _productOf(Deal storage d) private view returns (Product memory) {
        return products[productModule[d.product]];
    }

    function _releaseAllowed(Deal storage d, uint256 dealId) private view returns (bool) {
        if (!d.gatesRelease) return true;
        return IDealProduct(productModule[d.product]).releaseAllowed(dealId);
    }

    function _existing(uint256 dealId) internal view returns (Deal storage d) {
        d = _deals[dealId];
        if (d.state == DealState.None) revert UnknownDeal(dealId);
    }

    function _requireState(uint256 dealId, Deal storage d, DealState expected) internal view {
        if (d.state != expected) revert InvalidDealState(dealId, d.state);
    }

    /// @dev Releases every met pending milestone and unmets every released one whose event was
    /// retracted. Returns how many changed.
    function _sync(uint256 dealId, Deal storage d) internal returns (uint256 changes) {
        uint256 n = d.milestoneCount;
        bool allowed = d.state == DealState.Funded && _releaseAllowed(d, dealId);
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.eventCode == bytes4(0) || m.status == MilestoneStatus.Contested) continue;
            bool met = _met(d, m);
            if (m.status == MilestoneStatus.Pending) {
                if (met && allowed) {
                    _release(dealId, d, i, m, bytes32(0)); // pulled: the oracle's log names the event
                    ++changes;
                }
            } else if (!met) {
                _unmet(dealId, d, i, m, bytes32(0));
                ++changes;
            }
        }
    }

    function _met(Deal storage d, MilestoneState storage m) private view returns (bool) {
        if (m.location == bytes5(0)) return oracle.confirmedCalls(d.shipmentId, m.eventCode) != 0;
        return oracle.isConfirmed(d.shipmentId, m.eventCode, m.location);
    }

    function _release(uint256 dealId, Deal storage d, uint256 index, MilestoneState storage m, bytes32 eventId)
        private
    {
        uint96 amount = m.amount;
        m.status = MilestoneStatus.Released;
        d.released += amount;
        emit MilestoneReleased(dealId, index, eventId, amount, d.released);
    }

    /// @dev The retraction rule for one released milestone whose event is no longer confirmed.
    function _unmet(uint256 dealId, Deal storage d, uint256 index, MilestoneState storage m, bytes32 eventId)
        private
    {
        uint96 amount = m.amount;
        if (d.state == DealState.Funded && m.status == MilestoneStatus.Released) {
            m.status = MilestoneStatus.Pending;
            d.released -= amount; // not withdrawn: the borrower's claim covers it
            emit MilestoneReversed(dealId, index, eventId, amount, d.released);
        } else {
            m.status = MilestoneStatus.Contested;
            emit MilestoneContested(dealId, index, eventId, amount);
        }
    }

    /// @dev The borrower withdrew: every milestone released so far has moved on.
    function _markPaidOut(uint256 dealId, Deal storage d) private {
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.status == MilestoneStatus.Released) m.status = MilestoneStatus.PaidOut;
        }
    }

    function _closeIfSettled(uint256 dealId, Deal storage d) private {
        if (d.state != DealState.Repaid && d.state != DealState.Defaulted) return;
        if (d.lenderCredit != 0 || uint256(d.released) + d.borrowerBonus != d.borrowerWithdrawn) return;
        d.state = DealState.Closed;
        emit DealClosed(dealId);
    }

    function _storeSchedule(uint256 dealId, DealTerms.Terms calldata t) private returns (uint256 n) {
        DealTerms.Milestone[] calldata ms = t.milestones;
        n = ms.length;
        uint256 totalBps;
        for (uint256 i = 0; i < n; ++i) {
            totalBps += ms[i].shareBps;
        }
        if (n == 0 || n > MAX_MILESTONES || totalBps != BPS) revert InvalidSchedule(n, totalBps);
        uint256 principal = t.principal;
        uint256 allocated;
        for (uint256 i = 0; i < n; ++i) {
            DealTerms.Milestone calldata m = ms[i];
            bool advance = m.eventCode == bytes4(0);
            if (m.location != bytes5(0)) TradeCodes.requireLocode(m.location);
            if (
                m.shareBps == 0 || (advance && m.location != bytes5(0))
                    || (!advance && (t.shipmentId == bytes32(0) || !oracle.isEventCode(m.eventCode)))
            ) revert InvalidMilestone(i);
            for (uint256 j = 0; j < i; ++j) {
                if (ms[j].eventCode == m.eventCode && ms[j].location == m.location) revert InvalidMilestone(i);
            }
            uint256 amount = i + 1 == n ? principal - allocated : (principal * m.shareBps) / BPS;
            allocated += amount;
            _milestones[dealId][i] = MilestoneState(m.eventCode, m.location, m.shareBps, MilestoneStatus.Pending, uint96(amount));
        }
    }

    function _lockFx(uint256 dealId, Deal storage d, DealTerms.Terms calldata t, bytes3 base, uint256 obligation)
        private
        returns (uint256 converted)
    {
        if (t.fxValidUntil < t.maturity || t.fxValidUntil >= 1 << 40 || address(fxRates) == address(0)) {
            revert InvalidFxLock(t.fxValidUntil, t.maturity);
        }
        bytes3 quote = ISettlementCurrency(t.settlementToken).currencyCode();
        (uint256 rate, uint64 observedAt) = fxRates.freshRate(base, quote);
        if (rate > type(uint64).max) revert InvalidFxLock(t.fxValidUntil, t.maturity);
        d.fxLocked = true;
        d.fxRate = uint64(rate);
        d.fxValidUntil = uint40(t.fxValidUntil);
        emit FxRateLocked(dealId, base, quote, rate, observedAt, t.fxValidUntil);
        converted = _convertUp(obligation, uint64(rate), base, t.settlementToken);
    }

    /// @dev amount (minor units of `base`) in minor units of the deal token, rounded up:
    /// ceil(amount * rate * 10**quoteDecimals / (10**RATE_DECIMALS * 10**baseDecimals)).
    function _convertUp(uint256 amount, uint64 rate, bytes3 base, address quoteToken) private view returns (uint256) {
        address baseToken = registry.settlementToken(base);
        uint256 num = amount * rate * 10 ** ISettlementCurrency(quoteToken).decimals();
        uint256 den = 10 ** fxRates.RATE_DECIMALS() * 10 ** ISettlementCurrency(baseToken).decimals();
        return (num + den - 1) / den;
    }

    function _tokenCurrency(address token) private view returns (bytes3 code) {
        if (token.code.length == 0 || registry.contractKind(token) != ContractKind.Asset) revert NotSettlementToken(token);
        try ISettlementCurrency(token).currencyCode() returns (bytes3 c) {
            code = c;
        } catch {
            revert NotSettlementToken(token);
        }
        if (registry.settlementToken(code) != token) revert NotSettlementToken(token);
    }

    function _requireSigned(bytes32 digest, address party, bytes calldata signature) private pure {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != party) revert InvalidPartySignature(party);
    }
}
