"""Every error of every contract's ABI (the network's and the libraries' they inherit) has a
sentence people can act on, rendered with readable arguments; Swagger UI and ReDoc are served
from the pinned npm packages, with no network."""

from __future__ import annotations

import socket

import pytest

from chain import errors
from chain.compiler import compile_contracts
from node_api.readable import Reader
from node_api.sentences import SENTENCES, Speaker, abi_types, sentence
from tests.support.api import make_api


def _sample(abi_type: str, name: str):
    if abi_type == "address":
        return "0x" + "ab" * 20
    if abi_type == "bool":
        return True
    if abi_type == "string":
        return "a reason"
    if abi_type.startswith("bytes") and abi_type != "bytes":
        n = int(abi_type[5:])
        return (b"USDXXX"[:n] if n == 3 else b"DEPA" if n == 4 else b"NLRTM" if n == 5 else b"\1" * n)
    if abi_type == "bytes":
        return b"\1\2"
    return 1_796_000_000 if abi_type == "uint64" else 7


def test_every_abi_error_has_a_sentence():
    types = abi_types({n: a.abi for n, a in compile_contracts().items()})
    missing = sorted(set(types) - set(SENTENCES))
    assert not missing, f"errors without a sentence: {missing}"
    speaker = Speaker(Reader(), now=1_796_000_000, currency="USD")
    for name, args in types.items():
        exc = errors.error_class(name)({k: _sample(t, k) for k, t in args.items()})
        text = sentence(exc, speaker, args)
        assert text and "{" not in text and not text.startswith("The contract refused ("), (name, text)


def test_sentences_name_roles_parties_figures_and_chain_time():
    r = Reader()
    seller = "0x" + "ab" * 20
    speaker = Speaker(r, now=1_796_126_400, currency="USD")
    missing = errors.error_class("MissingRole")({"account": seller, "required": 8, "held": 2})
    assert sentence(missing, speaker) == "0xabab..abab lacks the LENDER role (it holds SELLER)"
    maturity = errors.error_class("InvalidMaturity")({"maturity": 1_796_000_000, "gracePeriod": 86_400 * 400})
    assert sentence(maturity, speaker, {"maturity": "uint64", "gracePeriod": "uint64"}) == (
        "Maturity 2026-11-30T00:53:20Z must be after chain time 2026-12-01T12:00:00Z, with a grace period of at "
        "most 365 days (given 400 days)")
    over = errors.error_class("Overpayment")({"id": 5, "amount": 150_000_00, "open": 100_000_00})
    assert sentence(over, speaker) == "USD 150,000.00 would overpay invoice 5: USD 100,000.00 is open"


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection other than to this machine fails the test."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise AssertionError(f"network access to {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def test_docs_and_their_assets_load_with_no_network(net, tmp_path, offline):
    api = make_api(net, tmp_path)
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text.replace("http://localhost", "") and "https://" not in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        r = api.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000, asset
    redoc = api.client.get("/redoc")
    assert redoc.status_code == 200 and "/docs/assets/redoc.standalone.js" in redoc.text
    assert "fonts.googleapis" not in redoc.text and "cdn" not in redoc.text.lower()
    assert api.client.get("/docs/assets/redoc.standalone.js").status_code == 200
    assert api.client.get("/docs/assets/../../package.json").status_code == 404
    doc = api.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    upload = doc["paths"]["/documents"]["post"]["requestBody"]["content"]["application/octet-stream"]
    assert upload["schema"] == {"type": "string", "format": "binary"}
