"""The node API's JSON rendering: orjson, with json.dumps where orjson stops, the same bytes."""

from __future__ import annotations

import datetime as dt
import json

from node_api.responses import MaskedJSONResponse


def _json_dumps(content) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str).encode()


def test_answers_render_as_compact_utf8_json_masked():
    body = {"seller_name": "Société Générale Export", "amount": {"currency": "EUR", "minor": "125000",
            "display": "EUR 1,250.00"}, "block": 1_234, "ok": True, "none": None,
            "note": "wire to GB82WEST12345698765432", "at": dt.datetime(2026, 12, 1, 10, 0, 0)}
    rendered = MaskedJSONResponse(body).body
    assert rendered == _json_dumps({**body, "note": "wire to " + "*" * 18 + "5432"})
    assert "Société".encode() in rendered  # UTF-8, not \\u escapes


def test_integers_beyond_64_bits_and_non_string_keys_still_render():
    token_id = 2**255 + 7
    body = {"id": token_id, "by_level": {1: "senior", 2: "junior"}}
    rendered = MaskedJSONResponse(body).body
    assert json.loads(rendered) == {"id": token_id, "by_level": {"1": "senior", "2": "junior"}}
