"""Test support for the oracle daemon: carrier event factories, settings builders, a stand-in
oracle contract, and a harness that runs operator processes."""
