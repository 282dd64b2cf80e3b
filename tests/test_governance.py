"""MemberGovernance (inherited by the ParticipantRegistry): M-of-N proposals with expiry, approvals
re-checked at execution, cancellation by the proposer, revocation of approvals, atomic batches,
and the bounds on M."""

from __future__ import annotations

import pytest

from chain import errors
from chain.vocabulary import ProposalState, Role

from tests.support.tokens import DAY, YEAR, checksum, govern, govern_fails, member_input, outsider, unchanged

MIN_TTL = 5 * 60
MAX_TTL = 30 * DAY


def _proposal(reg, pid):
    proposer, targets, calls, deadline, state, approvers = reg._call("proposal", pid)
    return dict(proposer=proposer, targets=targets, calls=[bytes(c) for c in calls], deadline=deadline,
                state=ProposalState(state), approvers=approvers)


def _valid(reg, pid) -> int:
    return reg._call("validApprovals", pid)


def _suspend_seller(net, reg=None):
    reg = reg or net.registry()
    return reg.call_suspend(net.addr("seller"), "governance test")


# ---------------------------------------------------------------------------- propose / approve / execute


def test_propose_counts_proposers_approval(net):
    reg = net.registry("admin_a")
    call = _suspend_seller(net, reg)
    count = reg._call("proposalCount")
    pid = reg.propose([call], "suspend the seller", ttl=3_600)
    receipt = reg.last_receipt
    block_time = net.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert pid == count + 1 == reg._call("proposalCount")
    p = _proposal(reg, pid)
    assert p == dict(proposer=net.addr("admin_a"), targets=[reg.address], calls=[call[1]],
                     deadline=block_time + 3_600, state=ProposalState.PENDING, approvers=[net.addr("admin_a")])
    assert reg._call("hasApproved", pid, net.addr("admin_a")) is True
    assert reg._call("hasApproved", pid, net.addr("admin_b")) is False
    assert _valid(reg, pid) == 1
    [created] = reg.events(receipt, "ProposalCreated")
    assert (created["id"], created["proposer"], created["description"]) == (
        pid, net.addr("admin_a"), "suspend the seller")
    [approved] = reg.events(receipt, "ProposalApproved")
    assert (approved["id"], approved["admin"], approved["approvals"]) == (pid, net.addr("admin_a"), 1)
    assert reg.is_active(net.addr("seller")) is True  # nothing happens before execution


def test_m_of_n_flow(net):
    reg_a, reg_b, reg_c = (net.registry(k) for k in ("admin_a", "admin_b", "admin_c"))
    seller = net.addr("seller")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")

    # one approval (the proposer's) is not a quorum: a single key changes nothing
    with unchanged(net, lambda: reg_a.member(seller), lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.QuorumNotReached) as exc:
            reg_a.execute(pid)
    assert (exc.value["id"], exc.value["approvals"], exc.value["threshold"]) == (pid, 1, 2)

    receipt = reg_b.approve(pid)
    [ev] = reg_b.events(receipt, "ProposalApproved")
    assert (ev["admin"], ev["approvals"]) == (net.addr("admin_b"), 2)
    assert _valid(reg_a, pid) == 2
    assert reg_a.is_active(seller) is True

    receipt = reg_c.execute(pid)  # any admin may execute, approver or not
    [ev] = reg_c.events(receipt, "ProposalExecuted")
    assert (ev["id"], ev["executor"]) == (pid, net.addr("admin_c"))
    assert reg_a.proposal_state(pid) == ProposalState.EXECUTED
    assert reg_a.member(seller).suspended is True
    assert reg_a._call("suspensionReason", seller) == "governance test"

    # executed once only
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.ProposalNotPending) as exc:
            reg_a.execute(pid)
    assert exc.value["state"] == ProposalState.EXECUTED
    with pytest.raises(errors.ProposalNotPending):
        reg_c.approve(pid)


def test_double_approval_fails(net):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.AlreadyApproved) as exc:
            reg_a.approve(pid)  # the proposer already approved by proposing
    assert (exc.value["id"], checksum(exc.value["admin"])) == (pid, net.addr("admin_a"))
    reg_b.approve(pid)
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.AlreadyApproved):
            reg_b.approve(pid)
    assert _proposal(reg_a, pid)["approvers"] == [net.addr("admin_a"), net.addr("admin_b")]


