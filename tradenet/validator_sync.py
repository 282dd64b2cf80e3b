"""The validator sync service: one per sealer organisation, on its own node.

The consortium decides the sealer set in the `ValidatorSet` contract (M-of-N governance); Clique
changes its signer set only by votes of the current signers (``clique_propose``: a change
passes when more than half of them have voted for it in blocks they sealed). This service makes
the organisation's sealer vote as the contract says: on every poll it compares the contract's
list with ``clique_getSigners`` and casts a vote for every difference (add what the contract
has and Clique lacks, drop what Clique has and the contract lacks), and discards votes that
are no longer needed. When the sealer organisations run it, the consensus set converges on
the contract's list within a few blocks of the governance decision.

It reconciles state, not events: geth keeps votes in memory only (a restarted node has none),
a vote may be cast before or after the other organisations', and a governance transaction may
be reorganised out and back in; comparing the two sets on every poll handles all of these (the
contract's ``version``, bumped with every ``ValidatorAdded``/``ValidatorRemoved`` event, is
logged as decisions arrive).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from chain.client import Chain
from chain.clients import ValidatorSet
from chain.deployment import Deployment
from chain.geth import GethNode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignerSets:
    """The sealer set as governance decided it and as the chain's consensus runs it."""

    contract: list[str]
    consensus: list[str]

    @property
    def in_sync(self) -> bool:
        return self.contract == self.consensus

    @property
    def to_add(self) -> list[str]:
        return sorted(set(self.contract) - set(self.consensus))

    @property
    def to_remove(self) -> list[str]:
        return sorted(set(self.consensus) - set(self.contract))


def signer_sets(validators: ValidatorSet, node: GethNode) -> SignerSets:
    """Both sets, as `node` sees the head (what an indexer or API shows as "the validator set")."""
    return SignerSets(validators.validators(), node.signers())


@dataclass
class SyncReport:
    """What one reconciliation did."""

    sets: SignerSets
    proposed: dict[str, bool] = field(default_factory=dict)  # address -> authorize
    discarded: list[str] = field(default_factory=list)


class ValidatorSync:
    """Casts `node`'s Clique votes so that the signer set follows the deployment's ValidatorSet.
    ``reconcile()`` once, or ``start()`` a polling thread (``stop()`` ends it)."""

    def __init__(self, node: GethNode, deployment: Deployment, chain: Chain | None = None,
                 poll_interval: float = 1.0):
        if node.spec.sealer is None:
            raise ValueError(f"node {node.name} does not seal: only a sealer's votes count")
        self.node = node
        self.chain = chain or Chain.connect(node.url)
        self.validators = deployment.clients(self.chain).validators
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_version = -1

    def reconcile(self) -> SyncReport:
        sets = signer_sets(self.validators, self.node)
        version = self.validators.version()
        if version != self._seen_version:
            log.info("%s: validator set v%d: %s (consensus %s)", self.node.name, version, sets.contract, sets.consensus)
            self._seen_version = version
        report = SyncReport(sets)
        wanted = {a: True for a in sets.to_add} | {a: False for a in sets.to_remove}
        for address, authorize in self.node.proposals().items():
            if wanted.get(address) != authorize:
                self.node.discard(address)  # passed, or no longer what the contract says
                report.discarded.append(address)
        for address, authorize in wanted.items():
            self.node.propose(address, authorize)  # idempotent: geth keeps one vote per address
            report.proposed[address] = authorize
        return report

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # node restarting, RPC timeout: try again next poll
                log.warning("%s: validator sync failed: %s", self.node.name, exc)
            self._stop.wait(self.poll_interval)

    def start(self) -> "ValidatorSync":
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name=f"validator-sync-{self.node.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
