// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The EIP-712 terms of a receivable-financing deal and their struct hash.
/// @notice Borrower (the invoice's seller) and lender both sign
/// `DealTerms(uint256 dealId,uint256 invoiceId,address borrower,address lender,address settlementToken,uint256 principal,uint256 fee,uint64 maturity,uint64 gracePeriod,uint64 acceptBy,Milestone[] milestones)Milestone(bytes32 shipmentId,bytes4 eventCode,uint16 shareBps)`
/// under the domain {name: "tradenet ReceivableFinancing", version: "1", chainId, verifyingContract}.
library ReceivableTerms {
    /// @notice One release milestone: `shareBps` of the principal is released when the logistics
    /// oracle confirms `eventCode` for `shipmentId`.
    struct Milestone {
        bytes32 shipmentId;
        bytes4 eventCode;
        uint16 shareBps;
    }

    /// @param dealId the deal's identifier, chosen by the parties (a nonce: usable once)
    /// @param invoiceId the confirmed invoice financed (held by the borrower)
    /// @param borrower the invoice's seller, who receives the released principal
    /// @param lender who funds the principal and is repaid principal + fee
    /// @param settlementToken the currency (a registered tradenet settlement token whose currency
    /// is the invoice's)
    /// @param principal amount advanced, in the token's minor units
    /// @param fee the lender's fee, in the token's minor units (principal + fee <= face value)
    /// @param maturity when the buyer is due to pay the invoice into the deal (unix seconds)
    /// @param gracePeriod seconds after maturity before the lender may declare default
    /// @param acceptBy the signed offer expires after this time (unix seconds)
    /// @param milestones the release schedule; shares sum to 10,000 bps
    struct DealTerms {
        uint256 dealId;
        uint256 invoiceId;
        address borrower;
        address lender;
        address settlementToken;
        uint256 principal;
        uint256 fee;
        uint64 maturity;
        uint64 gracePeriod;
        uint64 acceptBy;
        Milestone[] milestones;
    }

    bytes32 internal constant MILESTONE_TYPEHASH = keccak256("Milestone(bytes32 shipmentId,bytes4 eventCode,uint16 shareBps)");
    bytes32 internal constant DEAL_TERMS_TYPEHASH = keccak256(
        "DealTerms(uint256 dealId,uint256 invoiceId,address borrower,address lender,address settlementToken,"
        "uint256 principal,uint256 fee,uint64 maturity,uint64 gracePeriod,uint64 acceptBy,Milestone[] milestones)"
        "Milestone(bytes32 shipmentId,bytes4 eventCode,uint16 shareBps)"
    );

    /// @notice EIP-712 hashStruct(terms).
    function structHash(DealTerms calldata t) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(DEAL_TERMS_TYPEHASH, t.dealId, t.invoiceId, t.borrower, t.lender, t.settlementToken),
                abi.encode(t.principal, t.fee, t.maturity, t.gracePeriod, t.acceptBy, _milestonesHash(t.milestones))
            )
        );
    }

    function _milestonesHash(Milestone[] calldata ms) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](ms.length);
        for (uint256 i = 0; i < ms.length; ++i) {
            hashes[i] = keccak256(abi.encode(MILESTONE_TYPEHASH, ms[i].shipmentId, ms[i].eventCode, ms[i].shareBps));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
