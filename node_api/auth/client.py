"""Client-side helpers: build and sign a login message (tests, CLI, demo).

Typical use against a node::

    n = httpx.post(f"{base}/auth/nonce").json()  # what the node expects the message to name
    message = build_login_message(
        address=account.address, scheme=n["scheme"], domain=n["domain"], uri=n["uri"],
        chain_id=n["chain_id"], nonce=n["nonce"],
    )
    signature = sign_login_message(message, account.key)
    # POST {"message": message.to_text(), "signature": signature}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from .errors import SiweMessageError
from .rfc3339 import utc_now
from .siwe_message import SiweMessage

__all__ = [
    "DEFAULT_LOGIN_LIFETIME",
    "DEFAULT_STATEMENT",
    "build_login_message",
    "sign_login_message",
]

DEFAULT_LOGIN_LIFETIME: Final = timedelta(minutes=5)
DEFAULT_STATEMENT: Final = "Sign in to the tradenet node with your participant key."


def build_login_message(
    *,
    address: str,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    statement: str | None = DEFAULT_STATEMENT,
    issued_at: datetime | None = None,
    expiration_time: datetime | None = None,
    lifetime: timedelta | None = DEFAULT_LOGIN_LIFETIME,
    not_before: datetime | None = None,
    request_id: str | None = None,
    resources: Iterable[str] = (),
    scheme: str | None = None,
) -> SiweMessage:
    """Build an EIP-4361 message for ``address`` (any hex case; it is checksummed).

    ``issued_at`` defaults to now (UTC, whole milliseconds).  The message
    expires at ``expiration_time`` if given, else ``issued_at + lifetime``;
    pass ``lifetime=None`` (and no ``expiration_time``) for no expiry.
    Raises :class:`SiweMessageError` naming the field on invalid input.
    """
    if not isinstance(address, str) or not is_address(address):
        raise SiweMessageError("address", f"not an Ethereum address: {address!r}")
    if issued_at is None:
        now = utc_now()
        issued_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if expiration_time is None and lifetime is not None:
        expiration_time = issued_at + lifetime
    return SiweMessage(
        scheme=scheme,
        domain=domain,
        address=to_checksum_address(address),
        statement=statement,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )


def sign_login_message(
    message: SiweMessage | str, private_key: str | bytes | LocalAccount
) -> str:
    """EIP-191 ``personal_sign`` of the message text; returns ``0x`` + 130 hex digits."""
    text = message.to_text() if isinstance(message, SiweMessage) else message
    key = private_key.key if isinstance(private_key, LocalAccount) else private_key
    signed = Account.sign_message(encode_defunct(text=text), private_key=key)
    return "0x" + bytes(signed.signature).hex()
