"""The web view of a real lab (Open vSwitch, Mininet, span emulators, the controller process
serving HTTP) in headless chromium: lumen-qts's every span shown, an intent's paths
highlighted, and a span cut by the emulation shown on the page within 2 s, with the move it
caused. Screenshots: tests/browser.py."""

import itertools
import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from tests.browser import browser
from tests.integration.helpers import installed, order
from topologies.lab.controller_process import free_port
from topologies.lab.lab import Lab
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

LUMEN = load_fabric('lumen-qts')
WEB_VIEW = re.compile(r'^the web view \(open on this machine\): (http://127\.0\.0\.1:\d+/)')


def spans_of(path):
    return {frozenset(hop) for hop in itertools.pairwise(path)}


def test_a_span_cut_shows_on_the_web_view_within_2_s(tmp_path, request):
    with Lab(LUMEN, tmp_path) as lab, browser(request, tmp_path) as b:
        (intent_id,) = order(lab.controller, ('acme', 'phx1', 'iad1', 10, {'protected': True}))
        (intent,) = installed(lab.controller, intent_id)
        b.open(lab.controller.web_url, len(LUMEN.spans))
        assert sorted(b.spans()) == sorted(s.id for s in LUMEN.spans)
        b.wait('the intent', lambda: b.rows() == [[intent.id, 'INSTALLED']])
        b.driver.find_element(By.CSS_SELECTOR, f'tr[data-intent="{intent.id}"]').click()
        assert b.highlighted('primary') == spans_of(intent.path)
        assert b.highlighted('backup') == spans_of(intent.backup_path)
        b.shot('before')
        a, z = intent.path[len(intent.path) // 2 - 1 : len(intent.path) // 2 + 1]  # a span mid-way
        span = next(s.id for s in LUMEN.spans if {s.a, s.b} == {a, z})
        cut = time.monotonic()
        lab.span_down(a, z)
        shown = b.wait(f'span {span} cut', lambda: not b.spans()[span], timeout_s=2.0)
        print(f'span {span} cut by the emulation: on the page {shown * 1e3:.0f} ms later')
        b.wait('the move', lambda: any(span in line for line in b.events('move')), timeout_s=5.0)
        b.wait('the new path', lambda: frozenset((a, z)) not in b.highlighted('primary'), timeout_s=5.0)
        assert sum(not up for up in b.spans().values()) == 1
        b.shot('cut')
        assert time.monotonic() - cut < 10
    assert lab.status == 0


def test_naas_lab_up_with_a_controller_prints_its_web_view():
    """`naas-lab up --with-controller`: the controller started here serves the web view at the
    URL printed, on loopback, and with `--metrics-port` the emulation's own figures (every
    relayed span's); `exit` at the Mininet CLI stops everything."""
    port = free_port()
    up = ['up', '--fabric', 'triangle', '--with-controller', '--metrics-port', str(port)]
    p = subprocess.Popen(
        [sys.executable, '-m', 'topologies.lab.main', *up],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said, figures = [], f"the emulation's figures: http://127.0.0.1:{port}/metrics"
        while not (url := next((m for line in said if (m := WEB_VIEW.search(line))), None)) or not any(
            figures in line for line in said
        ):
            line = p.stderr.readline()
            assert line, ''.join(said)
            said.append(line)
        with urllib.request.urlopen(url.group(1) + 'api/fabric', timeout=5) as answer:
            shown = {s['id'] for s in json.load(answer)['spans']}
        assert shown == {s.id for s in load_fabric('triangle').spans}
        with urllib.request.urlopen(url.group(1), timeout=5) as answer:
            assert b'/static/web.js' in answer.read()
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5) as answer:
            relayed = set(
                re.findall(r'naas_emulation_span_delay_seconds\{span="([^"]+)"\}', answer.read().decode())
            )
        assert relayed == {s.id for s in load_fabric('triangle').spans}
        p.stdin.write('exit\n')
        p.stdin.close()
        assert p.wait(60) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
