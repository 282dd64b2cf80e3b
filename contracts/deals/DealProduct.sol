// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IDealProduct} from "../interfaces/IDealProduct.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {ZeroAddress} from "../common/Errors.sol";

/// @dev The deal engine as products see it.
interface IDealEngine {
    function setObligation(uint256 dealId, uint256 collateralId, address obligor, uint256 obligation, bytes3 currency)
        external;

    /// @return state the engine's DealState (1 Accepted, 2 Funded, 3 Repaid, 4 Defaulted, 5 Cancelled, 6 Closed)
    function parties(uint256 dealId) external view returns (uint8 state, address borrower, address lender, address obligor);
}

/// @dev What a product asks of the direct-payment (T/T) contract.
interface IInvoicePayments {
    function paidOf(uint256 invoiceId) external view returns (uint256);
}

/// @title The base of every financing product module of the deal engine.
/// @notice Binds the module to its engine (the only caller of the {IDealProduct} hooks) and the
/// registry. A product module is registered by governance both with the registry (as an ESCROW:
/// it holds collateral) and with the engine ({DealEngine-setProduct}).
abstract contract DealProduct is IDealProduct, RegistryBound {
    /// @notice The deal engine whose hooks this module serves.
    address public immutable engine;

    error NotEngine(address caller);

    modifier onlyEngine() {
        if (msg.sender != engine) revert NotEngine(msg.sender);
        _;
    }

    constructor(IParticipantRegistry registry_, address engine_) RegistryBound(registry_) {
        if (engine_ == address(0)) revert ZeroAddress();
        engine = engine_;
    }

    /// @dev What the buyer still owes on an invoice: its face value less what it already paid the
    /// holder directly (T/T, {InvoiceSettlement-paidOf}). A deal on a partly paid invoice must not
    /// make the buyer owe the face value again.
    function _openAmount(address settlement, uint256 invoiceId, uint256 faceValue) internal view returns (uint256) {
        if (settlement == address(0)) return faceValue;
        return faceValue - IInvoicePayments(settlement).paidOf(invoiceId);
    }

    /// @inheritdoc IDealProduct
    function releaseAllowed(uint256) external view virtual returns (bool) {
        return true;
    }
}
