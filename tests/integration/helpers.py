"""What the integration tests share: intents ordered through the controller's gRPC API with
each tenant's own token, and measurements from the tenants' hosts."""
import json
import re
import subprocess
import time

from controller.store import Store
from topologies import addressing as addr
from topologies.measure import wait_listening


def ip(fabric, tenant, site):
    return addr.host_ip(fabric.tenants[tenant], fabric.sites[site])


def order(ctl, *intents):
    """Create intents through the API, each with its tenant's token: (tenant, src, dst, gbps,
    {other fields}) -> their ids."""
    ids = []
    for tenant, src, dst, gbps, *kw in intents:
        with ctl.client(tenant) as client:
            ids.append(client.create_intent(src, dst, gbps, **(kw[0] if kw else {})).id)
    return ids


def installed(ctl, *ids, timeout_s=15.0):
    """Wait until every intent is INSTALLED; returns them (as the API reports them)."""
    with ctl.client() as client:
        return [client.wait_for_state(i, timeout_s=timeout_s) for i in ids]


def path_of(ctl, intent_id):
    with ctl.client() as client:
        return list(client.get_intent(intent_id).path)


def records(db):
    """The intents as stored (for what the API does not show, such as MPLS labels)."""
    store = Store(db)
    try:
        return {r['id']: r for r in store.load()[1]}
    finally:
        store.close()


def wait_for(what, condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'{what}: not within {timeout_s:g} s')


def all_up(ctl):
    """Wait until the controller sees every switch connected and every span up and measured."""
    def ready():
        with ctl.client() as client:
            topology = client.get_topology()
        return (all(site.connected for site in topology.sites) and all(span.up for span in topology.spans)
                and all(d.delay_measured for span in topology.spans for d in span.directions))
    wait_for('every span up and measured', ready, timeout_s=60)


def ping_counts(out, count=0):
    """(sent, received) from ping's summary; (count, 0) if it printed none."""
    m = re.search(r'(\d+) packets transmitted, (\d+) received', out)
    return (int(m.group(1)), int(m.group(2))) if m else (count, 0)


def pings(host, target, count=3, interval='0.2'):
    """(sent, received) of a ping run from a host."""
    return ping_counts(host.cmd(f'ping -n -c {count} -i {interval} -W 1 {target}'), count)


def reaches(host, target):
    return pings(host, target, count=3)[1] > 0


def iperf_mbps(server, client, target, seconds=6):
    srv = server.popen(['iperf3', '-s', '-1', '-p', '5202'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    try:
        wait_listening(server, 5202)
        out = client.cmd(f'iperf3 -c {target} -p 5202 -t {seconds} -O 2 -J')
        return json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6
    finally:
        srv.kill()
        srv.wait()
