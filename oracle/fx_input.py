"""FX observations as the operator's FX sources post them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator


class FxRateInput(BaseModel):
    """An FX observation: ``{"baseCurrency": "EUR", "quoteCurrency": "USD", "rate": "1.08420000",
    "observedAt": "2025-01-01T12:00:00Z"}``. ``rate`` is a decimal string (or an integer) with at
    most 8 decimals, never a JSON float; ``observedAt`` an ISO 8601 time with offset or unix seconds."""

    model_config = ConfigDict(extra="forbid")

    baseCurrency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    quoteCurrency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    rate: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}(\.[0-9]{1,8})?$")] | int
    observedAt: AwareDatetime | Annotated[int, Field(ge=0, lt=2**63)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @field_validator("rate", mode="before")
    @classmethod
    def _no_float(cls, v: object) -> object:
        if isinstance(v, float):
            raise ValueError("must be a decimal string or an integer, not a JSON float")
        if isinstance(v, bool):
            raise ValueError("must be a decimal string or an integer")
        return v
