"""What the integration tests share: intents ordered through the controller's gRPC API with
each tenant's own token, and measurements from the tenants' hosts."""

from controller.store.records import to_record
from controller.store.sqlite import read_only

# all_up(ctl): every switch connected, every span up and measured
from topologies.lab.lab import goodput_mbps, ping_counts, pings, wait_for  # noqa: F401 - shared
from topologies.lab.lab import wait_ready as all_up  # noqa: F401
from topologies.lab.verdict import EXIT_INCONCLUSIVE
from topologies.model import addressing as addr


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


def measured(ctl):
    """{span id: [delay ms measured each way]}: what a failed assertion on paths should show."""
    with ctl.client() as client:
        return {s.id: [round(d.delay_ms, 2) for d in s.directions] for s in client.get_topology().spans}


def records(db):
    """The intents as the running controller stored them (for what the API does not show, such
    as MPLS labels)."""
    return {saved.intent.id: to_record(saved) for saved in read_only(db)[1]}


def reaches(host, target):
    return pings(host, target, count=3)[1] > 0


def iperf_mbps(server, client, target, seconds=6):
    return goodput_mbps(server, client, target, seconds)


def conclusive(run, attempts=3, each=False):
    """run() (naas-lab as a CompletedProcess) again while it exits INCONCLUSIVE: a span emulator
    was late beyond tolerance while something was measured, which on these VMs a stall of the
    machine does now and then, even idle (docs/benchmarks.md, "Wake-ups"). That is the
    emulation being honest, not a verdict: a user measures again. A failure exits 1 at once,
    unless `each` (a test of every expectation's verdict, some meant to fail): then also again
    while any expectation is INCONCLUSIVE."""
    for _ in range(attempts):
        done = run()
        doubtful = each and any(line.startswith('  INCONCLUSIVE') for line in done.stdout.splitlines())
        if done.returncode != EXIT_INCONCLUSIVE and not doubtful:
            break
    return done
