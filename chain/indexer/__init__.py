"""tradenet indexer: follows the chain and keeps a reorg-safe SQL read model of every event.

    from chain.indexer import Indexer, ContractSpec, upgrade
    from chain.indexer.projections import Erc20Projection

    upgrade("sqlite:///indexer.db")                     # Alembic, raw layer + projections
    ix = Indexer(w3, "sqlite:///indexer.db", [ContractSpec("Token", addr, abi)],
                 start_block=deploy_block, confirmations=6, projections=[Erc20Projection()])
    ix.run_forever(poll_interval=2.0)                   # ix.stop() from another thread

See ``engine`` for the following/reorg/rollback design and ``projection`` for the projection
contract.
"""
from .db import DEFAULT_URL, create_db_engine
from .engine import Checkpoint, ContractFactory, ContractSpec, Indexer, IndexerMetrics
from .migrate import alembic_config, upgrade
from .projection import IndexedEvent, Projection, ProjectionContext
from .types import JSONType, Uint256

__all__ = [
    "Checkpoint",
    "ContractFactory",
    "ContractSpec",
    "DEFAULT_URL",
    "IndexedEvent",
    "Indexer",
    "IndexerMetrics",
    "JSONType",
    "Projection",
    "ProjectionContext",
    "Uint256",
    "alembic_config",
    "create_db_engine",
    "upgrade",
]
