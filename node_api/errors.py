"""What the node refuses, as domain errors: raised by the context and the routes, answered in one
place (``node_api.problems``) with the network's problem bodies (``chain.problems``)."""

from __future__ import annotations

from typing import Any

from chain.problems import ProblemError


class NodeError(ProblemError):
    """Base class of the node API's own refusals."""


class NotFound(NodeError):
    """The object does not exist, or lies outside the caller's view (which must not leak)."""

    status = 404
    code = "not_found"
    title = "Not found"

    def __init__(self, what: str, ident: Any):
        super().__init__(f"no {what} {ident} visible to you")


class Forbidden(NodeError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class InvalidInput(NodeError):
    """An input the request schema accepts but the node cannot use."""

    status = 422
    code = "invalid"
    title = "Invalid request"

    def __init__(self, field: str, detail: str):
        super().__init__(detail, field=field)


class NoCustodialKey(NodeError):
    """The node holds no key for the caller: a custodial write is impossible."""

    status = 409
    code = "no_custodial_key"
    title = "No custodial key"

    def __init__(self, address: str):
        super().__init__(f"this node holds no key for {address}: sign the transaction yourself and POST it to "
                         "/tx/relay")


class DocumentTooLarge(NodeError):
    status = 413
    code = "too_large"
    title = "Document too large"

    def __init__(self, limit: int):
        super().__init__(f"limit is {limit} bytes", field="body")


class DocumentStoreUnavailable(NodeError):
    """The document store (kubo, or the local disk) failed: nothing was stored, try again."""

    status = 503
    code = "document_store_unavailable"
    title = "Document store unavailable"


class TamperedDocument(NodeError):
    """Stored bytes do not match the hash anchored on chain."""

    status = 409
    code = "tampered_document"
    title = "Tampered document"
