"""The state of an asynchronous write (``Prefer: respond-async``; node_api.operations)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from ..deps import CallerDep
from ..errors import NotFound
from ..openapi import READ_ONE
from ..readable import iso

router = APIRouter(prefix="/operations", tags=["operations"])


class OperationOut(BaseModel):
    operation_id: str
    state: Literal["pending", "succeeded", "failed"]
    method: str
    path: str
    tx_hashes: list[str]
    status_code: int | None  # of the answer the write gave (succeeded) or its problem (failed)
    result: Any = None  # the body a synchronous write would have answered
    problem: dict[str, Any] | None = None
    created_at: int
    created_at_iso: str | None
    finished_at: int | None
    finished_at_iso: str | None


@router.get("/{operation_id}", response_model=OperationOut, responses=READ_ONE)
def get_operation(operation_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")], request: Request,
                  caller: CallerDep) -> dict:
    """A write sent with `Prefer: respond-async`: pending, succeeded (with its answer) or failed
    (with its problem). Only its sender sees it; kept for an hour after it finished."""
    view = request.app.state.operations.get(caller.address, operation_id)
    if view is None:
        raise NotFound("operation", operation_id)
    return {**view, "created_at_iso": iso(view["created_at"]), "finished_at_iso": iso(view["finished_at"])}
