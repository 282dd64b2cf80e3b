// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {TradeCodes} from "../common/TradeCodes.sol";
import {InvalidAmount} from "../common/Errors.sol";

/// @title A tokenised deposit in one currency (one contract per ISO 4217 currency).
/// @notice Minted by TREASURY against fiat deposits and burned on redemption. Amounts are integers
/// in the currency's minor unit. Transfers follow the network's transfer rule
/// ({IParticipantRegistry-requireTransfer}): between active members, into an escrow from any
/// member that is not sanctioned (a suspended buyer still repays), out of an escrow to any member
/// that is not sanctioned; nothing reaches a sanctioned member.
///
/// Redemption: a holder asks for fiat with {requestRedemption}; the amount leaves its balance into
/// this contract's custody at once; a TREASURY member then burns it once the fiat is paid
/// ({completeRedemption}) or returns it ({rejectRedemption}). Invariant: totalSupply() equals the
/// holders' balances plus the amounts of open redemption requests (held by this contract).
contract SettlementToken is ERC20, RegistryBound {
    enum RedemptionState {
        None,
        Requested,
        Completed,
        Rejected
    }

    struct Redemption {
        address holder;
        uint128 amount;
        RedemptionState state;
        bytes32 payoutRef;
    }

    /// @notice Largest amount minted or redeemed at once, in minor units.
    uint256 public constant MAX_AMOUNT = type(uint128).max;
    uint256 public constant MAX_REASON_LENGTH = 140;

    bytes3 public immutable currencyCode;
    uint8 private immutable _decimals;
    uint256 public redemptionCount;
    mapping(uint256 id => Redemption) private _redemptions;

    error TransferToTokenContract();
    error InvalidDecimals(uint8 decimals);
    error UnknownRedemption(uint256 id);
    error RedemptionClosed(uint256 id, RedemptionState state);
    error MissingReference();

    event FiatDeposited(address indexed treasury, address indexed to, uint256 amount, bytes32 indexed depositRef);
    event FiatRedeemed(address indexed treasury, uint256 amount, bytes32 indexed redemptionRef);
    /// @notice A payment carrying a reference (e.g. a T/T against an invoice or order number).
    event PaymentReference(address indexed from, address indexed to, uint256 amount, bytes32 indexed paymentRef);
    event RedemptionRequested(uint256 indexed id, address indexed holder, uint256 amount, bytes32 payoutRef);
    event RedemptionCompleted(uint256 indexed id, address indexed treasury, bytes32 bankRef);
    event RedemptionRejected(uint256 indexed id, address indexed treasury, string reason);

    /// @param registry_ the participant registry
    /// @param currency ISO 4217 code, e.g. "USD"
    /// @param decimals_ minor-unit exponent of the currency (ISO 4217), e.g. 2 for USD, 0 for JPY
    constructor(IParticipantRegistry registry_, string memory name_, bytes3 currency, uint8 decimals_)
        ERC20(name_, string(abi.encodePacked(currency)))
        RegistryBound(registry_)
    {
        TradeCodes.requireCurrency(currency);
        if (decimals_ > 18) revert InvalidDecimals(decimals_);
        currencyCode = currency;
        _decimals = decimals_;
    }

    /// @notice The currency's minor-unit exponent.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` minor units to `to` against a fiat deposit identified by `depositRef`.
    /// @dev Caller must be an active TREASURY member; `to` an active member.
    function mint(address to, uint256 amount, bytes32 depositRef) external {
        registry.requireActivePair(msg.sender, Roles.TREASURY, to, 0);
        _requireAmount(amount);
        if (depositRef == bytes32(0)) revert MissingReference();
        _mint(to, amount);
        emit FiatDeposited(msg.sender, to, amount, depositRef);
    }

    /// @notice Burns `amount` from the treasury's own balance when fiat is paid out.
    function burn(uint256 amount, bytes32 redemptionRef) external {
        registry.requireActive(msg.sender, Roles.TREASURY);
        _requireAmount(amount);
        if (redemptionRef == bytes32(0)) revert MissingReference();
        _burn(msg.sender, amount);
        emit FiatRedeemed(msg.sender, amount, redemptionRef);
    }

    /// @notice A transfer that carries a payment reference (T/T): same rule as {transfer}.
    function transferWithReference(address to, uint256 amount, bytes32 paymentRef) external returns (bool) {
        if (paymentRef == bytes32(0)) revert MissingReference();
        _transfer(msg.sender, to, amount);
        emit PaymentReference(msg.sender, to, amount, paymentRef);
        return true;
    }

    /// @notice The caller asks to redeem `amount` for fiat paid to the account `payoutRef` names;
    /// the amount moves into this contract's custody until a TREASURY member settles the request.
    /// A suspended member may redeem; a sanctioned one may not.
    /// @return id the request id
    function requestRedemption(uint256 amount, bytes32 payoutRef) external returns (uint256 id) {
        registry.requireCanReceive(msg.sender);
        _requireAmount(amount);
        if (payoutRef == bytes32(0)) revert MissingReference();
        id = ++redemptionCount;
        _redemptions[id] = Redemption(msg.sender, uint128(amount), RedemptionState.Requested, payoutRef);
        super._update(msg.sender, address(this), amount);
        emit RedemptionRequested(id, msg.sender, amount, payoutRef);
    }

    /// @notice TREASURY paid the fiat out: the requested amount is burned.
    function completeRedemption(uint256 id, bytes32 bankRef) external {
        registry.requireActive(msg.sender, Roles.TREASURY);
        if (bankRef == bytes32(0)) revert MissingReference();
        Redemption storage r = _open(id);
        r.state = RedemptionState.Completed;
        emit RedemptionCompleted(id, msg.sender, bankRef);
        emit FiatRedeemed(msg.sender, r.amount, bankRef);
        super._update(address(this), address(0), r.amount);
    }

    /// @notice TREASURY refuses the request: the amount returns to the holder.
    function rejectRedemption(uint256 id, string calldata reason) external {
        registry.requireActive(msg.sender, Roles.TREASURY);
        TradeCodes.requireText(reason, MAX_REASON_LENGTH);
        Redemption storage r = _open(id);
        r.state = RedemptionState.Rejected;
        emit RedemptionRejected(id, msg.sender, reason);
        super._update(address(this), r.holder, r.amount);
    }

    /// @notice A redemption request.
    function redemption(uint256 id) external view returns (Redemption memory) {
        Redemption storage r = _redemptions[id];
        if (r.state == RedemptionState.None) revert UnknownRedemption(id);
        return r;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (to == address(this)) revert TransferToTokenContract();
            _requireTransfer(from, to, 0);
        }
        super._update(from, to, value);
    }

    function _open(uint256 id) private view returns (Redemption storage r) {
        r = _redemptions[id];
        if (r.state == RedemptionState.None) revert UnknownRedemption(id);
        if (r.state != RedemptionState.Requested) revert RedemptionClosed(id, r.state);
    }

    function _requireAmount(uint256 amount) private pure {
        if (amount == 0 || amount > MAX_AMOUNT) revert InvalidAmount(amount, MAX_AMOUNT);
    }
}
