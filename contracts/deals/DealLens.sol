// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ILogisticsOracle} from "../interfaces/ILogisticsOracle.sol";
import {IDealProduct} from "../interfaces/IDealProduct.sol";
import {DealEngine} from "./DealEngine.sol";

/// @title Read-only views of the deal engine's deals (full records, schedules, balances).
/// @notice The engine keeps its own code under the EIP-170 size limit by serving its deals as raw
/// storage words ({DealEngine-dealWords}, {DealEngine-milestoneWords}); this lens decodes them with
/// the compiler's packing of {DealEngine-Deal} and {DealEngine-MilestoneState} (a test holds the
/// decoding against the compiler's storage layout) and derives what clients and contracts (ABS
/// pools, verification) read. It holds no state and can be redeployed at will.
contract DealLens {
    DealEngine public immutable engine;

    constructor(DealEngine engine_) {
        engine = engine_;
    }

    /// @notice The deal's full record.
    function deal(uint256 dealId) public view returns (DealEngine.Deal memory d) {
        bytes32[9] memory w = engine.dealWords(dealId);
        uint256 w0 = uint256(w[0]);
        d.state = DealEngine.DealState(uint8(w0));
        d.product = uint8(w0 >> 8);
        d.milestoneCount = uint8(w0 >> 16);
        d.overdueFlagged = uint8(w0 >> 24) != 0;
        d.overdueCounted = uint8(w0 >> 32) != 0;
        d.fxLocked = uint8(w0 >> 40) != 0;
        d.gatesRelease = uint8(w0 >> 48) != 0;
        d.maturity = uint40(w0 >> 56);
        d.gracePeriod = uint32(w0 >> 96);
        d.acceptedAt = uint40(w0 >> 128);
        d.fundedAt = uint40(w0 >> 168);
        d.settledAt = uint40(w0 >> 208);
        (d.borrower, d.principal) = _addressAmount(w[1]);
        (d.lender, d.fee) = _addressAmount(w[2]);
        (d.obligor, d.obligation) = _addressAmount(w[3]);
        (d.token, d.released) = _addressAmount(w[4]);
        uint256 w5 = uint256(w[5]);
        d.borrowerWithdrawn = uint128(w5);
        d.fxRate = uint64(w5 >> 128);
        d.fxValidUntil = uint40(w5 >> 192);
        d.obligationCurrency = bytes3(uint24(w5 >> 232));
        d.collateralId = uint256(w[6]);
        d.shipmentId = w[7];
        uint256 w8 = uint256(w[8]);
        d.lenderCredit = uint96(w8);
        d.borrowerBonus = uint96(w8 >> 96);
    }

    /// @notice Several deals' records in one call (for indexers, pools and verification).
    function deals(uint256[] calldata dealIds) external view returns (DealEngine.Deal[] memory out) {
        out = new DealEngine.Deal[](dealIds.length);
        for (uint256 i = 0; i < dealIds.length; ++i) {
            out[i] = deal(dealIds[i]);
        }
    }

    /// @notice The deal's milestones with their amounts and release status.
    function milestones(uint256 dealId) public view returns (DealEngine.MilestoneState[] memory out) {
        bytes32[] memory w = engine.milestoneWords(dealId);
        out = new DealEngine.MilestoneState[](w.length);
        for (uint256 i = 0; i < w.length; ++i) {
            uint256 x = uint256(w[i]);
            out[i] = DealEngine.MilestoneState({
                eventCode: bytes4(uint32(x)),
                location: bytes5(uint40(x >> 32)),
                shareBps: uint16(x >> 72),
                status: DealEngine.MilestoneStatus(uint8(x >> 88)),
                amount: uint96(x >> 96)
            });
        }
    }

    /// @notice Settlement tokens the engine holds for the deal: unreleased escrow of a funded deal
    /// plus credits not yet withdrawn.
    function escrowBalance(uint256 dealId) external view returns (uint256) {
        DealEngine.Deal memory d = deal(dealId);
        uint256 unreleased = d.state == DealEngine.DealState.Funded ? d.principal - d.released : 0;
        return unreleased + claimTotal(d);
    }

    /// @notice Credits of the deal not yet withdrawn (borrower's and lender's).
    function claimTotal(DealEngine.Deal memory d) public pure returns (uint256) {
        return uint256(d.released) + d.borrowerBonus - d.borrowerWithdrawn + d.lenderCredit;
    }

    /// @notice Bit i set if milestone i is pending in a funded deal, its event is confirmed and
    /// its product allows the release (releasable by {DealEngine-poke}).
    function releasable(uint256 dealId) external view returns (uint256 mask) {
        DealEngine.Deal memory d = deal(dealId);
        if (d.state != DealEngine.DealState.Funded) return 0;
        if (d.gatesRelease && !IDealProduct(engine.productModule(d.product)).releaseAllowed(dealId)) return 0;
        ILogisticsOracle oracle = engine.oracle();
        DealEngine.MilestoneState[] memory ms = milestones(dealId);
        for (uint256 i = 0; i < ms.length; ++i) {
            DealEngine.MilestoneState memory m = ms[i];
            if (m.status != DealEngine.MilestoneStatus.Pending || m.eventCode == bytes4(0)) continue;
            bool met = m.location == bytes5(0)
                ? oracle.confirmedCalls(d.shipmentId, m.eventCode) != 0
                : oracle.isConfirmed(d.shipmentId, m.eventCode, m.location);
            if (met) mask |= 1 << i;
        }
    }

    function _addressAmount(bytes32 w) private pure returns (address a, uint96 amount) {
        a = address(uint160(uint256(w)));
        amount = uint96(uint256(w) >> 160);
    }
}
