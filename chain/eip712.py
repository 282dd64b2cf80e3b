"""EIP-712 typed data over the vocabulary's domains and struct types: build, hash, sign, recover.

A message is ``typed_data(domain, primary_type, message)``; the types come from
``chain.vocabulary.EIP712_TYPES``, so no caller restates a struct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from .vocabulary import EIP712_DOMAIN_TYPE, DomainName, encode_type, struct_types


@dataclass(frozen=True)
class Domain:
    """A complete EIP-712 domain: a contract's name and version, its chain and its address."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @classmethod
    def of(cls, spec: DomainName, chain_id: int, contract: str) -> "Domain":
        return cls(spec.name, spec.version, chain_id, to_checksum_address(contract))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.verifying_contract)}

    def separator(self) -> bytes:
        """``domainSeparator``: hashStruct of the domain, computed from its definition."""
        return keccak(abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [keccak(text=_encode_domain_type()), keccak(text=self.name), keccak(text=self.version), self.chain_id,
             to_checksum_address(self.verifying_contract)]))


def _encode_domain_type() -> str:
    return "EIP712Domain(" + ",".join(f"{f['type']} {f['name']}" for f in EIP712_DOMAIN_TYPE) + ")"


def type_hash(primary_type: str) -> bytes:
    """keccak256 of ``encodeType`` (the contracts' ``*_TYPEHASH`` constants)."""
    return keccak(text=encode_type(primary_type))


def typed_data(domain: Domain, primary_type: str, message: dict[str, Any]) -> dict[str, Any]:
    """The full EIP-712 message (eth_account's ``encode_typed_data(full_message=...)``)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, **struct_types(primary_type)},
        "primaryType": primary_type,
        "domain": domain.as_dict(),
        "message": message,
    }


def digest(full_message: dict[str, Any]) -> bytes:
    """keccak256(0x1901 || domainSeparator || hashStruct(message)): what the contracts recover from."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(account: LocalAccount, full_message: dict[str, Any]) -> bytes:
    """65-byte r || s || v signature (v = 27/28), deterministic (RFC 6979) for a key and message."""
    return bytes(Account.sign_message(encode_typed_data(full_message=full_message), account.key).signature)


def recover(full_message: dict[str, Any], signature: bytes) -> str:
    """The checksummed address that signed ``full_message`` (raises ValueError if invalid)."""
    if len(signature) != 65:
        raise ValueError(f"signature must be 65 bytes, got {len(signature)}")
    return Account.recover_message(encode_typed_data(full_message=full_message), signature=signature)
