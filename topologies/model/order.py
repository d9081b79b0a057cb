"""An order: what a tenant asks of the fabric ("200 Gb/s from phx1 to iad1, at most 25 ms,
protected"). One type for everyone who spells one: the controller's core (which checks it
against the fabric and admits it), the gRPC API's conversion, the client library, naasctl and
its orders files, and scenario files.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Protection(str, enum.Enum):
    NONE = 'NONE'
    PROTECTED = 'PROTECTED'  # a span-disjoint backup, pre-installed in the switches


class ServiceClass(str, enum.Enum):
    """Allocated in this order, as SWAN and B4 do."""

    REALTIME = 'REALTIME'
    PRIORITY = 'PRIORITY'
    BULK = 'BULK'


@dataclass(frozen=True)
class Order:
    """An E-Line between two of a tenant's sites. Plain data: the core checks every field
    against the fabric and names the first bad one (as the API does: `src_site`, ...)."""

    tenant: str  # '' in a tenant's own request: its token says who it is
    src: str  # site ids
    dst: str
    bandwidth_gbps: float  # committed, both ways
    max_latency_ms: float | None = None  # one way; None: no bound
    protection: Protection = Protection.NONE
    service_class: ServiceClass = ServiceClass.PRIORITY
    excess_gbps: float = 0.0  # above the committed rate, when the spans have room
    description: str = ''
    labels: Mapping[str, str] = field(default_factory=dict)
    src_prefixes: tuple[str, ...] = ()  # CIDRs within the tenant's subnet at src (empty: all)
    dst_prefixes: tuple[str, ...] = ()
    request_id: str = ''  # the client's idempotency key: a retry gets the intent it made
