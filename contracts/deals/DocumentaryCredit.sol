// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {DealProduct, IDealEngine} from "./DealProduct.sol";

/// @title Documentary payment (L/C style): the price in escrow, paid against documents and delivery.
/// @notice A self-liquidating product of the {DealEngine}: the deal's lender is the **applicant's
/// side** that escrows the price (the buyer itself, or its issuing bank: an active LENDER), the
/// borrower is the **beneficiary** (the seller, an active SELLER), the principal is the price and
/// the fee is zero; maturity is the credit's **expiry** and grace is zero.
///
/// The product terms (`extra`) are `abi.encode(CreditTerms)`: the applicant (an active BUYER;
/// the lender itself or the bank's customer), the presenter (the beneficiary or its bank), the
/// latest shipment date, and the required documents, each a type code ({BILL_OF_LADING}, ...)
/// with an optional expected document hash (zero: any document of that type).
///
/// Release rule: a milestone (the delivery event, confirmed by the logistics oracle) is released
/// only once the presentation is **complying**: every required document presented by the
/// presenter before expiry, with the expected hash where one is named, and the bill of lading
/// dated no later than the latest shipment date. A discrepancy (missing, late or wrong
/// document) keeps the funds in escrow until the applicant waives it ({waive}) or the credit
/// expires; then the lender declares the expiry on the engine ({DealEngine-declareDefault}) and
/// the unreleased price returns to it. Documents may be re-presented before expiry to cure a
/// discrepancy. A fully released credit is settled on the engine ({DealEngine-settle}).
contract DocumentaryCredit is DealProduct {
    bytes4 public constant BILL_OF_LADING = "BLAD";
    bytes4 public constant COMMERCIAL_INVOICE = "CINV";
    bytes4 public constant PACKING_LIST = "PKLS";
    bytes4 public constant CERTIFICATE_OF_ORIGIN = "CORG";
    bytes4 public constant INSURANCE_CERTIFICATE = "INSC";
    uint256 public constant MAX_DOCUMENTS = 8;

    struct RequiredDocument {
        bytes4 docType;
        bytes32 expectedHash; // zero: any document of this type
    }

    struct CreditTerms {
        address applicant;
        address presenter;
        uint64 latestShipment;
        RequiredDocument[] documents;
    }

    struct Presentation {
        bytes32 documentHash;
        uint64 documentDate;
        uint64 presentedAt;
        bool complying;
    }

    struct Credit {
        address applicant;
        address presenter;
        uint64 latestShipment;
        uint64 expiry;
        bool waived;
        uint8 documentCount;
        uint8 complyingCount;
    }

    mapping(uint256 dealId => Credit) private _credits;
    mapping(uint256 dealId => mapping(uint256 index => RequiredDocument)) private _required;
    mapping(uint256 dealId => mapping(uint256 index => Presentation)) private _presented;

    error InvalidCreditTerms();
    error UnknownCredit(uint256 dealId);
    error NotPresenter(uint256 dealId, address caller);
    error NotApplicant(uint256 dealId, address caller);
    error CreditExpired(uint256 dealId, uint64 expiry);
    error DocumentNotRequired(uint256 dealId, bytes4 docType);
    error CreditNotFunded(uint256 dealId);

    event DocumentPresented(
        uint256 indexed dealId, bytes4 indexed docType, bytes32 documentHash, uint64 documentDate, bool complying
    );
    event DiscrepanciesWaived(uint256 indexed dealId, address indexed applicant, uint256 complying, uint256 required);
    event CreditOpened(uint256 indexed dealId, address indexed applicant, address indexed presenter, CreditTerms terms);

    constructor(IParticipantRegistry registry_, address engine_) DealProduct(registry_, engine_) {}

    function onAccept(
        uint256 dealId,
        uint256 collateralId,
        address beneficiary,
        address lender,
        uint64 expiry,
        uint64 gracePeriod,
        bytes32,
        bytes calldata extra
    ) external onlyEngine returns (address obligor, uint256 obligation, bytes3 currency) {
        CreditTerms memory c = abi.decode(extra, (CreditTerms));
        uint256 n = c.documents.length;
        if (
            collateralId != 0 || gracePeriod != 0 || n == 0 || n > MAX_DOCUMENTS || c.latestShipment > expiry
                || c.presenter == address(0)
        ) revert InvalidCreditTerms();
        registry.requireActive(c.applicant, Roles.BUYER);
        if (lender != c.applicant) registry.requireActive(lender, Roles.LENDER);
        if (c.presenter != beneficiary) registry.requireActive(c.presenter, Roles.LENDER);
        for (uint256 i = 0; i < n; ++i) {
            bytes4 t = c.documents[i].docType;
            if (!_isDocType(t)) revert InvalidCreditTerms();
            for (uint256 j = 0; j < i; ++j) {
                if (c.documents[j].docType == t) revert InvalidCreditTerms();
            }
            _required[dealId][i] = c.documents[i];
        }
        _credits[dealId] = Credit(c.applicant, c.presenter, c.latestShipment, expiry, false, uint8(n), 0);
        emit CreditOpened(dealId, c.applicant, c.presenter, c);
        return (address(0), 0, bytes3(0));
    }

    /// @notice The presenter presents (or re-presents, to cure a discrepancy) a required document
    /// before expiry. `documentDate` is the document's issue date (for the bill of lading: the
    /// shipped-on-board date).
    function present(uint256 dealId, bytes4 docType, bytes32 documentHash, uint64 documentDate) external {
        Credit storage c = _credit(dealId);
        if (msg.sender != c.presenter) revert NotPresenter(dealId, msg.sender);
        if (block.timestamp > c.expiry) revert CreditExpired(dealId, c.expiry);
        (uint8 state,,,) = IDealEngine(engine).parties(dealId);
        if (state != 1 && state != 2) revert CreditNotFunded(dealId); // Accepted or Funded
        uint256 n = c.documentCount;
        for (uint256 i = 0; i < n; ++i) {
            RequiredDocument storage r = _required[dealId][i];
            if (r.docType != docType) continue;
            bool complying = documentHash != bytes32(0) && (r.expectedHash == bytes32(0) || r.expectedHash == documentHash)
                && (docType != BILL_OF_LADING || documentDate <= c.latestShipment);
            Presentation storage p = _presented[dealId][i];
            if (p.complying && !complying) --c.complyingCount;
            if (!p.complying && complying) ++c.complyingCount;
            _presented[dealId][i] = Presentation(documentHash, documentDate, uint64(block.timestamp), complying);
            emit DocumentPresented(dealId, docType, documentHash, documentDate, complying);
            return;
        }
        revert DocumentNotRequired(dealId, docType);
    }

    /// @notice The applicant accepts the presentation with its discrepancies: releases may proceed.
    function waive(uint256 dealId) external {
        Credit storage c = _credit(dealId);
        if (msg.sender != c.applicant) revert NotApplicant(dealId, msg.sender);
        if (block.timestamp > c.expiry) revert CreditExpired(dealId, c.expiry);
        c.waived = true;
        emit DiscrepanciesWaived(dealId, msg.sender, c.complyingCount, c.documentCount);
    }

    /// @inheritdoc DealProduct
    function releaseAllowed(uint256 dealId) external view override returns (bool) {
        Credit storage c = _credits[dealId];
        return c.waived || (c.documentCount != 0 && c.complyingCount == c.documentCount);
    }

    /// @notice The credit's terms and presentation state.
    function credit(uint256 dealId)
        external
        view
        returns (Credit memory c, RequiredDocument[] memory required, Presentation[] memory presented)
    {
        c = _credit(dealId);
        required = new RequiredDocument[](c.documentCount);
        presented = new Presentation[](c.documentCount);
        for (uint256 i = 0; i < c.documentCount; ++i) {
            required[i] = _required[dealId][i];
            presented[i] = _presented[dealId][i];
        }
    }

    function onFund(uint256, uint256, address, bytes32) external onlyEngine {}

    function onCancel(uint256, uint256, address) external onlyEngine {}

    function onRepay(uint256, uint256, address) external onlyEngine {}

    function onDefault(uint256, uint256, address, address) external onlyEngine {}

    function _credit(uint256 dealId) private view returns (Credit storage c) {
        c = _credits[dealId];
        if (c.documentCount == 0) revert UnknownCredit(dealId);
    }

    function _isDocType(bytes4 t) private pure returns (bool) {
        return t == BILL_OF_LADING || t == COMMERCIAL_INVOICE || t == PACKING_LIST || t == CERTIFICATE_OF_ORIGIN
            || t == INSURANCE_CERTIFICATE;
    }
}
