"""PurchaseOrder: issued (and thereby confirmed) by an active BUYER to an active SELLER of another
legal entity, one order per (buyer LEI, supplier LEI, canonical order number) for ever, a
supported currency, cancellation by the buyer, moves only into and out of registered escrows,
financing states set only by the escrow holding the order, and the `orderTerms` view the invoice
token and the deals read."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from chain import errors
from chain.clients import lei_bytes
from chain.vocabulary import ContractKind, OrderState, Role

from tests.support.tokens import (
    LAPSES,
    canonical_number,
    checksum,
    deploy_escrow,
    govern,
    issue_order,
    lapse,
    order_terms,
    outsider,
    sanction,
    second_account,
    unchanged,
)

MAX_ORDER_AMOUNT = 2**96 - 1
BUYER_LEI = "724500ROTTERDAMRET06"
SELLER_LEI = "3003005ZBRIGHTELEC05"


def _orders(net, key: str | None = None):
    return net.clients(key).orders


def _record(net, order_id):
    return lambda: _orders(net).order(order_id)


def _next_id(net):
    return lambda: _orders(net)._call("nextOrderId")


def _fingerprint(buyer_lei: str, supplier_lei: str, number: str) -> bytes:
    return keccak(abi_encode(["bytes20", "bytes20", "bytes32"],
                             [lei_bytes(buyer_lei), lei_bytes(supplier_lei), canonical_number(number)]))


def _in_escrow(net, escrow, supplier: str = "seller") -> int:
    """An order to `supplier` that it moved into the escrow (still Issued)."""
    order_id = issue_order(net, supplier=net.addr(supplier))
    _orders(net, supplier)._tx("transferFrom", net.addr(supplier), escrow.address, order_id)
    return order_id


def _financed(net, escrow) -> int:
    order_id = _in_escrow(net, escrow)
    escrow.call(_orders(net), "markFinanced", order_id)
    return order_id


@pytest.fixture
def escrow(net):
    return deploy_escrow(net, "order-escrow")


# ---------------------------------------------------------------------------- issue


def test_buyer_issues_an_order_to_its_supplier(net):
    po = _orders(net, "buyer")
    terms = order_terms(net, order_number="PO-2025-0007", amount=12_345_00, shipment_id=b"\x05" * 32)
    first = po._call("nextOrderId")
    order_id = po.issue(terms)
    assert order_id == first and po._call("nextOrderId") == first + 1
    o = po.order(order_id)
    assert (o.holder, o.buyer, o.supplier, o.state) == (net.addr("seller"), net.addr("buyer"), net.addr("seller"),
                                                         OrderState.ISSUED)
    assert (o.currency, o.delivery_date, o.amount, o.shipment_id, o.document_hash) == (
        "USD", terms.delivery_date, 12_345_00, b"\x05" * 32, terms.document_hash)
    fp = _fingerprint(BUYER_LEI, SELLER_LEI, "PO-2025-0007")
    assert po._call("orderByFingerprint", fp) == order_id
    [ev] = po.events(po.last_receipt, "OrderIssued")
    assert (ev["id"], ev["buyer"], ev["supplier"], bytes(ev["fingerprint"])) == (
        order_id, net.addr("buyer"), net.addr("seller"), fp)
    assert (ev["terms"].orderNumber, ev["terms"].goods, ev["terms"].quantity, ev["terms"].unit) == (
        "PO-2025-0007", terms.goods, terms.quantity, terms.unit)
    v = po._call("orderTerms", order_id)
    assert (v.buyer, v.supplier, v.currency, v.deliveryDate, v.amount, v.invoiceable) == (
        net.addr("buyer"), net.addr("seller"), b"USD", terms.delivery_date, 12_345_00, True)
    assert (po._call("name"), po._call("symbol")) == ("tradenet Purchase Order", "TNPO")


def test_order_of_the_maximum_amount(net):
    order_id = issue_order(net, amount=MAX_ORDER_AMOUNT)
    assert _orders(net).order(order_id).amount == MAX_ORDER_AMOUNT


def test_non_member_cannot_issue(net):
    stranger = outsider("order-issuer")
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.NotMember) as exc:
            _orders(net).using(stranger).issue(order_terms(net))
    assert checksum(exc.value["account"]) == stranger.address


@pytest.mark.parametrize("who", ["seller", "lender", "warehouse"])
def test_only_a_buyer_issues(net, who):
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.MissingRole) as exc:
            _orders(net, who).issue(order_terms(net, supplier=net.addr("seller_ops")))
    assert checksum(exc.value["account"]) == net.addr(who)
    assert (exc.value["required"], exc.value["held"]) == (int(Role.BUYER), int(net.participants[who].roles))


@pytest.mark.parametrize("supplier, error", [("lender", "MissingRole"), ("buyer", "MissingRole"),
                                             ("outsider", "NotMember"), ("contract", "NotMember")])
def test_supplier_must_be_a_seller(net, supplier, error):
    to = {"outsider": outsider("supplier").address, "contract": net.deployment.order_financing}.get(
        supplier) or net.addr(supplier)
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)) as exc:
            _orders(net, "buyer").issue(order_terms(net, supplier=to))
    assert checksum(exc.value["account"]) == to
    if error == "MissingRole":
        assert exc.value["required"] == int(Role.SELLER)


@pytest.mark.parametrize("who", ["buyer", "seller"])
@pytest.mark.parametrize("how", list(LAPSES))
def test_lapsed_buyer_or_supplier_blocks_an_order(net, who, how):
    lapse(net, who, how)
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, LAPSES[how][1])) as exc:
            _orders(net, "buyer").issue(order_terms(net))
    assert checksum(exc.value["account"]) == net.addr(who)


def test_supplier_and_buyer_are_different_legal_entities(net):
    """A BUYER account of the seller's own organisation cannot order from it."""
    own_buyer = second_account(net, "seller", Role.BUYER, "seller-buys-from-itself")
    with unchanged(net, _next_id(net)):
        for supplier in ("seller", "seller_ops"):
            with pytest.raises(errors.SupplierIsBuyer) as exc:
                _orders(net).using(own_buyer).issue(order_terms(net, supplier=net.addr(supplier)))
            assert exc.value["lei"] == lei_bytes(SELLER_LEI)


