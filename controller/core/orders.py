"""Orders checked before anything changes: every field against the fabric (InvalidArgument
naming the first bad one, as the API names it), the tenant's quota (QuotaExceeded), a clash
with the tenant's intent between the same sites (Conflict: update it instead) and retries
(the request id a tenant used before gives back the intent it made)."""

import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from controller.core.errors import Conflict, CoreError, InvalidArgument, QuotaExceeded, shown
from controller.core.intent import Intent
from controller.core.paths import lowest_latency_path, widest_gbps
from controller.core.registry import Intents, pair
from controller.core.topology import Topology
from topologies.model import addressing as addr
from topologies.model.fabric import Fabric
from topologies.model.order import Order, Protection, ServiceClass

E = TypeVar('E', Protection, ServiceClass)

MAX_DESCRIPTION = 1024
MAX_LABELS = 32
MAX_PREFIXES = 8  # per end: the ingress holds a flow per pair of prefixes
LABEL_KEY = re.compile(r'[a-z][a-z0-9_-]{0,62}')
REQUEST_ID = re.compile(r'[A-Za-z0-9._:-]{1,64}')
# Bandwidth is kept to the kb/s (the unit of the switches' meters) and 1 Mb/s at least: quotas
# are summed in whole kb/s, exactly, so no float noise lets a crumb in over a full quota.
MIN_BANDWIDTH_GBPS = 0.001
KBPS_PER_GBPS = 1_000_000
UPDATABLE = (
    'bandwidth_gbps',
    'excess_gbps',
    'max_latency_ms',
    'protection',
    'service_class',
    'description',
    'labels',
)


