"""`RiskRules`: lenders' limits and policies, network limits, the overdue freeze, four-eyes review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._base import ContractClient
from ._codec import b3, text


@dataclass(frozen=True)
class LenderBook:
    currency: str  # "" until the lender sets a policy (then its book is in the network currency)
    cap_bps: int
    review_threshold: int
    exposure: int


@dataclass(frozen=True)
class PairExposure:
    limited: bool
    limit: int
    exposure: int


@dataclass(frozen=True)
class PartyRisk:
    frozen: bool
    overdue_run: int
    network_limit: int
    network_limited: bool
    network_exposure: int


class RiskRules(ContractClient):
    contract_name = "RiskRules"

    # -- a lender's own settings
    def set_lender_policy(self, currency: str, cap_bps: int, review_threshold: int) -> dict[str, Any]:
        return self._tx("setLenderPolicy", b3(currency), cap_bps, review_threshold)

    def set_capital_base(self, base: int) -> dict[str, Any]:
        """Sets the caller's capital base (book currency, 0: none): the concentration cap is
        measured against the larger of the book and the base."""
        return self._tx("setCapitalBase", base)

    def set_limit(self, obligor: str, limit: int | None) -> dict[str, Any]:
        """Sets the caller's limit for `obligor` in its book currency (None lifts it)."""
        return self._tx("setLimit", obligor, limit is not None, limit or 0)

    def approve_funding(self, deal_id: int) -> dict[str, Any]:
        return self._tx("approveFunding", deal_id)

    # -- governance calls
    def call_set_engine(self, engine: str) -> tuple[str, bytes]:
        return self.address, self.encode("setEngine", engine)

    def call_set_network_limit(self, obligor: str, limit: int | None) -> tuple[str, bytes]:
        return self.address, self.encode("setNetworkLimit", obligor, limit is not None, limit or 0)

    def call_set_network_review_threshold(self, threshold: int) -> tuple[str, bytes]:
        return self.address, self.encode("setNetworkReviewThreshold", threshold)

    def call_unfreeze(self, party: str) -> tuple[str, bytes]:
        return self.address, self.encode("unfreeze", party)

    # -- reads
    def network_currency(self) -> str:
        return text(self._call("networkCurrency"))

    def network_review_threshold(self) -> int:
        return self._call("networkReviewThreshold")

    def lender_book(self, lender: str) -> LenderBook:
        b = self._call("lenderBook", lender)
        return LenderBook(text(bytes(b.currency)), b.capBps, b.reviewThreshold, b.exposure)

    def capital_base(self, lender: str) -> int:
        return self._call("capitalBaseOf", lender)

    def pair(self, lender: str, obligor: str) -> PairExposure:
        p = self._call("pair", lender, obligor)
        return PairExposure(p.limited, p.limit, p.exposure)

    def party(self, account: str) -> PartyRisk:
        p = self._call("party", account)
        return PartyRisk(p.frozen, p.overdueRun, p.networkLimit, p.networkLimited, p.networkExposure)

    def is_frozen(self, account: str) -> bool:
        return self._call("isFrozen", account)

    def funding_approver(self, deal_id: int) -> str | None:
        a = self._call("fundingApprover", deal_id)
        return None if int(a, 16) == 0 else a
