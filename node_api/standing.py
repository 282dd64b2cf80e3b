"""What a member may still do through the node, by its standing on chain (SPEC 5; the matrix is
in docs/api.md, "Standing").

The standing is read from the registry on every request (``Caller.member``), so a suspension or a
sanction takes effect at the next request of every open session:

- ``active``: everything its roles allow;
- ``suspended``: it may still see and close its running obligations: its own invoices,
  receipts, deals and account, the documents it is a reader of, repaying and withdrawing, relaying
  its own signed transactions (the contracts decide which of those they still accept). Nothing
  new: no directory, event feed, reports, uploads, mints, offers or governance;
- ``sanctioned``: nothing but its own session (``/auth/me``, ``/auth/logout``); a fresh login is
  refused;
- not a member: no session at all (login refused, old tokens refused).

:func:`admit` is the one check; ``node_api.deps.get_caller`` (the dependency behind every
authenticated route) calls it with the route's :class:`Access` from :data:`ROUTE_ACCESS`.
Routes not listed there need an active member.
"""

from __future__ import annotations

from enum import Enum

from chain.clients import Member

from .errors import NodeError


class Standing(str, Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    SANCTIONED = "sanctioned"


class Access(Enum):
    """The least standing a route needs."""

    SESSION = "session"  # any member, whatever its standing: its own session only
    OBLIGATIONS = "obligations"  # active or suspended: see and close its running obligations
    ACTIVE = "active"  # active members only


#: Which standings each access admits.
ADMITS: dict[Access, frozenset[Standing]] = {
    Access.SESSION: frozenset(Standing),
    Access.OBLIGATIONS: frozenset({Standing.ACTIVE, Standing.SUSPENDED}),
    Access.ACTIVE: frozenset({Standing.ACTIVE}),
}

#: (method, route path) -> access, for the routes a member in poor standing keeps. Every other
#: authenticated route is Access.ACTIVE.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/auth/me"): Access.SESSION,
    ("POST", "/auth/logout"): Access.SESSION,
    ("GET", "/invoices"): Access.OBLIGATIONS,
    ("GET", "/invoices/{invoice_id}"): Access.OBLIGATIONS,
    ("GET", "/receipts"): Access.OBLIGATIONS,
    ("GET", "/receipts/{receipt_id}"): Access.OBLIGATIONS,
    ("GET", "/invoices/{invoice_id}/payments"): Access.OBLIGATIONS,
    ("GET", "/invoices/{invoice_id}/parts"): Access.OBLIGATIONS,
    ("POST", "/invoices/{invoice_id}/payments"): Access.OBLIGATIONS,
    ("POST", "/invoices/{invoice_id}/parts/payments"): Access.OBLIGATIONS,
    ("GET", "/orders"): Access.OBLIGATIONS,
    ("GET", "/orders/{order_id}"): Access.OBLIGATIONS,
    ("GET", "/receipts/{receipt_id}/pledges"): Access.OBLIGATIONS,
    ("GET", "/deals"): Access.OBLIGATIONS,
    ("GET", "/deals/{deal_id}"): Access.OBLIGATIONS,
    ("GET", "/deals/{deal_id}/agreement"): Access.OBLIGATIONS,
    ("GET", "/deals/{deal_id}/agreement.pdf"): Access.OBLIGATIONS,
    ("GET", "/agreements/{agreement_hash}"): Access.OBLIGATIONS,
    ("POST", "/deals/{deal_id}/repay"): Access.OBLIGATIONS,
    ("POST", "/deals/{deal_id}/withdraw"): Access.OBLIGATIONS,
    ("GET", "/portfolio"): Access.OBLIGATIONS,
    ("GET", "/treasury/redemptions"): Access.OBLIGATIONS,
    ("POST", "/currencies/{currency}/redemptions"): Access.OBLIGATIONS,
    ("POST", "/pools/{pool_id}/claims"): Access.OBLIGATIONS,
    ("GET", "/shipments/{transport_document}"): Access.OBLIGATIONS,
    ("GET", "/accounts/{address}/balances"): Access.OBLIGATIONS,
    ("GET", "/accounts/{address}/transfers"): Access.OBLIGATIONS,
    ("GET", "/documents/{cid}"): Access.OBLIGATIONS,
    ("GET", "/documents/{cid}/key"): Access.OBLIGATIONS,
    ("POST", "/tx/relay"): Access.OBLIGATIONS,
    ("GET", "/tx/{tx_hash}"): Access.OBLIGATIONS,
    ("GET", "/operations/{operation_id}"): Access.OBLIGATIONS,  # the writes a suspended member may still send
}


class StandingForbidden(NodeError):
    status = 403
    code = "standing"
    title = "Not allowed in this standing"


def standing_of(member: Member) -> Standing:
    if member.sanctioned:
        return Standing.SANCTIONED
    if member.suspended:
        return Standing.SUSPENDED
    return Standing.ACTIVE


def access_of(method: str, path: str) -> Access:
    return ROUTE_ACCESS.get((method.upper(), path), Access.ACTIVE)


def admit(member: Member, access: Access) -> Standing:
    """The member's standing, if it may use a route of `access`; else StandingForbidden."""
    standing = standing_of(member)
    if standing not in ADMITS[access]:
        raise StandingForbidden(f"{member.account} is {standing.value}: {_KEEPS[standing]}",
                                standing=standing.value)
    return standing


#: what each standing keeps (the refusal's wording)
_KEEPS: dict[Standing, str] = {
    Standing.ACTIVE: "",
    Standing.SUSPENDED: "it may only see and close its running obligations (its own invoices, receipts, deals, "
                        "repayments, withdrawals) through this node",
    Standing.SANCTIONED: "the node shows it nothing but its own session",
}


def refuse_login(member: Member) -> None:
    """A login is refused to non-members and sanctioned members (a suspended one may still log in
    to close its obligations)."""
    if not member.exists:
        raise StandingForbidden(f"{member.account} is not a member of the network", standing="not_a_member")
    if standing_of(member) is Standing.SANCTIONED:
        raise StandingForbidden(f"{member.account} is sanctioned: the node opens no session for it",
                                standing=Standing.SANCTIONED.value)
