// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {DealEngine} from "../deals/DealEngine.sol";
import {DealLens} from "../deals/DealLens.sol";
import {InvoiceToken} from "../tokens/InvoiceToken.sol";
import {AbsPools} from "./AbsPools.sol";

/// @title Batched chain facts behind a pool's assets, for independent verification.
/// @notice For a page of a pool's assets, reads what the deal engine, the invoice token and the
/// registry say now (not what the pool recorded): an investor recomputes every tape leaf from
/// these facts and compares them with the pool's records and published root. One call answers
/// for hundreds of assets (a multicall view); it holds no state.
contract PoolLens {
    struct AssetFacts {
        uint256 dealId;
        uint256 invoiceId; // the deal's collateral now
        DealEngine.DealState dealState;
        address dealLender; // the pool contract while the asset is pooled
        uint256 pooledIn; // AbsPools.poolOfDeal
        address product; // the deal's product module
        InvoiceToken.InvoiceState invoiceState;
        address invoiceHolder;
        uint256 faceValue;
        bytes3 currency;
        uint64 dueDate;
        address obligor;
        bytes20 obligorLei;
        uint256 documentInvoice; // InvoiceToken.invoiceByDocument(recorded document hash)
        uint256 rootId; // the invoice's root (itself unless a part of a split invoice: its document is the root's)
    }

    AbsPools public immutable pools;
    DealEngine public immutable engine;
    DealLens public immutable lens;
    InvoiceToken public immutable invoices;
    IParticipantRegistry public immutable registry;

    constructor(AbsPools pools_) {
        pools = pools_;
        engine = pools_.engine();
        lens = pools_.lens();
        invoices = pools_.invoices();
        registry = pools_.registry();
    }

    /// @notice The facts behind assets [from, from + count) of a pool.
    function assetFacts(uint256 poolId, uint256 from, uint256 count) external view returns (AssetFacts[] memory out) {
        (, out) = assetsWithFacts(poolId, from, count);
    }

    /// @notice The pool's records of assets [from, from + count) ({AbsPools-assets}) and the facts
    /// behind them, in one call (a verifier needs both; the records are read once).
    function assetsWithFacts(uint256 poolId, uint256 from, uint256 count)
        public
        view
        returns (AbsPools.Asset[] memory recorded, AssetFacts[] memory facts)
    {
        recorded = pools.assets(poolId, from, count);
        facts = new AssetFacts[](recorded.length);
        for (uint256 i = 0; i < recorded.length; ++i) {
            facts[i] = _facts(recorded[i]);
        }
    }

    function _facts(AbsPools.Asset memory a) private view returns (AssetFacts memory f) {
        DealEngine.Deal memory d = lens.deal(a.dealId);
        f.dealId = a.dealId;
        f.invoiceId = d.collateralId;
        f.dealState = d.state;
        f.dealLender = d.lender;
        f.pooledIn = pools.poolOfDeal(a.dealId);
        f.product = engine.productModule(d.product);
        InvoiceToken.Invoice memory inv = invoices.invoice(d.collateralId);
        f.invoiceState = inv.state;
        f.invoiceHolder = inv.holder;
        f.faceValue = inv.faceValue;
        f.currency = inv.currency;
        f.dueDate = inv.dueDate;
        f.obligor = inv.buyer;
        f.obligorLei = registry.leiOf(inv.buyer);
        f.documentInvoice = invoices.invoiceByDocument(a.documentHash);
        f.rootId = inv.rootId;
    }
}
