"""Real operator processes for end-to-end tests: the production `oracle.cluster` against the
session anvil and the deployed LogisticsOracle / FxRateStore, with test carrier credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from oracle.cluster import OperatorCluster as _Cluster
from oracle.cluster import OperatorProcess, wait_for
from oracle.feed import CarrierClient

CARRIER = "oceanic"
CARRIER_SECRET = "e2e-carrier-secret-0123456789abcdef"
PASSWORD = "e2e keystore password"

__all__ = ["CARRIER", "CARRIER_SECRET", "OperatorCluster", "OperatorProcess", "carrier_for", "wait_for"]


def carrier_for(op: OperatorProcess, secret: str = CARRIER_SECRET) -> CarrierClient:
    return op.carrier(CARRIER, secret)


class OperatorCluster(_Cluster):
    """The three ORACLE participants of the demo consortium as operator processes."""

    def __init__(self, net: Any, tmp: Path, names: Iterable[str] = ("oracle_1", "oracle_2", "oracle_3"),
                 leader_timeout: float = 2.0):
        self.net = net
        super().__init__(keys=net.keys, deployment=net.deployment, rpc_url=net.anvil_url,
                         artifacts=net.chain.artifacts, workdir=tmp, carriers={CARRIER: CARRIER_SECRET},
                         password=PASSWORD, names=names, leader_timeout=leader_timeout)