class Orders:
    def __init__(
        self, fabric: Fabric, intents: Intents, headroom: float, quotas: dict[str, float] | None = None
    ):
        self.fabric, self.intents, self.headroom = fabric, intents, headroom
        self.quotas = dict(quotas or {})  # tenant -> most Gb/s it may commit in all
        self._physical = Topology.from_fabric(fabric)  # all spans up, fabric delays
        self._limits: dict[tuple[str, str], tuple] = {}  # (src, dst) -> (widest Gb/s, min ms, hops)

    # --- whole orders -------------------------------------------------------------------------

    def intent(self, order: Order) -> Intent:
        """A new Intent from a checked order, not numbered yet (InvalidArgument naming the
        first bad field). The request id is not checked here (see admissible)."""
        if not isinstance(order, Order):
            raise InvalidArgument('', f'must be an order, got {type(order).__name__}')
        tenant, src, dst = self._ends(order.tenant, order.src, order.dst)
        gbps = self.bandwidth(src, dst, order.bandwidth_gbps)
        return Intent(
            '',
            tenant,
            src,
            dst,
            gbps,
            self.latency(src, dst, order.max_latency_ms),
            enum(Protection, order.protection, 'protection'),
            enum(ServiceClass, order.service_class, 'service_class'),
            description=text(order.description),
            labels=labels(order.labels if order.labels is not None else {}),
            src_prefixes=self._prefixes(tenant, src, order.src_prefixes, 'src_prefixes'),
            dst_prefixes=self._prefixes(tenant, dst, order.dst_prefixes, 'dst_prefixes'),
            excess_gbps=self.excess(src, dst, gbps, order.excess_gbps),
        )

    def admissible(self, order: Order) -> tuple[Intent, Intent | None]:
        """(the new Intent, not numbered yet; the intent a request id used before made for the
        same order, or None); raises InvalidArgument or Conflict."""
        intent = self.intent(order)
        if order.request_id:
            intent.request_id = request_id(order.request_id)
            intent.request_digest = digest(intent)
            prior = self.intents.by_request(intent.tenant, intent.request_id)
            if prior is not None:
                if prior.request_digest != intent.request_digest:
                    raise Conflict(
                        f'request_id: {shown(intent.request_id)} was used for another order '
                        f'(intent {prior.id})'
                    )
                return intent, prior
        clash = self.intents.on_pair(intent)
        if clash is not None:
            raise Conflict(
                f'tenant {intent.tenant} already has intent {clash.id} between '
                f'{intent.src} and {intent.dst}: update it instead'
            )
        return intent, None

    def admissible_many(self, orders: Sequence[Order]) -> tuple[list[Any], dict[int, Intent]]:
        """(results with the intents request ids replay, {order index: new Intent}) for a
        batch, or raise naming the first bad order (`orders[i].field`); orders that clash
        within the batch, or a tenant's orders passing its quota together, refuse it all."""
        if isinstance(orders, (str, bytes, dict, Order)) or not orders:
            raise InvalidArgument('orders', 'must be a list of at least one order')
        results: list[Any] = [None] * len(orders)
        fresh: dict[int, Intent] = {}
        seen: dict[tuple, int] = {}
        gbps: dict[str, float] = {}
        for i, order in enumerate(orders):
            try:
                intent, prior = self.admissible(order)
            except CoreError as e:
                raise _in_order(i, e) from None
            if prior is not None:
                results[i] = prior
                continue
            keys = [('the same tenant and sites', pair(intent))]
            if intent.request_id:
                keys.append(('the same request_id', (intent.tenant, intent.request_id)))
            for what, key in keys:
                if key in seen:
                    raise Conflict(f'orders[{i}]: {what} as orders[{seen[key]}]')
                seen[key] = i
            fresh[i] = intent
            gbps[intent.tenant] = gbps.get(intent.tenant, 0.0) + intent.bandwidth_gbps
        for tenant, more in gbps.items():
            try:
                self.check_quota(tenant, more)
            except QuotaExceeded as e:
                raise QuotaExceeded(f'orders: {e}', e.left_gbps) from None
        return results, fresh

    def changes(self, intent: Intent, fields: dict[str, Any]) -> dict[str, Any]:
        """The checked changes an update asks for (only those that differ from the intent)."""
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise InvalidArgument(unknown[0], f'cannot be changed (only {", ".join(UPDATABLE)})')
        src, dst = intent.src, intent.dst
        changes: dict[str, Any] = {}
        if 'bandwidth_gbps' in fields:
            changes['bandwidth_gbps'] = self.bandwidth(src, dst, fields['bandwidth_gbps'])
        if 'excess_gbps' in fields:
            committed = changes.get('bandwidth_gbps', intent.bandwidth_gbps)
            changes['excess_gbps'] = self.excess(src, dst, committed, fields['excess_gbps'])
        if 'max_latency_ms' in fields:
            changes['max_latency_ms'] = self.latency(src, dst, fields['max_latency_ms'])
        if 'protection' in fields:
            changes['protection'] = enum(Protection, fields['protection'], 'protection')
        if 'service_class' in fields:
            changes['service_class'] = enum(ServiceClass, fields['service_class'], 'service_class')
        if 'description' in fields:
            changes['description'] = text(fields['description'])
        if 'labels' in fields:
            changes['labels'] = labels(fields['labels'])
        changes = {k: v for k, v in changes.items() if getattr(intent, k) != v}
        if changes.get('bandwidth_gbps', 0) > intent.bandwidth_gbps:
            self.check_quota(intent.tenant, changes['bandwidth_gbps'] - intent.bandwidth_gbps)
        return changes

    # --- quota --------------------------------------------------------------------------------

    def quota_left_gbps(self, tenant: str) -> float:
        """What the tenant may still commit (inf without a quota)."""
        quota = self.quotas.get(tenant)
        return math.inf if quota is None else (kbps(quota) - kbps(self.intents.committed_gbps(tenant))) / 1e6

    def check_quota(self, tenant: str, more_gbps: float) -> None:
        left = self.quota_left_gbps(tenant)
        if tenant in self.quotas and kbps(more_gbps) > kbps(left):
            raise QuotaExceeded(
                f'quota: tenant {tenant} may commit {self.quotas[tenant]:g} Gb/s in '
                f'all, {max(left, 0):g} Gb/s of it left; {more_gbps:g} Gb/s more '
                f'is over quota_gbps',
                max(left, 0.0),
            )

    # --- fields -------------------------------------------------------------------------------

    def bandwidth(self, src: str, dst: str, gbps: object) -> float:
        value = number(gbps, 'bandwidth_gbps', 'Gb/s')
        if value < MIN_BANDWIDTH_GBPS:
            raise InvalidArgument(
                'bandwidth_gbps', f'must be at least {MIN_BANDWIDTH_GBPS:g} Gb/s (1 Mb/s), got {shown(value)}'
            )
        value = to_kbps(value)
        limit = self.limits(src, dst)[0] * (1 - self.headroom)
        if value > limit + 1e-9:
            raise InvalidArgument(
                'bandwidth_gbps',
                f'{value:g} Gb/s is more than any path from {src} '
                f'to {dst} can carry ({limit:g} Gb/s after headroom)',
            )
        return value

    def excess(self, src: str, dst: str, committed_gbps: float, excess_gbps: object) -> float:
        value = number(excess_gbps, 'excess_gbps', 'Gb/s', zero=True)
        if 0 < value < MIN_BANDWIDTH_GBPS:
            raise InvalidArgument(
                'excess_gbps',
                f'must be 0 or at least {MIN_BANDWIDTH_GBPS:g} Gb/s (1 Mb/s), got {shown(value)}',
            )
        value = to_kbps(value)
        widest = self.limits(src, dst)[0]
        if committed_gbps + value > widest + 1e-9:
            raise InvalidArgument(
                'excess_gbps',
                f'committed plus excess ({committed_gbps + value:g} '
                f'Gb/s) is more than any path from {src} to {dst} '
                f'carries ({widest:g} Gb/s)',
            )
        return value

    def latency(self, src: str, dst: str, ms: object) -> float | None:
        if ms is None:
            return None
        value = number(ms, 'max_latency_ms', 'ms')
        floor = self.limits(src, dst)[1]
        if value < floor - 1e-9:
            raise InvalidArgument(
                'max_latency_ms',
                f'{value:g} ms is below the physical minimum from {src} to {dst} ({floor:.3f} ms of fiber)',
            )
        return value

    def limits(self, src: str, dst: str) -> tuple:
        """What the fabric could carry between two sites at best, on the fabric file's
        figures: the widest path's Gb/s (whole capacity), the lowest latency and the hops
        of that lowest-latency path."""
        if (src, dst) not in self._limits:
            fastest = lowest_latency_path(self._physical, src, dst)
            self._limits[(src, dst)] = (
                widest_gbps(self._physical, src, dst, self._physical.capacity_gbps),
                fastest and fastest.latency_ms(self._physical),
                fastest.hops if fastest else math.inf,
            )
        return self._limits[(src, dst)]

    def _ends(self, tenant: str, src: str, dst: str) -> tuple[str, str, str]:
        t = self.fabric.tenants.get(tenant) if isinstance(tenant, str) else None
        if t is None:
            raise InvalidArgument('tenant', f'unknown tenant {shown(tenant)}')
        for field, site in (('src_site', src), ('dst_site', dst)):
            if not isinstance(site, str) or site not in self.fabric.sites:
                raise InvalidArgument(field, f'unknown site {shown(site)}')
            if site not in t.sites:
                raise InvalidArgument(
                    field, f'tenant {tenant} has no port at site {site} (its sites: {", ".join(t.sites)})'
                )
        if src == dst:
            raise InvalidArgument('dst_site', f'must differ from src_site ({src})')
        return tenant, src, dst

    def _prefixes(self, tenant: str, site: str, prefixes: object, field: str) -> tuple[str, ...]:
        """Canonical CIDRs, each within the tenant's subnet at the site, none overlapping."""
        subnet = ipaddress.IPv4Network(addr.site_subnet(self.fabric.tenants[tenant], self.fabric.sites[site]))
        if (
            isinstance(prefixes, str)
            or not isinstance(prefixes, (list, tuple))
            or len(prefixes) > MAX_PREFIXES
        ):
            raise InvalidArgument(field, f'must be a list of at most {MAX_PREFIXES} prefixes')
        networks: list[ipaddress.IPv4Network] = []
        for cidr in prefixes:
            try:
                network = ipaddress.IPv4Network(cidr)
            except (ValueError, TypeError):
                raise InvalidArgument(
                    field,
                    f'{shown(cidr)} is not an IPv4 prefix such as '
                    f'{subnet.network_address}/25 (with no host bits set)',
                ) from None
            if not network.subnet_of(subnet):
                raise InvalidArgument(
                    field, f"{network} is outside tenant {tenant}'s subnet at {site} ({subnet})"
                )
            clash = next((n for n in networks if n.overlaps(network)), None)
            if clash is not None:
                raise InvalidArgument(field, f'{network} overlaps {clash}')
            networks.append(network)
        return tuple(str(n) for n in networks)


