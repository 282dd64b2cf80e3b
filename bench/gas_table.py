"""The gas table both gas benchmarks print: operation, gas used, share of the block gas limit."""

from __future__ import annotations


def print_gas_table(rows: list[tuple[str, int]], gas_limit: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'gas used':>10}  {'% of block':>10}")
    print("-" * (width + 24))
    for label, gas in rows:
        print(f"{label:<{width}}  {gas:>10,}  {100 * gas / gas_limit:>9.3f}%")
    print(f"\nchain ceiling: block gas limit {gas_limit:,} (anvil --gas-limit as started by chain.anvil)")
