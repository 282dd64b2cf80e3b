"""The consortium profile: a geth Clique network on which every member organisation runs its own
node (four sealer organisations, RPC nodes for the others), the contracts deployed and the
members onboarded through governance, the validator set deployed and followed by each sealer
organisation's sync service, and the per-organisation node map (RPC URL, read-model database,
document store) that the node APIs, oracle operators and the demo scenario are configured from.

    c = start_consortium(home, participants, keys, sealer_keys)
    c.clients("seller").invoices.mint(...)      # the seller's key, over the seller's own node
    c.orgs["lender"].rpc_url                    # the bank's node
    c.write_node_map(path)                      # everything a process needs, by configuration
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.client import Chain
from chain.clients import DealTerms, InvoiceTerms, Milestone, Notify, ShipmentEvent, shipment_id
from chain.compiler import Artifact, compile_contracts
from chain.consortium import DEMO_PARTICIPANTS, Participant, bootstrap
from chain.deploy import deploy_validator_set
from chain.deployment import Clients, Deployment
from chain.fsutil import atomic_write
from chain.keystore import Keystore
from chain.geth import (
    BLOCK_PERIOD,
    CHAIN_ID,
    FEE_POLICY,
    GAS_ALLOWANCE,
    CliqueNetwork,
    GethNode,
    NodeSpec,
    clique_confirmations,
)
from node_api.settings import NodeSettings

from .validator_sync import ValidatorSync, signer_sets

log = logging.getLogger(__name__)

NETWORK = "consortium"
#: The organisations that run the four genesis sealers: the consortium operator, the two other
#: governance organisations and the settlement bank (each a different LEI).
SEALER_ORGS: tuple[str, ...] = ("admin_a", "admin_b", "admin_c", "treasury")


def organisations(participants: Iterable[Participant]) -> dict[str, tuple[Participant, ...]]:
    """Participants grouped by legal entity (LEI), keyed by the first participant's key (the
    organisation's key: ``seller`` for both of the exporter's accounts)."""
    by_lei: dict[str, list[Participant]] = {}
    for p in participants:
        by_lei.setdefault(p.lei, []).append(p)
    return {ps[0].key: tuple(ps) for ps in by_lei.values()}


def node_plan(orgs: Iterable[str], sealer_orgs: Sequence[str] = SEALER_ORGS,
              rpc_nodes: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Which geth node serves each organisation: a sealer organisation its own sealer node (named
    after it); every other organisation its own RPC node, unless `rpc_nodes` (node name -> the
    organisations it serves) groups them (tests do, to run fewer processes)."""
    orgs = list(orgs)
    missing = [o for o in sealer_orgs if o not in orgs]
    if missing:
        raise ValueError(f"sealer organisations {missing} are not among the participants' organisations")
    plan = {o: o for o in sealer_orgs}
    if rpc_nodes is None:
        plan |= {o: o for o in orgs if o not in plan}
    else:
        for node, served in rpc_nodes.items():
            for o in served:
                if o not in orgs or o in plan:
                    raise ValueError(f"organisation {o!r} is unknown or already has a node")
                plan[o] = node
    unserved = [o for o in orgs if o not in plan]
    if unserved:
        raise ValueError(f"organisations without a node: {unserved}")
    return plan


@dataclass(frozen=True)
class OrgNode:
    """What one organisation runs, as configuration: its geth node, read model, document store."""

    org: str
    legal_name: str
    lei: str
    participants: tuple[str, ...]  # participant keys (the accounts its node API holds)
    node: str  # the geth node serving it
    rpc_url: str
    database_url: str
    document_dir: Path
    kubo_api: str | None = None
    sealer: str | None = None  # the organisation's sealer address, if it runs one

    def node_settings(self, deployment_file: Path, api_port: int, confirmations: int) -> NodeSettings:
        """The organisation's node API settings (``tradenet node`` reads the same from TRADENET_*):
        its indexer `confirmations` blocks behind (the Clique depth), geth's fee policy."""
        return NodeSettings(network=NETWORK, rpc_url=self.rpc_url, deployment_file=deployment_file,
                            database_url=self.database_url, api_domain=f"127.0.0.1:{api_port}",
                            api_uri=f"http://127.0.0.1:{api_port}", document_dir=self.document_dir,
                            kubo_api=self.kubo_api, indexer_confirmations=confirmations, fee_mode="geth")