@pytest.mark.parametrize("override", [dict(amount=0), dict(amount=MAX_ORDER_AMOUNT + 1), dict(quantity=0)])
def test_amount_and_quantity_rules(net, override):
    terms = order_terms(net, **override)
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.InvalidAmount) as exc:
            _orders(net, "buyer").issue(terms)
    assert (exc.value["amount"], exc.value["maximum"]) == (terms.amount, MAX_ORDER_AMOUNT)


@pytest.mark.parametrize("override, error", [
    (dict(currency="usd"), "InvalidCurrencyCode"),
    (dict(currency="GBP"), "UnsupportedCurrency"),
    (dict(goods=""), "InvalidText"),
    (dict(goods="G" * 65), "InvalidText"),
    (dict(goods="LED\x00panels"), "InvalidText"),
    (dict(unit=""), "InvalidText"),
    (dict(unit="PCE\t"), "InvalidText"),
    (dict(document_hash=bytes(32)), "MissingDocument"),
    (dict(document_cid=""), "MissingDocument"),
    (dict(document_cid="b" * 129), "MissingDocument"),
    (dict(order_number=""), "InvalidReference"),
    (dict(order_number="P" * 65), "InvalidReference"),
    (dict(order_number="PO\x002025"), "InvalidReference"),
    (dict(order_number="PO-2025\u00a0"), "InvalidReference"),
    (dict(order_number="#/-"), "InvalidReference"),
])
def test_invalid_order_terms(net, override, error):
    with unchanged(net, _next_id(net)):
        with pytest.raises(getattr(errors, error)):
            _orders(net, "buyer").issue(order_terms(net, **override))