@pytest.mark.parametrize("who", ["seller", "auditor", "outsider"])
def test_non_admin_cannot_propose_approve_or_execute(net, who):
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    net.registry("admin_b").approve(pid)  # quorum reached: execution by an admin would succeed
    account = outsider("gov") if who == "outsider" else net.keys[who]
    reg_x = reg_a.using(account)
    count = reg_a._call("proposalCount")
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a._call("proposalCount"),
                   lambda: reg_a.member(net.addr("seller"))):
        with pytest.raises(errors.NotAdmin) as exc:
            reg_x.propose([_suspend_seller(net, reg_a)], "not an admin")
        assert checksum(exc.value["account"]) == account.address
        with pytest.raises(errors.NotAdmin):
            reg_x.approve(pid)
        with pytest.raises(errors.NotAdmin):
            reg_x.execute(pid)
    assert reg_a._call("proposalCount") == count


def test_suspended_admin_cannot_propose_or_approve(net):
    reg = net.registry()
    govern(net, reg.call_suspend(net.addr("admin_c"), "key compromised"))
    reg_a, reg_c = net.registry("admin_a"), net.registry("admin_c")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a._call("proposalCount")):
        with pytest.raises(errors.NotAdmin):
            reg_c.approve(pid)
        with pytest.raises(errors.NotAdmin):
            reg_c.propose([_suspend_seller(net, reg_a)], "x")
        with pytest.raises(errors.NotAdmin):
            reg_c.execute(pid)


def test_kyc_expired_admin_still_governs(net):
    """A lapsed KYC stops an admin's new business, not its governance vote (else governance could
    deadlock: nobody able to approve the renewal)."""
    reg = net.registry()
    govern(net, reg.call_renew_kyc(net.addr("admin_c"), net.now() + 3_600))
    net.advance_time(3_601)
    assert not reg.is_active(net.addr("admin_c"))  # no new business ...
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([reg.call_renew_kyc(net.addr("admin_c"), net.now() + YEAR)], "renew admin_c's KYC")
    net.registry("admin_c").approve(pid)  # ... but still a governance vote
    net.registry("admin_c").execute(pid)
    assert reg.is_active(net.addr("admin_c"))


def test_unknown_proposal(net):
    reg = net.registry("admin_a")
    missing = reg._call("proposalCount") + 1
    for action in (reg.approve, reg.execute, reg.expire, reg.cancel, reg.revoke_approval):
        with pytest.raises(errors.UnknownProposal) as exc:
            action(missing)
        assert exc.value["id"] == missing
    with pytest.raises(errors.UnknownProposal):
        reg._call("proposal", missing)


# ---------------------------------------------------------------------------- proposal validation


@pytest.mark.parametrize("ttl", [0, MIN_TTL - 1, MAX_TTL + 1])
def test_invalid_ttl(net, ttl):
    reg = net.registry("admin_a")
    with unchanged(net, lambda: reg._call("proposalCount")):
        with pytest.raises(errors.InvalidProposalTtl) as exc:
            reg.propose([_suspend_seller(net, reg)], "bad ttl", ttl=ttl)
    assert exc.value["ttl"] == ttl


@pytest.mark.parametrize("ttl", [MIN_TTL, MAX_TTL])
def test_ttl_bounds_are_inclusive(net, ttl):
    reg = net.registry("admin_a")
    pid = reg.propose([_suspend_seller(net, reg)], "edge ttl", ttl=ttl)
    block_time = net.w3.eth.get_block(reg.last_receipt["blockNumber"])["timestamp"]
    assert _proposal(reg, pid)["deadline"] == block_time + ttl


def test_invalid_call_lists(net):
    reg = net.registry("admin_a")
    call = _suspend_seller(net, reg)
    zero = "0x" + "00" * 20
    bad = {
        "empty": ([], []),
        "17 calls": ([call[0]] * 17, [call[1]] * 17),
        "length mismatch": ([call[0], call[0]], [call[1]]),
        "zero target": ([zero], [call[1]]),
        "short calldata": ([call[0]], [b"\x01\x02\x03"]),
    }
    with unchanged(net, lambda: reg._call("proposalCount")):
        for name, (targets, calls) in bad.items():
            with pytest.raises(errors.InvalidProposalCalls) as exc:
                reg._tx("propose", targets, calls, 3_600, name)
            assert (exc.value["targets"], exc.value["calls"]) == (len(targets), len(calls)), name


