"""Exception classes of the oracle operator daemon.

Input errors carry what an HTTP problem body (RFC 7807) needs: a status, a short title, a
detail sentence and, where one field is at fault, its dotted path (``transportCall.location.
UNLocationCode``). The API turns them into ``application/problem+json`` answers; the replay feed
logs them.
"""

from __future__ import annotations


class OracleError(Exception):
    """Base class of oracle daemon errors."""


class ConfigError(OracleError):
    """The operator configuration file is missing, malformed or inconsistent."""


class InputError(OracleError):
    """Input refused with an HTTP status; ``slug`` names the problem type."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, errors: list[dict] | None = None,
                 extra: dict | None = None):
        super().__init__(detail if field is None else f"{field}: {detail}")
        self.detail = detail
        self.field = field
        self.errors = errors
        self.extra = dict(extra or {})


class MalformedBody(InputError):
    """The body is not a JSON object (bad JSON, duplicate keys, too large...)."""

    status = 400
    slug = "malformed-body"
    title = "Malformed request body"


class BodyTooLarge(InputError):
    status = 413
    slug = "body-too-large"
    title = "Request body too large"


class ValidationFailed(InputError):
    """A field has a wrong type, format or value, or fields contradict each other."""

    status = 422
    slug = "validation-failed"
    title = "Invalid field"


class AuthenticationFailed(InputError):
    """Missing, malformed, expired or wrong HMAC signature on a carrier or FX post."""

    status = 401
    slug = "authentication-failed"
    title = "Authentication failed"


class ContentConflict(InputError):
    """The same event id (or the same shipment/event code) was already accepted with different
    content: the operator never signs two different contents for one subject."""

    status = 409
    slug = "content-conflict"
    title = "Conflicting content"


class SignatureRejected(InputError):
    """A peer signature does not recover to the claimed operator, or the signer is not an operator."""

    status = 403
    slug = "signature-rejected"
    title = "Signature rejected"


class NotReady(InputError):
    status = 503
    slug = "not-ready"
    title = "Operator not ready"


class ChainUnavailable(OracleError):
    """The RPC node cannot be reached or answered garbage; the engine retries later."""


class SubmissionFailed(OracleError):
    """A report transaction failed for a reason other than a contract revert."""