@pytest.mark.parametrize("offset", [0, -1, -86_400])
def test_delivery_date_must_be_in_the_future(net, offset):
    date = net.now() + offset
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.InvalidDeliveryDate) as exc:
            _orders(net, "buyer").issue(order_terms(net, delivery_date=date))
    assert exc.value["deliveryDate"] == date


# ---------------------------------------------------------------------------- one order per number


@pytest.mark.parametrize("variant", ["PO-2025-0007", "po-2025-0007", " PO 2025/0007", "Po.2025.0007", "PO20250007"])
def test_duplicate_order_numbers_are_refused_in_canonical_form(net, variant):
    first = issue_order(net, order_number="PO-2025-0007")
    fp = _fingerprint(BUYER_LEI, SELLER_LEI, "PO-2025-0007")
    with unchanged(net, _next_id(net)):
        with pytest.raises(errors.DuplicateOrder) as exc:
            _orders(net, "buyer").issue(order_terms(net, order_number=variant))
    assert (bytes(exc.value["fingerprint"]), exc.value["existingId"]) == (fp, first)


def test_duplicate_order_through_other_accounts_of_the_same_entities(net):
    first = issue_order(net, order_number="PO-2025-0008")
    other_buyer = second_account(net, "buyer", Role.BUYER, "buyer-ops")
    with unchanged(net, _next_id(net)):
        for supplier in ("seller", "seller_ops"):
            with pytest.raises(errors.DuplicateOrder) as exc:
                _orders(net).using(other_buyer).issue(order_terms(net, order_number="PO-2025-0008",
                                                                  supplier=net.addr(supplier)))
            assert exc.value["existingId"] == first


def test_same_number_to_another_supplier_is_another_order(net):
    first = issue_order(net, order_number="PO-2025-0009")
    govern(net, net.registry().call_set_roles(net.addr("lender_b"), Role.LENDER | Role.SELLER))
    second = issue_order(net, order_number="PO-2025-0009", supplier=net.addr("lender_b"))
    assert second == first + 1


def test_order_number_stays_taken_after_cancellation(net):
    first = issue_order(net, order_number="PO-2025-0010")
    _orders(net, "buyer").cancel(first, "ordered in error")
    with pytest.raises(errors.DuplicateOrder) as exc:
        _orders(net, "buyer").issue(order_terms(net, order_number="PO-2025-0010"))
    assert exc.value["existingId"] == first


# ---------------------------------------------------------------------------- cancel


def test_buyer_cancels_an_order(net):
    order_id = issue_order(net)
    po = _orders(net, "buyer")
    receipt = po.cancel(order_id, "budget withdrawn")
    o = po.order(order_id)
    assert (o.state, o.holder) == (OrderState.CANCELLED, net.addr("seller"))
    [ev] = po.events(receipt, "OrderCancelled")
    assert (ev["id"], ev["buyer"], ev["reason"]) == (order_id, net.addr("buyer"), "budget withdrawn")
    assert po._call("orderTerms", order_id).invoiceable is False


@pytest.mark.parametrize("who", ["seller", "lender", "buyer-ops"])
def test_only_the_buyer_cancels(net, who):
    order_id = issue_order(net)
    account = second_account(net, "buyer", Role.BUYER, "buyer-ops") if who == "buyer-ops" else net.keys[who]
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.NotOrderBuyer) as exc:
            _orders(net).using(account).cancel(order_id, "not mine")
    assert (exc.value["id"], checksum(exc.value["caller"])) == (order_id, account.address)


@pytest.mark.parametrize("reason", ["", "R" * 281, "line\nbreak"])
def test_cancel_reason_text_rules(net, reason):
    order_id = issue_order(net)
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.InvalidText) as exc:
            _orders(net, "buyer").cancel(order_id, reason)
    assert (exc.value["length"], exc.value["maxLength"]) == (len(reason), 280)


