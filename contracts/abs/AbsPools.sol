// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {DealEngine} from "../deals/DealEngine.sol";
import {DealLens} from "../deals/DealLens.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";
import {TrancheToken} from "./TrancheToken.sol";

/// @title ABS pools of financed receivables, with a verifiable asset tape and a two-tranche waterfall.
/// @notice One contract (a registered ESCROW) runs every pool. A **pool manager** (an active
/// LENDER) opens a pool, buys funded receivables into it, publishes the tape's Merkle root and
/// issues senior and junior notes ({TrancheToken}) that INVESTOR members buy; repayments of the
/// pooled deals flow into the pool and are paid out by the waterfall.
///
/// Lifecycle: **Building** (assets bought) -> **Issued** (tape frozen, root published, notes
/// minted to the pool and sold to investors at par) -> **Amortising** (once the notes are sold
/// out, or the manager starts it; collections are distributed) -> **Closed** (every asset repaid
/// or defaulted, every collection distributed).
///
/// **Buying an asset** takes two parties: the manager bids a price for a deal ({bid}); the
/// deal's lender, after approving the assignment on the engine, sells ({sell}) in one step: the
/// lender side of the deal (its claims on repayment, the invoice on default) moves to this
/// contract and the manager pays the price to the lender. Eligibility, checked at bid and at
/// sale: a funded receivable deal (an invoice in the engine's receivable product), invoice
/// Financed, not overdue, not defaulted, not already pooled (the seller must be its lender),
/// in the pool's currency without an FX lock, remaining tenor within the pool's limit, the
/// obligor's share of the pool within the cap (of the pool's target size), and the document
/// hash given is the invoice's (one invoice per document hash, {InvoiceToken-invoiceByDocument}; a
/// part of a split invoice is backed by its root invoice's document).
///
/// **The asset tape.** Leaf of asset i:
/// `keccak256(bytes.concat(keccak256(abi.encode(LEAF_DOMAIN, poolId, dealId, invoiceId,
/// faceValue, currency, dueDate, obligorLei, documentHash))))` (double-hashed, domain-separated:
/// a leaf can never be read as an inner node); inner nodes hash the sorted pair of children
/// (OpenZeppelin {MerkleProof}, commutative keccak256). Odd nodes are carried up unpaired. The
/// contract keeps every asset's record and a running hash of the leaves in order
/// ({Pool-tapeHash}); the manager publishes the root at issue. An investor recomputes the tape
/// from chain state and checks both ({verifyAsset} checks one asset's proof on chain).
///
/// **Waterfall** (each {distribute}): cash collected and not yet distributed pays, in order,
/// senior interest (`seniorSize * seniorCouponBps / 10000`, once), senior principal (up to the
/// senior size), then the junior tranche (all the rest, including any excess). A defaulted
/// asset's loss (what the lender side expected, principal + fee, less what was recovered) thus
/// hits the junior tranche first. Each tranche's share is divided among its holders pro rata to
/// their notes at the time of distribution ({claim}, pull); a holder's claim is rounded down, so
/// fewer than one minor unit per holder and tranche stays behind over the pool's life. Holders
/// claim within CLAIM_PERIOD after the pool closes; then the manager sweeps everything the pool
/// still holds (rounding remainders and unclaimed distributions) with {sweep}. Every unit
/// collected is paid out: to holders, or by the sweep to the manager. Invariant per pool:
/// collected = paid out (claims + sweep) + still held (undistributed + claimable).
contract AbsPools is RegistryBound, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum PoolState {
        None,
        Building,
        Issued,
        Amortising,
        Closed
    }

    enum AssetStatus {
        None,
        Active,
        Repaid,
        Defaulted
    }

    struct PoolParams {
        address token; // settlement token of the pool currency
        uint64 maxTenor; // most remaining tenor of an asset when bought, seconds
        uint16 obligorCapBps; // most one obligor's assets may be of the target size, bps
        uint16 seniorCouponBps; // senior interest, bps of the senior size, paid once
        uint96 seniorSize; // senior notes, minor units
        uint96 juniorSize; // junior notes, minor units
        string name;
    }

    struct Pool {
        address manager;
        PoolState state;
        uint16 obligorCapBps;
        uint16 seniorCouponBps;
        uint64 maxTenor;
        address token;
        bytes3 currency;
        TrancheToken senior;
        TrancheToken junior;
        uint96 seniorSize;
        uint96 juniorSize;
        uint32 assetCount;
        uint32 openAssets; // Active assets
        uint128 expected; // sum over assets of principal + fee (what the lender side collects)
        uint128 purchasePrice; // sum paid to the sellers
        uint128 collected; // collections received from the engine
        uint128 losses; // expected - recovered, over defaulted assets
        uint128 undistributed; // cash held for the pool, not yet distributed
        uint128 seniorInterestPaid;
        uint128 seniorPrincipalPaid;
        uint128 juniorPaid;
        uint128 paidOut; // claims paid plus the sweep
        bytes32 tapeHash; // running keccak256 over the leaves, in order
        bytes32 tapeRoot; // published at issue
        uint64 issuedAt;
        uint64 closedAt;
        bool swept;
    }

    struct Asset {
        uint256 dealId;
        uint256 invoiceId;
        uint96 faceValue; // the invoice's face value
        uint96 expected; // principal + fee, the lender side's claim
        uint64 dueDate;
        AssetStatus status;
        bytes3 currency;
        bytes20 obligorLei;
        bytes32 documentHash;
        uint96 price;
        uint96 recovered;
    }

    struct Bid {
        uint96 price;
        bytes32 documentHash;
    }

    /// @dev Distribution accounting of one tranche. Its supply is fixed at issue, so a holder's
    /// entitlement is `(distributed * notes + correction) / supply`, exact for a sole holder.
    struct Tranche {
        uint256 distributed;
        mapping(address holder => int256) correction;
        mapping(address holder => uint256) withdrawn;
    }

    bytes32 public constant LEAF_DOMAIN = keccak256("tradenet.abs.asset.v1");
    /// @notice How long after close holders can still claim before the manager may sweep.
    uint64 public constant CLAIM_PERIOD = 365 days;
    uint256 public constant BPS = 10_000;

    DealEngine public immutable engine;
    DealLens public immutable lens;
    InvoiceToken public immutable invoices;
    /// @notice The receivable product module of the engine (the assets' collateral holder).
    address public immutable receivables;

    uint256 public poolCount;
    mapping(uint256 poolId => Pool) private _pools;
    mapping(uint256 poolId => mapping(uint256 index => Asset)) private _assets;
    mapping(uint256 poolId => mapping(uint256 dealId => Bid)) public bids;
    mapping(uint256 poolId => mapping(bytes20 obligorLei => uint256)) public obligorExposure;
    /// @notice The pool holding each deal's lender side (0 if none).
    mapping(uint256 dealId => uint256 poolId) public poolOfDeal;
    /// @notice 1-based position of a deal among its pool's assets.
    mapping(uint256 dealId => uint256) public assetIndexOf;
    mapping(address tranche => Tranche) private _tranches;
    mapping(address tranche => uint256 poolId) public poolOfTranche;

    error UnknownPool(uint256 poolId);
    error InvalidPoolState(uint256 poolId, PoolState state);
    error NotManager(uint256 poolId, address caller);
    error InvalidPoolParams();
    error NotEligible(uint256 dealId, string rule);
    error ObligorCapExceeded(uint256 poolId, bytes20 obligorLei, uint256 exposure, uint256 cap);
    error NoBid(uint256 poolId, uint256 dealId);
    error NotDealLender(uint256 dealId, address caller);
    error AssetsOpen(uint256 poolId, uint256 open);
    error NotesUnavailable(uint256 poolId, uint256 requested, uint256 available);
    error NothingToClaim(uint256 poolId, address holder);
    error UnknownAsset(uint256 poolId, uint256 index);
    error EmptyPool(uint256 poolId);
    error NotTranche(address caller);
    error ClaimPeriodRunning(uint256 poolId, uint256 sweepableAfter);
    error PoolSwept(uint256 poolId);

    event PoolCreated(uint256 indexed poolId, address indexed manager, PoolParams params, address senior, address junior);
    event AssetBid(uint256 indexed poolId, uint256 indexed dealId, uint256 price, bytes32 documentHash);
    event AssetPooled(uint256 indexed poolId, uint256 indexed dealId, uint256 index, address seller, uint256 price, bytes32 leaf);
    event PoolIssued(uint256 indexed poolId, bytes32 tapeRoot, bytes32 tapeHash, uint256 assets);
    event NotesSold(uint256 indexed poolId, address indexed investor, bool senior, uint256 amount);
    event AmortisationStarted(uint256 indexed poolId);
    event Collected(uint256 indexed poolId, uint256 indexed dealId, uint256 amount, AssetStatus status);
    event AssetDefaulted(uint256 indexed poolId, uint256 indexed dealId, uint256 recovered, uint256 loss);
    event Distributed(
        uint256 indexed poolId, uint256 seniorInterest, uint256 seniorPrincipal, uint256 junior, uint256 undistributedLeft
    );
    event NotesClaimed(uint256 indexed poolId, address indexed tranche, address indexed holder, address to, uint256 amount);
    event PoolClosed(uint256 indexed poolId);
    event RemainderSwept(uint256 indexed poolId, address indexed manager, uint256 amount);

    constructor(IParticipantRegistry registry_, DealEngine engine_, DealLens lens_, InvoiceToken invoices_, address receivables_)
        RegistryBound(registry_)
    {
        engine = engine_;
        lens = lens_;
        invoices = invoices_;
        receivables = receivables_;
    }

    // ------------------------------------------------------------------ building

    /// @notice The caller (an active LENDER) opens a pool it manages.
    function createPool(PoolParams calldata p) external returns (uint256 poolId) {
        registry.requireActive(msg.sender, Roles.LENDER);
        bytes3 currency = _currencyOf(p.token);
        if (
            registry.settlementToken(currency) != p.token || p.seniorSize == 0 || p.juniorSize == 0
                || p.obligorCapBps == 0 || p.obligorCapBps > BPS || p.seniorCouponBps > BPS || p.maxTenor == 0
        ) revert InvalidPoolParams();
        TradeCodes.requireText(p.name, 64);
        poolId = ++poolCount;
        uint8 dec = IERC20Metadata(p.token).decimals();
        TrancheToken senior = new TrancheToken(registry, poolId, string.concat(p.name, " senior"), "TNSEN", dec);
        TrancheToken junior = new TrancheToken(registry, poolId, string.concat(p.name, " junior"), "TNJUN", dec);
        poolOfTranche[address(senior)] = poolId;
        poolOfTranche[address(junior)] = poolId;
        Pool storage pool = _pools[poolId];
        pool.manager = msg.sender;
        pool.state = PoolState.Building;
        pool.obligorCapBps = p.obligorCapBps;
        pool.seniorCouponBps = p.seniorCouponBps;
        pool.maxTenor = p.maxTenor;
        pool.token = p.token;
        pool.currency = currency;
        pool.senior = senior;
        pool.junior = junior;
        pool.seniorSize = p.seniorSize;
        pool.juniorSize = p.juniorSize;
        emit PoolCreated(poolId, msg.sender, p, address(senior), address(junior));
    }

    /// @notice The manager bids `price` for the lender side of `dealId`; `documentHash` is the
    /// invoice's document hash (checked on chain). Re-bidding replaces the bid.
    function bid(uint256 poolId, uint256 dealId, uint96 price, bytes32 documentHash) external {
        Pool storage pool = _managed(poolId, PoolState.Building);
        _bid(poolId, pool, dealId, price, documentHash);
    }

    /// @notice {bid} for several deals at once (bounded by the caller's gas).
    function bidMany(uint256 poolId, uint256[] calldata dealIds, uint96[] calldata prices, bytes32[] calldata hashes)
        external
    {
        Pool storage pool = _managed(poolId, PoolState.Building);
        if (prices.length != dealIds.length || hashes.length != dealIds.length) revert InvalidPoolParams();
        for (uint256 i = 0; i < dealIds.length; ++i) {
            _bid(poolId, pool, dealIds[i], prices[i], hashes[i]);
        }
    }

    /// @notice The deal's lender sells its side of the deal to the pool at the manager's bid (it
    /// must have approved this contract as assignee on the engine); the manager pays the price.
    function sell(uint256 poolId, uint256 dealId) external nonReentrant {
        Pool storage pool = _existing(poolId);
        _requireState(poolId, pool, PoolState.Building);
        _sell(poolId, pool, dealId);
    }

    /// @notice {sell} for several of the caller's deals at once.
    function sellMany(uint256 poolId, uint256[] calldata dealIds) external nonReentrant {
        Pool storage pool = _existing(poolId);
        _requireState(poolId, pool, PoolState.Building);
        for (uint256 i = 0; i < dealIds.length; ++i) {
            _sell(poolId, pool, dealIds[i]);
        }
    }

    function _bid(uint256 poolId, Pool storage pool, uint256 dealId, uint96 price, bytes32 documentHash) private {
        Asset memory a = _eligibleAsset(pool, dealId, documentHash);
        // the cap is an eligibility rule "checked at bid and at sale" (contract notice): a bid the
        // pool could never complete is refused at once (at sale other assets may have filled it)
        _obligorExposureAfter(poolId, pool, a);
        bids[poolId][dealId] = Bid(price, documentHash);
        emit AssetBid(poolId, dealId, price, documentHash);
    }

    function _sell(uint256 poolId, Pool storage pool, uint256 dealId) private {
        Bid memory b = bids[poolId][dealId];
        if (b.documentHash == bytes32(0)) revert NoBid(poolId, dealId);
        (, , address lender,) = engine.parties(dealId);
        if (msg.sender != lender) revert NotDealLender(dealId, msg.sender);
        Asset memory a = _eligibleAsset(pool, dealId, b.documentHash);
        uint256 exposure = _obligorExposureAfter(poolId, pool, a);

        a.price = b.price;
        a.status = AssetStatus.Active;
        uint256 index = pool.assetCount++;
        _assets[poolId][index] = a;
        ++pool.openAssets;
        pool.expected += a.expected;
        pool.purchasePrice += b.price;
        obligorExposure[poolId][a.obligorLei] = exposure;
        poolOfDeal[dealId] = poolId;
        assetIndexOf[dealId] = index + 1;
        delete bids[poolId][dealId];
        bytes32 leaf = leafHash(poolId, a);
        pool.tapeHash = keccak256(abi.encode(pool.tapeHash, leaf));
        emit AssetPooled(poolId, dealId, index, msg.sender, b.price, leaf);

        engine.assignLender(dealId, address(this));
        if (b.price != 0) IERC20(pool.token).safeTransferFrom(pool.manager, msg.sender, b.price);
    }

    /// @notice The manager freezes the tape, publishes its Merkle root and mints the notes to the
    /// pool, for sale to investors at par ({buyNotes}).
    function issue(uint256 poolId, bytes32 tapeRoot) external {
        Pool storage pool = _managed(poolId, PoolState.Building);
        if (pool.assetCount == 0 || tapeRoot == bytes32(0)) revert EmptyPool(poolId);
        pool.state = PoolState.Issued;
        pool.tapeRoot = tapeRoot;
        pool.issuedAt = uint64(block.timestamp);
        emit PoolIssued(poolId, tapeRoot, pool.tapeHash, pool.assetCount);
        pool.senior.mint(address(this), pool.seniorSize);
        pool.junior.mint(address(this), pool.juniorSize);
    }

    /// @notice An active INVESTOR buys notes of one tranche at par: it pays `amount` of the pool
    /// currency to the manager and receives `amount` notes.
    function buyNotes(uint256 poolId, bool senior, uint256 amount) external nonReentrant {
        Pool storage pool = _existing(poolId);
        if (pool.state != PoolState.Issued && pool.state != PoolState.Amortising) revert InvalidPoolState(poolId, pool.state);
        registry.requireActive(msg.sender, Roles.INVESTOR);
        TrancheToken t = senior ? pool.senior : pool.junior;
        uint256 available = t.balanceOf(address(this));
        if (amount == 0 || amount > available) revert NotesUnavailable(poolId, amount, available);
        emit NotesSold(poolId, msg.sender, senior, amount);
        IERC20(pool.token).safeTransferFrom(msg.sender, pool.manager, amount);
        IERC20(address(t)).safeTransfer(msg.sender, amount);
        if (pool.state == PoolState.Issued && pool.senior.balanceOf(address(this)) == 0
            && pool.junior.balanceOf(address(this)) == 0) {
            pool.state = PoolState.Amortising;
            emit AmortisationStarted(poolId);
        }
    }

    /// @notice The manager starts amortisation before the notes are sold out (the unsold notes
    /// stay with the pool; their share of distributions is the manager's).
    function startAmortisation(uint256 poolId) external {
        Pool storage pool = _managed(poolId, PoolState.Issued);
        pool.state = PoolState.Amortising;
        emit AmortisationStarted(poolId);
    }

    // ------------------------------------------------------------------ collections

    /// @notice Collects what the engine credits the pool for each listed deal (repayment waterfall
    /// or default recovery); anyone may call. A repaid or defaulted asset is closed.
    function collect(uint256 poolId, uint256[] calldata dealIds) external nonReentrant {
        Pool storage pool = _existing(poolId);
        if (pool.state == PoolState.None || pool.state == PoolState.Building) revert InvalidPoolState(poolId, pool.state);
        for (uint256 i = 0; i < dealIds.length; ++i) {
            _collect(poolId, pool, dealIds[i]);
        }
    }

    /// @notice Declares a pooled deal in default on the engine once its grace period has passed
    /// (the pool is its lender), then collects the recovery. Anyone may call.
    function enforce(uint256 poolId, uint256 dealId) external nonReentrant {
        Pool storage pool = _existing(poolId);
        _requireAsset(poolId, dealId);
        engine.declareDefault(dealId);
        _collect(poolId, pool, dealId);
    }

    /// @notice Runs the waterfall over the cash collected so far (see the contract notice).
    function distribute(uint256 poolId) external nonReentrant {
        Pool storage pool = _existing(poolId);
        _requireState(poolId, pool, PoolState.Amortising);
        uint256 cash = pool.undistributed;
        uint256 interestDue = uint256(pool.seniorSize) * pool.seniorCouponBps / BPS - pool.seniorInterestPaid;
        uint256 interest = cash < interestDue ? cash : interestDue;
        cash -= interest;
        uint256 principalDue = uint256(pool.seniorSize) - pool.seniorPrincipalPaid;
        uint256 principal = cash < principalDue ? cash : principalDue;
        cash -= principal;
        uint256 junior = cash;
        pool.seniorInterestPaid += uint128(interest);
        pool.seniorPrincipalPaid += uint128(principal);
        pool.juniorPaid += uint128(junior);
        pool.undistributed = 0;
        _credit(pool.senior, interest + principal);
        _credit(pool.junior, junior);
        emit Distributed(poolId, interest, principal, junior, 0);
        if (pool.openAssets == 0) {
            pool.state = PoolState.Closed;
            pool.closedAt = uint64(block.timestamp);
            emit PoolClosed(poolId);
        }
    }

    /// @notice A note holder takes its distributions of one tranche.
    function claim(address tranche) external nonReentrant returns (uint256 amount) {
        return _claim(tranche, msg.sender, msg.sender);
    }

    /// @notice The manager takes the distributions of the notes the pool still holds (unsold).
    function claimUnsold(address tranche) external nonReentrant returns (uint256 amount) {
        uint256 poolId = poolOfTranche[tranche];
        if (poolId == 0) revert NotTranche(tranche);
        if (msg.sender != _pools[poolId].manager) revert NotManager(poolId, msg.sender);
        return _claim(tranche, address(this), msg.sender);
    }

    /// @notice CLAIM_PERIOD after close, the manager takes everything the pool still holds:
    /// rounding remainders and unclaimed distributions. Claims end with it.
    function sweep(uint256 poolId) external nonReentrant returns (uint256 amount) {
        Pool storage pool = _existing(poolId);
        _requireState(poolId, pool, PoolState.Closed);
        if (msg.sender != pool.manager) revert NotManager(poolId, msg.sender);
        if (pool.swept) revert PoolSwept(poolId);
        uint256 after_ = uint256(pool.closedAt) + CLAIM_PERIOD;
        if (block.timestamp <= after_) revert ClaimPeriodRunning(poolId, after_);
        amount = uint256(pool.collected) - pool.paidOut;
        pool.swept = true;
        pool.paidOut += uint128(amount);
        emit RemainderSwept(poolId, msg.sender, amount);
        if (amount != 0) IERC20(pool.token).safeTransfer(msg.sender, amount);
    }

    /// @dev Tranche tokens call this before every balance change (mint, burn, transfer).
    function beforeTrancheTransfer(address from, address to, uint256 amount) external {
        if (poolOfTranche[msg.sender] == 0) revert NotTranche(msg.sender);
        Tranche storage t = _tranches[msg.sender];
        int256 delta = int256(t.distributed * amount); // < 2**98 * 2**96
        if (from != address(0)) t.correction[from] += delta;
        if (to != address(0)) t.correction[to] -= delta;
    }

    // ------------------------------------------------------------------ views

    /// @notice The pool's figures.
    function pool(uint256 poolId) external view returns (Pool memory) {
        return _existing(poolId);
    }

    /// @notice Assets [from, from + count) of a pool (count capped at the end).
    function assets(uint256 poolId, uint256 from, uint256 count) external view returns (Asset[] memory out) {
        Pool storage p = _existing(poolId);
        uint256 end = from + count > p.assetCount ? p.assetCount : from + count;
        out = new Asset[](end > from ? end - from : 0);
        for (uint256 i = from; i < end; ++i) {
            out[i - from] = _assets[poolId][i];
        }
    }

    /// @notice The leaf of an asset record (see the contract notice).
    function leafHash(uint256 poolId, Asset memory a) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        LEAF_DOMAIN,
                        poolId,
                        a.dealId,
                        a.invoiceId,
                        a.faceValue,
                        a.currency,
                        a.dueDate,
                        a.obligorLei,
                        a.documentHash
                    )
                )
            )
        );
    }

    /// @notice True if `proof` proves asset `index`'s stored record against the published root.
    function verifyAsset(uint256 poolId, uint256 index, bytes32[] calldata proof) external view returns (bool) {
        Pool storage p = _existing(poolId);
        if (index >= p.assetCount) revert UnknownAsset(poolId, index);
        return p.tapeRoot != bytes32(0) && MerkleProof.verifyCalldata(proof, p.tapeRoot, leafHash(poolId, _assets[poolId][index]));
    }

    /// @notice What `holder` can claim of a tranche's distributions now.
    function claimable(address tranche, address holder) public view returns (uint256) {
        Tranche storage t = _tranches[tranche];
        uint256 balance = IERC20(tranche).balanceOf(holder);
        uint256 supply = IERC20(tranche).totalSupply();
        if (supply == 0) return 0;
        int256 accumulated = int256(t.distributed * balance) + t.correction[holder];
        return uint256(accumulated) / supply - t.withdrawn[holder];
    }

    // ------------------------------------------------------------------ internals

    function _collect(uint256 poolId, Pool storage pool, uint256 dealId) private {
        Asset storage a = _requireAsset(poolId, dealId);
        uint256 amount = engine.claimable(dealId, address(this));
        if (amount != 0) engine.withdraw(dealId);
        (DealEngine.DealState state,,,) = engine.parties(dealId);
        a.recovered += uint96(amount);
        pool.collected += uint128(amount);
        pool.undistributed += uint128(amount);
        if (a.status == AssetStatus.Active) {
            if (state == DealEngine.DealState.Repaid || (state == DealEngine.DealState.Closed && a.recovered >= a.expected)) {
                a.status = AssetStatus.Repaid;
                --pool.openAssets;
            } else if (state == DealEngine.DealState.Defaulted || state == DealEngine.DealState.Closed) {
                a.status = AssetStatus.Defaulted;
                --pool.openAssets;
                uint256 loss = a.expected > a.recovered ? a.expected - a.recovered : 0;
                pool.losses += uint128(loss);
                emit AssetDefaulted(poolId, dealId, a.recovered, loss);
            }
        }
        emit Collected(poolId, dealId, amount, a.status);
    }

    function _credit(TrancheToken tranche, uint256 amount) private {
        if (amount == 0) return;
        _tranches[address(tranche)].distributed += amount;
    }

    function _claim(address tranche, address holder, address payee) private returns (uint256 amount) {
        uint256 poolId = poolOfTranche[tranche];
        if (poolId == 0) revert NotTranche(tranche);
        Pool storage pool = _pools[poolId];
        if (pool.swept) revert PoolSwept(poolId);
        amount = claimable(tranche, holder);
        if (amount == 0) revert NothingToClaim(poolId, holder);
        _tranches[tranche].withdrawn[holder] += amount;
        pool.paidOut += uint128(amount);
        emit NotesClaimed(poolId, tranche, holder, payee, amount);
        IERC20(pool.token).safeTransfer(payee, amount);
    }

    function _eligibleAsset(Pool storage pool, uint256 dealId, bytes32 documentHash)
        private
        view
        returns (Asset memory a)
    {
        if (poolOfDeal[dealId] != 0) revert NotEligible(dealId, "already pooled");
        DealEngine.Deal memory d = lens.deal(dealId);
        if (d.state != DealEngine.DealState.Funded) revert NotEligible(dealId, "not funded");
        if (engine.productModule(d.product) != receivables) revert NotEligible(dealId, "not a receivable");
        if (d.token != pool.token || d.fxLocked || d.obligationCurrency != pool.currency) {
            revert NotEligible(dealId, "currency");
        }
        if (d.overdueFlagged || block.timestamp > d.maturity) revert NotEligible(dealId, "overdue");
        if (uint256(d.maturity) > block.timestamp + pool.maxTenor) revert NotEligible(dealId, "tenor");
        InvoiceToken.Invoice memory inv = invoices.invoice(d.collateralId);
        if (inv.state != InvoiceToken.InvoiceState.Financed) revert NotEligible(dealId, "invoice not financed");
        // a part of a split invoice keeps its root's document: the hash anchors the root invoice
        if (invoices.invoiceByDocument(documentHash) != inv.rootId) revert NotEligible(dealId, "document");
        a.dealId = dealId;
        a.invoiceId = d.collateralId;
        a.faceValue = uint96(inv.faceValue);
        a.expected = d.principal + d.fee;
        a.dueDate = inv.dueDate;
        a.currency = inv.currency;
        a.obligorLei = registry.leiOf(d.obligor);
        a.documentHash = documentHash;
    }

    /// @dev The obligor's exposure in the pool with asset `a` added; reverts above the cap.
    function _obligorExposureAfter(uint256 poolId, Pool storage pool, Asset memory a) private view returns (uint256 exposure) {
        uint256 cap = (uint256(pool.seniorSize) + pool.juniorSize) * pool.obligorCapBps / BPS;
        exposure = obligorExposure[poolId][a.obligorLei] + a.expected;
        if (exposure > cap) revert ObligorCapExceeded(poolId, a.obligorLei, exposure, cap);
    }

    function _requireAsset(uint256 poolId, uint256 dealId) private view returns (Asset storage a) {
        uint256 index = assetIndexOf[dealId];
        if (index == 0 || poolOfDeal[dealId] != poolId) revert UnknownAsset(poolId, index);
        a = _assets[poolId][index - 1];
    }

    function _managed(uint256 poolId, PoolState expected) private view returns (Pool storage p) {
        p = _existing(poolId);
        if (msg.sender != p.manager) revert NotManager(poolId, msg.sender);
        _requireState(poolId, p, expected);
    }

    function _existing(uint256 poolId) private view returns (Pool storage p) {
        p = _pools[poolId];
        if (p.state == PoolState.None) revert UnknownPool(poolId);
    }

    function _requireState(uint256 poolId, Pool storage p, PoolState expected) private view {
        if (p.state != expected) revert InvalidPoolState(poolId, p.state);
    }

    function _currencyOf(address token) private view returns (bytes3) {
        return ISettlementCode(token).currencyCode();
    }
}

interface ISettlementCode {
    function currencyCode() external view returns (bytes3);
}
