"""Indexer in a subprocess, for the kill -9 test: python -m tests.support.indexer.run_indexer
--rpc URL --db URL --address ADDR --abi FILE --start N --batch-size K --marker FILE

Every batch appends "first-last" to the marker file from inside its DB transaction (rows staged,
not committed) and then sleeps, so the parent can SIGKILL it at exactly that point."""
from __future__ import annotations

import argparse
import json
import os
import time

from web3 import Web3

from tests.support.indexer.helpers import make_indexer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpc", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--abi", required=True)
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--marker", required=True)
    ap.add_argument("--sleep", type=float, default=0.4)
    a = ap.parse_args()

    w3 = Web3(Web3.HTTPProvider(a.rpc))
    token = w3.eth.contract(address=a.address, abi=json.load(open(a.abi)))
    ix = make_indexer(w3, a.db, token, a.start, batch_size=a.batch_size)

    def before_commit(conn, first, last):
        with open(a.marker, "a") as f:
            f.write(f"{first}-{last}\n")
            f.flush()
            os.fsync(f.fileno())
        time.sleep(a.sleep)

    ix.before_commit = before_commit
    ix.sync()


if __name__ == "__main__":
    main()
