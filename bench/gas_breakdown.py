"""Where the gas of the two hot writes goes, by EVM cost class, beside issue 15's targets.

For a permissioned settlement-token transfer to an existing holder and a seller's next invoice
mint (the transactions `bench/throughput.py` sends), the transaction is traced on anvil
(``debug_traceTransaction``, struct logs: anvil ``--steps-tracing``) and its gas split into:

- intrinsic: 21,000 per transaction plus calldata (4 gas a zero byte, 16 a non-zero byte);
- storage writes (SSTORE) and storage reads (SLOAD) of the token itself;
- logs (LOG0-LOG4) of the token itself;
- registry calls: every STATICCALL / CALL the token makes, with everything the registry does
  inside (its cold account access, its storage reads, its checks);
- other execution: the rest (ABI decoding, the rules' arithmetic, memory, hashing), less the
  storage refund.

The last column is a floor: what a contract that keeps every rule cannot avoid paying by the
EVM's price list (new storage words 22,100 each (cold 2,100 + 20,000), an existing balance
2,900 + 2,100, the registry's cold account 2,600 and each cold record word 2,100, the logs
the indexer needs, intrinsic gas). A target below the floor cannot be met without dropping a
rule or moving its state (see docs/benchmarks.md, "gas").

Run: .venv/bin/python bench/gas_breakdown.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import Bench, Mints, Transfers  # noqa: E402
from chain.anvil import Anvil  # noqa: E402

CALLS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
CLASSES = ("intrinsic", "storage writes", "storage reads", "logs", "registry calls", "other execution")
TARGETS = {"transfer": 40_000, "invoice mint": 120_000}
COLD_SLOT, NEW_WORD, WARM_WRITE, COLD_ACCOUNT = 2_100, 20_000, 2_900, 2_600


def intrinsic(data: bytes) -> int:
    return 21_000 + sum(4 if b == 0 else 16 for b in data)


def breakdown(bench: Bench, tx_hash: str) -> tuple[Counter, dict[str, int]]:
    """Gas by class for one mined transaction, and the counts the floor needs."""
    tx = bench.rpc.call("eth_getTransactionByHash", [tx_hash])
    receipt = bench.rpc.call("eth_getTransactionReceipt", [tx_hash])
    trace = bench.rpc.call("debug_traceTransaction", [tx_hash, {"disableStorage": True, "disableStack": False,
                                                                "enableMemory": False}])
    steps: list[dict[str, Any]] = trace["structLogs"]
    used = int(receipt["gasUsed"], 16)
    out: Counter = Counter()
    out["intrinsic"] = intrinsic(bytes.fromhex(tx["input"][2:]))
    counts = Counter()
    i = 0
    while i < len(steps):
        s = steps[i]
        if s["depth"] != 1:
            i += 1
            continue
        op = s["op"]
        if op in CALLS:
            j = i + 1
            while j < len(steps) and steps[j]["depth"] != 1:
                j += 1
            after = steps[j]["gas"] if j < len(steps) else s["gas"] - s["gasCost"]
            out["registry calls"] += s["gas"] - after
            counts["calls"] += 1
            i = j
            continue
        if op == "SSTORE":
            out["storage writes"] += s["gasCost"]
            counts["sstore"] += 1
        elif op == "SLOAD":
            out["storage reads"] += s["gasCost"]
        elif op.startswith("LOG"):
            out["logs"] += s["gasCost"]
            counts["logs"] += 1
        i += 1
    out["other execution"] = used - sum(out[c] for c in CLASSES if c != "other execution")
    return out, {"used": used, **counts}


def main() -> None:
    with Anvil(extra_args=["--steps-tracing"]) as anvil:  # struct logs for debug_traceTransaction
        bench = Bench(anvil)
        rows: dict[str, tuple[Counter, dict[str, int]]] = {}
        for workload in (Transfers(bench), Mints(bench)):
            ops = workload.ops(4)  # the first of each sender warms its balance slot; the last is measured
            hashes = [op.client.submit(op.fn, *op.args).wait(120)["transactionHash"] for op in ops]
            last = hashes[-1]
            rows[workload.name] = breakdown(bench, last if isinstance(last, str) else last.to_0x_hex())
    names = list(rows)
    print("gas by EVM cost class (anvil debug_traceTransaction; a transfer of 1 cent to an existing holder, "
          "a seller's next invoice mint without shipment)")
    print(f"{'':<22}" + "".join(f"{n:>16}" for n in names))
    for c in CLASSES:
        print(f"{c:<22}" + "".join(f"{rows[n][0][c]:>16,}" for n in names))
    print(f"{'total (gasUsed)':<22}" + "".join(f"{rows[n][1]['used']:>16,}" for n in names))
    print(f"{'target (issue 15)':<22}" + "".join(f"{TARGETS[n]:>16,}" for n in names))
    # floors: what the rules cannot avoid by the EVM's price list
    t = rows["transfer"][0]
    transfer_floor = (t["intrinsic"] + 2 * (COLD_SLOT + WARM_WRITE) + t["logs"] + COLD_ACCOUNT + 2 * COLD_SLOT)
    m = rows["invoice mint"][0]
    # ownership word, terms word, document word (new), the seller's balance (existing), the registry
    # (cold account, seller and buyer records, the currency's settlement token)
    mint_floor = (m["intrinsic"] + 3 * (COLD_SLOT + NEW_WORD) + COLD_SLOT + WARM_WRITE + m["logs"] + COLD_ACCOUNT
                  + 3 * COLD_SLOT)
    print(f"{'floor (rules kept)':<22}{transfer_floor:>16,}{mint_floor:>16,}")
    print("floor: intrinsic + the storage each rule needs + the logs + the registry's cold account and records; "
          "transfer: 2 balances (existing), 2 member records; mint: 3 new words (ownership, terms, document), "
          "the seller's balance, 3 registry words (seller, buyer, currency)")
    for n in names:
        print(f"  {n}: {rows[n][1]}")


if __name__ == "__main__":
    main()
