"""A shipped fabric with many tenants, each at every data-center site: what the API's
benchmarks and load tests order on (each tenant may have one intent per site pair, so many
tenants give many intents; a tenant per client keeps clients apart)."""

from pathlib import Path

import yaml

from topologies.model.fabric import SHIPPED, load_fabric


def with_tenants(base, count, path):
    """Write fabric `base` (a shipped name) with `count` tenants t01, t02, ... at all of its
    data-center sites (all of its sites, if it names none) to `path`; returns the Fabric,
    validated."""
    doc = yaml.safe_load((SHIPPED / f'{base}.yaml').read_text())
    campuses = [s['id'] for s in doc['sites'] if s['kind'] == 'datacenter'] or [s['id'] for s in doc['sites']]
    width = max(2, len(str(count)))
    doc.update(
        name=f'{base}-{count}-tenants',
        description=f'{base} with {count} tenants at every campus',
        tenants=[{'id': f't{n:0{width}d}', 'sites': campuses} for n in range(1, count + 1)],
    )
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_fabric(str(path))
