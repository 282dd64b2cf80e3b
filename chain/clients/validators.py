"""`ValidatorSet`: the consortium's sealer (Clique signer) set, decided by governance."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import ContractClient
from ._codec import lei_bytes, text


@dataclass(frozen=True)
class Validator:
    sealer: str
    lei: str  # "" for a non-validator
    operator: str  # the member account that named the organisation
    added_at: int


class ValidatorSet(ContractClient):
    contract_name = "ValidatorSet"

    # -- governance calls
    def call_add(self, sealer: str, operator: str) -> tuple[str, bytes]:
        return self.address, self.encode("add", sealer, operator)

    def call_remove(self, sealer: str) -> tuple[str, bytes]:
        return self.address, self.encode("remove", sealer)

    # -- reads
    def validators(self) -> list[str]:
        """The current set, sorted (the contract keeps it unordered)."""
        return sorted(self._call("validators"))

    def count(self) -> int:
        return self._call("count")

    def version(self) -> int:
        return self._call("version")

    def is_validator(self, sealer: str) -> bool:
        return self._call("isValidator", sealer)

    def validator(self, sealer: str) -> Validator:
        v = self._call("validator", sealer)
        return Validator(sealer, text(v.lei), v.operator, v.addedAt)

    def sealer_of(self, lei: str) -> str | None:
        a = self._call("sealerOf", lei_bytes(lei))
        return None if int(a, 16) == 0 else a
