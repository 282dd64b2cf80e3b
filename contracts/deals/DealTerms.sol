// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The EIP-712 terms of a tradenet deal (every product) and their struct hash.
/// @notice Borrower and lender (for a documentary payment: beneficiary and applicant) both sign
/// `DealTerms(address product,uint256 collateralId,address borrower,address lender,address settlementToken,uint256 principal,uint256 fee,uint64 maturity,uint64 gracePeriod,uint64 acceptBy,uint64 fxValidUntil,bytes32 shipmentId,bytes32 agreementHash,bytes32 nonce,Milestone[] milestones,bytes extra)Milestone(bytes4 eventCode,bytes5 location,uint16 shareBps)`
/// under the deal engine's domain {name: "tradenet DealEngine", version: "1", chainId,
/// verifyingContract: the engine}. The deal id is assigned by the contract on acceptance; `nonce` only makes
/// otherwise identical terms distinct.
library DealTerms {
    /// @notice One release milestone: `shareBps` of the principal is released when the logistics
    /// oracle confirms `eventCode` for the deal's shipment at `location` (zero: at any transport
    /// call, i.e. the first one confirmed). `eventCode` zero releases at funding (an advance).
    struct Milestone {
        bytes4 eventCode;
        bytes5 location;
        uint16 shareBps;
    }

    /// @param product the product module the deal runs under (receivable, order, pledge, ...)
    /// @param collateralId the product's collateral: invoice, purchase order or warehouse receipt
    /// id (zero for a documentary payment, which has none)
    /// @param borrower who receives the released principal (seller, supplier, depositor, beneficiary)
    /// @param lender who funds the principal and is repaid principal + fee (for a documentary
    /// payment: the applicant, the buyer or its issuing bank)
    /// @param settlementToken the currency of the deal: a registered settlement token
    /// @param principal amount advanced, in the token's minor units
    /// @param fee the lender's fee, in the token's minor units
    /// @param maturity when repayment is due (unix seconds); a documentary payment's expiry
    /// @param gracePeriod seconds after maturity before the lender may declare default
    /// @param acceptBy the signed terms expire after this time (unix seconds)
    /// @param fxValidUntil zero if the collateral's currency is the deal's; otherwise the FX rate
    /// of the feed is locked at acceptance and settlement converts at it until this time
    /// @param shipmentId the collateral's shipment (keccak256 of the B/L number) the milestones wait
    /// for; zero only if no milestone waits for an event
    /// @param agreementHash sha-256 of the human-readable agreement rendered from these terms
    /// @param nonce any value, to make otherwise identical terms distinct
    /// @param milestones the release schedule; shares sum to 10,000 bps
    /// @param extra product terms, ABI-encoded as the product documents (empty for most)
    struct Terms {
        address product;
        uint256 collateralId;
        address borrower;
        address lender;
        address settlementToken;
        uint256 principal;
        uint256 fee;
        uint64 maturity;
        uint64 gracePeriod;
        uint64 acceptBy;
        uint64 fxValidUntil;
        bytes32 shipmentId;
        bytes32 agreementHash;
        bytes32 nonce;
        Milestone[] milestones;
        bytes extra;
    }

    bytes32 internal constant MILESTONE_TYPEHASH = keccak256("Milestone(bytes4 eventCode,bytes5 location,uint16 shareBps)");
    bytes32 internal constant TERMS_TYPEHASH = keccak256(
        "DealTerms(address product,uint256 collateralId,address borrower,address lender,address settlementToken,uint256 principal,"
        "uint256 fee,uint64 maturity,uint64 gracePeriod,uint64 acceptBy,uint64 fxValidUntil,bytes32 shipmentId,"
        "bytes32 agreementHash,bytes32 nonce,Milestone[] milestones,bytes extra)"
        "Milestone(bytes4 eventCode,bytes5 location,uint16 shareBps)"
    );

    /// @notice EIP-712 hashStruct(terms).
    function structHash(Terms calldata t) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(TERMS_TYPEHASH, t.product, t.collateralId, t.borrower, t.lender, t.settlementToken, t.principal),
                abi.encode(t.fee, t.maturity, t.gracePeriod, t.acceptBy, t.fxValidUntil, t.shipmentId),
                abi.encode(t.agreementHash, t.nonce, _milestonesHash(t.milestones), keccak256(t.extra))
            )
        );
    }

    function _milestonesHash(Milestone[] calldata ms) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](ms.length);
        for (uint256 i = 0; i < ms.length; ++i) {
            hashes[i] = keccak256(abi.encode(MILESTONE_TYPEHASH, ms[i].eventCode, ms[i].location, ms[i].shareBps));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
