"""FxRateStore: k-of-n signed FX observations, newer-only, freshness (`freshRate` within the
staleness window, `rateNoOlderThan`), domain binding, governance of its own quorum (finding 12)."""

from __future__ import annotations

import pytest

from chain import eip712, errors
from chain.clients import FxRate

from tests.support.deals import ORACLES, add_oracle_members, assert_quorum_rules, oracle, publish_rate, sign_rate
from tests.support.tokens import checksum, govern, govern_fails, outsider, suspend


def store(net, key: str = "carrier"):
    return net.clients(key).fx


def eur_usd(net, decimal: str = "1.0825", age: int = 30) -> FxRate:
    return FxRate.from_decimal("EUR", "USD", decimal, net.now() - age)


def test_configuration(net):
    s = store(net)
    assert s.rate_decimals() == 8
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
    digest = s.submit_rate(r, sign_rate(net, r, ("oracle_2", "oracle_3")))
    assert digest == s.rate_digest(r) == eip712.digest(s.rate_typed_data(r))
    assert s.latest_rate("EUR", "USD") == (108_250_000, r.observed_at)
    assert s.fresh_rate("EUR", "USD") == (108_250_000, r.observed_at)
    (log,) = s.events(s.last_receipt, "RateUpdated")
    assert (log["baseCurrency"], log["quoteCurrency"], log["rate"], log["observedAt"]) == (
        b"EUR", b"USD", 108_250_000, r.observed_at)
    assert log["digest"] == digest and log["submitter"] == net.addr("carrier")
    assert log["signers"] == [net.addr("oracle_2"), net.addr("oracle_3")]
    # the pair is directional
    for read in (s.latest_rate, s.fresh_rate):
        with pytest.raises(errors.RateUnavailable):
            read("USD", "EUR")
    newer = publish_rate(net, "EUR", "USD", "1.0831", age=10)
    assert s.latest_rate("EUR", "USD") == (108_310_000, newer.observed_at)


def test_only_newer_observations_replace_the_stored_rate(net):
    s = store(net)
    r = eur_usd(net, age=100)
    sigs = sign_rate(net, r)
    s.submit_rate(r, sigs)
    with pytest.raises(errors.ObservationNotNewer):  # replay
        s.submit_rate(r, sigs)
    same_time = FxRate("EUR", "USD", 108_000_000, r.observed_at)
    with pytest.raises(errors.ObservationNotNewer) as exc:
        s.submit_rate(same_time, sign_rate(net, same_time))
    assert (exc.value["observedAt"], exc.value["latestObservedAt"]) == (r.observed_at, r.observed_at)
    older = FxRate("EUR", "USD", 108_000_000, r.observed_at - 1)
    with pytest.raises(errors.ObservationNotNewer):
        s.submit_rate(older, sign_rate(net, older))
    assert s.latest_rate("EUR", "USD")[0] == r.rate


def test_stale_and_future_observations_are_refused(net):
    s = store(net)
    window, skew = s.staleness_window(), s._call("MAX_CLOCK_SKEW")
    stale = FxRate("USD", "CNY", 720_000_000, net.now() - window - 10)
    with pytest.raises(errors.StaleReport):
        s.submit_rate(stale, sign_rate(net, stale))
    future = FxRate("USD", "CNY", 720_000_000, net.now() + skew + 10)
    with pytest.raises(errors.FutureReport):
        s.submit_rate(future, sign_rate(net, future))
    ahead = FxRate("USD", "CNY", 720_000_000, net.now() + 30)
    s.submit_rate(ahead, sign_rate(net, ahead))


def test_field_validation(net):
    s = store(net)
    t = net.now() - 5
    for r, err in ((FxRate("EUR", "EUR", 1, t), errors.SameCurrency),
                   (FxRate("EUR", "USD", 0, t), errors.ZeroRate),
                   (FxRate("eur", "USD", 1, t), errors.InvalidCurrencyCode),
                   (FxRate("EUR", "US1", 1, t), errors.InvalidCurrencyCode)):
        with pytest.raises(err):
            s.submit_rate(r, sign_rate(net, r))