@pytest.mark.parametrize("state", ["cancelled", "in escrow", "financed", "closed", "defaulted"])
def test_cancel_only_while_issued_and_held_by_the_supplier(net, escrow, state):
    if state == "cancelled":
        order_id = issue_order(net)
        _orders(net, "buyer").cancel(order_id, "first")
        expected = OrderState.CANCELLED
    elif state == "in escrow":
        order_id = _in_escrow(net, escrow)
        expected = OrderState.ISSUED
    else:
        order_id = _financed(net, escrow)
        if state != "financed":
            escrow.call(_orders(net), "markClosed" if state == "closed" else "markDefaulted", order_id)
        expected = {"financed": OrderState.FINANCED, "closed": OrderState.CLOSED,
                    "defaulted": OrderState.DEFAULTED}[state]
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.InvalidOrderState) as exc:
            _orders(net, "buyer").cancel(order_id, "too late")
    assert (exc.value["id"], exc.value["state"]) == (order_id, expected)


def test_unknown_order(net):
    po = _orders(net, "buyer")
    with pytest.raises(errors.UnknownOrder) as exc:
        po.order(99)
    assert exc.value["id"] == 99
    with pytest.raises(errors.UnknownOrder):
        po._call("orderTerms", 99)
    with unchanged(net):
        with pytest.raises(errors.UnknownOrder):
            po.cancel(99, "no such order")


# ---------------------------------------------------------------------------- transfers: only into and out of escrows


def test_supplier_moves_its_order_into_an_escrow_and_back(net, escrow):
    order_id = _in_escrow(net, escrow)
    assert _orders(net).owner_of(order_id) == escrow.address
    escrow.transfer_nft(_orders(net), "seller", order_id)  # e.g. a deal cancelled before funding
    assert _orders(net).owner_of(order_id) == net.addr("seller")


def test_defaulted_order_goes_from_the_escrow_to_the_lender(net, escrow):
    order_id = _financed(net, escrow)
    escrow.call(_orders(net), "markDefaulted", order_id)
    escrow.transfer_nft(_orders(net), "lender", order_id)
    assert _orders(net).owner_of(order_id) == net.addr("lender")


@pytest.mark.parametrize("to", ["buyer", "lender", "seller_ops", "unregistered contract", "asset contract"])
def test_order_is_not_traded_between_members(net, to):
    order_id = issue_order(net)
    address = {"unregistered contract": lambda: deploy_escrow(net, "no-escrow", kind=None).address,
               "asset contract": lambda: net.deployment.invoice_token}.get(to, lambda: net.addr(to))()
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.OrderNotTransferable) as exc:
            _orders(net, "seller")._tx("transferFrom", net.addr("seller"), address, order_id)
    assert (exc.value["id"], exc.value["state"]) == (order_id, OrderState.ISSUED)


@pytest.mark.parametrize("state", ["cancelled", "closed"])
def test_dead_orders_do_not_move(net, escrow, state):
    if state == "cancelled":
        order_id = issue_order(net)
        _orders(net, "buyer").cancel(order_id, "withdrawn")
        move = lambda: _orders(net, "seller")._tx("transferFrom", net.addr("seller"), escrow.address, order_id)  # noqa: E731
        expected = OrderState.CANCELLED
    else:
        order_id = _financed(net, escrow)
        escrow.call(_orders(net), "markClosed", order_id)
        move = lambda: escrow.transfer_nft(_orders(net), "seller", order_id)  # noqa: E731
        expected = OrderState.CLOSED
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.OrderNotTransferable) as exc:
            move()
    assert exc.value["state"] == expected


def test_escrow_moves_follow_the_transfer_rule(net, escrow):
    order_id = issue_order(net)
    sanction(net, "seller")
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.MemberIsSanctioned):
            _orders(net, "seller")._tx("transferFrom", net.addr("seller"), escrow.address, order_id)
    held = _in_escrow(net, escrow, "seller_ops")
    with unchanged(net, _record(net, held)):
        with pytest.raises(errors.NotMember):
            escrow.transfer_nft(_orders(net), outsider("order-recipient").address, held)
        with pytest.raises(errors.MemberIsSanctioned):
            escrow.transfer_nft(_orders(net), "seller", held)


# ---------------------------------------------------------------------------- financing states (holding escrow only)


