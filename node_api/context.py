"""Everything a request handler needs, built once per API process."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from web3 import Web3

from chain.client import Chain
from chain.contracts import Member, Role
from chain.deploy import Deployment

from .auth import InMemoryNonceStore, InMemorySessionStore, NonceStore, SessionStore
from .documents import DocumentService, FileKeyRing, LocalDocumentStore
from .settings import NodeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The authenticated participant of a request; roles are read from the chain per request."""

    address: str
    member: Member

    @property
    def roles(self) -> Role:
        return self.member.roles if self.member.exists else Role(0)

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)


@dataclass
class PublicKeyDirectory:
    """Participants' secp256k1 public keys, learnt from their login signatures (or custodial keys),
    so documents can be encrypted for them. Persisted as JSON."""

    path: Path | None = None
    _keys: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.path and self.path.exists():
            self._keys = {a: bytes.fromhex(k) for a, k in json.loads(self.path.read_text()).items()}

    def add(self, address: str, public_key: bytes) -> None:
        with self._lock:
            self._keys[Web3.to_checksum_address(address)] = bytes(public_key)
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps({a: k.hex() for a, k in self._keys.items()}))
                tmp.replace(self.path)

    def get(self, address: str) -> bytes | None:
        return self._keys.get(Web3.to_checksum_address(address))


@dataclass
class NodeContext:
    settings: NodeSettings
    chain: Chain
    deployment: Deployment
    db: Engine
    custodial: dict[str, LocalAccount]  # address -> key the node signs with (custodial mode)
    nonces: NonceStore
    sessions: SessionStore
    documents: DocumentService
    public_keys: PublicKeyDirectory

    @classmethod
    def build(cls, settings: NodeSettings, custodial_keys: list[LocalAccount] | None = None,
              chain: Chain | None = None) -> "NodeContext":
        from datetime import timedelta

        chain = chain or Chain.connect(settings.rpc_url)
        deployment = Deployment(**json.loads(Path(settings.deployment_file).read_text()))
        settings.document_dir.mkdir(parents=True, exist_ok=True)
        if settings.kubo_api:
            from .documents import KuboDocumentStore

            store = KuboDocumentStore(settings.kubo_api)
        else:
            store = LocalDocumentStore(settings.document_dir / "blobs")
        docs = DocumentService(store, FileKeyRing(settings.document_dir / "keys"))
        pubkeys = PublicKeyDirectory(settings.document_dir / "public_keys.json")
        custodial = {k.address: k for k in (custodial_keys or [])}
        for k in custodial.values():
            pubkeys.add(k.address, k._key_obj.public_key.to_bytes())
        return cls(settings, chain, deployment, create_engine(settings.database_url), custodial,
                   InMemoryNonceStore(), InMemorySessionStore(ttl=timedelta(seconds=settings.session_ttl_seconds)),
                   docs, pubkeys)

    def caller(self, address: str) -> Caller:
        return Caller(address, self.deployment.registry_client(self.chain).member(address))

    def signer(self, caller: Caller) -> LocalAccount:
        """The node's key for the caller (custodial mode); clients without one relay signed txs."""
        from .problems import ApiProblem

        key = self.custodial.get(caller.address)
        if key is None:
            raise ApiProblem(409, "No custodial key", f"this node holds no key for {caller.address}: sign the "
                             "transaction yourself and POST it to /tx/relay", code="no_custodial_key")
        return key
