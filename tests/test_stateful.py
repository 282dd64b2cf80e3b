"""Stateful property tests of the whole contract system against a Python model.

`test_random_sequences_keep_every_invariant` runs the Hypothesis state machine
(``tests/support/stateful``): random sequences of treasury, transfer, invoice, offer, deal,
oracle, governance, risk, time and pool operations, each outcome predicted by the model, every
invariant checked against chain state after every step. The size comes from the Hypothesis
profile (``HYPOTHESIS_PROFILE``, default ``ci``: 200 sequences of up to 30 steps); the counts are
printed at the end. Below it, the deterministic regression tests of what the machine found."""

from __future__ import annotations

import time

import pytest
from hypothesis.stateful import run_state_machine_as_test

from chain import errors
from tests.support.stateful import profiles
from tests.support.stateful.machine import ContractSystem, prepare
from tests.support.stateful.ops import Stats
from tests.support.mining import revert_to


@pytest.fixture(scope="module")
def prepared(net):
    """The stateful world on the session chain, undone when the module ends."""
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    stats = Stats()
    p = prepare(net, stats)
    yield p, stats
    p.world.close()
    revert_to(net.w3, snap)
    net.chain.nonces.resync()


def test_random_sequences_keep_every_invariant(prepared, capsys):
    p, stats = prepared
    ContractSystem.prepared, ContractSystem.stats = p, stats
    start = time.monotonic()
    try:
        run_state_machine_as_test(ContractSystem, settings=profiles.active())
    finally:
        report = stats.report() + f"\n  in {time.monotonic() - start:.0f} s"
        with capsys.disabled():
            print("\n" + report)
    assert stats.steps >= stats.sequences  # every sequence ran steps
    if profiles.active() == profiles.settings.get_profile("ci"):
        assert stats.sequences >= 200 and stats.steps >= 5_000, stats.report()


# ---------------------------------------------------------------------------- regression tests
# Each replays, step by step, a sequence the state machine found failing (shrunk), on the same
# starting world, and checks every invariant after every step as the machine does.


@pytest.fixture
def machine(prepared):
    """A fresh state machine on the prepared world (the chain reverts after the test)."""
    p, stats = prepared
    ContractSystem.prepared, ContractSystem.stats = p, stats
    state = ContractSystem()
    state.invariants_hold()
    yield state
    state.teardown()


def steps(state: ContractSystem, *calls: tuple[str, dict]) -> None:
    for name, kwargs in calls:
        getattr(state, name)(**kwargs)
        state.invariants_hold()


def test_finding1_a_receipt_pledge_deal_can_be_declared_in_default_after_the_receipt_expired(machine):
    """Found by the machine: a funded receipt-pledge deal whose lender did not declare the
    default before the receipt expired could never be declared in default (enforcing the pledge
    reverted ReceiptExpired), so the lender's unreleased escrow stayed in the engine for ever.
    Now the default goes through and an expired receipt's pledge is released, not enforced."""
    m = machine.model
    accepted = [i for i, d in m.deals.items() if d.state.name == "ACCEPTED"]
    pledge = next(i for i in accepted if m.deals[i].product.name == "RECEIPT_PLEDGE")
    steps(machine, ("deal_fund", dict(pick=accepted.index(pledge))),
          *[("time_advance", dict(seconds=75 * 86_400))] * 3)
    d = m.deals[pledge]
    assert m.receipts[d.collateral].expiry < machine.prepared.world.now()
    funded = [i for i, x in m.deals.items() if x.state.name == "FUNDED"]
    steps(machine, ("deal_declare_default", dict(pick=funded.index(pledge))))
    assert d.state.name == "DEFAULTED" and d.lender_credit == d.principal - d.released
    receipt = machine.prepared.world.c().receipts.receipt(d.collateral)
    assert receipt.pledgee is None and receipt.holder == d.borrower


