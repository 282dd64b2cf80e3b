"""Exception classes for login (EIP-4361) and session handling.

Every failure is its own class carrying the name of the offending ``field``
and a human-readable ``reason``; they are the network's problems
(``chain.problems.ProblemError``), so the HTTP layer answers any of them with a
JSON problem body (RFC 9457) that names the field without inspecting messages::

    except AuthError as exc:
        body = exc.problem()   # {"type", "title", "status", "detail", "code", "field"}

Hierarchy::

    AuthError
    +-- SiweError                      (anything about a sign-in message)
    |   +-- SiweMessageError           400  a field value is invalid
    |   |   +-- SiweParseError         400  the message text is malformed
    |   +-- SiweVerificationError      401  well formed, but not acceptable
    |       +-- DomainMismatchError         field "domain"
    |       +-- SchemeMismatchError         field "scheme"
    |       +-- UriMismatchError            field "uri"
    |       +-- ChainIdMismatchError        field "chain_id"
    |       +-- NonceError                  field "nonce"
    |       |   +-- NonceUnknownError       never issued (or long forgotten)
    |       |   +-- NonceExpiredError       issued, but its TTL has passed
    |       |   +-- NonceReusedError        already consumed
    |       +-- MessageExpiredError         field "expiration_time"
    |       +-- MessageNotYetValidError     field "not_before"
    |       +-- IssuedInFutureError         field "issued_at"
    |       +-- SignatureError              field "signature"
    |           +-- MalformedSignatureError not a 65-byte canonical secp256k1 signature
    |           +-- SignerMismatchError     recovers to another address
    +-- SessionError                   401  field "session"
        +-- SessionNotFoundError            unknown or revoked token
        +-- SessionExpiredError
"""

from __future__ import annotations

from typing import ClassVar

from chain.problems import ProblemError

__all__ = [
    "AuthError",
    "SiweError",
    "SiweMessageError",
    "SiweParseError",
    "SiweVerificationError",
    "DomainMismatchError",
    "SchemeMismatchError",
    "UriMismatchError",
    "ChainIdMismatchError",
    "NonceError",
    "NonceUnknownError",
    "NonceExpiredError",
    "NonceReusedError",
    "MessageExpiredError",
    "MessageNotYetValidError",
    "IssuedInFutureError",
    "SignatureError",
    "MalformedSignatureError",
    "SignerMismatchError",
    "SessionError",
    "SessionNotFoundError",
    "SessionExpiredError",
]

class AuthError(ProblemError):
    """Root of all authentication failures.

    Class attributes ``code``, ``title`` and ``status`` describe the kind
    of failure; instance attributes ``field`` and ``reason`` describe this one.
    """

    code = "auth_error"
    title = "Authentication failed"
    status = 401
    default_field: ClassVar[str] = "message"

    def __init__(self, field: str | None = None, reason: str = "") -> None:
        self.reason: str = reason or self.title
        super().__init__(self.reason, field=field if field is not None else self.default_field)


# --------------------------------------------------------------------------
# Sign-in message errors


class SiweError(AuthError):
    code = "siwe_error"
    title = "Sign-in with Ethereum failed"


class SiweMessageError(SiweError):
    """A field of a :class:`SiweMessage` has an invalid value."""

    code = "invalid_message"
    title = "Invalid sign-in message"
    status = 400


class SiweParseError(SiweMessageError):
    """The EIP-4361 message text does not follow the ABNF of the EIP."""

    code = "malformed_message"
    title = "Malformed sign-in message"


class SiweVerificationError(SiweError):
    """A well-formed message that this server does not accept."""

    code = "verification_failed"
    title = "Sign-in message rejected"


class DomainMismatchError(SiweVerificationError):
    code = "domain_mismatch"
    title = "Message is for another domain"
    default_field = "domain"


class SchemeMismatchError(SiweVerificationError):
    code = "scheme_mismatch"
    title = "Message is for another URI scheme"
    default_field = "scheme"


class UriMismatchError(SiweVerificationError):
    code = "uri_mismatch"
    title = "Message URI is not on this server"
    default_field = "uri"


class ChainIdMismatchError(SiweVerificationError):
    code = "chain_id_mismatch"
    title = "Message is for another chain"
    default_field = "chain_id"


class NonceError(SiweVerificationError):
    code = "nonce_invalid"
    title = "Nonce not acceptable"
    default_field = "nonce"


class NonceUnknownError(NonceError):
    code = "nonce_unknown"
    title = "Nonce was not issued by this server"


class NonceExpiredError(NonceError):
    code = "nonce_expired"
    title = "Nonce has expired"


class NonceReusedError(NonceError):
    code = "nonce_reused"
    title = "Nonce has already been used"


class MessageExpiredError(SiweVerificationError):
    code = "message_expired"
    title = "Message has expired"
    default_field = "expiration_time"


class MessageNotYetValidError(SiweVerificationError):
    code = "message_not_yet_valid"
    title = "Message is not valid yet"
    default_field = "not_before"


class IssuedInFutureError(SiweVerificationError):
    code = "issued_in_future"
    title = "Message is issued in the future"
    default_field = "issued_at"


class SignatureError(SiweVerificationError):
    code = "signature_invalid"
    title = "Signature not acceptable"
    default_field = "signature"


class MalformedSignatureError(SignatureError):
    code = "signature_malformed"
    title = "Signature is malformed"


class SignerMismatchError(SignatureError):
    code = "signer_mismatch"
    title = "Signature is not by the message's address"


# --------------------------------------------------------------------------
# Session errors


class SessionError(AuthError):
    code = "session_invalid"
    title = "Session not valid"
    default_field = "session"


class SessionNotFoundError(SessionError):
    code = "session_unknown"
    title = "Unknown or revoked session"


class SessionExpiredError(SessionError):
    code = "session_expired"
    title = "Session has expired"
