"""Solidity reverts surfaced as Python exceptions, by error name, with their arguments.

Every custom error of every tradenet contract is known from the compiled ABIs. A revert's data
is decoded into an instance of a `ContractRevert` subclass named after the Solidity error, so
callers write ``except errors.DuplicateInvoice as e: e.args_by_name["existingId"]``. The class for
a name exists before any revert is seen (PEP 562 module ``__getattr__``), so tests can say
``pytest.raises(errors.DuplicateInvoice)``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3.exceptions import ContractLogicError, Web3RPCError

_classes: dict[str, type["ContractRevert"]] = {}


class ChainError(Exception):
    """Base class of tradenet chain-client errors."""


class ContractRevert(ChainError):
    """A contract call or transaction reverted. Subclasses are named after the Solidity error."""

    error_name: str = "unknown"

    def __init__(self, args_by_name: dict[str, Any] | None = None, *, raw: bytes = b"", tx_hash: str | None = None):
        self.args_by_name = dict(args_by_name or {})
        self.raw = raw
        self.tx_hash = tx_hash
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.args_by_name.items())
        super().__init__(f"{self.error_name}({rendered})")

    def __getitem__(self, key: str) -> Any:
        return self.args_by_name[key]


class UnknownRevert(ContractRevert):
    """Revert data that matches no known error (or an empty revert)."""

    error_name = "UnknownRevert"


class TransactionFailed(ChainError):
    """The node refused a transaction (not a contract revert): bad nonce, underpriced, etc."""

    def __init__(self, message: str, *, tx_hash: str | None = None, sender: str | None = None,
                 nonce: int | None = None):
        self.tx_hash = tx_hash
        self.sender = sender
        self.nonce = nonce
        super().__init__(message)


class TransactionDropped(TransactionFailed):
    """A sent transaction left the node's pool without being mined and could not be sent again
    (resubmissions used up, refused, or the chain was reverted below it)."""


class TransactionReplaced(TransactionFailed):
    """Another transaction with the same sender and nonce was mined instead of this one."""


class NonceGap(TransactionFailed):
    """The transaction waits in the node's pool behind nonces nobody sent (gap filling is off)."""


def _render(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return repr(v)


def error_class(name: str) -> type[ContractRevert]:
    """The exception class for Solidity error `name` (created once, shared by all contracts)."""
    cls = _classes.get(name)
    if cls is None:
        cls = type(name, (ContractRevert,), {"error_name": name, "__module__": __name__})
        _classes[name] = cls
    return cls


def __getattr__(name: str) -> type[ContractRevert]:  # PEP 562: errors.DuplicateInvoice
    if name[:1].isupper():
        return error_class(name)
    raise AttributeError(name)


def _abi_type(param: dict[str, Any]) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a provider's exception, or None if it is not a revert.

    Handles web3's ContractLogicError (HTTP nodes: anvil, geth, Besu), a JSON-RPC error whose
    `data` holds the revert bytes, and eth-tester's TransactionFailed (whose message carries the
    revert bytes as a Python literal after web3's EthereumTesterProvider re-raises it)."""
    if isinstance(exc, ContractLogicError):
        data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
        if data:
            return bytes.fromhex(data[2:] if data.startswith("0x") else data)
        message = exc.message or ""
        prefix = "execution reverted: "
        if message.startswith(prefix):
            return _error_string(message[len(prefix):])
        return b""
    if isinstance(exc, Web3RPCError):
        rpc = getattr(exc, "rpc_response", None) or {}
        err = rpc.get("error") if isinstance(rpc, dict) else None
        data = err.get("data") if isinstance(err, dict) else None
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        return None
    if type(exc).__name__ == "TransactionFailed" and type(exc).__module__.startswith("eth_tester"):
        message = str(exc.args[0]) if exc.args else ""
        literal = message.removeprefix("execution reverted: ")
        if literal.startswith(("b'", 'b"')):
            try:
                return ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                return b""
        return _error_string(literal)
    return None


def _error_string(reason: str) -> bytes:
    """The revert data of Solidity's ``Error(string)`` with `reason`."""
    return function_signature_to_4byte_selector("Error(string)") + abi_encode(["string"], [reason])


class ErrorDecoder:
    """Maps 4-byte selectors to error definitions collected from ABIs."""

    def __init__(self, abis: Iterable[dict[str, Any]] = ()):
        self._by_selector: dict[bytes, _ErrorAbi] = {}
        # Solidity built-ins
        self._add({"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]})
        self._add({"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]})
        for entry in abis:
            if entry.get("type") == "error":
                self._add(entry)

    def _add(self, entry: dict[str, Any]) -> None:
        types = tuple(_abi_type(p) for p in entry["inputs"])
        sig = f"{entry['name']}({','.join(types)})"
        self._by_selector[function_signature_to_4byte_selector(sig)] = _ErrorAbi(
            entry["name"], tuple(p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"])), types
        )

    def from_exception(self, exc: BaseException, tx_hash: str | None = None) -> ContractRevert | None:
        """The decoded revert for a provider exception, or None if `exc` is not a revert."""
        data = revert_data(exc)
        return None if data is None else self.decode(data, tx_hash)

    def from_rpc_error(self, error: Any, tx_hash: str | None = None) -> ContractRevert | None:
        """The decoded revert of a JSON-RPC error object (``{"code", "message", "data"}``) of an
        ``eth_call`` / ``eth_estimateGas``, or None if the error is not a revert."""
        if not isinstance(error, dict):
            return None
        data = error.get("data")
        if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return self.decode(data, tx_hash)
        message = str(error.get("message", ""))
        if error.get("code") == 3 or message.startswith("execution reverted"):
            reason = message.removeprefix("execution reverted").removeprefix(": ")
            return self.decode(_error_string(reason) if reason else b"", tx_hash)
        return None

    def decode(self, data: bytes | str | None, tx_hash: str | None = None) -> ContractRevert:
        if isinstance(data, str):
            data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        data = data or b""
        spec = self._by_selector.get(data[:4]) if len(data) >= 4 else None
        if spec is None:
            return UnknownRevert({"data": data}, raw=data, tx_hash=tx_hash)
        try:
            values = abi_decode(list(spec.types), data[4:])
        except Exception:  # malformed payload for a known selector
            return UnknownRevert({"data": data}, raw=data, tx_hash=tx_hash)
        return error_class(spec.name)(dict(zip(spec.names, values)), raw=data, tx_hash=tx_hash)
