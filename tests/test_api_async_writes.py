"""Asynchronous writes (Prefer: respond-async): 202 at the first accepted transaction, the answer
under GET /operations/{id}; refusals before sending stay synchronous; only the sender sees it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chain.problems import ProblemError
from chain.tx import on_accepted
from node_api.errors import InvalidInput
from node_api.operations import AsyncWrites, OperationStore, TooManyOperations
from tests.support.api import make_api

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


def _invoice_body(net, number="ASYNC-INV-1", face=250_000_00):
    now = net.now()
    return {"buyer": net.addr("buyer"), "invoice_number": number, "face_value": {"currency": "USD", "minor": face},
            "issue_date": now, "due_date": now + 60 * 86_400, "document_hash": "0x" + "5a" * 32,
            "document_cid": "bafkreiasyncinvoice"}


def _finished(api, headers, url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["state"] != "pending":
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"{url} still pending after {timeout}s")


def test_async_mint_answers_202_at_acceptance_then_the_operation_holds_the_answer(api, net):
    seller = api.login("seller")
    r = api.client.post("/invoices", json=_invoice_body(net), headers={**seller, **ASYNC})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["state"] == "pending" and body["tx_hash"].startswith("0x") and len(body["tx_hash"]) == 66
    assert r.headers["location"] == body["status_url"] == f"/operations/{body['operation_id']}"
    assert r.headers["preference-applied"] == "respond-async"
    op = _finished(api, seller, body["status_url"])
    assert op["state"] == "succeeded" and op["status_code"] == 201 and op["problem"] is None
    assert op["tx_hashes"][0] == body["tx_hash"] and op["method"] == "POST" and op["path"] == "/invoices"
    invoice_id = op["result"]["invoice_id"]
    receipt = net.w3.eth.get_transaction_receipt(body["tx_hash"])
    assert receipt["status"] == 1 and op["result"]["block_number"] == receipt["blockNumber"]
    assert op["created_at_iso"].endswith("Z") and op["finished_at"] >= op["created_at"]
    api.sync()
    assert api.client.get(f"/invoices/{invoice_id}", headers=seller).json()["state"] == "Issued"


def test_a_write_refused_before_sending_answers_its_problem_at_once(api, net):
    seller = api.login("seller")
    minted = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-2"), headers=seller)
    assert minted.status_code == 201, minted.text
    # the same invoice again: the contract's pre-check refuses it, nothing is sent: a 409, not a 202
    r = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-2"), headers={**seller, **ASYNC})
    assert r.status_code == 409 and r.json()["error"] == "DuplicateDocument", r.text
    # a role the caller lacks: 403 at once
    r = api.client.post(f"/invoices/{minted.json()['invoice_id']}/confirm", headers={**seller, **ASYNC})
    assert r.status_code in (403, 404), r.text
    assert api.client.app.state.operations.running == 0


def test_only_the_sender_sees_its_operation(api, net):
    seller, buyer = api.login("seller"), api.login("buyer")
    r = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-3"), headers={**seller, **ASYNC})
    assert r.status_code == 202, r.text
    url = r.json()["status_url"]
    assert api.client.get(url, headers=buyer).status_code == 404
    assert api.client.get("/operations/" + "0" * 32, headers=seller).status_code == 404
    assert api.client.get("/operations/not-an-id", headers=seller).status_code == 422
    _finished(api, seller, url)


def test_without_the_preference_a_write_still_waits_for_its_block(api, net):
    seller = api.login("seller")
    r = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-4"), headers=seller)
    assert r.status_code == 201 and r.json()["block_number"] > 0


def test_a_two_step_payment_answers_at_its_approval_and_finishes_in_the_node(api, net):
    """An invoice payment is an approval and the payment that spends it: the 202 names the first,
    the operation lists both and the buyer's money moved once."""
    from tests.support.deals import balance, confirmed_invoice, ensure_money
    ensure_money(net, keys=("buyer",))
    invoice_id = confirmed_invoice(net, 1_000_00)
    buyer = api.login("buyer")
    before = balance(net, "buyer")
    r = api.client.post(f"/invoices/{invoice_id}/payments", json={"amount": 400_00, "payment_reference": "TT-ASYNC"},
                        headers={**buyer, **ASYNC})
    assert r.status_code == 202, r.text
    op = _finished(api, buyer, r.json()["status_url"])
    assert op["state"] == "succeeded", op
    assert len(op["tx_hashes"]) == 2 and op["tx_hashes"][0] == r.json()["tx_hash"]
    assert balance(net, "buyer") == before - 400_00


