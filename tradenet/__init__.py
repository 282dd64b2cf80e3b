"""tradenet: the composition of the network's parts into something to run.

``tradenet.cli`` (the ``tradenet`` command), ``tradenet.localnet`` (the embedded local network:
anvil, demo keystore, deployment, node API, oracle operators) and ``tradenet.scenario`` (the
narrated demo trade). Layering: ``tradenet`` -> ``node_api``, ``oracle`` -> ``chain``.
"""
