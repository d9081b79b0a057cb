"""Packaging: setup.cfg gives ranges and extras, requirements.lock the exact versions `make`
installs. The lock pins every requirement inside its range, and the client (naasctl and
naasctl.client, the base install) loads nothing that only an extra installs."""

import configparser
import fnmatch
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = 'naas-fabric'


@cache
def _options():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    return cfg


def _requirements(text):
    """Requirements by canonical name; the project's own extras (`naas-fabric[controller]`) left out."""
    found = [Requirement(line) for line in text.split('\n') if line.strip()]
    return {canonicalize_name(r.name): r for r in found if canonicalize_name(r.name) != PROJECT}


def base_requirements():
    return _requirements(_options()['options']['install_requires'])


def extras():
    return {name: _requirements(text) for name, text in _options()['options.extras_require'].items()}


@cache
def locked():
    """requirements.lock: the pinned version of each distribution, by canonical name."""
    pins = {}
    for line in (ROOT / 'requirements.lock').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            name, version = line.split('==')
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_setup_host_installs_every_extra_and_the_lab_brings_the_controller():
    installed = re.search(r"-e '\.\[([^\]]+)\]'", (ROOT / 'scripts' / 'setup-host.sh').read_text())
    assert set(installed.group(1).split(',')) == set(extras())
    assert f'{PROJECT}[controller]' in _options()['options.extras_require']['lab'].split()


def test_the_lock_pins_every_requirement_inside_its_range():
    every = [base_requirements(), *extras().values()]
    for requirements in every:
        for name, requirement in requirements.items():
            assert name in locked(), f'requirements.lock pins no {name}'
            assert requirement.specifier.contains(locked()[name], prereleases=True), (
                f'requirements.lock: {name}=={locked()[name]} is outside setup.cfg: {requirement}'
            )


# Run in a fresh interpreter with every module of the given distributions made unimportable, as
# on a machine that installed only the base requirements.
WITHOUT = """
import importlib.metadata, json, sys
from packaging.utils import canonicalize_name
absent = set(json.loads(sys.argv[1]))
hidden = {
    module
    for module, dists in importlib.metadata.packages_distributions().items()
    if all(canonicalize_name(d) in absent for d in dists)
}

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in hidden:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)

sys.meta_path.insert(0, Absent())
import naasctl.client
import naasctl.main
naasctl.main.main(['--help'])
"""


def test_the_client_runs_without_any_distribution_only_an_extra_installs():
    only_in_extras = {name for reqs in extras().values() for name in reqs} - set(base_requirements())
    assert {'os-ken', 'scipy', 'mininet'} <= only_in_extras
    run = subprocess.run(
        [sys.executable, '-c', WITHOUT, json.dumps(sorted(only_in_extras))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith('usage: naasctl')


def test_every_package_ships_and_so_do_the_web_views_assets():
    """A package left out of setup.cfg, or an asset of the web view no package_data glob takes,
    would be missing from an installed controller (it works from a checkout only)."""
    packages = set(_options()['options']['packages'].split())
    for top in ('controller', 'topologies', 'naasctl'):
        for init in (ROOT / top).glob('**/__init__.py'):
            package = '.'.join(init.parent.relative_to(ROOT).parts)
            assert package in packages, f'setup.cfg: packages lacks {package}'
    web = ROOT / 'controller' / 'northbound' / 'web'
    globs = [g.strip() for g in _options()['options.package_data']['controller.northbound.web'].split(',')]
    assets = [p.relative_to(web).as_posix() for p in (web / 'static').iterdir()]
    assert sorted(assets) == ['static/index.html', 'static/web.css', 'static/web.js']
    for asset in assets:
        assert any(fnmatch.fnmatch(asset, g) for g in globs), f'setup.cfg: package_data misses {asset}'
