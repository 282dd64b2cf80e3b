"""Everything a request handler needs, built once per API process, and the one way a route acts
on the chain for its caller (:meth:`NodeContext.act`)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import Web3

from chain.client import Chain
from chain.clients import Member
from chain.deployment import Clients, Deployment
from chain.errors import ContractRevert
from chain.fsutil import atomic_write
from chain.indexer.db import create_db_engine
from chain.vocabulary import Role

from .auth import InMemoryNonceStore, InMemorySessionStore, NonceStore, SessionStore
from .documents import DocumentService, FileKeyRing, KuboDocumentStore, LocalDocumentStore
from .errors import Forbidden, NoCustodialKey, NotFound
from .readable import Reader
from .settings import NodeSettings
from .store import ReferenceLookup, create_node_tables, remember_reference

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

    def require(self, *roles: Role) -> None:
        """Forbidden unless the caller holds one of `roles` (read from the chain at this request)."""
        if not self.has(*roles):
            names = "/".join(r.name for r in roles)
            raise Forbidden(f"this needs the {names} role; {self.address} holds "
                            f"{'/'.join(self.roles.names()) or 'none'}")


@dataclass(frozen=True)
class PartyOf:
    """Who may write to one on-chain object, read from the chain itself at the request (the read
    model may lag a block): `parties` lists them from the object's clients; `unknown` is the
    contract error saying the object does not exist."""

    what: str
    ident: Any
    parties: Callable[[Clients], Iterable[str | None]]
    unknown: type[ContractRevert]


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

    def add(self, address: str, public_key: bytes) -> bool:
        """Remember `address`'s key; the file is rewritten only when the key is new (an account
        has one key: logins never grow the file). Returns whether it was new."""
        address, public_key = Web3.to_checksum_address(address), bytes(public_key)
        with self._lock:
            if self._keys.get(address) == public_key:
                return False
            self._keys[address] = public_key
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, json.dumps({a: k.hex() for a, k in self._keys.items()}))
            return True

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
    _spending: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _spending_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _references_kept: dict[str, str] = field(default_factory=dict, repr=False)  # B/L numbers known (store.ReferenceLookup)

    def spending(self, caller: Caller) -> threading.Lock:
        """The lock a custodial account's payments hold from their ERC-20 approval to the call that
        spends it: ``approve`` sets the allowance, so two payments of one account at once would
        overwrite each other's and one would fail. Held across both transactions (a block or two);
        other accounts are not held up."""
        with self._spending_guard:
            return self._spending.setdefault(caller.address.lower(), threading.Lock())

    @classmethod
    def build(cls, settings: NodeSettings, custodial_keys: list[LocalAccount] | None = None,
              chain: Chain | None = None) -> "NodeContext":
        chain = chain or Chain.connect(settings.rpc_url)
        deployment = Deployment.from_file(settings.deployment_file)
        settings.document_dir.mkdir(parents=True, exist_ok=True)
        if settings.kubo_api:
            store = KuboDocumentStore(settings.kubo_api)
        else:
            store = LocalDocumentStore(settings.document_dir / "blobs")
        docs = DocumentService(store, FileKeyRing(settings.document_dir / "keys"))
        pubkeys = PublicKeyDirectory(settings.document_dir / "public_keys.json")
        custodial = {k.address: k for k in (custodial_keys or [])}
        for k in custodial.values():
            pubkeys.add(k.address, k._key_obj.public_key.to_bytes())
        db = create_db_engine(settings.database_url)  # SQLite: WAL, busy timeout, real transactions
        create_node_tables(db)
        return cls(settings, chain, deployment, db, custodial,
                   InMemoryNonceStore(), InMemorySessionStore(ttl=timedelta(seconds=settings.session_ttl_seconds)),
                   docs, pubkeys)

    # -- reading -----------------------------------------------------------------------------
    def chain_time(self) -> int:
        """The latest block's timestamp: the clock every rule on chain uses."""
        return self.chain.latest_timestamp()

    def reader(self) -> Reader:
        """Names, LEIs and known B/L numbers for readable answers (node_api.readable)."""
        return Reader.load(self.db, ReferenceLookup(self.db, self._references_kept))

    def remember(self, shipment_id: bytes, transport_document: str) -> None:
        """Keeps the B/L number behind a shipment id (shown next to it in answers)."""
        remember_reference(self.db, shipment_id, transport_document)

    def public_key(self, address: str) -> bytes:
        """The secp256k1 public key of a member (learnt at its login, or its custodial key)."""
        key = self.public_keys.get(address)
        if key is None:
            from .errors import InvalidInput
            raise InvalidInput("readers", f"no encryption key known for {address}: the participant must log in once")
        return key

    def clients(self) -> Clients:
        """Every contract of the network, read-only."""
        return self.deployment.clients(self.chain)

    def caller(self, address: str) -> Caller:
        return Caller(address, self.clients().registry.member(address))

    def signer(self, caller: Caller) -> LocalAccount:
        """The node's key for the caller (custodial mode); clients without one relay signed txs."""
        return self.signer_of(caller.address)

    def signer_of(self, address: str) -> LocalAccount:
        key = self.custodial.get(address)
        if key is None:
            raise NoCustodialKey(address)
        return key

    def act(self, caller: Caller, *roles: Role, party: PartyOf | None = None) -> Clients:
        """The contracts as `caller` may write to them now: it holds one of `roles` (if any are
        named), it is one of the parties of `party` as the chain says (else the object is not
        found: it lies outside the caller's view), and every client signs with its custodial key."""
        if roles:
            caller.require(*roles)
        if party is not None:
            try:
                parties = set(party.parties(self.clients()))
            except party.unknown:
                raise NotFound(party.what, party.ident) from None
            if caller.address not in parties:
                raise NotFound(party.what, party.ident)
        return self.deployment.clients(self.chain, self.signer(caller))
