"""`ParticipantRegistry`: membership, roles, KYC and M-of-N consortium governance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from eth_account.signers.local import LocalAccount

from ..vocabulary import ContractKind, ProposalState, Role
from ._base import ContractClient
from ._codec import ZERO_ADDRESS, b3, lei_bytes, text


@dataclass(frozen=True)
class Member:
    account: str
    exists: bool
    suspended: bool
    sanctioned: bool
    roles: Role
    kyc_expiry: int
    country: str
    lei: str

    @property
    def standing(self) -> str:
        """``active``, ``suspended``, ``kyc_expired`` (as of the record; KYC needs a clock: see
        ``standing_at``), ``sanctioned`` or ``non_member``."""
        if not self.exists:
            return "non_member"
        if self.sanctioned:
            return "sanctioned"
        if self.suspended:
            return "suspended"
        return "active"

    def standing_at(self, now: int) -> str:
        s = self.standing
        return "kyc_expired" if s == "active" and self.kyc_expiry <= now else s


@dataclass(frozen=True)
class MemberInput:
    """``ParticipantRegistry.MemberInput``: who is admitted, with what roles, under which entity."""

    account: str
    roles: Role
    lei: str
    country: str
    kyc_expiry: int
    legal_name: str

    def as_tuple(self) -> tuple:
        return (self.account, int(self.roles), lei_bytes(self.lei), b3(self.country), self.kyc_expiry,
                self.legal_name)


class ParticipantRegistry(ContractClient):
    contract_name = "ParticipantRegistry"

    # -- governance
    def propose(self, calls: Sequence[tuple[str, bytes]], description: str, ttl: int = 86_400) -> int:
        targets = [t for t, _ in calls]
        data = [d for _, d in calls]
        receipt = self._tx("propose", targets, data, ttl, description)
        return self._logged_uint(receipt, "ProposalCreated", "id")

    def approve(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("approve", proposal_id)

    def execute(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("execute", proposal_id)

    def expire(self, proposal_id: int) -> dict[str, Any]:
        return self._tx("expire", proposal_id)

    def cancel(self, proposal_id: int) -> dict[str, Any]:
        """The proposer withdraws its pending proposal."""
        return self._tx("cancel", proposal_id)

    def revoke_approval(self, proposal_id: int) -> dict[str, Any]:
        """The caller withdraws its approval before execution."""
        return self._tx("revokeApproval", proposal_id)

    def valid_approvals(self, proposal_id: int) -> int:
        return self._call("validApprovals", proposal_id)

    def proposal_state(self, proposal_id: int) -> ProposalState:
        return ProposalState(self._call("proposal", proposal_id)[4])

    def approval_threshold(self) -> int:
        return self._call("approvalThreshold")

    def govern(self, admins: Sequence[LocalAccount], calls: Sequence[tuple[str, bytes]], description: str) -> int:
        """Propose with admins[0], approve with the next ones up to the threshold, execute.
        The local convenience for a consortium whose admin keys are all on this machine (demo,
        tests); on a real network each admin approves from its own node."""
        threshold = self.approval_threshold()
        if len(admins) < threshold:
            raise ValueError(f"{len(admins)} admin keys given, governance needs {threshold}")
        pid = self.using(admins[0]).propose(calls, description)
        for admin in admins[1:threshold]:
            self.using(admin).approve(pid)
        self.using(admins[threshold - 1]).execute(pid)
        return pid

    # -- encoded governance calls
    def call_add_member(self, member: MemberInput) -> tuple[str, bytes]:
        return self.address, self.encode("addMember", member.as_tuple())

    def call_set_legal_name(self, account: str, legal_name: str) -> tuple[str, bytes]:
        return self.address, self.encode("setLegalName", account, legal_name)

    def call_set_settlement_token(self, currency: str, token: str) -> tuple[str, bytes]:
        return self.address, self.encode("setSettlementToken", b3(currency), token)

    def call_set_roles(self, account: str, roles: Role) -> tuple[str, bytes]:
        return self.address, self.encode("setRoles", account, int(roles))

    def call_renew_kyc(self, account: str, kyc_expiry: int) -> tuple[str, bytes]:
        return self.address, self.encode("renewKyc", account, kyc_expiry)

    def call_suspend(self, account: str, reason: str) -> tuple[str, bytes]:
        return self.address, self.encode("suspend", account, reason)

    def call_reinstate(self, account: str) -> tuple[str, bytes]:
        return self.address, self.encode("reinstate", account)

    def call_set_sanctioned(self, account: str, sanctioned: bool, reason: str) -> tuple[str, bytes]:
        return self.address, self.encode("setSanctioned", account, sanctioned, reason)

    def call_set_network_contract(self, account: str, kind: ContractKind) -> tuple[str, bytes]:
        return self.address, self.encode("setNetworkContract", account, int(kind))

    def call_set_threshold(self, threshold: int) -> tuple[str, bytes]:
        return self.address, self.encode("setApprovalThreshold", threshold)

    # -- reads
    def member(self, account: str) -> Member:
        m = self._call("member", account)
        return Member(account, m.exists, m.suspended, m.sanctioned, Role(m.roles), m.kycExpiry,
                      text(m.country), text(m.lei))

    def is_active(self, account: str, roles: Role | int = 0) -> bool:
        return self._call("isActive", account, int(roles))

    def is_system_contract(self, account: str) -> bool:
        return self._call("isSystemContract", account)

    def contract_kind(self, account: str) -> ContractKind:
        return ContractKind(self._call("contractKind", account))

    def legal_name(self, account: str) -> str:
        return self._call("legalName", account)

    def suspension_reason(self, account: str) -> str:
        return self._call("suspensionReason", account)

    def admin_of(self, lei: str) -> str | None:
        """The one ADMIN account of a legal entity, or None."""
        a = self._call("adminOf", lei_bytes(lei))
        return None if int(a, 16) == 0 else a

    def settlement_token(self, currency: str) -> str | None:
        a = self._call("settlementToken", b3(currency))
        return None if int(a, 16) == 0 else a

    def entity_key(self, account: str) -> bytes:
        """The key rules use for the account's legal entity (its LEI, or the address for a contract)."""
        return bytes(self._call("entityKeys", account, ZERO_ADDRESS, ZERO_ADDRESS)[0])

    def transaction_allowed(self, sender: str, target: str, value: int = 0, payload: bytes = b"") -> bool:
        return self._call("transactionAllowed", sender, target, value, 0, 30_000_000, payload)

    def active_admin_count(self) -> int:
        return self._call("activeAdminCount")
