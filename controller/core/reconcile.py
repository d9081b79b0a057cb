"""What to send so a switch holds exactly the plan, in an order that loses no traffic.

Changes go out in three phases; the southbound waits for every switch's barrier between
them, so a phase starts only when the previous one is in all the switches:

  1. prepare: new and changed meters and groups, then new and changed flows other than
     ingress flows (the new path's label flows, base flows);
  2. flip: new and changed ingress flows (adding a flow with the key of an existing one
     replaces it in one step: traffic moves from the old label to the new one);
  3. clean up: flows that are not in the plan, then meters and groups that are not; after a
     flip only once the frames already on their way along the old paths have left them
     (`drain_s`): deleting at once dropped what was sent in the last tens of ms before it.

So a moved intent is carried by its old path until the new one is complete, and a flow is
never installed before the meter or group it uses (Open vSwitch rejects that). A group is
named by its route's label, so a moved route's groups are new ones, never modified in use.
"""

from dataclasses import dataclass, field

DRAIN_MARGIN_S = 0.05  # what switches and span emulators add on top of the spans' delays
DRAIN_MAX_S = 1.0


@dataclass
class Changes:
    """Per phase, per dpid: a list of (op, item); op is 'add_meter', 'modify_meter',
    'add_group', 'modify_group', 'add' (add or replace a flow), 'delete' (a flow),
    'delete_meter' or 'delete_group'."""

    phases: list = field(default_factory=lambda: [{}, {}, {}])

    def put(self, phase, dpid, op, item):
        self.phases[phase].setdefault(dpid, []).append((op, item))

    def __bool__(self):
        return any(self.phases)

    def count(self):
        return sum(len(ops) for phase in self.phases for ops in phase.values())

    @property
    def drains(self):
        """Whether the clean-up must wait `drain_s` after the flip: it removes what the flip left."""
        return bool(self.phases[1]) and bool(self.phases[2])


def drain_s(fabric):
    """How long a frame can still be on its way along a path the ingress has just left: at
    most the old primary, or cranked back along part of it and then along its backup; a
    primary and its span-disjoint backup cross each span at most once between them, so twice
    the fabric's total span delay bounds it (its configured delays: the measured ones add
    about a millisecond a hop, which the margin covers)."""
    total_ms = sum(span.delay_ms for span in fabric.spans)
    return min(DRAIN_MAX_S, DRAIN_MARGIN_S + 2 * total_ms / 1000)


def diff(dpid, planned, installed, changes=None):
    """Changes that turn `installed` into `planned`, both (flows by key, meters by id, groups
    by id) of one switch. Only the controller's own flows should be in `installed` (see
    flows.is_ours)."""
    changes = changes if changes is not None else Changes()
    want_flows, want_meters, want_groups = planned
    have_flows, have_meters, have_groups = installed
    for kind, want, have in (('meter', want_meters, have_meters), ('group', want_groups, have_groups)):
        for item_id in sorted(want):
            item, had = want[item_id], have.get(item_id)
            if had is None:
                changes.put(0, dpid, f'add_{kind}', item)
            elif had != item:
                changes.put(0, dpid, f'modify_{kind}', item)
    for key in sorted(want_flows, key=_order):
        flow = want_flows[key]
        if have_flows.get(key) != flow:
            changes.put(1 if flow.is_ingress else 0, dpid, 'add', flow)
    for key in sorted(have_flows, key=_order):
        if key not in want_flows:
            changes.put(2, dpid, 'delete', have_flows[key])
    for kind, want, have in (('meter', want_meters, have_meters), ('group', want_groups, have_groups)):
        for item_id in sorted(have):
            if item_id not in want:
                changes.put(2, dpid, f'delete_{kind}', have[item_id])
    return changes


def diff_all(plan, installed):
    """Changes for every switch of the plan; `installed` is {dpid: (flows, meters, groups)}
    and may lack switches (nothing known installed there)."""
    changes = Changes()
    for dpid in sorted(plan):
        diff(dpid, plan[dpid], installed.get(dpid, ({}, {}, {})), changes)
    return changes


def _order(key):
    """Deterministic: by table, then priority high first, then match."""
    _dpid, table, priority, match = key
    return (table, -priority, repr(match))