def test_sixteen_calls_is_the_maximum_batch(net):
    reg = net.registry()
    accounts = [outsider(f"batch-{i}").address for i in range(16)]
    expiry = net.now() + YEAR
    calls = [reg.call_add_member(member_input(net, a, Role.INVESTOR, f"549300BATCHMEMBER{i:03d}", "LU", expiry))
             for i, a in enumerate(accounts)]
    govern(net, *calls)
    assert reg._call("memberCount") == 16 + 16
    assert all(reg.is_active(a, Role.INVESTOR) for a in accounts)


# ---------------------------------------------------------------------------- expiry


def test_expiry(net):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    seller = net.addr("seller")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller", ttl=MIN_TTL)
    deadline = _proposal(reg_a, pid)["deadline"]

    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.ProposalStillOpen) as exc:
            reg_b.expire(pid)
    assert (exc.value["id"], exc.value["deadline"]) == (pid, deadline)

    reg_b.approve(pid)  # quorum before the deadline...
    net.advance_time(MIN_TTL + 1)
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a.member(seller)):
        with pytest.raises(errors.ProposalDeadlinePassed) as exc:
            reg_b.execute(pid)  # ...but executing after it fails
        assert (exc.value["id"], exc.value["deadline"]) == (pid, deadline)
        with pytest.raises(errors.ProposalDeadlinePassed):
            net.registry("admin_c").approve(pid)
    assert reg_a.member(seller).suspended is False

    receipt = net.registry("admin_c").expire(pid)
    assert reg_a.proposal_state(pid) == ProposalState.EXPIRED
    assert [e["id"] for e in reg_a.events(receipt, "ProposalLapsed")] == [pid]
    for action in (reg_b.execute, reg_b.expire, net.registry("admin_c").approve):
        with pytest.raises(errors.ProposalNotPending) as exc:
            action(pid)
        assert exc.value["state"] == ProposalState.EXPIRED


def test_anyone_may_expire_a_lapsed_proposal(net):
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller", ttl=MIN_TTL)
    net.advance_time(MIN_TTL + 1)
    reg_a.using(outsider("janitor")).expire(pid)
    assert reg_a.proposal_state(pid) == ProposalState.EXPIRED


# ---------------------------------------------------------------------------- cancellation (finding 12)


def test_finding12_proposer_cancels_its_proposal(net):
    reg_a, reg_b, reg_c = (net.registry(k) for k in ("admin_a", "admin_b", "admin_c"))
    seller = net.addr("seller")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(pid)  # quorum reached: only the cancellation stops it
    receipt = reg_a.cancel(pid)
    [ev] = reg_a.events(receipt, "ProposalCancelled")
    assert (ev["id"], ev["proposer"]) == (pid, net.addr("admin_a"))
    assert reg_a.proposal_state(pid) == ProposalState.CANCELLED
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a.member(seller)):
        for action in (reg_c.approve, reg_b.execute, reg_a.execute, reg_a.cancel, reg_b.revoke_approval,
                       reg_c.expire):
            with pytest.raises(errors.ProposalNotPending) as exc:
                action(pid)
            assert (exc.value["id"], exc.value["state"]) == (pid, ProposalState.CANCELLED)
    assert reg_a.member(seller).suspended is False


@pytest.mark.parametrize("who", ["admin_b", "admin_c", "seller", "outsider"])
def test_finding12_only_the_proposer_cancels(net, who):
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    net.registry("admin_b").approve(pid)
    account = outsider("canceller") if who == "outsider" else net.keys[who]
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.NotProposer) as exc:
            reg_a.using(account).cancel(pid)
    assert (exc.value["id"], checksum(exc.value["caller"])) == (pid, account.address)
    assert reg_a.proposal_state(pid) == ProposalState.PENDING