@dataclass
class Consortium:
    """A running consortium network (see the module docstring). ``stop()`` ends everything it started."""

    net: CliqueNetwork
    deployment: Deployment
    deployment_file: Path
    keys: dict[str, LocalAccount]
    sealer_keys: dict[str, LocalAccount]
    orgs: dict[str, OrgNode]
    artifacts: dict[str, Artifact]
    syncs: dict[str, ValidatorSync] = field(default_factory=dict)
    _chains: dict[str, Chain] = field(default_factory=dict)

    # -- who is where
    def org_of(self, key: str) -> OrgNode:
        """The organisation of a participant key."""
        for org in self.orgs.values():
            if key in org.participants:
                return org
        raise KeyError(f"no organisation has participant {key!r}")

    def node_of(self, key: str) -> GethNode:
        return self.net[self.org_of(key).node]

    def chain(self, key: str) -> Chain:
        """The connection of a participant (or organisation) key: to its organisation's own node."""
        node = self.node_of(key).name
        if node not in self._chains:
            self._chains[node] = Chain.connect(self.net[node].url, artifacts=self.artifacts, fees=FEE_POLICY)
        return self._chains[node]

    def clients(self, key: str) -> Clients:
        """Every contract signing with the participant's key, over its organisation's node."""
        return self.deployment.clients(self.chain(key), self.keys[key])

    @property
    def confirmations(self) -> int:
        """The confirmation depth for this network's signer count (see ``clique_confirmations``)."""
        return clique_confirmations(len(self.net[self.orgs[SEALER_ORGS[0]].node].signers()))

    def wait_seen(self, block: int, timeout: float = 60.0) -> None:
        """Until every running node has imported `block` (a write on one node, read on another)."""
        self.net.wait_for_block(block, timeout)

    # -- configuration
    def node_map(self) -> dict:
        """Everything a process needs to run against this network (JSON-able)."""
        return {
            "network": NETWORK, "chain_id": self.deployment.chain_id, "deployment_file": str(self.deployment_file),
            "confirmations": self.confirmations,
            "orgs": {k: {**asdict(o), "document_dir": str(o.document_dir)} for k, o in self.orgs.items()},
            "nodes": {n.name: {"rpc_url": n.url, "enode": n.enode, "sealer": n.sealer_address,
                               "datadir": str(n.datadir)} for n in self.net.nodes.values()},
        }

    def write_node_map(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, json.dumps(self.node_map(), indent=2) + "\n", mode=0o644)

    def validator_sets(self):
        """The validator set as governance decided it and as Clique runs it (see ``validator_sync``)."""
        node = self.net[self.orgs[SEALER_ORGS[0]].node]
        return signer_sets(self.deployment.clients(self.chain(SEALER_ORGS[0])).validators, node)

    def stop(self) -> None:
        for s in self.syncs.values():
            s.stop()
        self.net.stop()


def start_consortium(
    home: Path,
    participants: Sequence[Participant],
    keys: Mapping[str, LocalAccount],
    sealer_keys: Mapping[str, LocalAccount],
    *,
    sealer_orgs: Sequence[str] = SEALER_ORGS,
    rpc_nodes: Mapping[str, Sequence[str]] | None = None,
    database_url: Callable[[str], str] | None = None,
    kubo_api: str | None = None,
    period: int = BLOCK_PERIOD,
    chain_id: int = CHAIN_ID,
    say: Callable[[str], None] = log.info,
) -> Consortium:
    """Start the Clique network under ``home/chain`` (sealers first, each sealer organisation's
    `sealer_keys[org]` in the genesis), deploy and onboard through the consortium operator's
    own node (``bootstrap``), deploy the validator set with the genesis sealers and start each
    sealer organisation's validator sync service. `database_url(org)` names each organisation's
    read model (default: a SQLite file under ``home/orgs/<org>``)."""
    home = Path(home)
    groups = organisations(participants)
    plan = node_plan(groups, sealer_orgs, rpc_nodes)
    specs = [NodeSpec(o, sealer_keys[o]) for o in sealer_orgs]
    specs += [NodeSpec(n) for n in dict.fromkeys(n for o, n in plan.items() if o not in sealer_orgs)]
    alloc = {a.address: GAS_ALLOWANCE for a in (*keys.values(), *sealer_keys.values())}
    net = CliqueNetwork(home / "chain", specs, chain_id=chain_id, period=period, alloc=alloc)
    t0 = time.monotonic()
    net.start()
    try:
        say(f"Clique network up in {time.monotonic() - t0:.0f} s: chain id {chain_id}, {len(sealer_orgs)} sealers "
            f"({', '.join(sealer_orgs)}), {len(specs) - len(sealer_orgs)} RPC nodes, one block every {period} s, "
            f"peering only between allowlisted nodes.")
        artifacts = compile_contracts()
        operator = sealer_orgs[0]
        deployer_chain = Chain.connect(net[plan[operator]].url, artifacts=artifacts, fees=FEE_POLICY)
        t0 = time.monotonic()
        deployment = bootstrap(deployer_chain, NETWORK, keys, participants)
        deploy_validator_set(deployer_chain, deployment, keys[operator],
                             [(sealer_keys[o].address, keys[o].address) for o in sealer_orgs])
        deployment_file = deployment.save(home / "deployments")
        say(f"Contracts deployed and {len(participants)} members onboarded through {operator}'s node in "
            f"{time.monotonic() - t0:.0f} s; validator set {deployment.validator_set} holds the genesis sealers.")
        db = database_url or (lambda org: f"sqlite:///{home / 'orgs' / org / 'read_model.db'}")
        orgs = {}
        for org, ps in groups.items():
            node = net[plan[org]]
            orgs[org] = OrgNode(org, ps[0].name, ps[0].lei, tuple(p.key for p in ps), node.name, node.url, db(org),
                                home / "orgs" / org / "documents", kubo_api,
                                sealer_keys[org].address if org in sealer_orgs else None)
        c = Consortium(net, deployment, deployment_file, dict(keys), dict(sealer_keys), orgs, artifacts)
        c._chains[plan[operator]] = deployer_chain
        for org in sealer_orgs:
            c.syncs[org] = ValidatorSync(net[plan[org]], deployment, c.chain(org)).start()
        return c
    except BaseException:
        net.stop()
        raise


