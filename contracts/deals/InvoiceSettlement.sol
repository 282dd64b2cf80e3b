// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ContractKind, IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";

/// @title Direct payment of invoices by their buyer: T/T with a reference, and maturity payment
/// of every part of a split (multi-tier) invoice in one call.
/// @notice Registered as an ESCROW (payments pass through it, so a suspended buyer can still pay
/// its running obligations and nothing reaches a sanctioned holder). Applies to confirmed
/// invoices (and parts) held by members; an invoice a financing deal holds is repaid through
/// its deal.
/// - {payInvoice}: the buyer pays part or all of what is still open on one invoice to its
///   holder; partial payments are tracked ({paidOf}); the invoice is marked Paid when the total
///   reaches its face value; paying more than is open reverts.
/// - {payParts}: the buyer pays an amount over all live parts of a split invoice held by
///   members, pro rata to what is open on each: each part gets floor(amount * open_i / open),
///   and the units left over by rounding (fewer than the number of parts) go one each to the
///   parts in list order that still have room, so exactly `amount` is paid and no part gets
///   more than is open on it. Parts that become fully paid are marked Paid. A part held by a
///   sanctioned member is left out (it stays open; {PartWithheld}) and the others are paid.
/// Invariant: for every invoice, paidOf(id) <= faceValue, and it equals faceValue iff the
/// invoice was marked Paid here.
contract InvoiceSettlement is RegistryBound, ReentrancyGuard {
    using SafeERC20 for IERC20;

    InvoiceToken public immutable invoices;
    mapping(uint256 id => uint256) private _paid;

    error NotBuyer(uint256 id, address caller);
    error NotPayable(uint256 id, InvoiceToken.InvoiceState state, address holder);
    error Overpayment(uint256 id, uint256 amount, uint256 open);
    error ZeroPayment();
    error NothingOpen(uint256 rootId);
    error MissingReference();

    /// @notice A part of `rootId` held by a sanctioned member was left out of a {payParts}
    /// payment; `open` is still owed on it.
    event PartWithheld(uint256 indexed rootId, uint256 indexed id, address indexed holder, uint256 open);
    event InvoicePayment(
        uint256 indexed id, address indexed payer, address indexed holder, uint256 amount, uint256 paidTotal, bytes32 paymentRef
    );

    constructor(IParticipantRegistry registry_, InvoiceToken invoices_) RegistryBound(registry_) {
        invoices = invoices_;
    }

    /// @notice Pays `amount` of invoice `id` to its holder (T/T), tagged with `paymentRef`.
    function payInvoice(uint256 id, uint256 amount, bytes32 paymentRef) external nonReentrant {
        if (amount == 0) revert ZeroPayment();
        if (paymentRef == bytes32(0)) revert MissingReference();
        InvoiceToken.Invoice memory inv = _payable(id);
        uint256 open = inv.faceValue - _paid[id];
        if (amount > open) revert Overpayment(id, amount, open);
        IERC20 token = IERC20(registry.settlementToken(inv.currency));
        token.safeTransferFrom(msg.sender, address(this), amount);
        _pay(token, id, inv, amount, paymentRef);
    }

    /// @notice Pays `amount` over the live parts of split invoice `rootId` held by members, pro
    /// rata to what is open on each (see the contract notice for the rounding).
    function payParts(uint256 rootId, uint256 amount, bytes32 paymentRef) external nonReentrant {
        if (amount == 0) revert ZeroPayment();
        if (paymentRef == bytes32(0)) revert MissingReference();
        uint256[] memory parts = invoices.partsOf(rootId);
        uint256 n = parts.length; // <= InvoiceToken.MAX_PARTS
        InvoiceToken.Invoice[] memory invs = new InvoiceToken.Invoice[](n);
        uint256[] memory open = new uint256[](n);
        uint256 totalOpen;
        for (uint256 i = 0; i < n; ++i) {
            InvoiceToken.Invoice memory inv = invoices.invoice(parts[i]);
            if (inv.buyer != msg.sender) revert NotBuyer(parts[i], msg.sender);
            invs[i] = inv;
            if (inv.state != InvoiceToken.InvoiceState.Confirmed || registry.contractKind(inv.holder) != ContractKind.None) {
                continue;
            }
            if (registry.isSanctioned(inv.holder)) {
                // nothing reaches a sanctioned holder: its part stays open, the others are paid
                emit PartWithheld(rootId, parts[i], inv.holder, inv.faceValue - _paid[parts[i]]);
                continue;
            }
            open[i] = inv.faceValue - _paid[parts[i]];
            totalOpen += open[i];
        }
        if (totalOpen == 0) revert NothingOpen(rootId);
        if (amount > totalOpen) revert Overpayment(rootId, amount, totalOpen);
        uint256[] memory share = new uint256[](n);
        uint256 allocated;
        for (uint256 i = 0; i < n; ++i) {
            share[i] = (amount * open[i]) / totalOpen;
            allocated += share[i];
        }
        for (uint256 i = 0; i < n && allocated < amount; ++i) {
            // fewer than n units are left, and some part still has room (sum of open >= amount)
            if (share[i] < open[i]) {
                ++share[i];
                ++allocated;
            }
        }
        IERC20 token = IERC20(registry.settlementToken(invs[0].currency));
        token.safeTransferFrom(msg.sender, address(this), amount);
        for (uint256 i = 0; i < n; ++i) {
            if (share[i] != 0) _pay(token, parts[i], invs[i], share[i], paymentRef);
        }
    }

    /// @notice What the buyer has paid directly on invoice `id`.
    function paidOf(uint256 id) external view returns (uint256) {
        return _paid[id];
    }

    function _payable(uint256 id) private view returns (InvoiceToken.Invoice memory inv) {
        inv = invoices.invoice(id);
        if (inv.buyer != msg.sender) revert NotBuyer(id, msg.sender);
        if (inv.state != InvoiceToken.InvoiceState.Confirmed || registry.contractKind(inv.holder) != ContractKind.None) {
            revert NotPayable(id, inv.state, inv.holder);
        }
    }

    function _pay(IERC20 token, uint256 id, InvoiceToken.Invoice memory inv, uint256 amount, bytes32 paymentRef) private {
        uint256 total = _paid[id] + amount;
        _paid[id] = total;
        emit InvoicePayment(id, msg.sender, inv.holder, amount, total, paymentRef);
        token.safeTransfer(inv.holder, amount);
        if (total == inv.faceValue) invoices.markSettled(id);
    }
}