@pytest.mark.parametrize("action", ["cancel", "revoke approval"])
def test_cancel_and_revoke_only_while_pending(net, action):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    act = {"cancel": reg_a.cancel, "revoke approval": reg_b.revoke_approval}[action]
    executed = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(executed)
    reg_b.execute(executed)
    with unchanged(net, lambda: _proposal(reg_a, executed)):
        with pytest.raises(errors.ProposalNotPending) as exc:
            act(executed)
    assert exc.value["state"] == ProposalState.EXECUTED
    lapsed = reg_a.propose([reg_a.call_reinstate(net.addr("seller"))], "reinstate", ttl=MIN_TTL)
    reg_b.approve(lapsed)
    deadline = _proposal(reg_a, lapsed)["deadline"]
    net.advance_time(MIN_TTL + 1)
    with unchanged(net, lambda: _proposal(reg_a, lapsed)):
        with pytest.raises(errors.ProposalDeadlinePassed) as exc:
            act(lapsed)
    assert exc.value["deadline"] == deadline


def test_suspended_proposer_may_still_withdraw_its_proposal(net):
    """Withdrawing takes no power: a proposer suspended after proposing may still cancel."""
    reg = net.registry()
    pid = net.registry("admin_c").propose([_suspend_seller(net, reg)], "suspend the seller")
    govern(net, reg.call_suspend(net.addr("admin_c"), "key rotation"))
    net.registry("admin_c").cancel(pid)
    assert reg.proposal_state(pid) == ProposalState.CANCELLED


# ---------------------------------------------------------------------------- revoking an approval (finding 12)


def test_finding12_revoked_approval_no_longer_counts(net):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    seller = net.addr("seller")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(pid)
    assert _valid(reg_a, pid) == 2
    receipt = reg_b.revoke_approval(pid)
    [ev] = reg_b.events(receipt, "ApprovalRevoked")
    assert (ev["id"], ev["admin"], ev["approvals"]) == (pid, net.addr("admin_b"), 1)
    p = _proposal(reg_a, pid)
    assert (p["approvers"], p["state"]) == ([net.addr("admin_a")], ProposalState.PENDING)
    assert reg_a._call("hasApproved", pid, net.addr("admin_b")) is False
    assert _valid(reg_a, pid) == 1
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a.member(seller)):
        with pytest.raises(errors.QuorumNotReached) as exc:
            reg_b.execute(pid)
    assert (exc.value["id"], exc.value["approvals"], exc.value["threshold"]) == (pid, 1, 2)
    # a revoked approval may be given again
    reg_b.approve(pid)
    reg_b.execute(pid)
    assert reg_a.member(seller).suspended is True


@pytest.mark.parametrize("who", ["admin_c", "seller", "outsider"])
def test_finding12_revoke_by_non_approver_fails(net, who):
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    net.registry("admin_b").approve(pid)
    account = outsider("revoker") if who == "outsider" else net.keys[who]
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: _valid(reg_a, pid)):
        with pytest.raises(errors.NotApproved) as exc:
            reg_a.using(account).revoke_approval(pid)
    assert (exc.value["id"], checksum(exc.value["admin"])) == (pid, account.address)


def test_revoke_twice_fails(net):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(pid)
    reg_b.revoke_approval(pid)
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.NotApproved):
            reg_b.revoke_approval(pid)


def test_proposer_may_revoke_its_own_approval(net):
    reg_a, reg_b, reg_c = (net.registry(k) for k in ("admin_a", "admin_b", "admin_c"))
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_a.revoke_approval(pid)
    reg_b.approve(pid)
    assert _valid(reg_a, pid) == 1
    with pytest.raises(errors.QuorumNotReached):
        reg_b.execute(pid)
    reg_c.approve(pid)
    reg_c.execute(pid)
    assert _proposal(reg_a, pid)["approvers"] == [net.addr("admin_b"), net.addr("admin_c")]
    assert reg_a.member(net.addr("seller")).suspended is True


# ---------------------------------------------------------------------------- one organisation, one vote (finding 11)


def test_finding11_two_keys_of_one_organisation_never_make_m(net):
    """admin_a's organisation holds a second key: it cannot vote, cannot be made an admin, so
    admin_a alone never reaches M = 2."""
    reg = net.registry()
    lei = net.participants["admin_a"].lei
    second = outsider("admin-a-ops")
    govern(net, reg.call_add_member(member_input(net, second.address, Role.AUDITOR, lei)))
    reg_a, reg_2 = net.registry("admin_a"), reg.using(second)
    pid = reg_a.propose([reg.call_set_roles(second.address, Role.ADMIN)], "make our second key an admin")
    with unchanged(net, lambda: _proposal(reg_a, pid)):
        with pytest.raises(errors.NotAdmin):
            reg_2.approve(pid)
        with pytest.raises(errors.QuorumNotReached) as exc:
            reg_a.execute(pid)
    assert (exc.value["approvals"], exc.value["threshold"]) == (1, 2)
    net.registry("admin_b").approve(pid)  # even with a second organisation's approval...
    with pytest.raises(errors.LeiAlreadyHasAdmin):  # ...the organisation keeps one seat
        reg_a.execute(pid)
    assert reg.active_admin_count() == 3