def test_holding_escrow_finances_and_closes_an_order(net, escrow):
    order_id = _in_escrow(net, escrow)
    po = _orders(net)
    receipt = escrow.call(po, "markFinanced", order_id)
    assert po.order(order_id).state == OrderState.FINANCED
    [ev] = po.events(receipt, "OrderFinanced")
    assert (ev["id"], ev["escrow"]) == (order_id, escrow.address)
    assert po._call("orderTerms", order_id).invoiceable is True  # the supplier may still invoice it
    receipt = escrow.call(po, "markClosed", order_id)
    assert po.order(order_id).state == OrderState.CLOSED
    assert po.events(receipt, "OrderClosed")[0]["escrow"] == escrow.address
    assert po._call("orderTerms", order_id).invoiceable is False


def test_holding_escrow_declares_an_order_defaulted(net, escrow):
    order_id = _financed(net, escrow)
    receipt = escrow.call(_orders(net), "markDefaulted", order_id)
    assert _orders(net).order(order_id).state == OrderState.DEFAULTED
    assert _orders(net).events(receipt, "OrderDefaulted")[0]["id"] == order_id
    assert _orders(net)._call("orderTerms", order_id).invoiceable is False


@pytest.mark.parametrize("action", ["markFinanced", "markClosed", "markDefaulted"])
@pytest.mark.parametrize("caller", ["buyer", "seller", "admin_a", "asset contract", "unregistered contract"])
def test_financing_states_need_a_registered_escrow(net, action, caller):
    order_id = issue_order(net)
    po = _orders(net)
    if caller.endswith("contract"):
        contract = deploy_escrow(net, caller, kind=ContractKind.ASSET if caller == "asset contract" else None)
        call, address = (lambda: contract.call(po, action, order_id)), contract.address
    else:
        call, address = (lambda: po.using(net.keys[caller])._tx(action, order_id)), net.addr(caller)
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.NotSystemContract) as exc:
            call()
    assert checksum(exc.value["caller"]) == address


@pytest.mark.parametrize("action", ["markFinanced", "markClosed", "markDefaulted"])
def test_escrow_must_hold_the_order(net, escrow, action):
    order_id = issue_order(net)  # held by the supplier
    with unchanged(net, _record(net, order_id)):
        with pytest.raises(errors.NotOrderHolder) as exc:
            escrow.call(_orders(net), action, order_id)
    assert (exc.value["id"], checksum(exc.value["caller"])) == (order_id, escrow.address)
    with pytest.raises(errors.NotOrderHolder):
        escrow.call(_orders(net), action, 99)  # unknown: nobody holds it


def test_financing_state_transitions_from_wrong_states(net, escrow):
    po = _orders(net)
    order_id = _in_escrow(net, escrow)
    with unchanged(net, _record(net, order_id)):
        for action in ("markClosed", "markDefaulted"):  # only a financed order closes or defaults
            with pytest.raises(errors.InvalidOrderState) as exc:
                escrow.call(po, action, order_id)
            assert exc.value["state"] == OrderState.ISSUED
    escrow.call(po, "markFinanced", order_id)
    with pytest.raises(errors.InvalidOrderState) as exc:
        escrow.call(po, "markFinanced", order_id)
    assert exc.value["state"] == OrderState.FINANCED
    escrow.call(po, "markClosed", order_id)
    for action in ("markFinanced", "markClosed", "markDefaulted"):
        with pytest.raises(errors.InvalidOrderState) as exc:
            escrow.call(po, action, order_id)
        assert exc.value["state"] == OrderState.CLOSED


def test_cancelled_order_cannot_be_financed(net, escrow):
    """A cancelled order never reaches an escrow, so no escrow can finance it."""
    order_id = issue_order(net)
    _orders(net, "buyer").cancel(order_id, "withdrawn")
    with pytest.raises(errors.OrderNotTransferable):
        _orders(net, "seller")._tx("transferFrom", net.addr("seller"), escrow.address, order_id)
    with pytest.raises(errors.NotOrderHolder):
        escrow.call(_orders(net), "markFinanced", order_id)
