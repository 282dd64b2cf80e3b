"""`tradenet` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _cmd_up(args: argparse.Namespace) -> int:
    from .localnet import run

    return run(port=args.port, once=args.once, home=Path(args.home) if args.home else None, api_port=args.api_port)


def _cmd_login(args: argparse.Namespace) -> int:
    import httpx

    from node_api.auth import build_login_message, sign_login_message

    from .localnet import demo_keystore
    from .settings import settings

    ks, password = demo_keystore(Path(args.home) if args.home else settings.state_dir / "local")
    key = ks.load(args.who, password)
    with httpx.Client(base_url=args.api, timeout=30) as client:
        n = client.post("/auth/nonce").raise_for_status().json()
        msg = build_login_message(address=key.address, domain=n["domain"], uri=n["uri"], chain_id=n["chain_id"],
                                  nonce=n["nonce"], lifetime=None)
        r = client.post("/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, key)})
        if r.status_code != 200:
            print(f"login refused: {r.text}", file=sys.stderr)
            return 1
        body = r.json()
    print(body["token"])
    print(f"# {args.who} = {body['address']} roles {','.join(body['roles'])}, session until {body['expires_at']}",
          file=sys.stderr)
    return 0


def _cmd_node(args: argparse.Namespace) -> int:
    """A participant's node against any network: indexer + API, configured by the environment
    (NodeSettings.from_env) and custodial keys from an encrypted keystore."""
    import threading

    from node_api.server import start_node
    from node_api.settings import NodeSettings

    from .client import Chain
    from .keystore import Keystore, read_password

    settings = NodeSettings.from_env()
    keys = []
    if args.custodial:
        ks = Keystore(args.keystore)
        password = read_password(password_file=args.password_file)
        keys = [ks.load(name, password) for name in args.custodial]
    chain = Chain.connect(settings.rpc_url)
    node = start_node(settings, chain, keys, host=args.host, port=args.port)
    print(f"node API at {node.url} (chain id {chain.chain_id}, read model {settings.database_url})")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    return 0


def _cmd_indexer(args: argparse.Namespace) -> int:
    """Run the indexer alone (follow the chain), or rebuild the read model from the deploy block."""
    import json

    from .client import Chain
    from .deploy import Deployment
    from .indexer import upgrade
    from .indexer.network import build_indexer

    chain = Chain.connect(args.rpc_url)
    deployment = Deployment(**json.loads(Path(args.deployment).read_text()))
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
    from .compiler import compile_contracts

    arts = compile_contracts(use_cache=not args.force)
    for a in sorted(arts.values(), key=lambda x: x.name):
        if len(a.deployed_bytecode) > 200:
            print(f"{a.name:24s} {len(a.deployed_bytecode) // 2 - 1:6d} bytes runtime  {a.source}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from .keystore import Keystore, read_password

    ks = Keystore(args.keystore)
    if args.keys_cmd == "new":
        acct = ks.create(args.name, read_password(password_file=args.password_file))
        print(f"{args.name}: {acct.address}")
    else:
        for name in ks.names():
            print(f"{name}: {ks.address(name)}")
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy to a named network with admin keys from an encrypted keystore."""
    import time

    from .client import Chain
    from .contracts import Role
    from .deploy import Founder, deploy
    from .keystore import Keystore, read_password
    from .settings import settings

    ks = Keystore(args.keystore)
    password = read_password(password_file=args.password_file)
    admins = [ks.load(n, password) for n in args.admin]
    chain = Chain.connect(args.rpc_url or settings.network_url(args.network))
    expiry = int(time.time()) + args.kyc_days * 86_400
    founders = [Founder(a.address, Role.ADMIN, lei, country, expiry)
                for a, (lei, country) in zip(admins, (x.split(":") for x in args.founder))]
    d = deploy(chain, args.network, admins, founders, args.threshold)
    print(f"deployed to {args.network} (chain id {d.chain_id}): {d.save(Path(args.out) if args.out else None)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradenet", description="tradenet trade-finance network tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the local network, deploy, onboard the demo consortium, play the trade")
    up.add_argument("--port", type=int, default=8545, help="anvil RPC port (default 8545)")
    up.add_argument("--once", action="store_true", help="stop after the scenario instead of keeping the network up")
    up.add_argument("--home", help="state directory (default .tradenet/local)")
    up.add_argument("--api-port", type=int, default=8000, help="node API port (default 8000)")
    up.set_defaults(func=_cmd_up)

    login = sub.add_parser("login", help="sign in to a node API with a key of the local keystore; prints a token")
    login.add_argument("--as", dest="who", required=True, help="keystore name, e.g. seller")
    login.add_argument("--api", default="http://127.0.0.1:8000", help="node API URL")
    login.add_argument("--home", help="state directory (default .tradenet/local)")
    login.set_defaults(func=_cmd_login)

    node = sub.add_parser("node", help="run a participant node (indexer + API) against the network in the "
                                       "environment (TRADENET_RPC_URL, TRADENET_DEPLOYMENT, TRADENET_DATABASE_URL, ...)")
    node.add_argument("--host", default="127.0.0.1")
    node.add_argument("--port", type=int, default=8000)
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
    dep.add_argument("--founder", action="append", required=True, help="LEI:COUNTRY of each admin, in order")
    dep.add_argument("--threshold", type=int, default=2)
    dep.add_argument("--kyc-days", type=int, default=365)
    dep.add_argument("--out", help="directory for <network>.json (default deployments/)")
    dep.set_defaults(func=_cmd_deploy)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
