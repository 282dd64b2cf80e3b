"""`tradenet <area> <action>` maps onto the node API one to one: every command names an operation
the node serves, and every product operation of the node has a command."""

from __future__ import annotations

import pytest

from tests.support.api import make_api
from tradenet.commands import COMMANDS, body_of, query_of

#: the node's product operations (documents, sign-in, governance, events, relay, health: other tools)
PRODUCT_PREFIXES = ("/invoices", "/orders", "/receipts", "/offers", "/deals", "/pools", "/treasury", "/currencies",
                    "/risk", "/portfolio", "/reports", "/shipments", "/oracle", "/fx-rates")
#: read by people in a browser, not a terminal
BROWSER_ONLY = {("GET", "/deals/{deal_id}/agreement.pdf")}


@pytest.fixture(scope="module")
def operations(net, tmp_path_factory):
    api = make_api(net, tmp_path_factory.mktemp("cli"))
    schema = api.client.get("/openapi.json").json()
    return {(m.upper(), path) for path, item in schema["paths"].items() for m in item if m in ("get", "post", "put")}


def test_every_command_is_an_operation_of_the_node(operations):
    commands = {(op.method, op.path) for actions in COMMANDS.values() for op in actions.values()}
    assert commands - operations == set()


def test_every_product_operation_of_the_node_has_a_command(operations):
    commands = {(op.method, op.path) for actions in COMMANDS.values() for op in actions.values()}
    product = {o for o in operations if o[1].startswith(PRODUCT_PREFIXES)} - BROWSER_ONLY
    assert product - commands == set()


def test_bodies_and_queries_are_checked_before_sending(tmp_path):
    assert body_of('{"reason": "short shipped"}') == {"reason": "short shipped"}
    f = tmp_path / "terms.json"
    f.write_text('{"principal": 100}')
    assert body_of(f"@{f}") == {"principal": 100}
    with pytest.raises(ValueError, match="--json is not JSON"):
        body_of("{oops")
    assert query_of(["day=2026-12-01"]) == {"day": "2026-12-01"}
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        query_of(["day"])