def _in_order(i: int, error: CoreError) -> CoreError:
    """The error of the i-th order of a batch, naming it."""
    if isinstance(error, InvalidArgument):
        return InvalidArgument(f'orders[{i}]' + (f'.{error.field}' if error.field else ''), error.message)
    return type(error)(f'orders[{i}]: {error}')


def enum(kind: type[E], value: object, field: str) -> E:
    try:
        return kind(value.value if isinstance(value, kind) else value)
    except ValueError:
        raise InvalidArgument(
            field, f'must be one of {", ".join(k.value for k in kind)}, got {shown(value)}'
        ) from None


def number(value: object, field: str, unit: str, zero: bool = False) -> float:
    """A finite number > 0 (>= 0 with `zero`) as a float, or InvalidArgument naming the field."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        raise InvalidArgument(field, f'must be a number {">=" if zero else ">"} 0 {unit}, got {shown(value)}')
    return float(value)


def kbps(gbps: float) -> int:
    """Gb/s in whole kb/s (a sum of rates kept to the kb/s comes back exact)."""
    return round(gbps * KBPS_PER_GBPS)


def to_kbps(gbps: float) -> float:
    """Gb/s kept to the kb/s: 1.0000004 is 1."""
    return kbps(gbps) / KBPS_PER_GBPS


def labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_LABELS:
        raise InvalidArgument('labels', f'must be at most {MAX_LABELS} key: value pairs')
    for key, label in value.items():
        if not isinstance(key, str) or not LABEL_KEY.fullmatch(key):
            raise InvalidArgument(
                'labels',
                f"key {shown(key)} must be 1-63 lower-case letters, digits, '-' or '_', "
                'starting with a letter',
            )
        if not isinstance(label, str) or len(label) > 63:
            raise InvalidArgument('labels', f'value of {shown(key)} must be text of at most 63 characters')
    return dict(value)


def request_id(value: object) -> str:
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise InvalidArgument(
            'request_id', f"{shown(value)} must be 1-64 letters, digits, '.', '_', ':' or '-'"
        )
    return value


def text(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidArgument('description', f'must be text of at most {MAX_DESCRIPTION} characters')
    return value


def digest(intent: Intent) -> str:
    """A digest of an intent's order, to tell a retry from another order with the same key."""
    order = [
        intent.tenant,
        intent.src,
        intent.dst,
        intent.bandwidth_gbps,
        intent.max_latency_ms,
        intent.protection.value,
        intent.service_class.value,
        intent.description,
        intent.labels,
        intent.src_prefixes,
        intent.dst_prefixes,
        intent.excess_gbps,
    ]
    return hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()[:32]
