"""tradenet logistics / FX oracle operator daemon.

Modules: ``codes`` (event vocabulary), ``dcsa`` (input models), ``normalize`` (evidence hash,
shipment id, cross-field rules), ``typed_data`` (EIP-712 structs), ``hmac_auth`` (carrier
authentication), ``store`` (SQLite state), ``service`` (intake, signing, peer signatures, status),
``leader`` (submission rotation), ``peers`` (signature sharing client), ``chain_port`` (contracts),
``engine`` (background loop), ``api`` (FastAPI), ``node`` (wiring), ``daemon`` (CLI), ``feed``
(JSON-lines replay). See docs in each module.
"""
