"""Wiring of one operator process from its settings: key, database, chain, service, engine, HTTP."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import uvicorn
from eth_account.signers.local import LocalAccount

from chain.keystore import Keystore, read_password

from . import typed_data as td
from .api import create_app
from .chain_port import (DEAL_ENGINE, DEAL_LENS, FX_STORE, LOGISTICS, REGISTRY, OracleChain, addresses_from_deployment,
                         load_artifacts)
from .engine import Engine
from .keeper import DealKeeper
from .errors import ChainUnavailable, ConfigError
from .feed import replay_file
from .credentials import CredentialStore
from .membership import MembershipCache
from .http_server import server_config
from .peers import PeerClient
from .service import OperatorService
from .settings import KeySettings, OracleSettings
from .store import Store

log = logging.getLogger(__name__)


def load_account(key: KeySettings) -> LocalAccount:
    password = read_password(key.password_env, key.password_file)
    return Keystore(key.keystore_dir).load(key.name, password)


class OperatorNode:
    def __init__(self, settings: OracleSettings, account: LocalAccount, *, chain_wait_seconds: float = 30.0):
        self.settings = settings
        self.account = account
        addresses = addresses_from_deployment(settings.chain.deployment_file,
                                              {LOGISTICS: settings.chain.logistics_oracle,
                                               FX_STORE: settings.chain.fx_rate_store,
                                               REGISTRY: settings.chain.registry,
                                               DEAL_ENGINE: settings.chain.deal_engine,
                                               DEAL_LENS: settings.chain.deal_lens},
                                              settings.chain.chain_id)
        if addresses.logistics_oracle is None and addresses.fx_rate_store is None:
            raise ConfigError("neither a LogisticsOracle nor an FxRateStore address is configured "
                              "(chain.logistics_oracle / chain.fx_rate_store or the deployment file)")
        if addresses.registry is None:
            raise ConfigError("no ParticipantRegistry address (chain.registry or the deployment file's registry): "
                              "carriers' membership cannot be checked")
        artifacts = load_artifacts(settings.chain.abi_files)
        self.chain = OracleChain(settings.chain.rpc_url, account, addresses, artifacts,
                                 fee_mode=settings.chain.fee_mode,
                                 receipt_timeout=settings.chain.receipt_timeout_seconds)
        chain_id = addresses.chain_id or self._wait_chain_id(chain_wait_seconds)
        domains: dict[str, td.Domain] = {}
        if addresses.logistics_oracle:
            domains["shipment"] = td.logistics_domain(chain_id, addresses.logistics_oracle)
        if addresses.fx_rate_store:
            domains["fx"] = td.fx_domain(chain_id, addresses.fx_rate_store)
        self.store = Store(settings.db_path)
        self.store.bind_identity({"operator": account.address, "chain_id": str(chain_id),
                                  **({"logistics_oracle": addresses.logistics_oracle} if addresses.logistics_oracle else {}),
                                  **({"fx_rate_store": addresses.fx_rate_store} if addresses.fx_rate_store else {})})
        self.membership = MembershipCache(self.chain, ttl=settings.member_cache_seconds,
                                          grace=settings.member_grace_seconds)
        self.credentials = CredentialStore(settings.credentials_file, settings.credentials_check_seconds,
                                           on_reload=lambda book: self.membership.check_all(book.carriers()))
        self.service = OperatorService(settings, self.store, account, self.credentials, domains, self.membership)
        self.peers = PeerClient(settings.peers, settings.peer_timeout_seconds)
        if not self.chain.has_deals:
            log.warning("no DealEngine / DealLens configured: reports name no deal and no deal is poked (deals "
                        "are released only when someone pokes them)")
        self.engine = Engine(self.service, self.store, self.peers, self.chain,
                             keeper=DealKeeper(self.chain) if self.chain.has_deals else None)
        self.app = create_app(self.service)
        self._server: uvicorn.Server | None = None

    def _wait_chain_id(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return self.chain.chain_id()
            except ChainUnavailable as exc:
                if time.monotonic() > deadline:
                    raise ConfigError(f"chain id unknown: not in the config or deployment file and {exc}") from None
                time.sleep(0.5)

    def check_domains(self) -> None:
        """Compare our EIP-712 digest with the contract's own (``eventDigest``) once the chain
        answers: a mismatch means every signature would be useless, so refuse to run."""
        probes: list[Any] = []
        if "shipment" in self.service.domains:
            probes.append(td.ShipmentEvent(b"\x11" * 32, "DEPA", "NLRTM", 1_700_000_000, b"\x22" * 32))
            probes.append(td.Retraction(b"\x33" * 32, b"\x44" * 32, 1_700_000_000))
        if "fx" in self.service.domains:
            probes.append(td.FxRate("EUR", "USD", 108_420_000, 1_700_000_000))
        for probe in probes:
            try:
                theirs = self.chain.contract_digest(probe)
            except ChainUnavailable as exc:
                log.warning("cannot check the %s domain yet: %s", probe.kind, exc)
                continue
            except Exception as exc:
                log.warning("the %s contract did not compute a digest (%s); domain not checked", probe.kind, exc)
                continue
            if theirs is None:
                continue
            ours = td.digest(probe, self.service.domain(probe.kind))
            if theirs != ours:
                raise ConfigError(f"{probe.kind} EIP-712 digest mismatch: contract 0x{theirs.hex()}, "
                                  f"operator 0x{ours.hex()} (wrong chain id or contract address?)")
            log.info("%s EIP-712 domain checked against the contract", probe.kind)

    def replay_files(self) -> None:
        source = self.settings.replay.source
        for path in self.settings.replay.carrier_events:
            replay_file(path, self.service.ingest_carrier_event, source)
        for path in self.settings.replay.fx_rates:
            replay_file(path, self.service.ingest_fx_rate, source)

    def start_background(self) -> None:
        self.check_domains()
        self.membership.check_all(self.credentials.current().carriers())
        self.engine.refresh_operator_sets(force=True)
        self.replay_files()
        self.engine.start()

    def serve(self) -> None:
        """Run until SIGINT/SIGTERM (uvicorn handles the signals), then stop the engine."""
        self.start_background()
        config = server_config(self.app, self.settings.listen.host, self.settings.listen.port, self.settings.http)
        self._server = uvicorn.Server(config)
        log.info("operator %s (%s) listening on http://%s:%d", self.settings.name, self.account.address,
                 self.settings.listen.host, self.settings.listen.port)
        # SIGHUP: re-read the credential file now (it is also re-read whenever it changes)
        signal.signal(signal.SIGHUP, lambda *_: self.credentials.request_reload())
        try:
            self._server.run()
        finally:
            self.close()

    def close(self) -> None:
        self.engine.stop()
        self.peers.close()
        self.store.close()
        log.info("operator %s stopped", self.settings.name)
