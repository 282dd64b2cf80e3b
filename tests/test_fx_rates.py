"""FxRateStore: k-of-n signed FX observations, newer-only, freshness, domain binding, governance."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from chain import errors
from chain.oracle_client import FX_RATE_TYPE, FxRate, sign_typed_data, typed_data, typed_data_digest

from .deal_support import ORACLES, add_oracle_members, govern, oracle


def store(net, key: str = "carrier"):
    return net.deployment.fx_rates(net.chain, net.keys[key])


def signed(net, rate: FxRate, signers=ORACLES[:2]) -> list[bytes]:
    s = store(net)
    return [s.sign_rate(net.keys[k], rate) for k in signers]


def eur_usd(net, decimal: str = "1.0825", age: int = 30) -> FxRate:
    return FxRate.from_decimal("EUR", "USD", decimal, net.now() - age)


def test_configuration(net):
    s = store(net)
    assert s._call("RATE_DECIMALS") == 8
    assert s.operators() == [net.addr(k) for k in ORACLES] and s.threshold() == 2
    assert s.staleness_window() == 3600


def test_rate_parsing_is_exact():
    assert FxRate.from_decimal("EUR", "USD", "1.0825", 1).rate == 108_250_000
    assert FxRate.from_decimal("USD", "JPY", "151.12345678", 1).rate == 15_112_345_678
    assert FxRate.from_decimal("USD", "CNY", "7", 1).rate == 700_000_000
    with pytest.raises(ValueError):
        FxRate.from_decimal("USD", "CNY", "7.123456789", 1)


def test_submit_and_read(net):
    s = store(net)
    r = eur_usd(net)
    digest = s.submit_rate(r, signed(net, r, ("oracle_2", "oracle_3")))
    assert digest == s.rate_digest(r) == typed_data_digest(s.rate_typed_data(r))
    assert s.latest_rate("EUR", "USD") == (108_250_000, r.observed_at)
    (log,) = s.events(s.last_receipt, "RateUpdated")
    assert log["baseCurrency"] == b"EUR" and log["quoteCurrency"] == b"USD"
    assert log["rate"] == 108_250_000 and log["observedAt"] == r.observed_at and log["digest"] == digest
    assert log["signers"] == [net.addr("oracle_2"), net.addr("oracle_3")]
    assert log["submitter"] == net.addr("carrier")
    # the pair is directional
    with pytest.raises(errors.RateUnavailable):
        s.latest_rate("USD", "EUR")
    newer = eur_usd(net, "1.0831", age=10)
    s.submit_rate(newer, signed(net, newer))
    assert s.latest_rate("EUR", "USD") == (108_310_000, newer.observed_at)


def test_only_newer_observations(net):
    s = store(net)
    r = eur_usd(net, age=100)
    sigs = signed(net, r)
    s.submit_rate(r, sigs)
    with pytest.raises(errors.ObservationNotNewer):  # replay
        s.submit_rate(r, sigs)
    same_time = FxRate("EUR", "USD", 108_000_000, r.observed_at)
    with pytest.raises(errors.ObservationNotNewer) as e:
        s.submit_rate(same_time, signed(net, same_time))
    assert e.value["latestObservedAt"] == r.observed_at
    older = FxRate("EUR", "USD", 108_000_000, r.observed_at - 1)
    with pytest.raises(errors.ObservationNotNewer):
        s.submit_rate(older, signed(net, older))
    assert s.latest_rate("EUR", "USD")[0] == r.rate


def test_stale_and_future_observations(net):
    s = store(net)
    window, skew = s.staleness_window(), s._call("MAX_CLOCK_SKEW")
    stale = FxRate("USD", "CNY", 720_000_000, net.now() - window - 10)
    with pytest.raises(errors.StaleReport):
        s.submit_rate(stale, signed(net, stale))
    future = FxRate("USD", "CNY", 720_000_000, net.now() + skew + 10)
    with pytest.raises(errors.FutureReport):
        s.submit_rate(future, signed(net, future))
    ahead = FxRate("USD", "CNY", 720_000_000, net.now() + 30)
    s.submit_rate(ahead, signed(net, ahead))


def test_field_validation(net):
    s = store(net)
    t = net.now() - 5
    for r, err in ((FxRate("EUR", "EUR", 1, t), errors.SameCurrency),
                   (FxRate("EUR", "USD", 0, t), errors.ZeroRate),
                   (FxRate("eur", "USD", 1, t), errors.InvalidCurrencyCode),
                   (FxRate("EUR", "US1", 1, t), errors.InvalidCurrencyCode)):
        with pytest.raises(err):
            s.submit_rate(r, signed(net, r))


def test_quorum_rules(net):
    s = store(net)
    r = eur_usd(net)
    with pytest.raises(errors.InsufficientSignatures):
        s.submit_rate(r, signed(net, r, ("oracle_1",)))
    (one,) = signed(net, r, ("oracle_1",))
    with pytest.raises(errors.DuplicateSigner):
        s.submit_rate(r, [one, one])
    with pytest.raises(errors.NotOperator):
        s.submit_rate(r, [one, s.sign_rate(net.keys["treasury"], r)])
    with pytest.raises(errors.TooManySignatures):
        s.submit_rate(r, signed(net, r, ORACLES) + [one])
    govern(net, [net.registry().call_suspend(net.addr("oracle_1"), "offboarding")])
    with pytest.raises(errors.OperatorNotActive):
        s.submit_rate(r, signed(net, r, ("oracle_1", "oracle_2")))
    s.submit_rate(r, signed(net, r, ("oracle_2", "oracle_3")))


def test_domain_binding(net):
    s = store(net)
    r = eur_usd(net)
    k1, k2 = net.keys["oracle_1"], net.keys["oracle_2"]
    for name, chain_id, contract in (("tradenet FxRateStore", net.chain.chain_id + 1, s.address),
                                     ("tradenet FxRateStore", net.chain.chain_id, net.deployment.logistics_oracle),
                                     ("tradenet LogisticsOracle", net.chain.chain_id, s.address),
                                     ("tradenet FxRateStore", net.chain.chain_id, s.address)):
        msg = typed_data(name, chain_id, contract, "FxRate", FX_RATE_TYPE, r.message())
        sigs = [sign_typed_data(k1, msg), sign_typed_data(k2, msg)]
        if contract == s.address and chain_id == net.chain.chain_id and name.endswith("FxRateStore"):
            s.submit_rate(r, sigs)
        else:
            with pytest.raises(errors.NotOperator):
                s.submit_rate(r, sigs)
    # a tampered rate is "signed by someone else"
    r2 = eur_usd(net, age=5)
    with pytest.raises(errors.NotOperator):
        s.submit_rate(FxRate("EUR", "USD", r2.rate + 1, r2.observed_at), signed(net, r2))


def test_rate_age_checked_read(net):
    s = store(net)
    r = eur_usd(net, age=60)
    s.submit_rate(r, signed(net, r))
    assert s.rate_no_older_than("EUR", "USD", 600) == (r.rate, r.observed_at)
    net.advance_time(3600)
    with pytest.raises(errors.RateTooOld):
        s.rate_no_older_than("EUR", "USD", 600)
    with pytest.raises(errors.RateUnavailable):
        s.rate_no_older_than("GBP", "USD", 600)


def test_governance_of_the_fx_quorum_is_separate_and_supports_three_of_five(net):
    extra = add_oracle_members(net, 2)
    s = store(net)
    for key in ("admin_a", "oracle_1"):
        with pytest.raises(errors.NotGovernance):
            store(net, key)._tx("setOperators", [net.addr("oracle_1")], 1)
    ops = [net.addr(k) for k in ORACLES] + [a.address for a in extra]
    govern(net, [s.call_set_operators(ops, 3)])
    assert s.threshold() == 3 and oracle(net).threshold() == 2  # the logistics oracle is unchanged
    r = eur_usd(net)
    with pytest.raises(errors.InsufficientSignatures):
        s.submit_rate(r, signed(net, r))
    sigs = signed(net, r, ("oracle_1",)) + [s.sign_rate(a, r) for a in extra]
    s.submit_rate(r, sigs)
    assert s.latest_rate("EUR", "USD")[0] == r.rate
    with pytest.raises(errors.NotMember):
        govern(net, [s.call_set_operators([Account.from_key(keccak(text="x")).address], 1)])
