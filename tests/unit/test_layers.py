"""The layers of docs/architecture.md, as the imports show them: every import of every module
of ours is checked against what its layer may import."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ('controller', 'topologies', 'naasctl', 'naas')

# layer -> prefixes of our modules it must never import
FORBIDDEN = {
    'topologies.model': ('controller', 'naasctl', 'naas', 'topologies.emulation', 'topologies.lab'),
    'topologies.emulation': ('controller', 'naasctl', 'naas', 'topologies.lab'),
    'topologies.lab': ('controller',),
    'naasctl': ('controller', 'topologies.emulation', 'topologies.lab'),
    'controller.core': (
        'controller.southbound',
        'controller.northbound',
        'controller.store',
        'controller.runtime',
        'controller.assemble',
        'controller.main',
        'naas',
        'naasctl',
        'topologies.emulation',
        'topologies.lab',
    ),
    'controller.southbound': (
        'controller.northbound',
        'controller.store',
        'naas',
        'naasctl',
        'topologies.emulation',
        'topologies.lab',
    ),
    'controller.northbound': (
        'controller.southbound',
        'controller.store',
        'naasctl',
        'topologies.emulation',
        'topologies.lab',
    ),
    'controller.store': (
        'controller.southbound',
        'controller.northbound',
        'naas',
        'naasctl',
        'topologies.emulation',
        'topologies.lab',
    ),
    'controller': ('naasctl', 'topologies.emulation', 'topologies.lab'),
    'topologies': ('controller',),
}
# The pure core takes the time and the events from its callers: no clock, no I/O, no threads.
CORE_FORBIDDEN_LIBRARIES = (
    'os_ken',
    'grpc',
    'socket',
    'threading',
    'time',
    'sqlite3',
    'subprocess',
    'os',
    'prometheus_client',
    'http',
)


def modules():
    for path in sorted(ROOT.glob('*/**/*.py')):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ('controller', 'topologies', 'naasctl'):
            yield '.'.join(relative.with_suffix('').parts).removesuffix('.__init__'), path


def imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def layer(module):
    return max((name for name in FORBIDDEN if module == name or module.startswith(name + '.')), key=len)


@pytest.mark.parametrize('module, path', list(modules()), ids=lambda v: v if isinstance(v, str) else '')
def test_imports_only_go_down(module, path):
    forbidden = FORBIDDEN[layer(module)]
    wrong = [name for name in imports(path) if any(name == f or name.startswith(f + '.') for f in forbidden)]
    assert not wrong, f'{module} ({layer(module)}) imports {", ".join(wrong)}'
    if layer(module) == 'controller.core':
        impure = [name for name in imports(path) if name.split('.')[0] in CORE_FORBIDDEN_LIBRARIES]
        assert not impure, f'{module} is pure core but imports {", ".join(impure)}'


def test_every_module_is_in_a_layer():
    assert len(list(modules())) > 50
    for module, _ in modules():
        assert layer(module), module
