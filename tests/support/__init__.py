"""Test support: helpers over the session network and fixtures registered as pytest plugins
(``pytest_plugins`` in ``tests/conftest.py``).

``api`` (a node API over the test network), ``deals`` and ``tokens`` (contract-test helpers),
``kubo`` (fixture: an offline IPFS daemon), ``indexer`` (fixtures and helpers of the indexer
tests), ``oracle`` (operator unit builders and the end-to-end harness).
"""
