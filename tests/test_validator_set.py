"""ValidatorSet (the consortium's Clique sealer set) on the session anvil: governance adds and
removes sealers; every rule refuses its bad path with the contract's error and changes nothing.
The consensus side (the sync service voting on geth) is in test_consortium.py."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_utils import keccak

from chain import errors
from chain.clients import MemberInput, ValidatorSet
from chain.deploy import deploy_validator_set
from chain.vocabulary import Role

GENESIS_ORGS = ("admin_a", "admin_b", "admin_c", "treasury")


def sealer(label: str) -> str:
    return Account.from_key(keccak(text=f"validator-set-tests:{label}")).address


def deploy(net, genesis) -> ValidatorSet:
    """A validator set on a copy of the session deployment (the session's stays without one)."""
    deployment = dataclasses.replace(net.deployment, code_hashes=dict(net.deployment.code_hashes))
    deploy_validator_set(net.chain, deployment, net.keys["admin_a"], genesis)
    assert deployment.code_hashes["ValidatorSet"] == net.chain.artifacts["ValidatorSet"].code_hash
    return deployment.clients(net.chain).validators


@pytest.fixture
def vset(net) -> ValidatorSet:
    """Four genesis sealers, one per governance organisation and the settlement bank."""
    return deploy(net, [(sealer(o), net.addr(o)) for o in GENESIS_ORGS])


def govern(net, *calls) -> None:
    net.registry().govern(net.admins, list(calls), "validator set change")


def snapshot(vs: ValidatorSet) -> tuple:
    return vs.validators(), vs.version()


def test_genesis_sealers_are_recorded_under_their_organisations_lei(net, vset):
    assert vset.validators() == sorted(sealer(o) for o in GENESIS_ORGS)
    assert vset.count() == 4 and vset.version() == 4
    v = vset.validator(sealer("treasury"))
    assert v.lei == net.participants["treasury"].lei and v.operator == net.addr("treasury")
    assert vset.sealer_of(net.participants["admin_b"].lei) == sealer("admin_b")
    assert vset.sealer_of(net.participants["lender"].lei) is None
    assert not vset.is_validator(sealer("lender"))


def test_governance_adds_and_removes_a_sealer_with_events(net, vset):
    reg = net.registry()
    pid = reg.using(net.admins[0]).propose([vset.call_add(sealer("lender"), net.addr("lender")),
                                            vset.call_remove(sealer("treasury"))], "rotate a sealer")
    reg.using(net.admins[1]).approve(pid)
    receipt = reg.using(net.admins[1]).execute(pid)
    added = vset.events(receipt, "ValidatorAdded")
    removed = vset.events(receipt, "ValidatorRemoved")
    assert [(e["sealer"], e["operator"], e["version"]) for e in added] == [(sealer("lender"), net.addr("lender"), 5)]
    assert [(e["sealer"], e["version"]) for e in removed] == [(sealer("treasury"), 6)]
    assert bytes(added[0]["lei"]) == net.participants["lender"].lei.encode()
    assert vset.validators() == sorted(sealer(o) for o in ("admin_a", "admin_b", "admin_c", "lender"))
    assert vset.validator(sealer("treasury")).lei == ""
    assert vset.sealer_of(net.participants["treasury"].lei) is None
    # the organisation may run a sealer again once its old one is gone
    govern(net, vset.call_add(sealer("treasury-2"), net.addr("treasury")))
    assert vset.sealer_of(net.participants["treasury"].lei) == sealer("treasury-2")


def test_only_governance_changes_the_set(net, vset):
    admin = vset.using(net.keys["admin_a"])
    before = snapshot(vset)
    with pytest.raises(errors.NotGovernance) as exc:
        admin._tx("add", sealer("lender"), net.addr("lender"))
    assert exc.value["caller"].lower() == net.addr("admin_a").lower()
    with pytest.raises(errors.NotGovernance):
        admin._tx("remove", sealer("admin_a"))
    assert snapshot(vset) == before


def test_one_sealer_per_organisation(net, vset):
    """seller_ops is another account of the seller's organisation: one LEI, one sealer."""
    govern(net, vset.call_add(sealer("seller"), net.addr("seller")))
    before = snapshot(vset)
    with pytest.raises(errors.LeiAlreadyHasValidator) as exc:
        govern(net, vset.call_add(sealer("seller-2"), net.addr("seller_ops")))
    assert exc.value["lei"] == net.participants["seller"].lei.encode()
    assert exc.value["sealer"].lower() == sealer("seller").lower()
    assert snapshot(vset) == before


def test_sealer_key_must_not_be_a_member_account_or_a_contract(net, vset):
    before = snapshot(vset)
    with pytest.raises(errors.SealerIsMember):
        govern(net, vset.call_add(net.addr("lender_b"), net.addr("lender")))
    with pytest.raises(errors.SealerIsContract):
        govern(net, vset.call_add(net.deployment.registry, net.addr("lender")))
    with pytest.raises(errors.AlreadyValidator):
        govern(net, vset.call_add(sealer("admin_a"), net.addr("lender")))
    assert snapshot(vset) == before


def test_operator_must_be_an_active_member(net, vset):
    reg = net.registry()
    before = snapshot(vset)
    with pytest.raises(errors.NotMember):
        govern(net, vset.call_add(sealer("outsider"), sealer("not-a-member")))
    govern(net, reg.call_suspend(net.addr("lender_b"), "compliance review"))
    with pytest.raises(errors.MemberIsSuspended):
        govern(net, vset.call_add(sealer("lender_b"), net.addr("lender_b")))
    assert snapshot(vset) == before


def test_remove_needs_a_validator_and_never_empties_the_set(net, vset):
    before = snapshot(vset)
    with pytest.raises(errors.NotValidator):
        govern(net, vset.call_remove(sealer("lender")))
    assert snapshot(vset) == before
    govern(net, *(vset.call_remove(sealer(o)) for o in GENESIS_ORGS[1:]))
    assert vset.validators() == [sealer("admin_a")]
    with pytest.raises(errors.LastValidator):
        govern(net, vset.call_remove(sealer("admin_a")))
    assert vset.validators() == [sealer("admin_a")]


def test_set_is_bounded(net):
    """MAX_VALIDATORS sealers of as many organisations; one more is refused."""
    reg = net.registry()
    expiry = net.now() + 365 * 86_400
    extra = [Account.from_key(keccak(text=f"validator-org:{i}")) for i in range(18)]
    for batch in (extra[:16], extra[16:]):
        govern(net, *(reg.call_add_member(MemberInput(a.address, Role.BUYER, f"529900VALIDATORORG{i:02d}", "DE", expiry,
                                                      f"Validator organisation {i}"))
                      for i, a in enumerate(batch, start=extra.index(batch[0]))))
    orgs = [net.addr(k) for k in net.participants if k != "seller_ops"] + [a.address for a in extra]
    cap = 32
    vs = deploy(net, [(sealer(f"bounded-{i}"), op) for i, op in enumerate(orgs[:cap])])
    assert vs.count() == cap == vs._call("MAX_VALIDATORS")
    with pytest.raises(errors.TooManyValidators) as exc:
        govern(net, vs.call_add(sealer("one-too-many"), orgs[cap]))
    assert exc.value["maximum"] == cap
    assert vs.count() == cap


def test_constructor_needs_one_operator_per_sealer_and_a_sealer(net):
    with pytest.raises(errors.LengthMismatch):
        net.chain.deploy("ValidatorSet", net.keys["admin_a"], net.deployment.registry, [sealer("x")], [])
    with pytest.raises(errors.LastValidator):
        net.chain.deploy("ValidatorSet", net.keys["admin_a"], net.deployment.registry, [], [])
