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

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.core.flows import Flow, Group, Meter, Plan, Tables
from topologies.model.fabric import Fabric

Item = Flow | Meter | Group

DRAIN_MARGIN_S = 0.05  # what switches and span emulators add on top of the spans' delays
DRAIN_MAX_S = 1.0


class Phase(enum.Enum):
    """The three phases of a change, in the order they go out."""

    PREPARE = 'prepare'
    FLIP = 'flip'
    CLEAN_UP = 'clean up'


class Op(enum.Enum):
    """One change to a switch's flows, meters or groups."""

    ADD_FLOW = 'add flow'  # adds a flow, or replaces the one with its key
    DELETE_FLOW = 'delete flow'
    ADD_METER = 'add meter'
    MODIFY_METER = 'modify meter'
    DELETE_METER = 'delete meter'
    ADD_GROUP = 'add group'
    MODIFY_GROUP = 'modify group'
    DELETE_GROUP = 'delete group'


METER_OPS = (Op.ADD_METER, Op.MODIFY_METER, Op.DELETE_METER)
GROUP_OPS = (Op.ADD_GROUP, Op.MODIFY_GROUP, Op.DELETE_GROUP)


@dataclass
class Changes:
    """Per phase, per dpid: a list of (Op, item), item a flows.Flow, Meter or Group."""

    phases: dict[Phase, dict[int, list[tuple[Op, Item]]]] = field(
        default_factory=lambda: {phase: {} for phase in Phase}
    )

    def put(self, phase: Phase, dpid: int, op: Op, item: Item) -> None:
        self.phases[phase].setdefault(dpid, []).append((op, item))

    def __bool__(self) -> bool:
        return any(self.phases.values())

    def count(self) -> int:
        return sum(len(ops) for phase in self.phases.values() for ops in phase.values())

    @property
    def drains(self) -> bool:
        """Whether the clean-up must wait `drain_s` after the flip: it removes what the flip left."""
        return bool(self.phases[Phase.FLIP]) and bool(self.phases[Phase.CLEAN_UP])


def apply(held: Tables, op: Op, item: Item) -> None:
    """Change `held`, what one switch holds (flows by key, meters by id, groups by id), in
    place as the switch does when it applies (op, item): adding a flow replaces the one with
    its key, and deleting a meter or a group also deletes the flows that use it."""
    flows, meters, groups = held
    if isinstance(item, Flow) and op in (Op.ADD_FLOW, Op.DELETE_FLOW):
        if op is Op.ADD_FLOW:
            flows[item.key] = item
        else:
            flows.pop(item.key, None)
    elif isinstance(item, Meter) and op in METER_OPS:
        if op is Op.DELETE_METER:
            meters.pop(item.meter_id, None)
            for key in [k for k, f in flows.items() if f.meter == item.meter_id]:
                del flows[key]
        else:
            meters[item.meter_id] = item
    elif isinstance(item, Group) and op in GROUP_OPS:
        if op is Op.DELETE_GROUP:
            groups.pop(item.group_id, None)
            for key in [k for k, f in flows.items() if ('group', item.group_id) in f.actions]:
                del flows[key]
        else:
            groups[item.group_id] = item
    else:
        raise ValueError(f'{op!r} does not apply to {item!r}')


def drain_s(fabric: Fabric) -> float:
    """How long a frame can still be on its way along a path the ingress has just left: at
    most the old primary, or cranked back along part of it and then along its backup; a
    primary and its span-disjoint backup cross each span at most once between them, so twice
    the fabric's total span delay bounds it (its configured delays: the measured ones add
    about a millisecond a hop, which the margin covers)."""
    total_ms = sum(span.delay_ms for span in fabric.spans)
    return min(DRAIN_MAX_S, DRAIN_MARGIN_S + 2 * total_ms / 1000)


def diff(dpid: int, planned: Tables, installed: Tables, changes: Changes | None = None) -> Changes:
    """Changes that turn `installed` into `planned`, both (flows by key, meters by id, groups
    by id) of one switch. Only the controller's own flows should be in `installed` (see
    flows.is_ours)."""
    changes = changes if changes is not None else Changes()
    want_flows, want_meters, want_groups = planned
    have_flows, have_meters, have_groups = installed
    kinds = ((want_meters, have_meters, METER_OPS), (want_groups, have_groups, GROUP_OPS))
    for want, have, (add, modify, _) in kinds:
        for item_id in sorted(want):
            item, had = want[item_id], have.get(item_id)
            if had is None:
                changes.put(Phase.PREPARE, dpid, add, item)
            elif had != item:
                changes.put(Phase.PREPARE, dpid, modify, item)
    for key in sorted(want_flows, key=_order):
        flow = want_flows[key]
        if have_flows.get(key) != flow:
            changes.put(Phase.FLIP if flow.is_ingress else Phase.PREPARE, dpid, Op.ADD_FLOW, flow)
    for key in sorted(have_flows, key=_order):
        if key not in want_flows:
            changes.put(Phase.CLEAN_UP, dpid, Op.DELETE_FLOW, have_flows[key])
    for want, have, (_, _, delete) in kinds:
        for item_id in sorted(have):
            if item_id not in want:
                changes.put(Phase.CLEAN_UP, dpid, delete, have[item_id])
    return changes


def diff_all(plan: Plan, installed: Mapping[int, Tables]) -> Changes:
    """Changes for every switch of the plan; `installed` is {dpid: (flows, meters, groups)}
    and may lack switches (nothing known installed there)."""
    changes = Changes()
    for dpid in sorted(plan):
        diff(dpid, plan[dpid], installed.get(dpid, ({}, {}, {})), changes)
    return changes


def _order(key: tuple) -> tuple:
    """Deterministic: by table, then priority high first, then match."""
    _dpid, table, priority, match = key
    return (table, -priority, repr(match))
