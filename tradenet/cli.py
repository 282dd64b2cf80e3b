"""`tradenet` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import requests

from chain.client import Chain
from chain.compiler import compile_contracts
from chain.clients import MemberInput
from chain.deploy import deploy
from chain.deployment import Deployment
from chain.indexer import upgrade
from chain.indexer.network import build_indexer
from chain.keystore import Keystore, read_password
from chain.settings import network_url, settings
from chain.vocabulary import Role
from chain.abs_verify import read_tape, verify_pool
from node_api.documents import KuboDocumentStore, LocalDocumentStore
from node_api.server import connect_chain, start_node
from node_api.workers import start_workers
from node_api.settings import NodeSettings

from .backup import NodeState, backup, compare_read_models, rebuild_read_model, restore
from . import commands
from .localnet import API_PORT, ORACLE_PORTS, demo_keystore, run
from .node_client import ApiError, NodeClient, NodeUnreachable
from .pool_documents import store_fetcher


def _cmd_up(args: argparse.Namespace) -> int:
    home = Path(args.home) if args.home else None
    if args.profile == "consortium":
        from .consortium_net import run as run_consortium

        return run_consortium(home=home, once=args.once, api_port=args.api_port or 8100, apis=not args.no_apis)
    return run(port=args.port, once=args.once, home=home, api_port=args.api_port or API_PORT,
               oracle_ports=args.oracle_ports, products=not args.no_products)


def _ports(text: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three port numbers, e.g. 8701,8702,8703") from None
    if len(ports) != len(ORACLE_PORTS) or not all(0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"{text!r}: expected three port numbers, e.g. 8701,8702,8703")
    return ports


def _node_state(args: argparse.Namespace) -> NodeState:
    opt = lambda v: Path(v) if v else None  # noqa: E731
    return NodeState(args.db_url, opt(args.keystore), opt(args.documents), opt(args.geth_datadir), opt(args.genesis))


def _cmd_backup(args: argparse.Namespace) -> int:
    """Back up an organisation's node state, restore it, or verify a read model against the chain."""
    if args.backup_cmd == "create":
        m = backup(_node_state(args), Path(args.out), chain_data=not args.no_chain_data)
        print(f"backup in {args.out}: {', '.join(m.parts)}; read model at block "
              f"{(m.checkpoint or {}).get('block_number')}; chain data {'included' if m.chain_data else 'not included'}")
        return 0
    if args.backup_cmd == "restore":
        state = restore(Path(args.backup), args.db_url, Path(args.into))
        print(f"restored: read model into {state.database_url}; keystore {state.keystore_dir}; documents "
              f"{state.document_dir}; geth data directory {state.geth_datadir}")
        return 0
    deployment = Deployment.from_file(args.deployment)
    cp = rebuild_read_model(args.rpc_url, deployment, args.scratch_db_url, args.confirmations)
    cmp = compare_read_models(args.db_url, args.scratch_db_url)
    print(f"rebuilt from the chain to block {cp.get('block_number')}; compared {len(cmp.tables)} tables up to "
          f"block {cmp.height}: " + ("equal" if cmp.equal else f"DIFFERENT: {cmp.differing}"))
    return 0 if cmp.equal else 1


def _local_key(home_arg: str | None, who: str):
    """The participant `who`'s key from the local keystore (one line when it is not there)."""
    home = Path(home_arg) if home_arg else settings.home / "local"
    ks, password = demo_keystore(home)
    if who not in ks.names():
        raise CliError(f"no key {who!r} in the local keystore {home / 'keystore'} (one of: "
                       f"{', '.join(sorted(ks.names())) or 'none: run tradenet up first'})")
    return ks.load(who, password)


def _cmd_login(args: argparse.Namespace) -> int:
    node = NodeClient(args.api)
    try:
        node.health()  # unreachable: one line naming the URL, before the keystore is read
        body = node.login(_local_key(args.home, args.who)).login
    except ApiError as exc:
        raise CliError(f"login refused by {args.api}: {exc}") from None
    finally:
        node.close()
    print(body["token"])
    print(f"# {args.who} = {body['address']} roles {','.join(body['roles'])}, session until {body['expires_at']}",
          file=sys.stderr)
    return 0


