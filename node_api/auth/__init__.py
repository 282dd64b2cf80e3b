"""Authentication for the node API: Sign-In with Ethereum (EIP-4361) and sessions.

Flow: the client gets a nonce (:meth:`NonceStore.issue`), signs an EIP-4361
message containing it (:func:`build_login_message`, :func:`sign_login_message`),
and the server checks it with :func:`verify_login` and opens a session
(:meth:`SessionStore.start`).  Sessions hold no roles; the API reads roles
from the chain (within one block).  Every failure is an :class:`AuthError`
subclass with ``field``, ``reason``, ``status`` and ``problem()`` (``chain.problems``).
"""

from .client import (
    DEFAULT_LOGIN_LIFETIME,
    DEFAULT_STATEMENT,
    build_login_message,
    sign_login_message,
)
from .errors import (
    AuthError,
    ChainIdMismatchError,
    DomainMismatchError,
    IssuedInFutureError,
    MalformedSignatureError,
    MessageExpiredError,
    MessageNotYetValidError,
    NonceError,
    NonceExpiredError,
    NonceReusedError,
    NonceUnknownError,
    SchemeMismatchError,
    SessionError,
    SessionExpiredError,
    SessionNotFoundError,
    SignatureError,
    SignerMismatchError,
    SiweError,
    SiweMessageError,
    SiweParseError,
    SiweVerificationError,
    UriMismatchError,
)
from .nonces import DEFAULT_NONCE_TTL, InMemoryNonceStore, NonceStore, generate_nonce
from .sessions import (
    DEFAULT_SESSION_TTL,
    InMemorySessionStore,
    IssuedSession,
    Session,
    SessionStore,
)
from .siwe_message import SiweMessage, parse_message
from .verify import DEFAULT_CLOCK_SKEW, VerifiedLogin, verify_login

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_LOGIN_LIFETIME",
    "DEFAULT_NONCE_TTL",
    "DEFAULT_SESSION_TTL",
    "DEFAULT_STATEMENT",
    "AuthError",
    "ChainIdMismatchError",
    "DomainMismatchError",
    "InMemoryNonceStore",
    "InMemorySessionStore",
    "IssuedInFutureError",
    "IssuedSession",
    "MalformedSignatureError",
    "MessageExpiredError",
    "MessageNotYetValidError",
    "NonceError",
    "NonceExpiredError",
    "NonceReusedError",
    "NonceStore",
    "NonceUnknownError",
    "SchemeMismatchError",
    "Session",
    "SessionError",
    "SessionExpiredError",
    "SessionNotFoundError",
    "SessionStore",
    "SignatureError",
    "SignerMismatchError",
    "SiweError",
    "SiweMessage",
    "SiweMessageError",
    "SiweParseError",
    "SiweVerificationError",
    "UriMismatchError",
    "VerifiedLogin",
    "build_login_message",
    "generate_nonce",
    "parse_message",
    "sign_login_message",
    "verify_login",
]
