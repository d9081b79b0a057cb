"""controller.core.arp: answer a tenant's own hosts only, and only to the real asker."""

from controller.core.arp import answer
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

F = load_fabric('triangle')
RED, BLUE = F.tenants['red'], F.tenants['blue']
DCA, DCB, DCC = (F.sites[s] for s in ('dca', 'dcb', 'dcc'))


def ask(tenant, site, target_ip, sender_ip=None, sender_mac=None, port=None):
    return answer(
        F,
        site.id,
        port or addr.tenant_port(tenant),
        sender_ip or addr.host_ip(tenant, site),
        sender_mac or addr.host_mac(tenant, site),
        target_ip,
    )


def test_a_tenant_resolves_its_own_hosts():
    assert ask(RED, DCA, addr.host_ip(RED, DCC)) == addr.host_mac(RED, DCC)
    assert ask(BLUE, DCC, addr.host_ip(BLUE, DCA)) == addr.host_mac(BLUE, DCA)


def test_nothing_else_is_answered():
    assert ask(BLUE, DCA, addr.host_ip(RED, DCC)) is None  # another tenant's host
    assert ask(RED, DCA, addr.host_ip(RED, DCA)) is None  # itself
    assert ask(RED, DCA, '10.1.9.1') is None  # no such host
    assert ask(RED, DCA, addr.host_ip(RED, DCC), sender_ip=addr.host_ip(BLUE, DCA)) is None  # spoofed
    assert ask(RED, DCA, addr.host_ip(RED, DCC), sender_mac='02:00:00:99:99:99') is None
    assert ask(RED, DCA, addr.host_ip(RED, DCC), port=addr.PROBE_PORT) is None
    assert ask(BLUE, DCB, addr.host_ip(BLUE, DCA)) is None  # blue has no port at dcb
