"""Exception hierarchy of the documents package.

Every error raised on purpose by this package derives from :class:`DocumentError`, so callers (the
node API) can map the whole family to problem responses with one ``except`` clause.
"""

from __future__ import annotations

__all__ = [
    "DocumentError",
    "InvalidCIDError",
    "DocumentNotFoundError",
    "TamperedDocumentError",
    "NotAPartyError",
    "KeyUnwrapError",
    "WrongKeyError",
    "DecryptionError",
    "StoreError",
]


class DocumentError(Exception):
    """Base class of all documents errors."""


class InvalidCIDError(DocumentError, ValueError):
    """A string is not a CIDv1 (base32, sha2-256) this package can handle."""


class DocumentNotFoundError(DocumentError, LookupError):
    """The store holds no document with that CID."""


class TamperedDocumentError(DocumentError):
    """Stored bytes do not match their CID or the hash anchored on chain."""


class NotAPartyError(DocumentError, PermissionError):
    """The reader has no wrapped key for this document."""


class KeyUnwrapError(DocumentError):
    """A wrapped document key could not be opened (wrong key or corrupted envelope)."""


class WrongKeyError(KeyUnwrapError):
    """The private key given does not belong to the recipient of the wrapped key."""


class DecryptionError(DocumentError):
    """The document ciphertext failed authentication (wrong document key or context)."""


class StoreError(DocumentError):
    """The storage backend failed or returned something inconsistent."""