# ---------------------------------------------------------------------------- approvals re-checked at execution


def test_approval_of_admin_suspended_afterwards_no_longer_counts(net):
    reg_a, reg_b, reg_c = (net.registry(k) for k in ("admin_a", "admin_b", "admin_c"))
    seller = net.addr("seller")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(pid)
    assert _valid(reg_a, pid) == 2

    # admin_b is suspended by a second proposal (admin_a + admin_c)
    pid2 = reg_a.propose([reg_a.call_suspend(net.addr("admin_b"), "key compromised")], "suspend admin_b")
    reg_c.approve(pid2)
    reg_c.execute(pid2)
    assert reg_a.active_admin_count() == 2

    assert _valid(reg_a, pid) == 1
    assert len(_proposal(reg_a, pid)["approvers"]) == 2  # still listed, no longer counted
    with unchanged(net, lambda: _proposal(reg_a, pid), lambda: reg_a.member(seller)):
        with pytest.raises(errors.QuorumNotReached) as exc:
            reg_a.execute(pid)
    assert (exc.value["approvals"], exc.value["threshold"]) == (1, 2)

    reg_c.approve(pid)
    reg_c.execute(pid)
    assert reg_a.member(seller).suspended is True


def test_approval_of_reinstated_admin_counts_again(net):
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose([_suspend_seller(net, reg_a)], "suspend the seller")
    reg_b.approve(pid)
    govern(net, reg_a.call_suspend(net.addr("admin_b"), "review"))
    assert _valid(reg_a, pid) == 1
    # admin_a and admin_c reinstate admin_b
    pid2 = reg_a.propose([reg_a.call_reinstate(net.addr("admin_b"))], "reinstate admin_b")
    net.registry("admin_c").approve(pid2)
    net.registry("admin_c").execute(pid2)
    assert _valid(reg_a, pid) == 2
    reg_a.execute(pid)
    assert reg_a.member(net.addr("seller")).suspended is True


# ---------------------------------------------------------------------------- batches


def test_batch_executes_atomically_in_order(net):
    reg = net.registry()
    new = outsider("batch-member").address
    expiry = net.now() + YEAR
    later = net.now() + 2 * YEAR
    calls = [
        reg.call_add_member(member_input(net, new, Role.SELLER, "5493001KJTIIGC8Y1R12", "FR", expiry)),
        reg.call_set_roles(new, Role.SELLER | Role.BUYER),
        reg.call_renew_kyc(new, later),
        reg.call_suspend(new, "onboarded dormant"),
    ]
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose(calls, "onboard dormant member")
    reg_b.approve(pid)
    receipt = reg_b.execute(pid)
    m = reg.member(new)
    assert (m.exists, m.roles, m.kyc_expiry, m.suspended) == (True, Role.SELLER | Role.BUYER, later, True)
    # every call ran in the one execute transaction, in the proposal's order
    topics = {bytes.fromhex(getattr(reg.contract.events, e)().topic[2:]): e
              for e in ("MemberAdded", "RolesChanged", "KycRenewed", "MemberSuspended")}
    names = [topics[bytes(log["topics"][0])] for log in receipt["logs"] if bytes(log["topics"][0]) in topics]
    assert names == ["MemberAdded", "RolesChanged", "KycRenewed", "MemberSuspended"]


def test_failing_call_reverts_whole_batch_and_leaves_proposal_pending(net):
    reg = net.registry()
    new = outsider("batch-member").address
    stranger = outsider("stranger").address
    calls = [
        reg.call_add_member(member_input(net, new, Role.SELLER, "5493001KJTIIGC8Y1R12", "FR")),
        reg.call_suspend(stranger, "not a member"),  # reverts NotMember
    ]
    err = govern_fails(net, errors.NotMember, *calls,
                       reads=[lambda: reg.member(new), lambda: reg._call("memberCount")])
    assert checksum(err["account"]) == stranger
    assert reg.member(new).exists is False  # the first call was rolled back too


