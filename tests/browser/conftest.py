"""Fixtures of the dashboard's browser tests: a real node (indexer thread + uvicorn on a free
loopback port) on the session's anvil deployment, seeded with a small trade per product
(tests/browser/seed.py), and Debian's chromium driven by Playwright (``/usr/bin/chromium``;
Playwright's own browser download is not used). Screenshots go to ``build/screenshots/``.

The chain is snapshotted before the seed and reverted after the module, like every test's changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import sync_playwright

from chain.anvil import free_port
from chain.clients import shipment_id
from node_api.server import RunningNode, start_node
from node_api.settings import NodeSettings

from tests.support.api import migrated_db
from tests.support.mining import wait_until

from .seed import REFERENCE, Seeded, seed
from .wallet import Browser
from tests.support.mining import revert_to

CHROMIUM = Path(os.environ.get("TRADENET_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"



@pytest.fixture(scope="module")
def seeded_node(net, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNode, Seeded]]:
    snap = net.w3.provider.make_request("evm_snapshot", [])["result"]
    tmp = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    settings = NodeSettings(rpc_url=net.anvil_url, deployment_file=net.deployment.save(tmp),
                            database_url=migrated_db(tmp), api_domain=f"127.0.0.1:{port}",
                            api_uri=f"http://127.0.0.1:{port}", document_dir=tmp / "documents", demo_login=True)
    node = start_node(settings, net.chain, list(net.keys.values()), port=port, poll_interval=0.2)
    try:
        seeded = seed(net, node.ctx.documents)
        node.ctx.remember(shipment_id(REFERENCE), REFERENCE)  # what the API does for a deal made through it
        head = net.w3.eth.block_number
        wait_until(lambda: _indexed(node) >= head, timeout=30, what="the node indexed the seed")
        yield node, seeded
    finally:
        node.stop()
        revert_to(net.w3, snap)
        net.chain.nonces.resync()


def _indexed(node: RunningNode) -> int:
    from node_api.read_model import ReadModel

    return ReadModel(node.ctx.db).indexed_block() or 0


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():  # a failure, not a skip: CI must run the browser tests
        pytest.fail(f"no chromium at {CHROMIUM}: scripts/test_infra.sh installs Debian's (or set TRADENET_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium, seeded_node, net) -> Iterator[Browser]:
    """A fresh browser profile per test (no cookies) on the seeded node; after the test: no
    request left loopback and the page broke no Content-Security-Policy rule."""
    node, _ = seeded_node
    b = Browser(chromium, node.url, net.keys, SCREENSHOTS)
    yield b
    b.close()
    b.assert_clean()