class _Route:
    status_code = 200
    response_model = None
    response_model_by_alias = True


def _writes(api, accept_wait: float = 10.0) -> AsyncWrites:
    return AsyncWrites(api.client.app, OperationStore(4, 3600), ThreadPoolExecutor(2), accept_wait=accept_wait)


def _scope(api) -> dict:
    return {"type": "http", "method": "POST", "path": "/invoices/1/pay", "headers": [], "app": api.client.app,
            "query_string": b""}


def _ended(writes: AsyncWrites, owner: str, op_id: str) -> dict:
    deadline = time.monotonic() + 5
    while (view := writes.store.get(owner, op_id))["state"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.01)
    return view


def test_a_failure_after_acceptance_is_the_operations_problem(api, net):
    """The write sends a transaction and then fails (e.g. its second step is refused): the
    operation ends failed with the problem body the API's handlers give that error."""
    caller = api.ctx.caller(net.addr("seller"))

    def write(caller):
        on_accepted.get()("0x" + "ab" * 32)  # what chain.tx does once the node took a transaction
        raise InvalidInput("amount", "the second step found no allowance of USD 1,250.00")

    writes = _writes(api)
    answer = writes.run(_Route(), write, {"caller": caller}, _scope(api))
    assert answer.status_code == 202 and json.loads(answer.body)["tx_hash"] == "0x" + "ab" * 32
    view = _ended(writes, caller.address, json.loads(answer.body)["operation_id"])
    assert view["state"] == "failed" and view["status_code"] == 422 and writes.store.running == 0
    assert view["problem"]["field"] == "amount" and "USD 1,250.00" in view["problem"]["detail"]
    assert view["tx_hashes"] == ["0x" + "ab" * 32] and view["result"] is None


def test_a_write_that_sends_nothing_in_time_answers_202_and_its_refusal_is_the_operations(api, net):
    """Waiting for the account's previous payment (or a slow node) past the accept wait: 202
    without a transaction hash; a refusal found afterwards ends the operation, it is not lost."""
    caller = api.ctx.caller(net.addr("seller"))

    def write(caller):
        time.sleep(0.3)
        raise InvalidInput("amount", "no allowance")

    writes = _writes(api, accept_wait=0.05)
    answer = writes.run(_Route(), write, {"caller": caller}, _scope(api))
    body = json.loads(answer.body)
    assert answer.status_code == 202 and body["tx_hash"] is None
    view = _ended(writes, caller.address, body["operation_id"])
    assert view["state"] == "failed" and view["status_code"] == 422 and view["tx_hashes"] == []


def test_too_many_running_writes_are_refused_with_retry_after(api, net):
    seller = api.login("seller")
    store = api.client.app.state.operations
    store.max_per_owner = 0  # every slot of the seller taken
    r = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-5"), headers={**seller, **ASYNC})
    assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
    assert r.json()["code"] == "too_many_operations" and "at most 0" in r.json()["detail"]
    store.max_per_owner = 64
    # without the preference the same write goes through (synchronously)
    assert api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-5"), headers=seller).status_code == 201


def test_every_app_shares_one_wrapper_per_route(net, tmp_path):
    """The routers are module-level: a second app (the test suite builds many) wraps nothing again
    and holds no reference to the first one."""
    first, second = make_api(net, tmp_path / "a"), make_api(net, tmp_path / "b")
    from node_api.operations import _api_routes
    mint = next(r for r in _api_routes(second.client.app.router.routes) if r.path == "/invoices" and "POST" in r.methods)
    assert mint.endpoint._async_write and not getattr(mint.endpoint.__wrapped__, "_async_write", False)
    assert first.client.app.state.async_writes is not second.client.app.state.async_writes


