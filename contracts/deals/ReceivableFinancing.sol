// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";
import {SettlementToken} from "../tokens/SettlementToken.sol";
import {ILogisticsOracle} from "../oracle/ILogisticsOracle.sol";
import {IShipmentEventListener} from "../oracle/IShipmentEventListener.sol";
import {ReceivableTerms} from "./ReceivableTerms.sol";

/// @dev The registry's classification of network contracts (ParticipantRegistry.contractKind).
interface INetworkContracts {
    function contractKind(address account) external view returns (uint8);
}

/// @title Receivable financing (O/A factoring) of confirmed invoices, released on shipment events.
/// @notice One escrow contract for many deals (registered by governance as a tradenet ESCROW).
/// Lifecycle per deal:
/// - **Accepted**: borrower (the invoice's seller) and lender both sign the EIP-712 terms
///   ({ReceivableTerms}); either submits both signatures with {accept}. The invoice token moves
///   from the seller into this contract.
/// - **Funded**: the lender pays the principal in ({fund}); the invoice is marked Financed. Each
///   milestone waits on the logistics oracle for its (shipmentId, eventCode).
/// - **Released** (partially / fully): when the oracle confirms a milestone's event it calls this
///   contract in its own transaction and the milestone's share is credited to the borrower; a
///   milestone the oracle could not call (fan-out cap) is released by anyone with {poke}. Shares
///   are `principal * shareBps / 10000` rounded down; the last milestone takes the remainder, so
///   the shares sum exactly to the principal.
/// - **Repaid**: the invoice's buyer pays the face value in ({repay}), at, before or after maturity
///   as long as no default was declared; a suspended buyer can still repay. Waterfall below.
/// - **Defaulted**: after maturity + grace period the lender may {declareDefault}.
/// - **Cancelled**: borrower or lender, only before funding; the invoice goes back to the seller.
/// - **Closed**: a repaid or defaulted deal once every credit has been withdrawn.
///
/// **Payout model: pull.** Nothing is pushed out. Releases, the waterfall and default recoveries
/// are credited to the beneficiary inside the deal ({claimable}) and leave only through
/// {withdraw} by the beneficiary itself. This keeps the oracle's transaction cheap and unable to
/// fail on a payee (a sanctioned seller cannot receive, but cannot block a release, a repayment or
/// a default either), and it makes the retraction rule enforceable: released funds still
/// credited in the deal "have not moved on".
///
/// **Retraction rule.** When the oracle retracts an event that released a milestone, the release
/// is undone (the milestone waits again, the share returns to escrow) only while the deal is
/// still Funded and the borrower has not withdrawn since that release; otherwise the retraction
/// reverts with {FundsAlreadyMovedOn}. A withdrawal by the borrower marks every milestone released
/// so far as paid out. Once a deal is repaid or defaulted its releases are final.
///
/// **Waterfall on repayment** of face value F, with principal P, fee, released R (unreleased
/// escrow U = P - R): the lender is credited P + fee (its unreleased U back, plus R + fee out of
/// F); the borrower is credited F - R - fee (>= 0 since P + fee <= F). The borrower keeps any
/// released amount it has not withdrawn yet. Unreleased milestones are abandoned.
///
/// **Default**: unreleased escrow U is credited back to the lender, the invoice token (marked
/// Defaulted) goes to the lender; released amounts stay the borrower's (non-recourse).
///
/// Funds leave the escrow only through {withdraw} of these credits, so only by the schedule,
/// the repayment waterfall or default enforcement; balance(this) of each token always equals
/// the sum over its deals of unreleased escrow (Funded deals) plus credits not yet withdrawn.
contract ReceivableFinancing is EIP712, ReentrancyGuard, IShipmentEventListener {
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
        PaidOut
    }

    struct Deal {
        DealState state;
        bool overdueFlagged;
        uint8 milestoneCount;
        uint64 seq;
        uint64 maturity;
        uint64 gracePeriod;
        address borrower;
        uint64 acceptedAt;
        address lender;
        uint64 fundedAt;
        address buyer;
        uint64 settledAt; // repaid, defaulted or cancelled
        address token;
        uint64 closedAt;
        uint256 invoiceId;
        uint128 principal;
        uint128 fee;
        uint128 faceValue;
        uint128 released; // principal credited to the borrower by milestones (net of retractions)
        uint128 claimTotal; // credits not yet withdrawn
        bytes32 termsDigest;
    }

    struct MilestoneState {
        bytes32 shipmentId;
        bytes4 eventCode;
        uint16 shareBps;
        MilestoneStatus status;
        uint128 amount;
        bytes32 releasedBy; // oracle eventId that released it (0 while pending)
    }

    /// @notice How a repayment was split.
    struct Waterfall {
        uint256 faceValue;
        uint256 toLender;
        uint256 toBorrower;
        uint256 unreleasedReturned;
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_MILESTONES = 8;
    uint8 private constant KIND_ASSET = 1; // ParticipantRegistry.ContractKind.Asset

    IParticipantRegistry public immutable registry;
    InvoiceToken public immutable invoiceToken;
    ILogisticsOracle public immutable oracle;

    /// @notice Deals accepted so far (also the last deal's internal sequence number).
    uint64 public dealCount;
    mapping(uint256 dealId => Deal) private _deals;
    mapping(uint256 dealId => mapping(uint256 index => MilestoneState)) private _milestones;
    mapping(uint64 seq => uint256 dealId) private _dealBySeq;
    mapping(uint256 dealId => mapping(address account => uint256)) private _claimable;

    error InvalidDealId();
    error DealExists(uint256 dealId);
    error UnknownDeal(uint256 dealId);
    error InvalidDealState(uint256 dealId, DealState state);
    error NotDealParty(uint256 dealId, address caller);
    error NotLender(uint256 dealId, address caller);
    error NotBuyer(uint256 dealId, address caller);
    error NotOracle(address caller);
    error OfferExpired(uint256 dealId, uint64 acceptBy);
    error InvalidPartySignature(uint256 dealId, address party);
    error SameParty(address account);
    error InvalidSchedule(uint256 milestones, uint256 totalBps);
    error InvalidMilestone(uint256 index);
    error InvalidAmounts(uint256 principal, uint256 fee, uint256 faceValue);
    error InvalidMaturity(uint64 maturity);
    error InvoiceNotConfirmed(uint256 invoiceId, InvoiceToken.InvoiceState state);
    error NotInvoiceSeller(uint256 invoiceId, address borrower);
    error NotSettlementToken(address token);
    error CurrencyMismatch(bytes3 invoiceCurrency, bytes3 tokenCurrency);
    error MaturityPassed(uint256 dealId, uint64 maturity);
    error NotOverdue(uint256 dealId, uint64 maturity);
    error AlreadyFlaggedOverdue(uint256 dealId);
    error GracePeriodRunning(uint256 dealId, uint256 defaultableAfter);
    error NothingToRelease(uint256 dealId);
    error NothingToWithdraw(uint256 dealId, address account);
    error FundsAlreadyMovedOn(uint256 dealId, uint256 milestone, bytes32 eventId);

    event DealAccepted(
        uint256 indexed dealId,
        uint256 indexed invoiceId,
        address indexed lender,
        ReceivableTerms.DealTerms terms,
        bytes32 termsDigest,
        address submitter
    );
    event DealFunded(uint256 indexed dealId, address indexed lender, uint256 principal);
    event DealCancelled(uint256 indexed dealId, address indexed by);
    event MilestoneReleased(
        uint256 indexed dealId, uint256 milestone, bytes32 indexed eventId, uint256 amount, uint256 totalReleased
    );
    event MilestoneReversed(
        uint256 indexed dealId, uint256 milestone, bytes32 indexed eventId, uint256 amount, uint256 totalReleased
    );
    event DealRepaid(uint256 indexed dealId, address indexed payer, Waterfall waterfall);
    event DealDefaulted(uint256 indexed dealId, address indexed lender, uint256 unreleasedReturned, uint256 released);
    /// @notice Early warning: the deal passed maturity unpaid.
    event DealOverdue(
        uint256 indexed dealId,
        address indexed buyer,
        address indexed borrower,
        address lender,
        uint64 maturity,
        uint256 faceValue
    );
    event Withdrawn(uint256 indexed dealId, address indexed account, uint256 amount);
    event DealClosed(uint256 indexed dealId);

    modifier onlyOracle() {
        if (msg.sender != address(oracle)) revert NotOracle(msg.sender);
        _;
    }

    /// @param registry_ the participant registry
    /// @param invoiceToken_ the invoice token whose confirmed invoices are financed
    /// @param oracle_ the logistics oracle that confirms milestone events
    constructor(IParticipantRegistry registry_, InvoiceToken invoiceToken_, ILogisticsOracle oracle_)
        EIP712("tradenet ReceivableFinancing", "1")
    {
        registry = registry_;
        invoiceToken = invoiceToken_;
        oracle = oracle_;
    }

    // ------------------------------------------------------------------ lifecycle

    /// @notice Opens a deal on terms signed by both borrower and lender; the caller must be one of
    /// them. Moves the invoice token from the borrower into this contract (the borrower must have
    /// approved it).
    /// @param terms the signed terms
    /// @param borrowerSignature the borrower's EIP-712 signature over {termsDigest}(terms)
    /// @param lenderSignature the lender's EIP-712 signature over {termsDigest}(terms)
    function accept(
        ReceivableTerms.DealTerms calldata terms,
        bytes calldata borrowerSignature,
        bytes calldata lenderSignature
    ) external nonReentrant {
        uint256 dealId = terms.dealId;
        if (dealId == 0) revert InvalidDealId();
        if (msg.sender != terms.borrower && msg.sender != terms.lender) revert NotDealParty(dealId, msg.sender);
        if (_deals[dealId].state != DealState.None) revert DealExists(dealId);
        if (block.timestamp > terms.acceptBy) revert OfferExpired(dealId, terms.acceptBy);
        if (terms.borrower == terms.lender) revert SameParty(terms.borrower);
        bytes32 digest = termsDigest(terms);
        _requireSigned(dealId, digest, terms.borrower, borrowerSignature);
        _requireSigned(dealId, digest, terms.lender, lenderSignature);
        registry.requireActive(terms.borrower, Roles.SELLER);
        registry.requireActive(terms.lender, Roles.LENDER);
        if (terms.maturity <= block.timestamp) revert InvalidMaturity(terms.maturity);
        (address buyer, uint256 faceValue) = _checkInvoice(terms);

        Deal storage d = _deals[dealId];
        uint64 seq = ++dealCount;
        _dealBySeq[seq] = dealId;
        d.state = DealState.Accepted;
        d.seq = seq;
        d.maturity = terms.maturity;
        d.gracePeriod = terms.gracePeriod;
        d.borrower = terms.borrower;
        d.acceptedAt = uint64(block.timestamp);
        d.lender = terms.lender;
        d.buyer = buyer;
        d.token = terms.settlementToken;
        d.invoiceId = terms.invoiceId;
        // amounts fit in 128 bits (checked in _checkInvoice)
        d.principal = uint128(terms.principal);
        d.fee = uint128(terms.fee);
        d.faceValue = uint128(faceValue);
        d.termsDigest = digest;
        d.milestoneCount = uint8(_storeSchedule(dealId, terms.milestones, terms.principal));
        emit DealAccepted(dealId, terms.invoiceId, terms.lender, terms, digest, msg.sender);

        invoiceToken.transferFrom(terms.borrower, address(this), terms.invoiceId);
    }

    /// @notice The lender pays the principal into escrow (it must have approved the token);
    /// the invoice is marked Financed and the milestones start waiting for their events.
    /// Milestones whose event is already confirmed are released at once.
    function fund(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.lender) revert NotLender(dealId, msg.sender);
        _requireState(dealId, d, DealState.Accepted);
        if (block.timestamp >= d.maturity) revert MaturityPassed(dealId, d.maturity);
        registry.requireActive(d.lender, Roles.LENDER);
        registry.requireActive(d.borrower, Roles.SELLER);

        d.state = DealState.Funded;
        d.fundedAt = uint64(block.timestamp);
        emit DealFunded(dealId, msg.sender, d.principal);
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            bytes32 eventId = oracle.confirmedEvent(m.shipmentId, m.eventCode);
            if (eventId != bytes32(0)) _release(dealId, d, i, m, eventId);
        }

        IERC20(d.token).safeTransferFrom(msg.sender, address(this), d.principal);
        invoiceToken.markFinanced(d.invoiceId);
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            oracle.watch(m.shipmentId, m.eventCode, _ref(d.seq, i));
        }
    }

    /// @notice Borrower or lender cancels an accepted deal before it is funded; the invoice token
    /// returns to the borrower.
    function cancel(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.borrower && msg.sender != d.lender) revert NotDealParty(dealId, msg.sender);
        _requireState(dealId, d, DealState.Accepted);
        d.state = DealState.Cancelled;
        d.settledAt = uint64(block.timestamp);
        emit DealCancelled(dealId, msg.sender);
        invoiceToken.transferFrom(address(this), d.borrower, d.invoiceId);
    }

    /// @notice The invoice's buyer pays the face value into the deal (it must have approved the
    /// token); runs the waterfall (see the contract notice) and marks the invoice Paid. Allowed
    /// while the deal is Funded, also after maturity until a default is declared.
    function repay(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.buyer) revert NotBuyer(dealId, msg.sender);
        _requireState(dealId, d, DealState.Funded);
        uint256 released = d.released;
        Waterfall memory w = Waterfall({
            faceValue: d.faceValue,
            toLender: d.principal + d.fee,
            toBorrower: d.faceValue - released - d.fee,
            unreleasedReturned: d.principal - released
        });
        d.state = DealState.Repaid;
        d.settledAt = uint64(block.timestamp);
        _credit(dealId, d, d.lender, w.toLender);
        _credit(dealId, d, d.borrower, w.toBorrower);
        emit DealRepaid(dealId, msg.sender, w);

        IERC20(d.token).safeTransferFrom(msg.sender, address(this), w.faceValue);
        invoiceToken.markPaid(d.invoiceId);
        _unwatchPending(dealId, d);
    }

    /// @notice After maturity + grace period, the lender declares the deal in default: unreleased
    /// escrow is credited back to the lender and the invoice token (marked Defaulted) is
    /// transferred to the lender.
    function declareDefault(uint256 dealId) external nonReentrant {
        Deal storage d = _existing(dealId);
        if (msg.sender != d.lender) revert NotLender(dealId, msg.sender);
        _requireState(dealId, d, DealState.Funded);
        uint256 defaultableAfter = uint256(d.maturity) + d.gracePeriod;
        if (block.timestamp <= defaultableAfter) revert GracePeriodRunning(dealId, defaultableAfter);
        uint256 unreleased = d.principal - d.released;
        d.state = DealState.Defaulted;
        d.settledAt = uint64(block.timestamp);
        _credit(dealId, d, d.lender, unreleased);
        emit DealDefaulted(dealId, d.lender, unreleased, d.released);
        _closeIfSettled(dealId, d);

        invoiceToken.markDefaulted(d.invoiceId);
        invoiceToken.transferFrom(address(this), d.lender, d.invoiceId);
        _unwatchPending(dealId, d);
    }

    /// @notice Emits the early-warning {DealOverdue} once for a funded deal past maturity.
    /// Anyone may call.
    function flagOverdue(uint256 dealId) external {
        Deal storage d = _existing(dealId);
        _requireState(dealId, d, DealState.Funded);
        if (block.timestamp <= d.maturity) revert NotOverdue(dealId, d.maturity);
        if (d.overdueFlagged) revert AlreadyFlaggedOverdue(dealId);
        d.overdueFlagged = true;
        emit DealOverdue(dealId, d.buyer, d.borrower, d.lender, d.maturity, d.faceValue);
    }

    /// @notice Releases every pending milestone of a funded deal whose event the oracle has
    /// confirmed (those the oracle's report did not reach). Anyone may call.
    /// @return count the milestones released
    function poke(uint256 dealId) external nonReentrant returns (uint256 count) {
        Deal storage d = _existing(dealId);
        _requireState(dealId, d, DealState.Funded);
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.status != MilestoneStatus.Pending) continue;
            bytes32 eventId = oracle.confirmedEvent(m.shipmentId, m.eventCode);
            if (eventId == bytes32(0)) continue;
            _release(dealId, d, i, m, eventId);
            ++count;
        }
        if (count == 0) revert NothingToRelease(dealId);
    }

    /// @notice Pays the caller everything credited to it in the deal. The only way funds leave.
    /// @return amount the amount transferred
    function withdraw(uint256 dealId) external nonReentrant returns (uint256 amount) {
        Deal storage d = _existing(dealId);
        amount = _claimable[dealId][msg.sender];
        if (amount == 0) revert NothingToWithdraw(dealId, msg.sender);
        _claimable[dealId][msg.sender] = 0;
        d.claimTotal -= uint128(amount);
        if (msg.sender == d.borrower) _markPaidOut(dealId, d);
        emit Withdrawn(dealId, msg.sender, amount);
        _closeIfSettled(dealId, d);

        IERC20(d.token).safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ oracle callbacks

    /// @inheritdoc IShipmentEventListener
    /// @dev Releases the milestone if the deal is funded and the milestone still pending;
    /// otherwise does nothing.
    function onEventConfirmed(bytes32 eventId, bytes32 shipmentId, bytes4 eventCode, uint96 ref)
        external
        onlyOracle
        nonReentrant
    {
        (uint256 dealId, uint256 index) = _decodeRef(ref);
        Deal storage d = _deals[dealId];
        if (d.state != DealState.Funded || index >= d.milestoneCount) return;
        MilestoneState storage m = _milestones[dealId][index];
        if (m.status != MilestoneStatus.Pending || m.shipmentId != shipmentId || m.eventCode != eventCode) return;
        _release(dealId, d, index, m, eventId);
    }

    /// @inheritdoc IShipmentEventListener
    /// @dev Undoes a release made by `eventId` while the deal is Funded and the borrower has not
    /// withdrawn it; reverts {FundsAlreadyMovedOn} otherwise. Does nothing for a milestone that
    /// `eventId` did not release.
    function onEventRetracted(bytes32 eventId, bytes32, bytes4, uint96 ref) external onlyOracle nonReentrant {
        (uint256 dealId, uint256 index) = _decodeRef(ref);
        Deal storage d = _deals[dealId];
        if (index >= d.milestoneCount) return;
        MilestoneState storage m = _milestones[dealId][index];
        if (m.releasedBy != eventId) return;
        if (d.state != DealState.Funded || m.status != MilestoneStatus.Released) {
            revert FundsAlreadyMovedOn(dealId, index, eventId);
        }
        uint128 amount = m.amount;
        m.status = MilestoneStatus.Pending;
        m.releasedBy = bytes32(0);
        d.released -= amount;
        _claimable[dealId][d.borrower] -= amount;
        d.claimTotal -= amount;
        emit MilestoneReversed(dealId, index, eventId, amount, d.released);
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest both parties sign.
    function termsDigest(ReceivableTerms.DealTerms calldata terms) public view returns (bytes32) {
        return _hashTypedDataV4(ReceivableTerms.structHash(terms));
    }

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The deal's record.
    function deal(uint256 dealId) external view returns (Deal memory) {
        return _existing(dealId);
    }

    /// @notice The deal's milestones with their amounts and release status.
    function milestones(uint256 dealId) external view returns (MilestoneState[] memory out) {
        Deal storage d = _existing(dealId);
        out = new MilestoneState[](d.milestoneCount);
        for (uint256 i = 0; i < out.length; ++i) {
            out[i] = _milestones[dealId][i];
        }
    }

    /// @notice What `account` can withdraw from the deal now.
    function claimable(uint256 dealId, address account) external view returns (uint256) {
        return _claimable[dealId][account];
    }

    /// @notice Settlement tokens this contract holds for the deal: unreleased escrow of a funded
    /// deal plus credits not yet withdrawn.
    function escrowBalance(uint256 dealId) external view returns (uint256) {
        Deal storage d = _existing(dealId);
        uint256 unreleased = d.state == DealState.Funded ? d.principal - d.released : 0;
        return unreleased + d.claimTotal;
    }

    /// @notice Bit i set if milestone i is pending in a funded deal and its event is confirmed
    /// (releasable by {poke}).
    function releasable(uint256 dealId) external view returns (uint256 mask) {
        Deal storage d = _existing(dealId);
        if (d.state != DealState.Funded) return 0;
        for (uint256 i = 0; i < d.milestoneCount; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.status == MilestoneStatus.Pending && oracle.isConfirmed(m.shipmentId, m.eventCode)) {
                mask |= 1 << i;
            }
        }
    }

    // ------------------------------------------------------------------ internals

    function _requireSigned(uint256 dealId, bytes32 digest, address party, bytes calldata signature) private pure {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != party) revert InvalidPartySignature(dealId, party);
    }

    function _checkInvoice(ReceivableTerms.DealTerms calldata terms)
        private
        view
        returns (address buyer, uint256 faceValue)
    {
        InvoiceToken.Invoice memory inv = invoiceToken.invoice(terms.invoiceId);
        if (inv.state != InvoiceToken.InvoiceState.Confirmed) revert InvoiceNotConfirmed(terms.invoiceId, inv.state);
        if (inv.seller != terms.borrower || invoiceToken.ownerOf(terms.invoiceId) != terms.borrower) {
            revert NotInvoiceSeller(terms.invoiceId, terms.borrower);
        }
        address token = terms.settlementToken;
        if (token.code.length == 0 || INetworkContracts(address(registry)).contractKind(token) != KIND_ASSET) {
            revert NotSettlementToken(token);
        }
        bytes3 tokenCurrency;
        try SettlementToken(token).currencyCode() returns (bytes3 code) {
            tokenCurrency = code;
        } catch {
            revert NotSettlementToken(token);
        }
        if (tokenCurrency != inv.currency) revert CurrencyMismatch(inv.currency, tokenCurrency);
        faceValue = inv.faceValue;
        // face value < 2**126 keeps every credit sum of a deal (<= principal + fee + face value) in 128 bits
        if (
            terms.principal == 0 || faceValue >= 1 << 126 || terms.principal > faceValue
                || terms.fee > faceValue - terms.principal
        ) revert InvalidAmounts(terms.principal, terms.fee, faceValue);
        buyer = inv.buyer;
    }

    /// @dev Validates the schedule and stores each milestone with its amount; returns the count.
    function _storeSchedule(uint256 dealId, ReceivableTerms.Milestone[] calldata ms, uint256 principal)
        private
        returns (uint256 n)
    {
        n = ms.length;
        uint256 totalBps;
        for (uint256 i = 0; i < n; ++i) {
            totalBps += ms[i].shareBps;
        }
        if (n == 0 || n > MAX_MILESTONES || totalBps != BPS) revert InvalidSchedule(n, totalBps);
        uint256 allocated;
        for (uint256 i = 0; i < n; ++i) {
            ReceivableTerms.Milestone calldata m = ms[i];
            if (m.shareBps == 0 || m.shipmentId == bytes32(0) || !oracle.isEventCode(m.eventCode)) {
                revert InvalidMilestone(i);
            }
            for (uint256 j = 0; j < i; ++j) {
                if (ms[j].shipmentId == m.shipmentId && ms[j].eventCode == m.eventCode) revert InvalidMilestone(i);
            }
            uint256 amount = i + 1 == n ? principal - allocated : (principal * m.shareBps) / BPS;
            allocated += amount;
            MilestoneState storage s = _milestones[dealId][i];
            s.shipmentId = m.shipmentId;
            s.eventCode = m.eventCode;
            s.shareBps = m.shareBps;
            s.amount = uint128(amount);
        }
    }

    function _release(uint256 dealId, Deal storage d, uint256 index, MilestoneState storage m, bytes32 eventId)
        private
    {
        uint128 amount = m.amount;
        m.status = MilestoneStatus.Released;
        m.releasedBy = eventId;
        d.released += amount;
        _claimable[dealId][d.borrower] += amount;
        d.claimTotal += amount;
        emit MilestoneReleased(dealId, index, eventId, amount, d.released);
    }

    function _credit(uint256 dealId, Deal storage d, address account, uint256 amount) private {
        if (amount == 0) return;
        _claimable[dealId][account] += amount;
        d.claimTotal += uint128(amount); // <= principal + fee + face value < 2**128
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
        if (d.claimTotal != 0) return;
        if (d.state != DealState.Repaid && d.state != DealState.Defaulted) return;
        d.state = DealState.Closed;
        d.closedAt = uint64(block.timestamp);
        emit DealClosed(dealId);
    }

    /// @dev A settled deal stops waiting for its pending milestones (frees the oracle's slots);
    /// released milestones stay registered so a retraction still reaches (and is refused by) it.
    function _unwatchPending(uint256 dealId, Deal storage d) private {
        uint256 n = d.milestoneCount;
        for (uint256 i = 0; i < n; ++i) {
            MilestoneState storage m = _milestones[dealId][i];
            if (m.status == MilestoneStatus.Pending) oracle.unwatch(m.shipmentId, m.eventCode, _ref(d.seq, i));
        }
    }

    function _existing(uint256 dealId) private view returns (Deal storage d) {
        d = _deals[dealId];
        if (d.state == DealState.None) revert UnknownDeal(dealId);
    }

    function _requireState(uint256 dealId, Deal storage d, DealState expected) private view {
        if (d.state != expected) revert InvalidDealState(dealId, d.state);
    }

    function _ref(uint64 seq, uint256 index) private pure returns (uint96) {
        return uint96((uint256(seq) << 8) | index);
    }

    function _decodeRef(uint96 ref) private view returns (uint256 dealId, uint256 index) {
        dealId = _dealBySeq[uint64(ref >> 8)];
        index = uint256(ref & 0xff);
    }
}
