"""What reading a scenario's steps needs besides the Validator: the fabric, the intents'
names, which traffic runs at each step, and the values steps are made of (hosts written
`tenant@site`, spans written [SITE, SITE], short names)."""

import re
from typing import NamedTuple

SHORT_NAME_RULE = re.compile(r'^[a-z0-9][a-z0-9-]{0,31}$')  # intent and traffic names


class Host(NamedTuple):
    """A tenant's host at a site, written `tenant@site` in a scenario file; a (tenant, site)
    pair, as topologies.lab.lab.Lab takes hosts."""

    tenant: str
    site: str

    def __str__(self):
        return f'{self.tenant}@{self.site}'


class Reader:
    """Reads the steps in order, into the Validator `v`. `fabric` is None when the scenario's
    fabric could not be loaded: values are then checked for their form only."""

    def __init__(self, v, fabric, intent_names, replicas=0):
        self.v, self.fabric, self.intent_names = v, fabric, intent_names
        self.replicas = replicas  # controller replicas (0: one controller, no etcd)
        self.running, self.stopped = {}, {}  # traffic name -> the step that started/stopped it

    def replica(self, value, key):
        """'leader' or a replica's index, in a scenario with `replicas`; else None."""
        if not self.replicas:
            self.v.problem(key, 'needs controller replicas: give the scenario `replicas: N` (docs/ha.md)')
            return None
        if value == 'leader' or (type(value) is int and 0 <= value < self.replicas):
            return value
        self.v.problem(key, f"must be 'leader' or a replica from 0 to {self.replicas - 1}, got {value!r}")
        return None

    def etcd_member(self, value, key):
        """An etcd member's index (the lab's cluster has 3), in a scenario with `replicas`."""
        if not self.replicas:
            self.v.problem(key, 'needs controller replicas on etcd: give the scenario `replicas: N`')
            return None
        if type(value) is int and 0 <= value < 3:
            return value
        self.v.problem(key, f'must be an etcd member from 0 to 2, got {value!r}')
        return None

    def number(self, value, key, **rule):
        """A number written as the value itself (`wait: 5`); Validator.number's rules."""
        return self.v.value_number(value, key, **rule)

    def short_name(self, value, key):
        """An intent's or traffic's name (^[a-z0-9][a-z0-9-]{0,31}$), or None."""
        if not (isinstance(value, str) and SHORT_NAME_RULE.match(value)):
            self.v.problem(
                key,
                'must be 1-32 lowercase letters, digits or "-", starting with a letter or digit, '
                f'got {value!r}',
            )
            return None
        return value

    def tenant(self, value, key):
        """A tenant id of the fabric (any text without a fabric), or None."""
        if not isinstance(value, str):
            self.v.problem(key, f'must be a tenant id, got {value!r}')
            return None
        fabric = self.fabric
        if fabric is not None and value not in fabric.tenants:
            self.v.problem(
                key,
                f'unknown tenant {value!r} (tenants of fabric {fabric.name}: '
                f'{", ".join(fabric.tenants) or "none"})',
            )
            return None
        return value

    def has_port(self, key, tenant, site):
        """Whether `tenant` (known) has a port at `site`; a problem at `key` if not."""
        fabric = self.fabric
        if fabric is None or site in fabric.tenants[tenant].sites:
            return True
        self.v.problem(
            key,
            f'tenant {tenant} has no port at site {site!r} '
            f'(its sites: {", ".join(fabric.tenants[tenant].sites) or "none"})',
        )
        return False

    def site(self, value, key):
        """A site id of the fabric, or None."""
        if not isinstance(value, str) or not value:
            self.v.problem(key, f'must be a site id, such as dca, got {value!r}')
            return None
        if self.fabric is not None and value not in self.fabric.sites:
            self.v.problem(key, f'unknown site {value!r} in fabric {self.fabric.name}')
            return None
        return value

    def span(self, value, key):
        """A span written [SITE, SITE] in either order, as the fabric's (span.a, span.b)."""
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(s, str) for s in value)):
            self.v.problem(key, f'must be a list of two site ids, such as [dca, dcb], got {value!r}')
            return None
        fabric = self.fabric
        if fabric is None:
            return tuple(value)
        unknown = [site for site in value if site not in fabric.sites]
        span = fabric.span(*value)
        if unknown:
            self.v.problem(key, f'unknown site {unknown[0]!r} in fabric {fabric.name}')
        elif span is None:
            spans = ', '.join(s.id for s in fabric.spans_of(value[0]))
            self.v.problem(
                key,
                f'no span between {value[0]} and {value[1]} in fabric {fabric.name} '
                f'(spans of {value[0]}: {spans})',
            )
        return (span.a, span.b) if span else None

    def host(self, value, key):
        """The Host written `tenant@site`, or None."""
        tenant, at, site = value.partition('@') if isinstance(value, str) else ('', '', '')
        if not (tenant and at and site):
            self.v.problem(key, f'must be TENANT@SITE, such as red@dca, got {value!r}')
            return None
        if self.tenant(tenant, key) and self.has_port(key, tenant, site):
            return Host(tenant, site)
        return None

    def host_pair(self, src, dst, where, same_tenant, hint=''):
        """`from` and `to` (read as src and dst) are two different hosts, of one tenant if
        `same_tenant`; problems at `where.to`."""
        if src and src == dst:
            self.v.problem(f'{where}.to', f'must be another host than from ({src})')
        elif src and dst and same_tenant and src.tenant != dst.tenant:
            self.v.problem(
                f'{where}.to',
                f'{src} and {dst} are hosts of different tenants, which never reach each other{hint}',
            )
