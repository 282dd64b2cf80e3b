

def test_consortium_is_onboarded(net):
    reg = net.registry()
    assert reg.active_admin_count() == 3
    assert reg.approval_threshold() == 2
    for key, p in net.participants.items():
        m = reg.member(net.addr(key))
        assert m.exists and m.roles == p.roles and m.lei == p.lei
        assert reg.legal_name(net.addr(key)) == p.name
