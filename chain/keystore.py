"""Participant keys in encrypted keystore files (Web3 Secret Storage v3, scrypt), never plaintext.

A keystore is a directory with one `<name>.json` per key. The password comes from the caller
(typically `TRADENET_KEYSTORE_PASSWORD` or a password file readable only by its owner), never
from config.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from .fsutil import atomic_write

# scrypt work factor: 2**18 is the Web3 Secret Storage default; demo keystores may use less.
DEFAULT_SCRYPT_N = 2**18


class KeystoreError(Exception):
    """A key is missing, exists already, or its password is wrong."""


class Keystore:
    def __init__(self, directory: Path | str, *, scrypt_n: int = DEFAULT_SCRYPT_N):
        self.directory = Path(directory)
        self.scrypt_n = scrypt_n

    def _path(self, name: str) -> Path:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise KeystoreError(f"invalid key name {name!r}")
        return self.directory / f"{name}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def address(self, name: str) -> str:
        """The key's address, read from the keystore file without decrypting it."""
        data = json.loads(self._path(name).read_text())
        return to_checksum_address(data["address"]) if "address" in data else ""

    def create(self, name: str, password: str) -> LocalAccount:
        return self.import_key(name, "0x" + secrets.token_hex(32), password)

    def import_key(self, name: str, private_key: str | bytes, password: str) -> LocalAccount:
        path = self._path(name)
        if path.exists():
            raise KeystoreError(f"key {name!r} already exists in {self.directory}")
        account = Account.from_key(private_key)
        encrypted = Account.encrypt(account.key, password, kdf="scrypt", iterations=self.scrypt_n)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, json.dumps(encrypted), mode=0o600)
        return account

    def load(self, name: str, password: str) -> LocalAccount:
        path = self._path(name)
        if not path.exists():
            raise KeystoreError(f"no key {name!r} in {self.directory}")
        try:
            key = Account.decrypt(json.loads(path.read_text()), password)
        except ValueError as exc:
            raise KeystoreError(f"cannot decrypt key {name!r}: wrong password?") from exc
        return Account.from_key(key)


def read_password(env_var: str = "TRADENET_KEYSTORE_PASSWORD", password_file: Path | None = None) -> str:
    """The keystore password from an environment variable or a password file."""
    if password_file is not None:
        return Path(password_file).read_text().strip()
    value = os.environ.get(env_var)
    if not value:
        raise KeystoreError(f"set {env_var} or pass a password file to unlock the keystore")
    return value