def _cmd_product(args: argparse.Namespace) -> int:
    """`tradenet <area> <action>`: one node API operation as the participant (tradenet.commands)."""
    node = NodeClient(args.node)
    try:
        if args.token:
            session = commands.session_for(node, args.token)
        else:
            node.health()  # unreachable: one line naming the URL, before the keystore is read
            session = node.login(_local_key(args.home, args.who))
        commands.print_answer(commands.call(session, args.operation, args))
    except ApiError as exc:
        raise CliError(str(exc)) from None
    finally:
        node.close()
    return 0


def _cmd_node(args: argparse.Namespace) -> int:
    """A participant's node against any network: indexer + API, configured by the environment
    (NodeSettings.from_env) and custodial keys from an encrypted keystore."""
    node_settings = NodeSettings.from_env()
    keys = []
    if args.custodial:
        ks = Keystore(args.keystore)
        password = read_password(password_file=args.password_file)
        keys = [ks.load(name, password) for name in args.custodial]
    chain = connect_chain(node_settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager's stop: the same as Ctrl-C
    if args.workers > 1:
        node = start_workers(node_settings, chain, keys, args.workers, host=args.host, port=args.port)
        shape = f"{args.workers} API processes"
    else:
        node = start_node(node_settings, chain, keys, host=args.host, port=args.port)
        shape = "one API process"
    print(f"node API at {node.url} ({shape}; chain id {chain.chain_id}, read model {node_settings.database_url})",
          flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    return 0


def _cmd_indexer(args: argparse.Namespace) -> int:
    """Run the indexer alone (follow the chain), or rebuild the read model from the deploy block."""
    chain = Chain.connect(args.rpc_url)
    deployment = Deployment.from_file(args.deployment)
    upgrade(args.db_url)
    ix = build_indexer(chain.w3, args.db_url, deployment, chain.artifacts, confirmations=args.confirmations)
    if args.rebuild:
        blocks = ix.rebuild()
        print(f"rebuilt the read model from block {deployment.deploy_block}: {blocks} blocks, "
              f"{ix.metrics.events_indexed} events")
        return 0
    try:
        ix.run_forever(poll_interval=args.poll_interval)
    except KeyboardInterrupt:
        ix.stop()
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    arts = compile_contracts(use_cache=not args.force)
    for a in sorted(arts.values(), key=lambda x: x.name):
        if len(a.deployed_bytecode) > 200:
            print(f"{a.name:24s} {len(a.deployed_bytecode) // 2 - 1:6d} bytes runtime  {a.source}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    ks = Keystore(args.keystore)
    if args.keys_cmd == "new":
        acct = ks.create(args.name, read_password(password_file=args.password_file))
        print(f"{args.name}: {acct.address}")
    else:
        for name in ks.names():
            print(f"{name}: {ks.address(name)}")
    return 0


def _founder(spec: str) -> tuple[str, str, str]:
    """`LEI:CC:Legal name` of a founding admin organisation."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[2].strip():
        raise CliError(f"--founder {spec!r}: expected LEI:COUNTRY:Legal name, e.g. 529900ABCDEFGH012345:SG:Acme Ltd")
    return parts[0], parts[1], parts[2].strip()


def _cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy to a named network with admin keys from an encrypted keystore."""
    ks = Keystore(args.keystore)
    password = read_password(password_file=args.password_file)
    admins = [ks.load(n, password) for n in args.admin]
    chain = Chain.connect(args.rpc_url or network_url(args.network))
    expiry = int(time.time()) + args.kyc_days * 86_400
    founders = [MemberInput(a.address, Role.ADMIN, lei, country, expiry, name)
                for a, (lei, country, name) in zip(admins, (_founder(x) for x in args.founder))]
    d = deploy(chain, args.network, admins, founders, args.threshold)
    print(f"deployed to {args.network} (chain id {d.chain_id}): {d.save(Path(args.out) if args.out else None)}")
    return 0


def _cmd_verify_pool(args: argparse.Namespace) -> int:
    """An investor's independent verification of an ABS pool, over RPC and the document store."""
    deployment = Deployment.from_file(args.deployment) if args.deployment else Deployment.load(args.network)
    chain = Chain.connect(args.rpc_url or network_url(args.network))
    store = (KuboDocumentStore(args.kubo) if args.kubo else
             LocalDocumentStore(args.documents) if args.documents else None)
    tape = read_tape(json.loads(Path(args.tape).read_text())) if args.tape else None

    def progress(done: int, total: int) -> None:
        if not args.json and sys.stderr.isatty():
            width = 40
            filled = width * done // max(total, 1)
            print(f"\r  reading chain state [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} assets",
                  end="" if done < total else "\n", file=sys.stderr, flush=True)

    report = verify_pool(chain, deployment, args.pool, tape=tape,
                         fetch_document=store_fetcher(store) if store else None, progress=progress)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradenet", description="tradenet trade-finance network tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the local network, deploy, onboard the demo consortium, play the trade")
    up.add_argument("--profile", choices=("local", "consortium"), default="local",
                    help="local: one anvil and one node API; consortium: a 4-sealer geth Clique network with a node, "
                         "read model and API per organisation, PostgreSQL and kubo (see docs/deployment.md)")
    up.add_argument("--port", type=int, default=8545, help="anvil RPC port (default 8545; local profile)")
    up.add_argument("--once", action="store_true", help="stop after the scenario instead of keeping the network up")
    up.add_argument("--home", help="state directory (default .tradenet/local or .tradenet/consortium)")
    up.add_argument("--api-port", type=int, help="node API port (default 8000; consortium: the first of one port "
                                                 "per organisation, default 8100)")
    up.add_argument("--oracle-ports", type=_ports, default=ORACLE_PORTS, metavar="P1,P2,P3",
                    help="the three oracle operators' ports (default 8701,8702,8703; local profile)")
    up.add_argument("--no-products", action="store_true", help="local profile: the main trade only, not the "
                                                               "short run of each other product")
    up.add_argument("--no-apis", action="store_true", help="consortium profile: no node APIs, chain only")
    up.set_defaults(func=_cmd_up)

    login = sub.add_parser("login", help="sign in to a node API with a key of the local keystore; prints a token")
    login.add_argument("--as", dest="who", required=True, help="keystore name, e.g. seller")
    login.add_argument("--node", "--api", dest="api", default=f"http://127.0.0.1:{API_PORT}",
                       help=f"node API URL (default http://127.0.0.1:{API_PORT})")
    login.add_argument("--home", help="state directory (default .tradenet/local)")
    login.set_defaults(func=_cmd_login)

    node = sub.add_parser("node", help="run a participant node (indexer + API) against the network in the "
                                       "environment (TRADENET_NETWORK, TRADENET_<NETWORK>_RPC_URL, "
                                       "TRADENET_DEPLOYMENT_FILE, TRADENET_DATABASE_URL, ...)")
    node.add_argument("--host", default="127.0.0.1")
    node.add_argument("--port", type=int, default=8000)
    node.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="N",
                      help="API processes behind the one port (default 1; one per core serves more reads and "
                           "writes at once: docs/deployment.md)")
    node.add_argument("--keystore", help="keystore directory with the participant keys this node signs with")
    node.add_argument("--custodial", action="append", default=[], help="keystore name of a custodial key (repeat)")
    node.add_argument("--password-file", type=Path)
    node.set_defaults(func=_cmd_node)

    ix = sub.add_parser("indexer", help="follow the chain into the read model, or rebuild it from block 0")
    ix.add_argument("--rpc-url", required=True)
    ix.add_argument("--deployment", required=True, help="deployments/<network>.json")
    ix.add_argument("--db-url", required=True, help="sqlite:///file.db or postgresql+psycopg://...")
    ix.add_argument("--confirmations", type=int, default=0, help="blocks to wait before indexing (0 on QBFT/Clique finality)")
    ix.add_argument("--poll-interval", type=float, default=1.0)
    ix.add_argument("--rebuild", action="store_true", help="drop the read model and re-index from the deploy block")
    ix.set_defaults(func=_cmd_indexer)

    bk = sub.add_parser("backup", help="back up an organisation's node state, restore it, verify its read model")
    bsub = bk.add_subparsers(dest="backup_cmd", required=True)
    bc = bsub.add_parser("create", help="read model dump, keystore, documents, geth data directory, genesis")
    bc.add_argument("--db-url", required=True, help="the read model (postgresql+psycopg://... or sqlite:///...)")
    bc.add_argument("--keystore", help="keystore directory")
    bc.add_argument("--documents", help="document store directory (encrypted documents, key ring)")
    bc.add_argument("--geth-datadir", help="geth data directory (node key, sealer keystore, config, chain data)")
    bc.add_argument("--genesis", help="the network's genesis.json (to re-initialise a node restored without chain data)")
    bc.add_argument("--no-chain-data", action="store_true", help="leave the chain data out (the node re-syncs)")
    bc.add_argument("--out", required=True, help="new directory for the backup")
    br = bsub.add_parser("restore", help="restore a backup onto this machine")
    br.add_argument("backup", help="backup directory")
    br.add_argument("--db-url", required=True, help="an empty PostgreSQL database (or a new SQLite file)")
    br.add_argument("--into", required=True, help="directory for keystore/, documents/, geth/, genesis.json")
    bv = bsub.add_parser("verify", help="rebuild the read model from the chain and compare it with --db-url")
    bv.add_argument("--db-url", required=True)
    bv.add_argument("--scratch-db-url", required=True, help="an empty database to rebuild into")
    bv.add_argument("--rpc-url", required=True)
    bv.add_argument("--deployment", required=True, help="deployments/<network>.json")
    bv.add_argument("--confirmations", type=int, default=0)
    bk.set_defaults(func=_cmd_backup)

    comp = sub.add_parser("compile", help="compile contracts/ with the pinned solcjs")
    comp.add_argument("--force", action="store_true", help="ignore the build cache")
    comp.set_defaults(func=_cmd_compile)

    keys = sub.add_parser("keys", help="manage participant keys in an encrypted keystore")
    keys.add_argument("--keystore", required=True, help="keystore directory")
    keys.add_argument("--password-file", type=Path, help="password file (else TRADENET_KEYSTORE_PASSWORD)")
    ksub = keys.add_subparsers(dest="keys_cmd", required=True)
    knew = ksub.add_parser("new", help="create a key")
    knew.add_argument("name")
    ksub.add_parser("list", help="list keys and addresses")
    keys.set_defaults(func=_cmd_keys)

    dep = sub.add_parser("deploy", help="deploy the contracts to a named network (local, besu, ...)")
    dep.add_argument("--network", required=True)
    dep.add_argument("--rpc-url", help="override TRADENET_<NETWORK>_RPC_URL")
    dep.add_argument("--keystore", required=True)
    dep.add_argument("--password-file", type=Path)
    dep.add_argument("--admin", action="append", required=True, help="keystore name of a founding admin (repeat)")
    dep.add_argument("--founder", action="append", required=True, help="LEI:COUNTRY:Legal name of each admin organisation, in order")
    dep.add_argument("--threshold", type=int, default=2)
    dep.add_argument("--kyc-days", type=int, default=365)
    dep.add_argument("--out", help="directory for <network>.json (default deployments/)")
    dep.set_defaults(func=_cmd_deploy)

    vp = sub.add_parser("verify-pool", help="verify an ABS pool's tape, proofs, assets and documents from chain state "
                                            "(RPC only: no read model needed)")
    vp.add_argument("--pool", type=int, required=True, help="pool id")
    vp.add_argument("--network", default="local")
    vp.add_argument("--rpc-url", help="override TRADENET_<NETWORK>_RPC_URL")
    vp.add_argument("--deployment", help="deployment record (default deployments/<network>.json)")
    vp.add_argument("--tape", help="the manager's tape file (JSON list of leaves) to check against the chain")
    vp.add_argument("--documents", help="a local document store directory to fetch documents from")
    vp.add_argument("--kubo", help="a kubo API (e.g. /ip4/127.0.0.1/tcp/5001/http) to fetch documents from")
    vp.add_argument("--json", action="store_true", help="print the report as JSON")
    vp.set_defaults(func=_cmd_verify_pool)

    commands.add_parsers(sub, f"http://127.0.0.1:{API_PORT}", _cmd_product)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except CliError as exc:
        print(f"tradenet {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tradenet keys list | head`: the reader is gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except NodeUnreachable as exc:
        print(f"tradenet {args.command}: {exc}", file=sys.stderr)
        return 1
    except (httpx.TransportError, requests.exceptions.ConnectionError) as exc:
        print(f"tradenet {args.command}: cannot reach {_url_of(exc)} ({_first_line(exc)})", file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError) as exc:
        if args.verbose:
            raise
        print(f"tradenet {args.command}: {type(exc).__name__}: {_first_line(exc)} (-v shows the traceback)",
              file=sys.stderr)
        return 1


class CliError(RuntimeError):
    """A command's failure, printed as one line."""


def _url_of(exc: Exception) -> str:
    request = getattr(exc, "request", None)
    try:
        return str(request.url) if request is not None else "the node"
    except RuntimeError:  # httpx: no request attached
        return "the node"


def _first_line(exc: Exception) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return (text.splitlines() or [type(exc).__name__])[0][:160]


if __name__ == "__main__":
    sys.exit(main())
