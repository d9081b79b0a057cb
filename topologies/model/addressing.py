"""Deterministic names, addresses and OpenFlow port numbers of the emulated fabric.

Everything derives from the fabric file: site number S and tenant number T are 1-based
positions in the file (append new sites and tenants to keep existing addresses).

    switch of site S        name = site id, datapath id = S
    tenant host (T, S)      name `<tenant>-<site>`, 10.T.S.1/16, MAC 02:00:00:TT:SS:01
                            on switch port 1000 + T (port name `<site>-<tenant>`)
    probe host of site S    name `probe-<site>`, 10.255.S.1/16, MAC 02:00:00:ff:SS:01
                            on switch port 4000 (port name `<site>-probe`)
    span between A and B    on switch A: port number = B's site number, port name `<A>-<B>`
                            (and the reverse on B); `<A>-<B>r` is the span emulator's end

The controller and the emulation share this module so they agree without talking.
"""

TENANT_PORT_BASE = 1000
PROBE_PORT = 4000
PROBE_OCTET = 255
PREFIX_LEN = 16


def dpid(site):
    return site.number


def dpid_str(site):
    return f'{site.number:016x}'


def span_port(fabric, site_id, peer_id):
    """OpenFlow port on `site_id`'s switch that leads to `peer_id`."""
    return fabric.sites[peer_id].number


def span_peer(fabric, site_id, port_no):
    """The site a span port of `site_id`'s switch leads to, or None (not a span port)."""
    peer = next((s for s in fabric.sites.values() if s.number == port_no), None)
    if peer is None or peer.id == site_id or fabric.span(site_id, peer.id) is None:
        return None
    return peer.id


def span_intf(site_id, peer_id):
    return f'{site_id}-{peer_id}'


def host_name(tenant, site):
    return f'{tenant.id}-{site.id}'


def host_ip(tenant, site):
    return f'10.{tenant.number}.{site.number}.1'


def site_subnet(tenant, site):
    """A tenant's addresses at one site (the controller's ingress flows match it)."""
    return f'10.{tenant.number}.{site.number}.0/24'


def host_mac(tenant, site):
    return f'02:00:00:{tenant.number:02x}:{site.number:02x}:01'


def tenant_port(tenant):
    return TENANT_PORT_BASE + tenant.number


def tenant_intf(tenant, site):
    return f'{site.id}-{tenant.id}'


def tenant_subnet(tenant):
    return f'10.{tenant.number}.0.0/{PREFIX_LEN}'


def probe_name(site):
    return f'probe-{site.id}'


def probe_ip(site):
    return f'10.{PROBE_OCTET}.{site.number}.1'


def probe_mac(site):
    return f'02:00:00:{PROBE_OCTET:02x}:{site.number:02x}:01'


def probe_intf(site):
    return f'{site.id}-probe'
