"""controller.core.restore.Restored: the stored intents kept in step change by change (as a
follower's mirror of etcd does) give a new core exactly what restoring everything at once
gives it, whatever the leader did meanwhile (creates, moves after span cuts, updates,
deletions, intents still installing or being withdrawn)."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.controller import Controller
from controller.core.errors import Conflict, FailedPrecondition, NotFound, QuotaExceeded, Unplaceable
from controller.core.restore import Restored
from controller.core.routes import BURST_MS
from controller.store.records import from_record, to_record
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

LUMEN = load_fabric('lumen-qts')
TENANT = next(iter(LUMEN.tenants.values()))
PAIRS = list(itertools.combinations(TENANT.sites, 2))
SPANS = LUMEN.spans


class Recording:
    """A store that hands every commit, as the records etcd would carry, to `follow`."""

    queued = 0

    def __init__(self, follow):
        self.follow, self.records, self.meta = follow, {}, {}

    def load(self):
        return {}, []

    def wait(self, ticket):
        pass

    def save(self, saved, deleted, meta, after=None, durable=True):
        records = [to_record(s) for s in saved]  # decoded afresh below: no object shared with the core
        for r in records:
            self.records[r['id']] = r
        for intent_id in deleted:
            self.records.pop(intent_id, None)
        self.meta.update(meta)
        self.follow([from_record(r) for r in records], deleted, dict(self.meta))
        if after:
            after()
        self.queued += 1
        return self.queued


def kept_in_step():
    restored = Restored(LUMEN, BURST_MS)

    def follow(saved, deleted, meta):
        for entry in saved:
            restored.put(entry)
        for intent_id in deleted:
            restored.remove(intent_id)
        restored.meta = meta

    return restored, follow


def state(core):
    installs = core.installs
    return {
        'intents': [(i.id, i.state, i.reason, i.bandwidth_gbps) for i in core.list()],
        'committed': sorted(map(str, core.books.committed.snapshot())),
        'peak': sorted(map(str, core.books.peak.snapshot())),
        'totals': [core.books.committed.reserved_gbps(link) for link in core.topology.links()],
        'placements': core.placer.placements,
        'routes': {i.id: core.routes.of(i.id) for i in core.list()},
        'plan': core.plan(),
        'installing': dict(installs._installing),
        'withdrawing': dict(installs._withdrawing),
        'counters': (core.intents.next_number, core.routes.next_label, core.generation),
    }


def span_ports(span):
    a, b = span.a, span.b
    return [(addr.dpid(LUMEN.sites[x]), addr.span_port(LUMEN, x, y)) for x, y in ((a, b), (b, a))]


STEPS = st.lists(
    st.tuples(
        st.sampled_from(['create', 'create', 'create', 'delete', 'update', 'cut', 'mend', 'sync']),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_kept_in_step_it_gives_a_core_what_restoring_everything_gives(steps):
    restored, follow = kept_in_step()
    store = Recording(follow)
    leader = Controller(LUMEN, store=store, now=0.0)
    for site in LUMEN.sites.values():
        leader.switch_connected(addr.dpid(site), now=0.0)
    now = 1.0
    for kind, n in steps:
        now += 1
        intents = leader.list()
        try:
            if kind == 'create':
                src, dst = PAIRS[n % len(PAIRS)]
                protection = 'PROTECTED' if n % 3 == 0 else 'NONE'
                leader.create(Order(TENANT.id, src, dst, 1 + n % 40, protection=protection), now=now)
            elif kind == 'delete' and intents:
                leader.delete(intents[n % len(intents)].id, now=now)
            elif kind == 'update' and intents:
                leader.update(intents[n % len(intents)].id, now=now, bandwidth_gbps=1 + n % 30)
            elif kind in ('cut', 'mend'):
                for dpid, port in span_ports(SPANS[n % len(SPANS)]):
                    leader.port_state(dpid, port, kind == 'mend', now=now)
            elif kind == 'sync':
                for dpid in leader.plan():
                    leader.synced([dpid], leader.generation, now)
        except (Unplaceable, FailedPrecondition, NotFound, Conflict, QuotaExceeded):
            pass  # refused, changing nothing
    saved = [from_record(r) for r in store.records.values()]
    at_once = Controller(LUMEN, restored=Restored.loaded(LUMEN, BURST_MS, dict(store.meta), saved), now=now)
    in_step = Controller(LUMEN, restored=restored, now=now)
    assert state(in_step) == state(at_once)


def test_taken_once_and_then_no_longer_kept():
    restored, follow = kept_in_step()
    leader = Controller(LUMEN, store=Recording(follow), now=0.0)
    leader.create(Order(TENANT.id, *PAIRS[0], 5), now=1.0)
    core = Controller(LUMEN, restored=restored, now=2.0)
    assert [i.id for i in core.list()] == ['i-1']
    with pytest.raises(RuntimeError, match='took'):
        restored.into(Controller(LUMEN), 3.0)
    with pytest.raises(RuntimeError, match='keeps them now'):
        restored.remove('i-1')


def test_intents_that_over_book_a_span_are_refused_whole():
    restored, follow = kept_in_step()
    leader = Controller(LUMEN, store=Recording(follow), headroom=0.0, now=0.0)
    intent = leader.create(Order(TENANT.id, *PAIRS[0], 90), now=1.0)
    link = leader.placer.placements[intent.id].primary.links[0]
    capacity = leader.topology.span_of(link).capacity_gbps
    with pytest.raises(ValueError, match='over-books'):
        Controller(LUMEN, restored=restored, headroom=1 - 80 / capacity, now=2.0)


def test_another_fabrics_intents_are_refused():
    restored = Restored(LUMEN)
    restored.meta = {'fabric': 'triangle', 'next_number': 1}
    with pytest.raises(ValueError, match="fabric 'triangle'"):
        Controller(LUMEN, restored=restored)