def test_operations_are_bounded_and_finished_ones_expire():
    now = [1_000.0]
    store = OperationStore(max_running=3, retention_seconds=60, max_per_owner=2, max_kept=3, clock=lambda: now[0])
    a, b = store.open("0xA", "POST", "/x"), store.open("0xA", "POST", "/y")
    with pytest.raises(TooManyOperations) as mine:
        store.open("0xa", "POST", "/z")  # the member's two slots
    assert isinstance(mine.value, ProblemError) and mine.value.status == 503 and "your writes" in str(mine.value)
    c = store.open("0xB", "POST", "/z")
    with pytest.raises(TooManyOperations):
        store.open("0xC", "POST", "/z")  # the node's three
    store.finish(a, "succeeded", 200, {"ok": True})
    assert store.get("0xa", a.id)["result"] == {"ok": True}  # owners compare case-insensitively
    assert store.get("0xB", a.id) is None  # not the sender's
    assert store.open("0xA", "POST", "/w").owner == "0xa"  # a slot freed
    now[0] += 61
    assert store.get("0xA", a.id) is None  # expired
    assert store.get("0xA", b.id)["state"] == "pending"  # still running: kept
    for op in (b, c):
        store.finish(op, "failed", 409, {"code": "contract_revert"})
    d, e = store.open("0xD", "POST", "/v"), store.open("0xE", "POST", "/v")
    store.finish(d, "succeeded", 200, {})
    store.finish(e, "succeeded", 200, {})
    assert store.get("0xA", b.id) is None and store.get("0xE", e.id) is not None  # at most 3 kept: oldest go


def test_a_synchronous_write_waits_for_its_block_without_a_request_thread(api, net):
    """With ONE request thread in all, a read is answered while a synchronous write is in flight:
    the write runs in the node's write threads and its request awaits it on the event loop (with
    the write in a request thread, the read would wait for the write's end)."""
    import threading

    import anyio
    from fastapi.testclient import TestClient

    seller = api.login("seller")
    entered, release, resumed, seen = threading.Event(), threading.Event(), threading.Event(), {}
    act = api.ctx.act

    def slow_act(*args, **kwargs):
        seen["thread"] = threading.current_thread().name
        entered.set()
        release.wait(20)  # released by the test once the read has answered (or after 20 s)
        resumed.set()
        return act(*args, **kwargs)

    api.ctx.act = slow_act
    with TestClient(api.client.app) as client:  # one event loop for every request below
        async def one_request_thread() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = 1

        client.portal.call(one_request_thread)
        with ThreadPoolExecutor(1) as pool:
            write = pool.submit(client.post, "/invoices", json=_invoice_body(net, "ASYNC-INV-9"), headers=seller)
            assert entered.wait(20)
            read = client.get("/invoices", headers=seller)
            answered_while_writing = not resumed.is_set()
            release.set()
            assert read.status_code == 200, read.text
            minted = write.result(60)
    assert answered_while_writing
    assert minted.status_code == 201 and minted.json()["block_number"] > 0, minted.text
    assert seen["thread"].startswith("async-write"), seen


def test_a_write_route_declared_on_the_app_itself_stays_synchronous_and_answers():
    """FastAPI decides whether an endpoint is a coroutine when it builds the route's handler; a route
    declared on the app (not in a router) was built before the writes are installed, so wrapping it
    in the async write path would hand FastAPI a coroutine it never awaits (a 500). It is left as
    it is."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from node_api.operations import install

    app = FastAPI()

    @app.post("/own-write")
    def own_write() -> dict:
        return {"written": True}

    install(app, OperationStore(max_running=4, retention_seconds=60), threads=2)
    r = TestClient(app).post("/own-write")
    assert r.status_code == 200 and r.json() == {"written": True}, r.text
    app.state.async_writes.close()


def test_a_synchronous_write_sent_while_the_node_stops_is_refused_with_nothing_sent(api, net):
    seller = api.login("seller")
    api.client.app.state.async_writes.close()  # what the node does when it stops
    r = api.client.post("/invoices", json=_invoice_body(net, "ASYNC-INV-10"), headers=seller)
    assert r.status_code == 503 and r.json()["code"] == "node_stopping" and r.headers["retry-after"] == "5", r.text
    api.sync()
    page = api.client.get("/invoices?limit=200", headers=seller).json()
    assert all(i["invoice_number"] != "ASYNC-INV-10" for i in page["items"]), page  # nothing was minted
