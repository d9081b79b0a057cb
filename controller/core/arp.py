"""Address resolution for tenant hosts, answered by the controller: an ARP request never
leaves the site it was asked at, and a tenant learns only its own hosts' addresses."""

from topologies.model import addressing as addr
from topologies.model.fabric import Fabric


def answer(
    fabric: Fabric, site_id: str, in_port: int, sender_ip: str, sender_mac: str, target_ip: str
) -> str | None:
    """The MAC to answer with, or None: the asker must be the tenant's host on this port
    (its own address, not a spoofed one) and the target one of that tenant's hosts."""
    site = fabric.sites[site_id]
    tenant = next((t for t in fabric.tenants.values() if addr.tenant_port(t) == in_port), None)
    if tenant is None or site_id not in tenant.sites:
        return None
    if (sender_ip, sender_mac.lower()) != (addr.host_ip(tenant, site), addr.host_mac(tenant, site)):
        return None
    for other in tenant.sites:
        there = fabric.sites[other]
        if other != site_id and target_ip == addr.host_ip(tenant, there):
            return addr.host_mac(tenant, there)
    return None
