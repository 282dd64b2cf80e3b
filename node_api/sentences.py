"""Contract errors as sentences people can act on (issue 13 item 4): one table over every error
of every contract's ABI (the network's own and the libraries' they inherit), with the error's
arguments written as a person reads them: parties by short address and legal name, roles by
name, amounts with their currency, times in ISO-8601, codes by name, states by label.

``tests/test_sentences.py`` iterates the compiled ABIs and asserts that each error has its
sentence here. :func:`sentence` renders one decoded revert; the problem handler puts it in the
``detail`` of the 409 answer, next to the error's name and raw arguments, and, for a risk rule,
the rule and its figures (:func:`rule_of`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from chain.clients.pools import PoolState
from chain.errors import ContractRevert
from chain.vocabulary import (
    ContractKind,
    DealState,
    InvoiceState,
    OrderState,
    ProposalState,
    RedemptionState,
    Role,
)

from .readable import Reader, bps_text, document_type, event_name, iso, place

#: One sentence per error name. Placeholders are the error's argument names, rendered by
#: :class:`Speaker` from their ABI type and name; ``{now}`` is the chain time.
SENTENCES: dict[str, str] = {
    # --- registry and governance
    "NotMember": "{account} is not a member of the network",
    "MemberExists": "{account} is already a member",
    "MemberIsSuspended": "{account} is suspended: it may only close its running obligations",
    "MemberIsSanctioned": "{account} is sanctioned: it can start nothing and receive nothing",
    "MissingRole": "{account} lacks the {required} role (it holds {held})",
    "KycExpired": "the KYC of {account} expired on {kycExpiry} (chain time {now})",
    "KycExpiryInPast": "the KYC expiry {kycExpiry} must be after chain time {now}",
    "AlreadySuspended": "{account} is already suspended",
    "NotSuspended": "{account} is not suspended",
    "SanctionsFlagUnchanged": "the sanctions flag of {account} is already {sanctioned}",
    "InvalidRoles": "{roles} is not a valid set of roles",
    "InvalidLei": "{lei} is not a valid LEI (20 characters, ISO 17442)",
    "InvalidCountryCode": "{code} is not an ISO 3166 country code",
    "InvalidCurrencyCode": "{code} is not an ISO 4217 currency code",
    "InvalidLocode": "{code} is not a UN/LOCODE (two letters, then three letters or digits)",
    "InvalidText": "a text of {length} bytes is refused: at most {maxLength} printable bytes",
    "InvalidReference": "the reference has {length} bytes (at most {maxLength}) or a bad character at position "
                        "{position}",
    "LeiAlreadyHasAdmin": "the legal entity {lei} already has its ADMIN account {admin}",
    "NotAdmin": "{account} is not an active ADMIN",
    "NotGovernance": "{caller} is not governance: only an executed M-of-N proposal may do this",
    "NotSystemContract": "{caller} is not a registered network contract",
    "IsNetworkContract": "{account} is a registered network contract ({kind}), not a member",
    "NotAContract": "{account} has no code: only a contract can be registered",
    "InvalidSettlementToken": "{token} cannot be the settlement token of {currency}",
    "UnsupportedCurrency": "the network has no settlement token for {currency}",
    "ZeroAddress": "an address is missing (zero address given)",
    "UnknownProposal": "there is no proposal {id}",
    "ProposalNotPending": "proposal {id} is {state}, not pending",
    "ProposalDeadlinePassed": "proposal {id} expired on {deadline} (chain time {now})",
    "ProposalStillOpen": "proposal {id} is still open until {deadline}",
    "AlreadyApproved": "{admin} has already approved proposal {id}",
    "NotApproved": "{admin} has not approved proposal {id}",
    "NotProposer": "only the proposer may cancel proposal {id}; {caller} did not propose it",
    "QuorumNotReached": "proposal {id} has {approvals} approvals of the {threshold} it needs",
    "InvalidApprovalThreshold": "an approval threshold of {threshold} is refused: it must be at least 2 and at "
                                "most the {activeAdmins} active admins",
    "InvalidProposalCalls": "a proposal names {targets} targets for {calls} calls (1 to 16, one target per call)",
    "InvalidProposalTtl": "a proposal lifetime of {ttl} seconds is out of range",
    # --- settlement tokens and treasury
    "InvalidAmount": "an amount of {amount} is refused: it must be positive and at most {maximum}",
    "MissingReference": "a payment, deposit or payout reference is required",
    "UnknownRedemption": "there is no redemption request {id}",
    "RedemptionClosed": "redemption request {id} is already {state}",
    "RedemptionNotRequested": "redemption request {id} was not requested",
    "RedemptionPending": "redemption request {id} is still pending",
    "TransferToTokenContract": "tokens cannot be sent to the token contract itself",
    "InvalidDecimals": "{decimals} decimals are refused for a currency token",
    "SameCurrency": "the rate must be between two different currencies ({currency})",
    # --- invoices
    "UnknownInvoice": "there is no invoice {id}",
    "DuplicateInvoice": "this invoice is already tokenised as invoice {id} (same seller and buyer LEI, number, "
                        "issue day, face value and currency): no double financing",
    "DuplicateDocument": "document {documentHash} already backs invoice {existingId}",
    "SellerIsBuyer": "seller and buyer are the same legal entity ({lei})",
    "InvalidDates": "the due date {dueDate} must be after the issue date {issueDate} (chain time {now})",
    "InvalidInvoiceState": "invoice {id} is {state}: not possible in that state",
    "NotInvoiceBuyer": "{caller} is not the buyer of invoice {id}",
    "NotInvoiceHolder": "{_party} does not hold invoice {_invoice}",
    "InvoiceNotTransferable": "invoice {id} is {state}: it cannot be transferred",
    "InvalidSplit": "the {parts} parts sum to {sum}; they must sum exactly to the face value {faceValue}",
    "TooManyParts": "invoice {rootId} would have {parts} live parts; at most {maxParts}",
    "ShipmentMismatch": "{_what} is bound to shipment {_anchored}, not {_requested}",
    "SettlementAlreadySet": "the settlement contract is already set to {settlement}",
    "NotSettlement": "{caller} is not the network's invoice settlement contract",
    "InvalidOrder": "purchase order {orderId} cannot back this invoice (unknown, not the seller's, or already "
                    "invoiced)",
    "MissingDocument": "a document hash and CID are required",
    "InvalidShipmentId": "the shipment id is invalid (zero)",
    # --- purchase orders
    "UnknownOrder": "there is no purchase order {id}",
    "DuplicateOrder": "this purchase order is already issued as order {existingId}",
    "SupplierIsBuyer": "supplier and buyer are the same legal entity ({lei})",
    "InvalidDeliveryDate": "the delivery date {deliveryDate} must be after chain time {now}",
    "InvalidOrderState": "purchase order {id} is {state}: not possible in that state",
    "NotOrderBuyer": "{caller} is not the buyer of purchase order {id}",
    "NotOrderHolder": "{caller} does not hold purchase order {id}",
    "OrderInvoiced": "purchase order {id} is invoiced (invoice {invoiceId}): cancel the invoice first",
    "InvoicesAlreadySet": "the order token's invoice contract is already set ({invoices})",
    "AlreadyValidator": "{sealer} is already a validator",
    "NotValidator": "{sealer} is not a validator",
    "TooManyValidators": "the validator set is full ({maximum} sealers at most)",
    "LastValidator": "{sealer} is the last validator: the chain would stop sealing",
    "SealerIsMember": "sealer {sealer} is a member account: a sealer key must be its own",
    "SealerIsContract": "sealer {sealer} is a contract: a sealer must be an account",
    "LeiAlreadyHasValidator": "organisation {lei} already runs validator {sealer}",
    "LengthMismatch": "{sealers} sealers but {operators} operators given: one operator per sealer",
    "OrderNotTransferable": "purchase order {id} is {state}: it moves only into and out of financing escrows",
    # --- warehouse receipts
    "UnknownReceipt": "there is no warehouse receipt {id}",
    "InvalidReceipt": "the warehouse receipt's terms are invalid (quantity, value, expiry or texts)",
    "NotIssuingWarehouse": "{caller} is not the warehouse that issued receipt {id}",
    "NotReceiptHolder": "{_party} does not hold warehouse receipt {_receipt}",
    "ReceiptAlreadyPledged": "warehouse receipt {id} is already pledged to {pledgee}",
    "ReceiptPledged": "warehouse receipt {id} is pledged to {pledgee}: no transfer, redemption or other pledge",
    "ReceiptNotPledged": "warehouse receipt {id} is not pledged",
    "ReceiptExpired": "warehouse receipt {id} expired on {expiry} (chain time {now})",
    "InvalidPledgee": "{pledgee} cannot be the pledgee of receipt {id} (an active LENDER or a registered escrow)",
    "InvalidPledgeTerm": "a pledge of receipt {id} maturing {maturity} with {gracePeriod} of grace must end before "
                         "the receipt expires on {expiry}",
    "NotPledgee": "{caller} is not the pledgee of receipt {id}",
    "PledgeNotApproved": "the holder has not approved {escrow} for receipt {id}",
    "PledgeNotEnforceable": "the pledge of receipt {id} can be enforced only after {enforceableAfter} (chain time "
                            "{now})",
    "SelfPledge": "receipt {id} cannot be pledged to its own holder",
    # --- oracle and FX
    "NotOperator": "{signer} is not an operator of this oracle",
    "OperatorNotActive": "operator {operator} is not an active ORACLE member",
    "InvalidOperator": "{operator} cannot be an operator",
    "InvalidOperatorSet": "{operators} operators with a threshold of {threshold}: the threshold must be at least 2 and "
                          "more than half of the operators",
    "DuplicateSigner": "{signer} signed twice",
    "InsufficientSignatures": "{provided} signatures given; the quorum needs {required}",
    "TooManySignatures": "{provided} signatures given; there are only {operators} operators",
    "InvalidSignature": "signature {index} does not recover to an operator",
    "QuorumNotConfigured": "the oracle has no operator quorum yet",
    "StaleReport": "the report observed at {observedAt} is too old: the oldest accepted is {oldestAllowed} "
                   "(chain time {now})",
    "FutureReport": "the report observed at {observedAt} lies in the future: the latest accepted is {latestAllowed}",
    "InvalidEventCode": "{eventCode} is not a shipment event code the oracle attests",
    "EventAlreadyConfirmed": "event {eventCode} at {location} of shipment {shipmentId} is already confirmed",
    "EventReplayed": "event {eventId} was already used",
    "EventNotConfirmed": "event {eventId} is not confirmed",
    "MissingEvidence": "the report carries no evidence hash",
    "TooManyNotifications": "the report names {named} deals to notify; at most {maximum}",
    "TooManyTransportCalls": "shipment {shipmentId} already has the most transport calls for {eventCode} "
                             "({maximum})",
    "InsufficientNotificationGas": "not enough gas to notify the named deals ({gasLeft} left, {needed} needed)",
    "InvalidStalenessWindow": "a staleness window of {window} seconds is out of range",
    "ZeroRate": "an FX rate of zero is refused",
    "RateUnavailable": "no {baseCurrency}/{quoteCurrency} rate has been published",
    "RateTooOld": "the {baseCurrency}/{quoteCurrency} rate observed at {observedAt} is older than {maxAge} "
                  "(chain time {now}): a stale rate blocks new deals",
    "ObservationNotNewer": "a {baseCurrency}/{quoteCurrency} rate observed at {observedAt} is not newer than the one "
                           "of {latestObservedAt}",
    # --- deal engine
    "UnknownDeal": "there is no deal {dealId}",
    "InvalidDealState": "deal {dealId} is {state}: not possible in that state",
    "NotDealParty": "{caller} is neither borrower nor lender of deal {dealId}",
    "NotLender": "{caller} is not the lender of deal {dealId}",
    "NotPayer": "{caller} cannot repay deal {dealId}: the payer is {payer}",
    "NotOracle": "{caller} is not the logistics oracle",
    "TermsExpired": "the offer expired at {acceptBy} (chain time {now})",
    "TermsUsed": "these signed terms were already used (deal {dealId}) or revoked",
    "InvalidPartySignature": "the signature of {party} over the terms is missing or invalid",
    "SameParty": "borrower and lender are the same legal entity ({lei})",
    "InvalidSchedule": "{milestones} milestones with shares summing to {totalBps}: 1 to 8 milestones summing to "
                       "100%",
    "InvalidMilestone": "milestone {index} is invalid (zero share, an advance with a location, an event without a "
                        "shipment or not attested, or a repeated event and location)",
    "InvalidAmounts": "principal {principal} plus fee {fee} exceed what the collateral covers ({limit})",
    "InvalidMaturity": "maturity {maturity} must be after chain time {now}, with a grace period of at most 365 days "
                       "(given {gracePeriod})",
    "NotSettlementToken": "{token} is not a settlement token of the network",
    "InvalidFxLock": "an FX lock valid until {fxValidUntil} must last at least until maturity {maturity} and only "
                     "cross-currency deals lock a rate",
    "CurrencyMismatch": "the collateral is in {collateralCurrency}, the deal in {dealCurrency}",
    "FxLockExpired": "the FX rate locked for deal {dealId} expired at {validUntil} (chain time {now})",
    "ObligorSanctioned": "the obligor {obligor} is sanctioned: no new deal may depend on it",
    "MaturityPassed": "deal {dealId} matured on {maturity} (chain time {now})",
    "NotOverdue": "deal {dealId} is not overdue: it matures on {maturity} (chain time {now})",
    "AlreadyFlaggedOverdue": "deal {dealId} is already flagged overdue",
    "GracePeriodRunning": "deal {dealId} can be declared in default only after {defaultableAfter} (chain time {now})",
    "NothingToSync": "deal {dealId} is in line with the oracle: nothing to release or reverse",
    "NothingToWithdraw": "{account} has nothing to withdraw from deal {dealId}",
    "InvalidAssignee": "{assignee} cannot take over the lender side of deal {dealId}",
    "InvalidExtra": "the product terms have {length} bytes (at most 2,048)",
    "UnknownProduct": "{product} is not an enabled product of the deal engine",
    "InvalidProduct": "{module} cannot be product {id}",
    "NotProduct": "{caller} is not the product module of deal {dealId}",
    "NotRepayable": "deal {dealId} is self-liquidating (a documentary payment): it is settled, not repaid",
    "NotFullyReleased": "deal {dealId} has released {released} of {principal}: it settles only once fully released",
    # --- products
    "InvoiceNotConfirmed": "invoice {invoiceId} is {state}: only a confirmed invoice can be financed",
    "MaturityBeforeDueDate": "maturity {maturity} must not be before the invoice's due date {dueDate}",
    "OrderNotLive": "purchase order {orderId} is {state}: only an issued order can be financed",
    "NotOrderSupplier": "{borrower} is not the supplier holding purchase order {orderId}: releases go to the named "
                        "supplier only",
    "AlreadyRolled": "deal {dealId} already rolled into invoice {invoiceId}",
    "InvoiceNotForOrder": "invoice {invoiceId} was not issued against purchase order {orderId}",
    "ReceiptExpiresFirst": "warehouse receipt {receiptId} expires on {expiry}, before the deal can default on "
                           "{defaultableAfter}",
    "ReceiptUnavailable": "warehouse receipt {receiptId} is pledged or being redeemed",
    "InvalidCreditTerms": "the documentary credit's terms are invalid (documents, presenter, latest shipment date "
                          "after expiry, a grace period or a collateral)",
    "UnknownCredit": "deal {dealId} is not a documentary credit",
    "NotPresenter": "{caller} is not the presenter of credit {dealId}",
    "NotApplicant": "{caller} is not the applicant of credit {dealId}",
    "CreditExpired": "documentary credit {dealId} expired on {expiry} (chain time {now})",
    "DocumentNotRequired": "credit {dealId} does not require a {docType}",
    "CreditNotFunded": "credit {dealId} is not open (accepted or funded)",
    "NotBuyer": "{caller} is not the buyer of invoice {id}",
    "NotPayable": "invoice {id} is {state} and held by {holder}: it cannot be paid directly",
    "Overpayment": "{amount} would overpay invoice {id}: {open} is open",
    "ZeroPayment": "a payment of zero is refused",
    "NothingOpen": "nothing is open on the parts of invoice {rootId}",
    # --- risk rules
    "NotEngine": "{caller} is not the deal engine",
    "EngineAlreadySet": "the risk rules already serve engine {engine}",
    "PartyFrozen": "{party} is frozen after three overdue deals in a row: no new deals until governance unfreezes "
                   "it",
    "ExposureLimitExceeded": "the exposure limit of {lender} for {obligor} is {limit}; exposure is {current}, this "
                             "deal adds {requested}",
    "ConcentrationCapExceeded": "{obligor} would be {resultingBps} of the book of {lender}; its cap is {capBps}",
    "NetworkLimitExceeded": "the network limit for {obligor} is {limit}; exposure is {current}, this deal adds "
                            "{requested}",
    "ReviewRequired": "deal {dealId} of {amount} is at or above the four-eyes threshold {threshold}: a second key "
                      "of the lender's organisation must approve funding first",
    "BookNotEmpty": "the book of {lender} is not empty ({exposure}): its currency cannot change",
    "NoBookCurrency": "{lender} has no book currency yet: set a policy first",
    "InvalidCap": "a concentration cap of {capBps} is refused (at most 100%)",
    "NotSecondKey": "{approver} is not a second key of the lender's organisation for deal {dealId}",
    "NotFrozen": "{party} is not frozen",
    # --- ABS pools
    "UnknownPool": "there is no pool {poolId}",
    "InvalidPoolState": "pool {poolId} is {state}: not possible in that state",
    "NotManager": "{caller} is not the manager of pool {poolId}",
    "InvalidPoolParams": "the pool's parameters are invalid (token, sizes, cap, coupon or tenor)",
    "NotEligible": "deal {dealId} is not eligible for the pool: {rule}",
    "ObligorCapExceeded": "the obligor {obligorLei} would reach {exposure} in pool {poolId}; its cap is {cap}",
    "NoBid": "the manager of pool {poolId} has not bid for deal {dealId}",
    "NotDealLender": "{caller} is not the lender of deal {dealId}",
    "AssetsOpen": "pool {poolId} still has {open} open assets",
    "NotesUnavailable": "{requested} notes requested from pool {poolId}; {available} are available",
    "NothingToClaim": "{holder} has nothing to claim from pool {poolId}",
    "UnknownAsset": "pool {poolId} has no asset {index}",
    "EmptyPool": "pool {poolId} has no assets (or no tape root was given)",
    "NotTranche": "{caller} is not a tranche token of a pool",
    "ClaimPeriodRunning": "pool {poolId} can be swept only after {sweepableAfter}",
    "PoolSwept": "pool {poolId} was swept: claims have ended",
    "NotPool": "{caller} is not the pool of this tranche",
    # --- library errors (OpenZeppelin, Solady)
    "ERC20InsufficientBalance": "{sender} holds {balance}; {needed} are needed",
    "ERC20InsufficientAllowance": "{spender} may spend {allowance}; {needed} are needed (approve first)",
    "ERC20InvalidApprover": "{approver} cannot approve",
    "ERC20InvalidReceiver": "{receiver} cannot receive tokens",
    "ERC20InvalidSender": "{sender} cannot send tokens",
    "ERC20InvalidSpender": "{spender} cannot be approved",
    "ERC721IncorrectOwner": "{sender} is not the owner of token {tokenId}; {owner} is",
    "ERC721InsufficientApproval": "{operator} is not approved for token {tokenId}",
    "ERC721InvalidApprover": "{approver} cannot approve",
    "ERC721InvalidOperator": "{operator} cannot be an operator",
    "ERC721InvalidOwner": "{owner} cannot own tokens",
    "ERC721InvalidReceiver": "{receiver} cannot receive this token",
    "ERC721InvalidSender": "{sender} cannot send this token",
    "ERC721NonexistentToken": "token {tokenId} does not exist",
    "AccountBalanceOverflow": "the account's token balance would overflow",
    "BalanceQueryForZeroAddress": "the zero address has no balance",
    "NotOwnerNorApproved": "the caller neither owns nor is approved for this token",
    "TokenAlreadyExists": "this token already exists",
    "TokenDoesNotExist": "this token does not exist",
    "TransferFromIncorrectOwner": "the token is not owned by the sender",
    "TransferToNonERC721ReceiverImplementer": "the receiving contract does not accept tokens",
    "TransferToZeroAddress": "a token cannot be sent to the zero address",
    "ECDSAInvalidSignature": "the signature is invalid",
    "ECDSAInvalidSignatureLength": "a signature of {length} bytes is invalid (65 expected)",
    "ECDSAInvalidSignatureS": "the signature is malleable (s value {s})",
    "ReentrancyGuardReentrantCall": "a reentrant call was refused",
    "SafeERC20FailedOperation": "the token {token} refused the transfer",
    "SafeERC20FailedDecreaseAllowance": "the allowance of {spender} is {currentAllowance}, below the decrease "
                                        "{requestedDecrease}",
    "SafeCastOverflowedUintDowncast": "the value {value} does not fit {bits} bits",
    "SafeCastOverflowedIntDowncast": "the value {value} does not fit {bits} bits",
    "SafeCastOverflowedIntToUint": "the negative value {value} cannot be unsigned",
    "SafeCastOverflowedUintToInt": "the value {value} is too large for a signed integer",
    "MerkleProofInvalidMultiproof": "the Merkle multiproof is invalid",
    "StringTooLong": "the text is too long: {str}",
    "InvalidShortString": "the text is not a valid short string",
    "StringsInsufficientHexLength": "{value} does not fit {length} hex digits",
    "StringsInvalidAddressFormat": "the text is not an address",
    "StringsInvalidChar": "the text holds an invalid character",
    # --- Solidity built-ins (chain.errors.ErrorDecoder adds them)
    "Error": "the contract refused: {reason}",
    "Panic": "the contract failed (panic code {code})",
    "UnknownRevert": "the contract refused the call without a known error",
}

#: The enum of a ``state`` / ``kind`` / ``status`` argument, by error name.
STATE_ENUMS: dict[str, type[enum.IntEnum]] = {
    "InvalidDealState": DealState, "InvalidInvoiceState": InvoiceState, "InvoiceNotConfirmed": InvoiceState,
    "InvoiceNotTransferable": InvoiceState, "NotPayable": InvoiceState, "InvalidOrderState": OrderState,
    "OrderNotLive": OrderState, "OrderNotTransferable": OrderState, "InvalidPoolState": PoolState,
    "ProposalNotPending": ProposalState, "RedemptionClosed": RedemptionState, "IsNetworkContract": ContractKind,
}

_TIME = re.compile(r"(?i)(maturity|date|expiry|acceptby|observedat|deadline|validuntil|after|allowed|kycexpiry|"
                   r"latestshipment|retractedat|fxvaliduntil)$")
_AMOUNT = re.compile(r"(?i)^(amount|principal|fee|limit|current|requested|open|maximum|exposure|price|available|"
                     r"balance|needed|allowance|released|facevalue|sum|cap|currentallowance|requesteddecrease)$")
_ROLE_ARGS = {"required", "held", "roles"}
#: Errors whose `limit`-like arguments are not amounts.
_NOT_AMOUNTS = {"InvalidText": {"maximum"}, "TooManyParts": set(), "TooManyNotifications": {"maximum"},
                "TooManyTransportCalls": {"maximum"}, "InvalidReference": set(), "NotesUnavailable": set()}

#: What each risk rule is called in a problem body, and which arguments are its figures.
RISK_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ExposureLimitExceeded": ("exposure limit per obligor (set by the lender)", ("limit", "current", "requested")),
    "NetworkLimitExceeded": ("network obligor limit (set by governance)", ("limit", "current", "requested")),
    "ConcentrationCapExceeded": ("concentration cap (bps of the lender's book)", ("capBps", "resultingBps")),
    "ReviewRequired": ("four-eyes review threshold", ("threshold", "amount")),
    "PartyFrozen": ("overdue freeze (three overdue deals in a row)", ()),
    "ObligorSanctioned": ("sanctions (no new deal may depend on a sanctioned obligor)", ()),
    "RateTooOld": ("stale FX rate (a stale rate blocks new deals)", ("observedAt", "maxAge")),
    "RateUnavailable": ("missing FX rate", ()),
    "ObligorCapExceeded": ("pool obligor concentration cap", ("exposure", "cap")),
}


@dataclass
class Speaker:
    """Renders arguments for people: names from the read model, amounts in `currency` (the
    currency of the deal or token the request is about, if known), times against `now`."""

    reader: Reader
    now: int | None = None
    currency: str | None = None

    def value(self, error: str, name: str, abi_type: str, value: Any) -> str:
        if abi_type == "address":
            return self.reader.who(value)
        if abi_type == "bytes20":
            key = "0x" + bytes(value).hex()
            return self.reader.entity_name(key)
        if abi_type in ("bytes2", "bytes3"):
            return bytes(value).rstrip(b"\0").decode("ascii", "replace") or "none"
        if abi_type == "bytes4":
            code = bytes(value).rstrip(b"\0").decode("ascii", "replace")
            if name == "docType":
                return document_type(code)
            return f"{code} ({event_name(code)})" if code else "an advance"
        if abi_type == "bytes5":
            return place(bytes(value).rstrip(b"\0").decode("ascii", "replace")) or ""
        if abi_type.startswith("bytes"):
            raw = bytes(value)
            return "0x" + raw.hex()[:8] + ".." if len(raw) > 4 else "0x" + raw.hex()
        if abi_type == "bool":
            return "set" if value else "cleared"
        if abi_type == "string":
            return str(value)
        if isinstance(value, int):
            if name in ("state", "kind", "status") and error in STATE_ENUMS:
                try:
                    return STATE_ENUMS[error](value).label
                except ValueError:
                    return str(value)
            if name in _ROLE_ARGS:
                return "/".join(Role(value).names()) or "no role"
            if name.endswith("Bps") or name == "totalBps":
                return bps_text(value)
            if name in ("maxAge", "gracePeriod", "ttl", "window"):
                return _duration(value)
            if _TIME.search(name) and 0 < value < 2**40:
                return iso(value) or str(value)
            if _AMOUNT.match(name) and name not in _NOT_AMOUNTS.get(error, set()):
                return self.reader.amount(value, self.currency)
            if value >= 10**15:
                return f"{value:#x}"[:12] + ".."
            return f"{value:,}"
        return str(value)


def _duration(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86_400)
    if days and not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    hours, rest = divmod(rest, 3_600)
    if not days and not rest and hours:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{seconds:,} seconds"


def _special(error: str, args: Mapping[str, Any], fmt: Callable[[str], str]) -> dict[str, str]:
    """Placeholders of errors declared with different argument names in different contracts."""
    names = list(args)
    if error == "NotInvoiceHolder":
        return {"_party": fmt(names[1]), "_invoice": fmt(names[0])}
    if error == "NotReceiptHolder":
        return {"_party": fmt(names[1]), "_receipt": fmt(names[0])}
    if error == "ShipmentMismatch":
        what = ("invoice " if names[0] == "id" else "purchase order ") + fmt(names[0])
        return {"_what": what, "_anchored": fmt(names[1]), "_requested": fmt(names[2])}
    return {}


def sentence(exc: ContractRevert, speaker: Speaker, types: Mapping[str, str] | None = None) -> str:
    """The sentence of a decoded revert. `types` maps argument names to ABI types (from the ABI;
    guessed from the Python values if not given)."""
    error = exc.error_name
    args = exc.args_by_name
    types = dict(types or {})

    def fmt(name: str) -> str:
        v = args[name]
        t = types.get(name) or _guess_type(v)
        return speaker.value(error, name, t, v)

    template = SENTENCES.get(error)
    if template is None:
        rendered = ", ".join(f"{k} {fmt(k)}" for k in args)
        return f"the contract refused ({error}{': ' + rendered if rendered else ''})"
    values = {k: fmt(k) for k in args}
    values.update(_special(error, args, fmt))
    values["now"] = iso(speaker.now) or "now"
    try:
        text = template.format(**values)
    except (KeyError, IndexError):
        text = f"{template} ({', '.join(f'{k} {v}' for k, v in values.items())})"
    return text[:1].upper() + text[1:]


def _guess_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return "address"
    if isinstance(v, (bytes, bytearray)):
        return f"bytes{len(v)}" if len(v) <= 32 else "bytes"
    if isinstance(v, int):
        return "uint256"
    return "string"


def rule_of(exc: ContractRevert, speaker: Speaker) -> dict[str, Any] | None:
    """For a risk rule's refusal: the rule's name and its figures (Money where they are amounts)."""
    spec = RISK_RULES.get(exc.error_name)
    if spec is None:
        return None
    name, figures = spec
    out: dict[str, Any] = {"rule": name}
    for f in figures:
        v = exc.args_by_name.get(f)
        if v is None:
            continue
        if f.endswith("Bps"):
            out[_snake(f)] = {"bps": int(v), "display": bps_text(int(v))}
        elif f in ("observedAt",):
            out["observed_at"] = int(v)
            out["observed_at_iso"] = iso(int(v))
        elif f == "maxAge":
            out["max_age_seconds"] = int(v)
        else:
            out[_snake(f)] = speaker.reader.money(int(v), speaker.currency) if speaker.currency else str(int(v))
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def abi_types(abis: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """error name -> {argument name -> ABI type}, over every ABI (the first declaration wins)."""
    out: dict[str, dict[str, str]] = {}
    for abi in abis.values():
        for e in abi:
            if e.get("type") == "error" and e["name"] not in out:
                out[e["name"]] = {i["name"]: i["type"] for i in e["inputs"]}
    return out


__all__ = ["RISK_RULES", "SENTENCES", "Speaker", "abi_types", "rule_of", "sentence"]
