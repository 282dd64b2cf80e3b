"""Encrypted, content-addressed trade documents (SPEC section 5, "Documents").

Typical use::

    store = LocalDocumentStore("/var/lib/tradenet/docs")     # or KuboDocumentStore(api)
    service = DocumentService(store, FileKeyRing("/var/lib/tradenet/doc-keys"))
    doc = service.upload(pdf_bytes, {seller: seller_pubkey, lender: lender_pubkey})
    # anchor doc.sha256 and doc.cid on chain with the token or deal ...
    pdf = service.download(doc.cid, anchored_sha256, lender, lender_private_key)
"""

from .cid import CHUNK_SIZE, MAX_LINKS, compute_cid, parse_cid
from .crypto import (
    DEFAULT_CONTEXT,
    WrappedKey,
    address_from_public_key,
    decrypt_document,
    encrypt_document,
    generate_document_key,
    keccak256_hex,
    normalize_public_key,
    public_key_from_private_key,
    recover_public_key,
    sha256_hex,
    unwrap_key,
    wrap_key,
)
from .errors import (
    DecryptionError,
    DocumentError,
    DocumentNotFoundError,
    InvalidCIDError,
    KeyUnwrapError,
    NotAPartyError,
    StoreError,
    TamperedDocumentError,
    WrongKeyError,
)
from .masking import SENSITIVE_KEYS, mask_account_number, mask_identifier, mask_sensitive
from .service import DocumentService, FileKeyRing, KeyRing, MemoryKeyRing, UploadedDocument
from .stores import DocumentStore, KuboDocumentStore, LocalDocumentStore

__all__ = [
    "CHUNK_SIZE", "MAX_LINKS", "compute_cid", "parse_cid",
    "DEFAULT_CONTEXT", "WrappedKey", "address_from_public_key", "decrypt_document",
    "encrypt_document", "generate_document_key", "keccak256_hex", "normalize_public_key",
    "public_key_from_private_key", "recover_public_key", "sha256_hex", "unwrap_key", "wrap_key",
    "DecryptionError", "DocumentError", "DocumentNotFoundError", "InvalidCIDError",
    "KeyUnwrapError", "NotAPartyError", "StoreError", "TamperedDocumentError", "WrongKeyError",
    "SENSITIVE_KEYS", "mask_account_number", "mask_identifier", "mask_sensitive",
    "DocumentService", "FileKeyRing", "KeyRing", "MemoryKeyRing", "UploadedDocument",
    "DocumentStore", "KuboDocumentStore", "LocalDocumentStore",
]
