"""Fixtures (a pytest plugin: ``fixtures``) and helpers of the indexer tests: the engine's
(``helpers``, ``notes``, ``run_indexer``; tests/test_indexer.py) and the tradenet read model's
(``flow``: a multi-product trade on the session network, ``readmodel``: indexing it and reading
the tables; tests/test_projections.py)."""