def test_failed_proposal_stays_pending_and_can_execute_later(net):
    reg = net.registry()
    seller = net.addr("seller")
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose([reg.call_reinstate(seller)], "reinstate the seller")
    reg_b.approve(pid)
    with pytest.raises(errors.NotSuspended):  # the seller is not suspended yet
        reg_b.execute(pid)
    assert reg.proposal_state(pid) == ProposalState.PENDING
    govern(net, reg.call_suspend(seller, "review"))
    assert reg.member(seller).suspended is True
    reg_b.execute(pid)
    assert reg.proposal_state(pid) == ProposalState.EXECUTED
    assert reg.member(seller).suspended is False


# ---------------------------------------------------------------------------- threshold M


@pytest.mark.parametrize("threshold", [0, 1, 4])
def test_threshold_bounds(net, threshold):
    reg = net.registry()
    err = govern_fails(net, errors.InvalidApprovalThreshold, reg.call_set_threshold(threshold),
                       reads=[reg.approval_threshold])
    assert (err["threshold"], err["activeAdmins"]) == (threshold, 3)
    assert reg.approval_threshold() == 2


def test_raise_threshold_to_all_admins(net):
    reg = net.registry()
    reg_a, reg_b, reg_c = (net.registry(k) for k in ("admin_a", "admin_b", "admin_c"))
    pid = reg_a.propose([reg.call_set_threshold(3)], "M = 3")
    reg_b.approve(pid)
    receipt = reg_b.execute(pid)
    [ev] = reg.events(receipt, "ApprovalThresholdChanged")
    assert (ev["previous"], ev["current"]) == (2, 3)
    assert reg.approval_threshold() == 3

    # two approvals are no longer enough
    pid = reg_a.propose([_suspend_seller(net, reg)], "suspend the seller")
    reg_b.approve(pid)
    with unchanged(net, lambda: reg.member(net.addr("seller"))):
        with pytest.raises(errors.QuorumNotReached) as exc:
            reg_b.execute(pid)
    assert (exc.value["approvals"], exc.value["threshold"]) == (2, 3)
    reg_c.approve(pid)
    reg_c.execute(pid)
    assert reg.member(net.addr("seller")).suspended is True


@pytest.mark.parametrize("removal", ["suspend", "sanction", "revoke ADMIN"])
def test_removing_an_admin_cannot_make_threshold_unreachable(net, removal):
    reg = net.registry()
    govern(net, reg.call_set_threshold(3))
    admin_c = net.addr("admin_c")
    call = {
        "suspend": reg.call_suspend(admin_c, "key compromised"),
        "sanction": reg.call_set_sanctioned(admin_c, True, "sanctions list"),
        "revoke ADMIN": reg.call_set_roles(admin_c, Role.AUDITOR),
    }[removal]
    reg_a = net.registry("admin_a")
    pid = reg_a.propose([call], removal)
    net.registry("admin_b").approve(pid)
    net.registry("admin_c").approve(pid)
    with unchanged(net, lambda: reg.member(admin_c), reg.active_admin_count, lambda: _proposal(reg, pid)):
        with pytest.raises(errors.InvalidApprovalThreshold) as exc:
            reg_a.execute(pid)
    assert (exc.value["threshold"], exc.value["activeAdmins"]) == (3, 2)
    assert reg.active_admin_count() == 3


def test_lowering_threshold_with_the_removal_in_one_batch(net):
    """Lower M first, then suspend, atomically: allowed (M stays reachable at every step)."""
    reg = net.registry()
    govern(net, reg.call_set_threshold(3))
    pid = net.registry("admin_a").propose(
        [reg.call_set_threshold(2), reg.call_suspend(net.addr("admin_c"), "retired")], "retire admin_c")
    net.registry("admin_b").approve(pid)
    net.registry("admin_c").approve(pid)
    net.registry("admin_a").execute(pid)
    assert (reg.approval_threshold(), reg.active_admin_count()) == (2, 2)


