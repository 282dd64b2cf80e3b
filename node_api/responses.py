"""The node API's response classes: every JSON answer, problems included, is masked."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import JSONResponse

from chain.problems import MEDIA_TYPE

from .documents import mask_sensitive


class MaskedJSONResponse(JSONResponse):
    """Every JSON response passes through the bank/ID-number mask."""

    def render(self, content: Any) -> bytes:
        masked = mask_sensitive(content)
        try:
            return orjson.dumps(masked, default=str, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson stops at integers beyond 64 bits and at non-string keys
            return json.dumps(masked, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                              default=str).encode("utf-8")


#: orjson writes what json.dumps(..., default=str) wrote: dates and dataclasses through str()
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class ProblemResponse(MaskedJSONResponse):
    """An ``application/problem+json`` answer (``chain.problems`` body)."""

    media_type = MEDIA_TYPE

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body, status_code=body["status"], headers=headers)
