"""The demo consortium: who the participants are, and onboarding them through governance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from .client import Chain
from .clients import MemberInput
from .deploy import configure_oracle_quorum, deploy
from .deployment import Deployment
from .vocabulary import Role

YEAR = 365 * 86_400


@dataclass(frozen=True)
class Participant:
    key: str  # short handle used in code, keystore names and narration
    name: str  # legal name
    roles: Role
    lei: str  # ISO 17442, 20 characters
    country: str  # ISO 3166-1 alpha-2

    def member_input(self, account: str, kyc_expiry: int) -> MemberInput:
        return MemberInput(account, self.roles, self.lei, self.country, kyc_expiry, self.name)


DEMO_PARTICIPANTS: tuple[Participant, ...] = (
    Participant("admin_a", "Tradenet Consortium Operator", Role.ADMIN, "529900TNCONSORTOPS01", "SG"),
    Participant("admin_b", "Atlantic Trade Bank (governance)", Role.ADMIN, "529900ATLANTICGOV002", "GB"),
    Participant("admin_c", "Hanseatic Logistics Group (governance)", Role.ADMIN, "529900HANSEGOVERN003", "DE"),
    Participant("treasury", "Tradenet Settlement Bank", Role.TREASURY, "529900SETTLEBANK0004", "SG"),
    Participant("seller", "Shenzhen Bright Electronics Co., Ltd.", Role.SELLER, "3003005ZBRIGHTELEC05", "CN"),
    # a second operator key of the same seller organisation (same LEI)
    Participant("seller_ops", "Shenzhen Bright Electronics Co., Ltd.", Role.SELLER,
                "3003005ZBRIGHTELEC05", "CN"),
    Participant("buyer", "Rotterdam Retail B.V.", Role.BUYER, "724500ROTTERDAMRET06", "NL"),
    Participant("lender", "Atlantic Trade Bank plc", Role.LENDER, "213800ATLANTICTRB007", "GB"),
    Participant("lender_b", "Lisbon Factoring S.A.", Role.LENDER, "549300LISBONFACTR008", "PT"),
    Participant("warehouse", "Port of Rotterdam Bonded Warehouse", Role.WAREHOUSE, "724500PORTRDMWHS0009", "NL"),
    Participant("carrier", "Oceanic Container Lines", Role.LOGISTICS, "529900OCEANICLINES10", "DK"),
    Participant("oracle_1", "Oracle operator: Hanseatic Data", Role.ORACLE, "529900HANSEORACLE011", "DE"),
    Participant("oracle_2", "Oracle operator: Maersk-style Track Ltd", Role.ORACLE, "529900TRACKORACLE012", "DK"),
    Participant("oracle_3", "Oracle operator: Singapore PortNet", Role.ORACLE, "529900PORTNETORAC013", "SG"),
    Participant("investor", "Meridian Asset Management", Role.INVESTOR, "549300MERIDIANAM0014", "LU"),
    Participant("auditor", "Trade Finance Supervisory Office", Role.AUDITOR, "529900SUPERVISOR0015", "SG"),
)

APPROVAL_THRESHOLD = 2


def deterministic_keys(participants: Iterable[Participant], seed: str) -> dict[str, LocalAccount]:
    """Keys derived from a seed: for tests and throwaway local chains only."""
    return {p.key: Account.from_key(keccak(text=f"{seed}:{p.key}")) for p in participants}


def bootstrap(
    chain: Chain,
    network: str,
    keys: Mapping[str, LocalAccount],
    participants: Iterable[Participant] = DEMO_PARTICIPANTS,
    threshold: int = APPROVAL_THRESHOLD,
    kyc_valid_for: int = YEAR,
) -> Deployment:
    """Deploy with the ADMIN participants as founders, then admit everyone else by one M-of-N
    governance proposal (as a real consortium onboards members), then make the ORACLE members
    the operators of the logistics oracle and the FX rate store (k = strict majority: 2 of 3)."""
    participants = list(participants)
    now = chain.w3.eth.get_block("latest")["timestamp"]
    kyc_expiry = now + kyc_valid_for
    admins = [p for p in participants if Role.ADMIN in p.roles]
    admin_keys = [keys[p.key] for p in admins]
    founders = [p.member_input(keys[p.key].address, kyc_expiry) for p in admins]
    deployment = deploy(chain, network, admin_keys, founders, threshold)
    registry = deployment.clients(chain).registry
    others = [p for p in participants if Role.ADMIN not in p.roles]
    for batch_start in range(0, len(others), 16):  # MAX_PROPOSAL_CALLS
        batch = others[batch_start:batch_start + 16]
        calls = [registry.call_add_member(p.member_input(keys[p.key].address, kyc_expiry)) for p in batch]
        registry.govern(admin_keys, calls, "Admit members: " + ", ".join(p.name for p in batch))
    oracles = [keys[p.key].address for p in participants if Role.ORACLE in p.roles][:16]  # MAX_OPERATORS
    if oracles:
        configure_oracle_quorum(chain, deployment, admin_keys, oracles)
    return deployment
