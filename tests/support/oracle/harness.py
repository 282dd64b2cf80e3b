"""Real operator processes for end-to-end tests: the production `oracle.cluster` against the
session anvil and the deployed LogisticsOracle / FxRateStore, with test carrier credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

from oracle.cluster import OperatorCluster as _Cluster
from oracle.cluster import OperatorProcess, wait_for
from oracle.credentials import credential_document
from oracle.feed import CarrierClient

CARRIER = "oceanic"
CARRIER_SECRET = "e2e-carrier-secret-0123456789abcdef"
FX_SOURCE = "fx-feed"
FX_SECRET = "e2e-fx-source-secret-0123456789abcdef"
PASSWORD = "e2e keystore password"

__all__ = ["CARRIER", "CARRIER_SECRET", "FX_SECRET", "FX_SOURCE", "OperatorCluster", "OperatorProcess", "carrier_for",
           "fx_source_for", "wait_for"]


def carrier_for(op: OperatorProcess, secret: str = CARRIER_SECRET) -> CarrierClient:
    return op.carrier(CARRIER, secret)


def fx_source_for(op: OperatorProcess) -> CarrierClient:
    return op.carrier(FX_SOURCE, FX_SECRET)


class OperatorCluster(_Cluster):
    """The three ORACLE participants of the demo consortium as operator processes."""

    def __init__(self, net: Any, tmp: Path, names: Iterable[str] = ("oracle_1", "oracle_2", "oracle_3"),
                 leader_timeout: float = 2.0, **overrides: Any):
        self.net = net
        # the demo consortium's LOGISTICS member is the carrier's account
        credentials = credential_document({CARRIER: (net.addr("carrier"), CARRIER_SECRET)}, {FX_SOURCE: FX_SECRET})
        super().__init__(keys=net.keys, deployment=net.deployment, rpc_url=net.anvil_url,
                         artifacts=net.chain.artifacts, workdir=tmp, credentials=credentials,
                         password=PASSWORD, names=names, leader_timeout=leader_timeout, overrides=overrides)


@pytest.fixture
def cluster(net: Any, tmp_path: Path) -> Iterator[OperatorCluster]:
    """The three operators (not started: a test starts the ones it needs); `from_block` is the
    first block after the set-up."""
    c = OperatorCluster(net, tmp_path)
    c.from_block = net.w3.eth.block_number + 1
    yield c
    c.stop()