@dataclass
class ChainTrade:
    """What the chain-level trade did: ids, where each step ran, and the money."""

    invoice_id: int = 0
    deal_id: int = 0
    steps: list[tuple[str, str, int]] = field(default_factory=list)  # (step, node, block)
    usd_supply: int = 0
    balances: dict[str, int] = field(default_factory=dict)  # USD after the trade, by participant key


def run_chain_trade(c: Consortium, say: Callable[[str], None] = log.info, reference: str = "CONS-2026-0001",
                    ) -> ChainTrade:
    """A receivable financed against shipment milestones, every party acting through its own
    organisation's node: the settlement bank issues deposits, the exporter tokenises an invoice,
    the importer confirms it, exporter and bank agree terms (EIP-712) and the bank funds, two of
    three oracle operators confirm departure and arrival (each report releasing its share), the
    importer repays, everyone withdraws. Each step waits until every node has the previous
    step's block (a write on one node read on another)."""
    out = ChainTrade()
    d = c.deployment
    addr = {k: a.address for k, a in c.keys.items()}

    def step(what: str, key: str, client) -> None:
        block = client.last_receipt["blockNumber"]
        out.steps.append((what, c.node_of(key).name, block))
        c.wait_seen(block)
        say(f"{what} (by {key} through node {c.node_of(key).name}, block {block})")

    usd = c.clients("treasury").token("USD")
    usd.mint(addr["lender"], 1_000_000_00, b"CONS-DEP-LENDER".ljust(32, b"\0"))
    step("Settlement bank issued USD 1,000,000.00 of deposits to the lender", "treasury", usd)
    usd.mint(addr["buyer"], 1_000_000_00, b"CONS-DEP-BUYER".ljust(32, b"\0"))
    step("Settlement bank issued USD 1,000,000.00 of deposits to the buyer", "treasury", usd)
    supply = usd.total_supply()

    now = c.chain("seller").w3.eth.get_block("latest")["timestamp"]
    bl = shipment_id(reference)
    seller = c.clients("seller")
    out.invoice_id = seller.invoices.mint(InvoiceTerms(
        addr["buyer"], f"INV-{reference}", 100_000_00, "USD", now - 86_400, now + 60 * 86_400,
        keccak(text=f"commercial invoice {reference}"), "bafkreiconsortiumdemo0001", bl))
    step(f"Exporter tokenised invoice INV-{reference} (USD 100,000.00)", "seller", seller.invoices)
    buyer = c.clients("buyer")
    buyer.invoices.confirm(out.invoice_id)
    step("Importer confirmed the invoice", "buyer", buyer.invoices)

    lender = c.clients("lender")
    terms = DealTerms(d.receivable_financing, out.invoice_id, addr["seller"], addr["lender"], usd.address,
                      80_000_00, 2_000_00, now + 61 * 86_400, 7 * 86_400, now + 3_600,
                      (Milestone("DEPA", 4_000), Milestone("ARRI", 6_000, "NLRTM")), bl)
    lender_sig = lender.deals.sign_terms(c.keys["lender"], terms)
    seller.invoices.approve(d.receivable_financing, out.invoice_id)
    step("Exporter let the receivable-financing module take the invoice", "seller", seller.invoices)
    out.deal_id = seller.deals.accept(terms, b"", lender_sig)
    step(f"Exporter accepted the bank's signed terms: deal {out.deal_id}", "seller", seller.deals)
    lender_usd = lender.token("USD")
    lender_usd.approve(d.deal_engine, terms.principal)
    step("Bank approved the deal engine for the advance", "lender", lender_usd)
    lender.deals.fund(out.deal_id)
    step("Bank funded the deal (USD 80,000.00 into escrow)", "lender", lender.deals)

    oracle = c.clients("oracle_1").oracle
    for code, place in (("DEPA", "CNSZX"), ("ARRI", "NLRTM")):
        ev = ShipmentEvent.from_strings(reference, code, place, c.chain("oracle_1").w3.eth.get_block("latest")["timestamp"],
                                        f"{reference}:{code}:{place}")
        sigs = [oracle.sign_event(c.keys[k], ev) for k in ("oracle_1", "oracle_2")]
        oracle.submit_report(ev, sigs, [Notify(d.deal_engine, out.deal_id)])
        step(f"Oracle operators confirmed {code} at {place} (2 of 3 signatures); the deal released its share",
             "oracle_1", oracle)
    seller.deals.withdraw(out.deal_id)
    step("Exporter withdrew the released advance", "seller", seller.deals)

    buyer_usd = buyer.token("USD")
    buyer_usd.approve(d.deal_engine, 100_000_00)
    step("Importer approved the deal engine for the invoice amount", "buyer", buyer_usd)
    buyer.deals.repay(out.deal_id)
    step("Importer paid the invoice into the deal", "buyer", buyer.deals)
    lender.deals.withdraw(out.deal_id)
    step("Bank withdrew principal and fee", "lender", lender.deals)
    seller.deals.withdraw(out.deal_id)
    step("Exporter withdrew the remainder", "seller", seller.deals)

    out.usd_supply = usd.total_supply()
    if out.usd_supply != supply:
        raise AssertionError(f"USD supply changed during the trade: {supply} -> {out.usd_supply}")
    out.balances = {k: usd.balance_of(addr[k]) for k in ("lender", "buyer", "seller")}
    return out



