"""The document store as an ABS verifier's fetch callable (`chain.abs_verify.FetchDocument`)."""

from __future__ import annotations

from chain.abs_verify import DocumentTampered, FetchDocument
from node_api.documents.errors import DocumentNotFoundError, TamperedDocumentError
from node_api.documents.stores import DocumentStore


def store_fetcher(store: DocumentStore) -> FetchDocument:
    """Fetches by CID: None if the store lacks the document; `DocumentTampered` if the bytes it
    holds under the CID are not the document's (the stores re-check every CID they serve)."""

    def fetch(cid: str) -> bytes | None:
        if not store.has(cid):
            return None
        try:
            return store.get(cid)
        except DocumentNotFoundError:
            return None
        except TamperedDocumentError as exc:
            raise DocumentTampered(str(exc)) from exc

    return fetch