def test_quorum_rules(net):
    s = store(net)
    r = eur_usd(net)
    with pytest.raises(errors.InsufficientSignatures):
        s.submit_rate(r, sign_rate(net, r, ("oracle_1",)))
    (one,) = sign_rate(net, r, ("oracle_1",))
    with pytest.raises(errors.DuplicateSigner):
        s.submit_rate(r, [one, one])
    with pytest.raises(errors.NotOperator) as exc:
        s.submit_rate(r, [one, s.sign_rate(net.keys["treasury"], r)])
    assert checksum(exc.value["signer"]) == net.addr("treasury")
    with pytest.raises(errors.TooManySignatures):
        s.submit_rate(r, sign_rate(net, r, ORACLES) + [one])
    with pytest.raises(errors.InvalidSignature):
        s.submit_rate(r, [one, b"\x02" * 65])
    suspend(net, "oracle_1", "offboarding")
    with pytest.raises(errors.OperatorNotActive):
        s.submit_rate(r, sign_rate(net, r, ("oracle_1", "oracle_2")))
    s.submit_rate(r, sign_rate(net, r, ("oracle_2", "oracle_3")))


def test_domain_binding(net):
    s = store(net)
    r = eur_usd(net)
    k1, k2 = net.keys["oracle_1"], net.keys["oracle_2"]
    cid = net.chain.chain_id
    for name, version, chain_id, contract in (("tradenet FxRateStore", "1", cid + 1, s.address),
                                              ("tradenet FxRateStore", "1", cid, net.deployment.logistics_oracle),
                                              ("tradenet FxRateStore", "2", cid, s.address),
                                              ("tradenet LogisticsOracle", "1", cid, s.address)):
        msg = eip712.typed_data(eip712.Domain(name, version, chain_id, contract), "FxRate", r.message())
        with pytest.raises(errors.NotOperator):
            s.submit_rate(r, [eip712.sign(k1, msg), eip712.sign(k2, msg)])
    # a tampered rate is "signed by someone else"
    with pytest.raises(errors.NotOperator):
        s.submit_rate(FxRate("EUR", "USD", r.rate + 1, r.observed_at), sign_rate(net, r))
    assert s.domain_separator() == s.domain().separator()
    s.submit_rate(r, sign_rate(net, r))


def test_fresh_rate_and_age_checked_reads(net):
    s = store(net)
    r = publish_rate(net, "EUR", "USD", "1.0825", age=60)
    assert s.rate_no_older_than("EUR", "USD", 600) == (r.rate, r.observed_at)
    assert s.fresh_rate("EUR", "USD") == (r.rate, r.observed_at)
    net.advance_time(s.staleness_window())  # now older than the window
    with pytest.raises(errors.RateTooOld) as exc:
        s.fresh_rate("EUR", "USD")
    assert (exc.value["observedAt"], exc.value["maxAge"]) == (r.observed_at, s.staleness_window())
    with pytest.raises(errors.RateTooOld):
        s.rate_no_older_than("EUR", "USD", 600)
    assert s.latest_rate("EUR", "USD") == (r.rate, r.observed_at)  # still readable as history
    for read in (lambda: s.rate_no_older_than("GBP", "USD", 600), lambda: s.fresh_rate("GBP", "USD")):
        with pytest.raises(errors.RateUnavailable):
            read()


def test_finding12_k_must_be_at_least_two_and_a_strict_majority(net):
    """As for the logistics oracle: k = 1 is refused for any n, and any k <= n/2. (The old store
    allowed 1 <= k <= n.)"""
    assert_quorum_rules(net, store(net))
    assert oracle(net).threshold() == 2  # the logistics oracle's quorum is separate


def test_the_fx_quorum_is_governed_separately_and_supports_three_of_five(net):
    extra = add_oracle_members(net, 2)
    s = store(net)
    for key in ("admin_a", "oracle_1"):
        with pytest.raises(errors.NotGovernance):
            store(net, key)._tx("setOperators", [net.addr("oracle_1"), net.addr("oracle_2")], 2)
    ops = [net.addr(k) for k in ORACLES] + [a.address for a in extra]
    govern(net, s.call_set_operators(ops, 3))
    assert s.threshold() == 3 and oracle(net).threshold() == 2
    r = eur_usd(net)
    with pytest.raises(errors.InsufficientSignatures):
        s.submit_rate(r, sign_rate(net, r))
    s.submit_rate(r, sign_rate(net, r, ("oracle_1",)) + [s.sign_rate(a, r) for a in extra])
    assert s.latest_rate("EUR", "USD")[0] == r.rate
    govern_fails(net, errors.NotMember, s.call_set_operators(ops[:2] + [outsider("fx").address], 2))
