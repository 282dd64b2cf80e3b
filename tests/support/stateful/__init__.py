"""Stateful property tests of the whole contract system (``tests/test_stateful.py``).

Hypothesis drives random sequences of operations (`machine.ContractSystem`, one rule per
operation) across participants, products and currencies on the session anvil; a small Python
model (`model`) predicts each outcome (`ops`: the Solidity error first raised, or success) and
the invariants (`invariants`) are checked against chain state after every step. `world` is the
set-up, `rpc` the batched reads, `profiles` the run sizes (``HYPOTHESIS_PROFILE``: ci, dev, deep).
"""