def load_or_create_sealer_keys(ks: Keystore, password: str, orgs: Sequence[str]) -> dict[str, LocalAccount]:
    """Each sealer organisation's sealer key, ``sealer_<org>`` in the keystore (not a member account)."""
    names = set(ks.names())
    return {o: ks.load(f"sealer_{o}", password) if f"sealer_{o}" in names else ks.create(f"sealer_{o}", password)
            for o in orgs}


def run(home: Path | None = None, once: bool = False, api_port: int = 8100, apis: bool = True) -> int:
    """``tradenet up --profile consortium``: the Clique network with a node per organisation,
    PostgreSQL (a read-model database per organisation) and kubo (the document store), the
    contracts deployed and the members onboarded, each organisation's node API on its own node,
    then the chain-level trade through the parties' own nodes. A new chain every run."""
    from chain.settings import settings
    from node_api.server import start_node

    from .localnet import demo_keystore, load_or_create_keys
    from .scenario import Narrator
    from .services import KuboDaemon, PostgresServer

    say = Narrator()
    home = home or settings.home / "consortium"
    for stale in ("chain", "deployments", "orgs", "postgres", "nodes.json"):
        path = home / stale
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    participants = list(DEMO_PARTICIPANTS)
    ks, password = demo_keystore(home)
    keys = load_or_create_keys(ks, password, participants)
    sealer_keys = load_or_create_sealer_keys(ks, password, SEALER_ORGS)
    pg = kubo = c = None
    nodes = []
    try:
        pg = PostgresServer(home / "postgres")
        kubo = KuboDaemon(home / "ipfs").start()
        say(f"PostgreSQL (one read-model database per organisation) at 127.0.0.1:{pg.port}; kubo document store "
            f"at {kubo.api}.")
        c = start_consortium(home, participants, keys, sealer_keys, database_url=lambda o: pg.create_database(f"rm_{o}"),
                             kubo_api=kubo.api, say=say)
        say(f"Node map (each organisation's RPC node, read model and document store): {c.write_node_map(home / 'nodes.json')}")
        sets = c.validator_sets()
        say(f"Validator set: {len(sets.contract)} sealers in the contract, Clique signers "
            f"{'match' if sets.in_sync else 'DIFFER'}; indexers confirm at depth {c.confirmations}.")
        if apis:
            for i, org in enumerate(c.orgs.values()):
                port = api_port + i
                nodes.append(start_node(org.node_settings(c.deployment_file, port, c.confirmations), c.chain(org.org),
                                        [keys[k] for k in org.participants], port=port))
                say.note(f"{org.legal_name:<44} API {nodes[-1].url}  node {org.node} ({org.rpc_url})")
        run_chain_trade(c, say)
        if once:
            return 0
        say("The consortium keeps running. Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for n in nodes:
            n.stop()
        if c:
            c.stop()
        if kubo:
            kubo.stop()
        if pg:
            pg.stop()
    return 0