def test_finding2_an_order_whose_invoice_was_cancelled_can_be_invoiced_again(machine):
    """Found by the machine: the chain frees a purchase order when the invoice issued against it
    is cancelled (`invoiceByOrder` cleared, so the supplier can issue the corrected invoice), while
    the model still counted the order as invoiced and expected `InvalidOrder`. The model now
    mirrors the contract; this replays the sequence: issue, invoice, cancel, invoice again."""
    m = machine.model
    steps(machine, ("order_issue", dict(buyer="buyer", supplier="seller", ccy="USD", amount=50_000_00,
                                        number=7, bill=-1)))
    order = list(m.orders.values())[-1]
    pick = list(m.orders.values()).index(order)
    steps(machine, ("order_invoice", dict(pick=pick, face_pct=80)))
    first = m.invoices[order.invoice]
    steps(machine, ("invoice_cancel", dict(pick=list(m.invoices.values()).index(first))))
    assert first.state.name == "CANCELLED" and order.invoice == 0
    steps(machine, ("order_invoice", dict(pick=pick, face_pct=100)))
    assert order.invoice not in (0, first.id)
    assert machine.prepared.world.c().invoices.invoice_by_order(order.id) == order.invoice


def test_finding3_a_documentary_credit_past_its_expiry_is_flagged_once_and_never_counted_overdue(machine):
    """Found by the machine: past maturity + grace, flagging a documentary credit (a
    self-liquidating deal: its expiry is no payment failure) neither counts it overdue on chain
    nor should it in the model, which counted it (and ran the parties' overdue count up). And a
    second flag changed nothing yet succeeded: it is now refused with AlreadyFlaggedOverdue."""
    m = machine.model
    credit = next(i for i, d in m.deals.items() if d.product.name == "DOCUMENTARY" and d.state.name == "FUNDED")
    d = m.deals[credit]
    funded = [i for i, x in m.deals.items() if x.state.name == "FUNDED"]
    steps(machine, ("time_advance", dict(seconds=3600)), ("deal_flag_overdue", dict(pick=0)),
          ("oracle_report", dict(bad_listener=False, bill=0, call=0, notify=[], replay=False, signers=1)),
          ("time_advance", dict(seconds=75 * 86_400)),
          ("deal_flag_overdue", dict(pick=funded.index(credit))))
    assert machine.prepared.world.now() > d.maturity + d.grace
    assert d.overdue_flagged and not d.overdue_counted
    with pytest.raises(errors.AlreadyFlaggedOverdue):
        machine.prepared.world.c("carrier").deals.flag_overdue(credit)
    steps(machine, ("deal_flag_overdue", dict(pick=funded.index(credit))))  # the model expects the refusal too


def test_finding4_a_default_after_the_overdue_count_does_not_count_the_deal_again(machine):
    """Found by the machine: a deal already counted overdue by flagOverdue was counted again when
    its lender (or a pool) then declared the default, in the model only: the chain counts a deal
    once, so the parties' overdue runs differed (model 2, chain 1)."""
    m = machine.model
    funded = [i for i, x in m.deals.items() if x.state.name == "FUNDED"]
    deal = next(i for i in funded if m.deals[i].product.name == "RECEIVABLE" and machine.ops.k(m.deals[i].lender))
    d = m.deals[deal]
    steps(machine, *[("time_advance", dict(seconds=75 * 86_400))] * 2)
    assert machine.prepared.world.now() > d.maturity + d.grace
    steps(machine, ("deal_flag_overdue", dict(pick=funded.index(deal))))
    assert d.overdue_counted
    party = m.registry.entity(d.borrower)
    run = m.risk.run[party]
    funded = [i for i, x in m.deals.items() if x.state.name == "FUNDED"]
    steps(machine, ("deal_declare_default", dict(pick=funded.index(deal))))
    assert d.state.name in ("DEFAULTED", "CLOSED") and m.risk.run[party] == run


def test_finding5_a_part_held_by_a_sanctioned_member_is_withheld_from_a_parts_payment(machine):
    """Found by the machine: once the seller holding parts of a split invoice is sanctioned, the
    buyer's one-call payment of all parts withholds that holder's part and pays the others
    (``PartWithheld``, the contract's documented rule), while the model still shared the amount
    over every part and expected the payment to fail on the sanctioned receiver. The model now
    mirrors the contract; this replays the shrunk sequence (sanction the seller, pay parts)."""
    m = machine.model
    steps(machine, ("governance_standing", dict(action="sanction", member="seller")))
    roots = [r for r in m.parts if m.parts[r]]
    assert roots, "the prepared world has a split invoice"
    parts = [m.invoices[p] for p in m.parts[roots[0]]]
    withheld = [p for p in parts if m.registry.sanctioned(p.holder)]
    paid_before = {p.id: p.paid for p in parts}
    steps(machine, ("invoice_pay_parts", dict(fraction=1, pick=0)))
    assert withheld and all(p.paid == paid_before[p.id] for p in withheld)  # nothing reached the sanctioned holder
