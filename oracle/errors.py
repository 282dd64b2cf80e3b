"""Exception classes of the oracle operator daemon.

Input errors are problems (``chain.problems``): their class names the kind (status, code, title),
the instance the case (a detail sentence and, where one field is at fault, its dotted path
``transportCall.location.UNLocationCode``, plus extensions such as the ``errors`` list). The API
answers them as ``application/problem+json``; the replay feed logs them.
"""

from __future__ import annotations

from chain.problems import ProblemError


class OracleError(Exception):
    """Base class of oracle daemon errors."""


class ConfigError(OracleError):
    """The operator configuration file is missing, malformed or inconsistent."""


class InputError(OracleError, ProblemError):
    """Input refused with an HTTP status."""


class MalformedBody(InputError):
    """The body is not a JSON object (bad JSON, duplicate keys, too large...)."""

    status = 400
    code = "malformed_body"
    title = "Malformed request body"


class BodyTooLarge(InputError):
    status = 413
    code = "body_too_large"
    title = "Request body too large"


class ValidationFailed(InputError):
    """A field has a wrong type, format or value, or fields contradict each other."""

    status = 422
    code = "validation_failed"
    title = "Invalid field"


class AuthenticationFailed(InputError):
    """Missing, malformed, expired or wrong HMAC signature on a carrier or FX post."""

    status = 401
    code = "authentication_failed"
    title = "Authentication failed"


class Forbidden(InputError):
    """Authenticated, but not allowed: a credential of another kind (a carrier's secret on
    ``/fx-rates``), a carrier whose member account is not an active LOGISTICS member, or an event
    about another carrier's shipment or party."""

    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(InputError):
    status = 404
    code = "not_found"
    title = "Not found"


class ContentConflict(InputError):
    """The same event id (or the same shipment/event code) was already accepted with different
    content: the operator never signs two different contents for one subject."""

    status = 409
    code = "content_conflict"
    title = "Conflicting content"


class BatchRefused(InputError):
    """Some events of a batch were refused: the status of the first refusal, every refused event
    in ``errors`` and the outcome of each event in ``results``."""

    code = "events_refused"
    title = "Events refused"

    def __init__(self, detail: str, *, status: int, **kw: object):
        self.status = status  # type: ignore[misc]  (per instance: the first refusal's)
        super().__init__(detail, **kw)


class SignatureRejected(InputError):
    """A peer signature does not recover to the claimed operator, or the signer is not an operator."""

    status = 403
    code = "signature_rejected"
    title = "Signature rejected"


class NotReady(InputError):
    status = 503
    code = "not_ready"
    title = "Operator not ready"


class ChainUnavailable(OracleError):
    """The RPC node cannot be reached or answered garbage; the engine retries later."""
