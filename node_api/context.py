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
from chain.fsutil import HostLock, atomic_write
from chain.indexer.db import create_db_engine
from chain.vocabulary import Role

from .auth import NonceStore, SessionStore
from .auth.shared import SqlNonceStore, SqlSessionStore, create_auth_tables
from .documents import DocumentService, FileKeyRing, KuboDocumentStore, LocalDocumentStore
from .errors import Forbidden, NoCustodialKey, NotFound
from .members import MemberCache
from .readable import Reader
from .settings import NodeSettings
from .store import ReferenceLookup, create_node_tables, remember_reference

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The authenticated participant of a request and its member record, as the chain says
    (node_api.members: read once per change of the registry)."""

    address: str
    member: Member

    @property
    def roles(self) -> Role:
        return self.member.roles if self.member.exists else Role(0)

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    def require(self, *roles: Role) -> None:
        """Forbidden unless the caller holds one of `roles` (as the chain says, within one block)."""
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
    so documents can be encrypted for them. Persisted as JSON, shared by the processes of a node:
    a key is added under the file's lock, merged with what the file holds (another process may
    have added one), and a key not known here is looked up again in the file when it changed."""

    path: Path | None = None
    _keys: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: tuple[int, int] | None = None  # the file's (mtime_ns, size) when last read

    def __post_init__(self) -> None:
        self._host_lock = HostLock(self.path.with_name(self.path.name + ".lock") if self.path else None)
        with self._lock:
            self._reload()

    def _reload(self) -> None:
        """Merge the file's keys in when it changed since it was last read (caller holds _lock)."""
        if not self.path:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if (st.st_mtime_ns, st.st_size) == self._seen:
            return
        self._seen = (st.st_mtime_ns, st.st_size)
        for a, k in json.loads(self.path.read_text()).items():
            self._keys.setdefault(a, bytes.fromhex(k))

    def add(self, address: str, public_key: bytes) -> bool:
        """Remember `address`'s key; the file is rewritten only when the key is new (an account
        has one key: logins never grow the file). Returns whether it was new."""
        address, public_key = Web3.to_checksum_address(address), bytes(public_key)
        with self._lock:
            if self._keys.get(address) == public_key:
                return False
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._host_lock:
                self._reload()
                if self._keys.get(address) == public_key:
                    return False
                self._keys[address] = public_key
                if self.path:
                    atomic_write(self.path, json.dumps({a: k.hex() for a, k in self._keys.items()}))
                    st = self.path.stat()
                    self._seen = (st.st_mtime_ns, st.st_size)
            return True

    def get(self, address: str) -> bytes | None:
        address = Web3.to_checksum_address(address)
        key = self._keys.get(address)
        if key is None and self.path:
            with self._lock:
                self._reload()
                key = self._keys.get(address)
        return key


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
    #: where the locks shared with the node's other processes are (``tradenet node --workers N``)
    host_locks: Path | None = None
    #: which of the node's API processes this is (0..N-1), None for a node of one process
    worker: int | None = None
    _spending: dict[str, HostLock] = field(default_factory=dict, repr=False)
    _spending_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _references_kept: dict[str, str] = field(default_factory=dict, repr=False)  # B/L numbers known (store.ReferenceLookup)
    _members: MemberCache | None = field(default=None, repr=False)  # member records (caller())

    def spending(self, caller: Caller) -> HostLock:
        """The lock a custodial account's payments hold from their ERC-20 approval to the call that
        spends it: ``approve`` sets the allowance, so two payments of one account at once would
        overwrite each other's and one would fail. Held across both transactions (a block or two),
        by the node's other processes too; other accounts are not held up."""
        address = caller.address.lower()
        with self._spending_guard:
            lock = self._spending.get(address)
            if lock is None:
                path = self.host_locks / f"{address}.spending" if self.host_locks else None
                lock = self._spending[address] = HostLock(path)
            return lock

    @classmethod
    def build(cls, settings: NodeSettings, custodial_keys: list[LocalAccount] | None = None,
              chain: Chain | None = None, host_locks: Path | None = None) -> "NodeContext":
        """`host_locks`: a directory of this run of the node shared by its processes (the
        supervisor of ``--workers N`` makes it), else the node is one process."""
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
        create_auth_tables(db)
        members = None  # the follower thread starts with the first request
        if settings.member_follow_seconds > 0 and chain.rpc is not None:
            registry = deployment.clients(chain).registry
            members = MemberCache(chain.rpc, registry.address, registry.member,
                                  poll_interval=settings.member_follow_seconds)
        # login nonces and sessions in the database: any process of the node answers any request
        return cls(settings, chain, deployment, db, custodial, SqlNonceStore(db),
                   SqlSessionStore(db, ttl=timedelta(seconds=settings.session_ttl_seconds)), docs, pubkeys,
                   host_locks=host_locks, _members=members)

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
        """The participant `address` with its member record as the registry says (kept while no
        block changed the registry: node_api.members; a role change takes effect within one block)."""
        if self._members is None:  # off (member_follow_seconds = 0), or a provider without JSON-RPC
            return Caller(address, self.clients().registry.member(address))
        return Caller(address, self._members.member(address))

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
