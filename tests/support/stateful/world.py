"""The stateful tests' world: who takes part, their clients, and the one-time set-up on top of the
session deployment (extra members, money, standing approvals, FX rates, lender policies).

Participants are named by key ("seller", "buyer_b", "outsider", ...). The set-up runs once per
test session module; every Hypothesis example then starts from a snapshot of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.clients import FxRate, MemberInput, ShipmentEvent
from chain.deployment import Clients
from chain.tx import TxSender
from chain.vocabulary import Role
from ..mining import revert_to

DAY = 86_400
YEAR = 365 * DAY
MAX_UINT = 2**256 - 1
ORACLES = ("oracle_1", "oracle_2", "oracle_3")
#: ids of the FX pairs kept fresh (rate with 8 decimals): 1 EUR = 1.08 USD, 1 USD = 0.925 EUR
FX_RATES: dict[tuple[str, str], int] = {("EUR", "USD"): 108_000_000, ("USD", "EUR"): 92_500_000}
CURRENCIES = ("USD", "EUR")

#: members the stateful tests admit besides the demo consortium: (roles, LEI, country)
EXTRA_MEMBERS: dict[str, tuple[Role, str, str]] = {
    "seller_b": (Role.SELLER, "5299STATEFULSELLB016", "VN"),
    "buyer_b": (Role.BUYER, "5299STATEFULBUYRB017", "US"),
    "investor_b": (Role.INVESTOR, "5299STATEFULINVSB018", "LU"),
}
SELLERS = ("seller", "seller_ops", "seller_b")
BUYERS = ("buyer", "buyer_b")
LENDERS = ("lender", "lender_b")
INVESTORS = ("investor", "investor_b")
#: who holds money in the tests (and approved the escrows for all of it)
MONEY_HOLDERS = SELLERS + BUYERS + LENDERS + INVESTORS + ("warehouse", "carrier")
#: whose standing governance may change in a sequence (never an admin, the treasury or an oracle)
GOVERNED = ("seller", "seller_b", "buyer", "buyer_b", "lender_b", "investor_b")
#: every account a rule may name as a counterparty (an outsider is not a member)
EVERYONE = MONEY_HOLDERS + ("treasury", "outsider")


#: gas of every stateful-test transaction: the chain runs free gas, and a revert is caught by the
#: `eth_call` before sending, so no estimate is needed (one round trip instead of anvil's search)
FIXED_GAS = 15_000_000


class SimulatingSender(TxSender):
    """A sender that checks a transaction with one `eth_call` (a revert raises the decoded
    Solidity error, nothing is sent) and sends it with fixed gas at price zero."""

    def _base_tx(self, to, data, gas):
        tx = {"from": self.address, "data": data, "value": 0, "chainId": self._chain_id}
        if to is not None:
            tx["to"] = to
            raw = data if isinstance(data, str) else "0x" + bytes(data).hex()
            resp = self.w3.provider.make_request("eth_call", [{"from": self.address, "to": to, "data": raw,
                                                               "gas": hex(FIXED_GAS)}, "latest"])
            if "error" in resp:
                err = resp["error"]
                revert = err.get("data") if isinstance(err, dict) else None
                if isinstance(revert, dict):
                    revert = revert.get("data")
                raise self.decoder.decode(revert if isinstance(revert, str) else b"")
        tx["gas"] = gas or FIXED_GAS
        tx["gasPrice"] = 0
        return tx


@dataclass
class World:
    """The session network seen by the stateful tests."""

    net: Any  # tests.conftest.Net
    keys: dict[str, LocalAccount] = field(default_factory=dict)
    _clients: dict[str | None, Clients] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = dict(self.net.keys)
        for key in EXTRA_MEMBERS:
            self.keys[key] = Account.from_key(keccak(text=f"stateful:{key}"))
        self.keys["outsider"] = Account.from_key(keccak(text="stateful:outsider"))
        chain = self.net.chain
        self._saved_senders = dict(chain._senders)
        for acct in self.keys.values():  # the stateful tests' senders simulate instead of estimating
            chain._senders[acct.address] = SimulatingSender(chain.w3, acct, chain.nonces, chain.decoder, chain.fees)

    def close(self) -> None:
        """Gives the session chain its own senders back (other test modules estimate gas)."""
        self.chain._senders.clear()
        self.chain._senders.update(self._saved_senders)

    @property
    def chain(self):
        return self.net.chain

    @property
    def w3(self):
        return self.net.chain.w3

    @property
    def d(self):
        return self.net.deployment

    def addr(self, key: str) -> str:
        return self.keys[key].address

    def c(self, key: str | None = None) -> Clients:
        """The typed clients signing as `key` (read-only for None), built once."""
        got = self._clients.get(key)
        if got is None:
            got = self.d.clients(self.chain, self.keys[key] if key else None)
            self._clients[key] = got
        return got

    @cached_property
    def token_address(self) -> dict[str, str]:
        return dict(self.d.settlement_tokens)

    @cached_property
    def key_of(self) -> dict[str, str]:
        """Participant key of each address."""
        return {a.address: k for k, a in self.keys.items()}

    # -- chain time
    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def snapshot(self) -> str:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(self, snap: str) -> None:
        revert_to(self.w3, snap)
        self.chain.nonces.resync()

    # -- signing helpers
    def sign_event(self, ev: ShipmentEvent, signers: tuple[str, ...]) -> list[bytes]:
        o = self.c().oracle
        return [o.sign_event(self.keys[k], ev) for k in signers]

    def sign_retraction(self, event_id: bytes, reason: bytes, at: int, signers: tuple[str, ...]) -> list[bytes]:
        o = self.c().oracle
        return [o.sign_retraction(self.keys[k], event_id, reason, at) for k in signers]

    def publish_rates(self) -> None:
        """Every FX pair of `FX_RATES`, observed now (rates never change: conversions stay exact)."""
        at = self.now()
        fx = self.c("carrier").fx
        for (base, quote), rate in FX_RATES.items():
            r = FxRate(base, quote, rate, at)
            fx.submit_rate(r, [fx.sign_rate(self.keys[k], r) for k in ORACLES[:2]])

    def govern(self, *calls: tuple[str, bytes], description: str = "stateful governance") -> int:
        return self.c().registry.govern(self.net.admins, list(calls), description)


def set_up(world: World) -> None:
    """The one-time set-up: extra members admitted, money minted to every holder, standing
    approvals of the escrows (tokens and collateral), fresh FX rates, lender book policies."""
    reg = world.c().registry
    expiry = world.now() + YEAR
    world.govern(*[reg.call_add_member(MemberInput(world.addr(k), roles, lei, country, expiry, f"Stateful {k}"))
                   for k, (roles, lei, country) in EXTRA_MEMBERS.items()], description="admit stateful members")
    d = world.d
    spenders = (d.deal_engine, d.invoice_settlement, d.abs_pools)
    for key in MONEY_HOLDERS:
        for ccy in CURRENCIES:
            amount = 50_000_000_00 if key in LENDERS + BUYERS + INVESTORS else 1_000_000_00
            world.c("treasury").token(ccy).mint(world.addr(key), amount, keccak(text=f"stateful deposit {key} {ccy}"))
            for spender in spenders:
                world.c(key).token(ccy).approve(spender, MAX_UINT)
    for key in SELLERS:
        c = world.c(key)
        for operator in (d.receivable_financing, d.order_financing):
            c.invoices._tx("setApprovalForAll", operator, True)
        c.orders._tx("setApprovalForAll", d.order_financing, True)
        c.receipts._tx("setApprovalForAll", d.receipt_pledge_financing, True)
    world.publish_rates()
    world.c("lender").risk.set_lender_policy("USD", 0, 0)
    world.c("lender_b").risk.set_lender_policy("EUR", 0, 0)
