"""tradenet logistics / FX oracle operator daemon.

Input: ``dcsa`` (DCSA Track & Trace v2.2 / v3.0.0-Beta-1 / v3.0.0, classify then validate; the
attested codes in ``dcsa.codes``), ``normalize`` (evidence hash, shipment id, cross-field rules),
``fx_input``, ``intake`` (from a body to recorded events), ``credentials`` (who may post what,
reloaded without restart), ``hmac_auth`` (tradenet and DCSA signatures), ``membership`` (carriers
are active LOGISTICS members), ``carrier_policy`` (whose shipments), ``http_guard`` /
``http_server`` (what one request may cost). State and work: ``typed_data`` (the chain's EIP-712
structs, validated for the wire), ``store`` (SQLite state), ``intents`` (retractions and updates
carried to the chain), ``keeper`` (the deals a report names, the ones its submitter pokes),
``metrics`` (Prometheus), ``service`` (signing, peer signatures, status), ``event_status`` (a
carrier's view of its events), ``refusals`` (the chain's refusals in words), ``leader``
(submission rotation), ``peers`` (signature sharing client), ``chain_port`` (the only module
that knows the contracts), ``engine`` (background loop), ``api`` (FastAPI), ``node`` (wiring),
``daemon`` (CLI), ``feed`` (JSON-lines replay, carrier client), ``cluster`` (a local cluster of
operator processes, for ``tradenet up``, tests and benchmarks). See docs in each module.
"""