def test_second_admin_suspension_reverts_at_m_equals_2(net):
    reg = net.registry()
    govern(net, reg.call_suspend(net.addr("admin_c"), "retired"))
    assert reg.active_admin_count() == 2
    reg_a, reg_b = net.registry("admin_a"), net.registry("admin_b")
    pid = reg_a.propose([reg.call_suspend(net.addr("admin_b"), "retired")], "leave one admin")
    reg_b.approve(pid)
    with unchanged(net, reg.active_admin_count, lambda: reg.member(net.addr("admin_b"))):
        with pytest.raises(errors.InvalidApprovalThreshold) as exc:
            reg_b.execute(pid)
    assert (exc.value["threshold"], exc.value["activeAdmins"]) == (2, 1)
    # nor may M be raised above the two active admins
    err = govern_fails(net, errors.InvalidApprovalThreshold, reg.call_set_threshold(3), reads=[reg.approval_threshold])
    assert (err["threshold"], err["activeAdmins"]) == (3, 2)


def test_new_admin_raises_n_and_can_approve(net):
    reg = net.registry()
    new = outsider("admin-d")
    govern(net, reg.call_add_member(member_input(net, new.address, Role.ADMIN, "529900NEWADMIND00016", "FR")))
    assert reg.active_admin_count() == 4
    govern(net, reg.call_set_threshold(4))
    assert reg.approval_threshold() == 4
    pid = reg.using(new).propose([_suspend_seller(net, reg)], "new admin proposes")
    for k in ("admin_a", "admin_b"):
        net.registry(k).approve(pid)
    with pytest.raises(errors.QuorumNotReached):
        reg.using(new).execute(pid)
    net.registry("admin_c").approve(pid)
    reg.using(new).execute(pid)
    assert reg.member(net.addr("seller")).suspended is True


def test_reinstating_admin_restores_n(net):
    reg = net.registry()
    govern(net, reg.call_suspend(net.addr("admin_c"), "review"))
    assert reg.active_admin_count() == 2
    govern(net, reg.call_reinstate(net.addr("admin_c")))
    assert reg.active_admin_count() == 3
    govern(net, reg.call_set_sanctioned(net.addr("admin_c"), True, "listed"))
    assert reg.active_admin_count() == 2
    govern(net, reg.call_set_sanctioned(net.addr("admin_c"), False, "delisted"))
    assert reg.active_admin_count() == 3


def test_threshold_stays_reachable_when_admins_kyc_has_lapsed(net):
    """Every founder's KYC lapsing together must not lock governance: M = 3 of 3 still executes
    and the rescue (renewing the KYC) still reaches quorum."""
    reg = net.registry()
    for key in ("admin_a", "admin_b", "admin_c"):
        govern(net, reg.call_renew_kyc(net.addr(key), net.now() + 3_600))
    net.advance_time(3_601)
    assert reg.active_admin_count() == 3
    pid = net.registry("admin_a").propose([reg.call_set_threshold(3)], "M = 3")
    net.registry("admin_b").approve(pid)
    net.registry("admin_c").approve(pid)
    net.registry("admin_c").execute(pid)
    assert reg.approval_threshold() == 3
    rescue = net.registry("admin_a").propose(
        [reg.call_renew_kyc(net.addr(k), net.now() + YEAR) for k in ("admin_a", "admin_b", "admin_c")], "rescue")
    net.registry("admin_b").approve(rescue)
    net.registry("admin_c").approve(rescue)
    net.registry("admin_a").execute(rescue)
    assert all(reg.is_active(net.addr(k)) for k in ("admin_a", "admin_b", "admin_c"))


def test_kyc_lapsed_admin_may_still_send_governance_transactions_on_besu(net):
    reg = net.registry()
    govern(net, reg.call_renew_kyc(net.addr("admin_c"), net.now() + 3_600))
    net.advance_time(3_601)
    assert reg.transaction_allowed(net.addr("admin_c"), reg.address) is True  # governance
    assert reg.transaction_allowed(net.addr("admin_c"), reg.address, value=1) is False
    assert reg.transaction_allowed(net.addr("admin_c"), net.addr("buyer")) is False  # no new business
    assert reg.transaction_allowed(net.addr("admin_c"), "0x" + "00" * 20) is False  # no contract creation
    # a KYC-lapsed non-admin gets no governance path
    govern(net, reg.call_renew_kyc(net.addr("seller"), net.now() + 3_600))
    net.advance_time(3_601)
    assert reg.transaction_allowed(net.addr("seller"), reg.address) is False
