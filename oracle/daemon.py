"""``python -m oracle.daemon --config <file>``: run one oracle operator.

The operator key comes from an encrypted keystore (``chain.keystore``); its password from the
environment variable named in the config (default ``TRADENET_KEYSTORE_PASSWORD``) or a password
file. Exit status: 0 on a clean stop, 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from chain.keystore import KeystoreError

from .errors import ConfigError
from .settings import OracleSettings, load_settings


def configure_logging(settings: OracleSettings) -> None:
    fmt = f"%(asctime)s %(levelname)s [{settings.name}] %(name)s: %(message)s"
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(settings.log_file))
    logging.basicConfig(level=settings.log_level, format=fmt, handlers=handlers, force=True)
    for noisy in ("httpx", "httpcore", "web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


#: The interpreter's recursion limit while the operator runs. py_ecc (imported by eth-account) raises
#: it to 100,000 at import, which turns deep recursion (a JSON body of 100,000 nested arrays, say)
#: into a C-stack overflow that kills the process (a segfault) instead of a RecursionError. Request
#: bodies are depth-checked before parsing (``chain.jsonsafe``); this keeps the limit where a
#: RecursionError is still raised long before the C stack of any thread runs out. Nothing the
#: operator runs (web3, EIP-712 signing, pydantic, SQLAlchemy) recurses this deep.
RECURSION_LIMIT = 4000


def limit_recursion(limit: int = RECURSION_LIMIT) -> None:
    """Set the recursion limit back to a sane value: call it *after* the operator's stack (web3,
    eth-account, hence py_ecc) is imported, since the import is what raised it."""
    if sys.getrecursionlimit() != limit:
        logging.getLogger("oracle.daemon").debug("recursion limit %d -> %d", sys.getrecursionlimit(), limit)
        sys.setrecursionlimit(limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oracle.daemon", description="tradenet oracle operator")
    parser.add_argument("--config", type=Path, required=True, help="operator config (JSON or TOML)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"oracle.daemon: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    log = logging.getLogger("oracle.daemon")
    # imported here on purpose: the operator's stack (web3, uvicorn, SQLAlchemy) loads only once the
    # config is valid (a bad config exits with 2 at once) and after logging is configured
    from .node import OperatorNode, load_account

    limit_recursion()

    try:
        account = load_account(settings.key)
        node = OperatorNode(settings, account)
    except (ConfigError, KeystoreError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    try:
        node.serve()
    except ConfigError as exc:
        log.error("stopped: %s", exc)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
