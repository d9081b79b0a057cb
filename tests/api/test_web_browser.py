"""The web view in a real browser (headless Debian chromium through Selenium), on a controller
in this process with the loopback southbound on lumen-qts: the page shows every span and site,
selecting an intent highlights its paths, a span that goes down shows at once with the move it
caused, and the page stays live with 1,000 intents and 50 events a second. The span cut of the
real emulation is tests/integration/test_web.py. Screenshots: tests/browser.py."""

import itertools
import threading
import time

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from naasctl.client import make_order
from tests.browser import browser
from topologies.model import addressing as addr
from topologies.model.fabric import SHIPPED, load_fabric

CAMPUSES = [s.id for s in load_fabric('lumen-qts').sites.values() if s.kind == 'datacenter']
PAIRS = [(a, z) for i, a in enumerate(CAMPUSES) for z in CAMPUSES[i + 1 :]]
MANY = [(f't{k}', a, z) for k in range(1, 10) for a, z in PAIRS][:1000]  # an intent per tenant and pair


@pytest.fixture
def page(serve, request, tmp_path):
    """(served lumen-qts controller, Browser on its web view once the page is live). Its
    tenants are lumen-qts's and t1..t9 and churn0..churn7 at every campus, for a thousand
    intents (one per tenant and pair of sites)."""
    doc = yaml.safe_load((SHIPPED / 'lumen-qts.yaml').read_text())
    names = [f't{k}' for k in range(1, 10)] + [f'churn{k}' for k in range(8)]
    doc['tenants'] += [{'id': n, 'name': n, 'sites': CAMPUSES} for n in names]
    (tmp_path / 'lumen-qts.yaml').write_text(yaml.safe_dump(doc))
    served = serve(str(tmp_path / 'lumen-qts.yaml'), http=('127.0.0.1', 0))
    with browser(request, tmp_path) as b:
        b.load = lambda: b.open(served.controller.http.url, len(served.fabric.spans))
        yield served, b


def spans_of(path):
    return {frozenset(hop) for hop in itertools.pairwise(path)}


def test_the_page_shows_every_span_and_site_of_lumen_qts(page):
    served, b = page
    b.load()
    assert sorted(b.spans()) == sorted(s.id for s in served.fabric.spans)
    sites = b.js("return [...document.querySelectorAll('#sites g.site')].map(g => g.dataset.site)")
    assert sorted(sites) == sorted(served.fabric.sites)
    assert b.driver.find_element(By.ID, 'fabric-name').text == 'lumen-qts'
    # every site inside the drawing, none on top of another
    places = b.js(
        "return [...document.querySelectorAll('#sites circle')]"
        ".map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')])"
    )
    assert all(0 <= x <= 1000 and 0 <= y <= 620 for x, y in places)
    assert len({(round(x), round(y)) for x, y in places}) == len(places)
    b.shot('loaded')


def test_selecting_an_intent_highlights_its_primary_and_backup_paths(page):
    served, b = page
    chosen = served.client('acme').create_intent('phx1', 'iad1', 10, protected=True)
    other = served.client('globex').create_intent('atl1', 'pdx2', 5)
    b.load()
    both = sorted([[chosen.id, 'INSTALLED'], [other.id, 'INSTALLED']])
    b.wait('both intents', lambda: sorted(b.rows()) == both)
    b.driver.find_element(By.CSS_SELECTOR, f'tr[data-intent="{chosen.id}"]').click()
    primary = b.driver.find_element(By.CSS_SELECTOR, '#paths polyline[data-role="primary"]')
    backup = b.driver.find_element(By.CSS_SELECTOR, '#paths polyline[data-role="backup"]')
    assert primary.get_attribute('data-sites').split() == list(chosen.path)
    assert backup.get_attribute('data-sites').split() == list(chosen.backup_path)
    assert b.highlighted('primary') == spans_of(chosen.path)
    assert b.highlighted('backup') == spans_of(chosen.backup_path)
    assert chosen.id in b.driver.find_element(By.ID, 'selected').text
    b.shot('selected')
    Select(b.driver.find_element(By.ID, 'tenant')).select_by_value('globex')
    assert b.rows() == [[other.id, 'INSTALLED']]
    b.driver.find_element(By.CSS_SELECTOR, f'tr[data-intent="{other.id}"]').click()
    assert b.highlighted('primary') == spans_of(other.path) and not b.highlighted('backup')


def test_a_span_down_shows_at_once_with_the_move_it_caused(page):
    """The loopback southbound told that a span's port went down (as os-ken's port status
    would): the page marks the span cut, lists the move with its reason, and the selected
    intent's highlighted path follows it."""
    served, b = page
    intent = served.client('acme').create_intent('phx1', 'iad1', 10)
    b.load()
    b.wait('the intent', lambda: b.rows() == [[intent.id, 'INSTALLED']])
    b.driver.find_element(By.CSS_SELECTOR, f'tr[data-intent="{intent.id}"]').click()
    a, z = intent.path[-2:]
    span = next(s.id for s in served.fabric.spans if {s.a, s.b} == {a, z})
    dpid, port = addr.dpid(served.fabric.sites[a]), addr.span_port(served.fabric, a, z)
    started = time.monotonic()
    served.call(lambda core, now: core.port_state(dpid, port, False, now))
    took = b.wait('the span cut', lambda: not b.spans()[span], timeout_s=2.0)
    cut = b.driver.find_element(By.CSS_SELECTOR, f'#spans line[data-span="{span}"]')
    assert cut.value_of_css_property('stroke-dasharray') not in ('none', '')
    b.wait('the move', lambda: any(span in t for t in b.events('move')), timeout_s=2.0)
    assert any(f'span {span} down' in t for t in b.events('topology'))
    b.wait('the new path', lambda: frozenset(span.split('-')) not in b.highlighted('primary'), timeout_s=2.0)
    b.shot('span-down')
    print(
        f'span {span} shown cut {took * 1e3:.0f} ms after it went down ({time.monotonic() - started:.2f} s)'
    )


# In the page: how late a 50 ms timer fires (the main thread frozen), and how long each stream
# message's handling takes (what the page itself spends, less sensitive to a loaded machine).
PROBES = """
window.gaps = []; window.work = []; let last = performance.now();
setInterval(() => { const now = performance.now(); window.gaps.push(now - last); last = now; }, 50);
for (const name of ['applyBatch', 'updateFabric']) {
  const handle = window[name];
  window[name] = (...args) => {
    const t = performance.now();
    try { return handle(...args); } finally { window.work.push(performance.now() - t); }
  };
}
"""


def test_the_page_stays_live_with_1000_intents_and_50_events_a_second(page):
    """1,000 intents, then intents created and withdrawn for 10 s at 50 events a second: the
    page handles each message in at most 100 ms and spends at most a tenth of its time on them
    (measured: 3-4%, at most 40 ms),
    its main thread never freezes (a 50 ms timer in it fires within a second: on a loaded CI
    machine the browser waits for a core too), the event list stays at its cap, and once the
    load stops the page agrees with the API within 2 s."""
    served, b = page
    client = served.client('operator')
    for k in range(0, len(MANY), 500):
        made = client.create_intents([make_order(a, z, 0.01, tenant=t) for t, a, z in MANY[k : k + 500]])
        assert all(r.HasField('intent') for r in made)
    started = time.monotonic()
    b.load()
    b.wait('1,000 intents', lambda: len(b.rows()) == 1000, timeout_s=10.0)
    loaded_s = time.monotonic() - started
    b.js(PROBES)

    stop, made = threading.Event(), []

    def churn():  # a create (placing, installing, installed) and a delete (withdrawing, withdrawn): 5 events
        k = 0
        next_at = time.monotonic()
        while not stop.is_set():
            made.append(client.create_intent(make_order('phx1', 'iad1', 0.01, tenant=f'churn{k % 8}')).id)
            if len(made) > 5:
                client.delete_intent(made.pop(0))
            k += 1
            next_at += 0.09  # 5 events each: 55 a second
            time.sleep(max(0.0, next_at - time.monotonic()))

    heard_before = int(b.js("return document.getElementById('events').dataset.heard || 0"))
    load = threading.Thread(target=churn)
    began = time.monotonic()
    load.start()
    time.sleep(10)
    stop.set()
    load.join()
    seconds = time.monotonic() - began
    expected = {i.id: i for i in client.list_intents() if i.state}
    settle = b.wait('the same intents as the API', lambda: len(b.rows()) == len(expected), timeout_s=2.0)
    heard = int(b.js("return document.getElementById('events').dataset.heard")) - heard_before
    gaps, work = b.js('return window.gaps'), b.js('return window.work')
    listed = b.js("return document.querySelectorAll('#events li').length")
    b.shot('loaded-1000')
    print(
        f'1,000 intents shown {loaded_s:.1f} s after the page opened; {heard / seconds:.0f} events/s '
        f'for {seconds:.0f} s; {len(work)} messages handled in {sum(work):.0f} ms (at most '
        f'{max(work):.1f} ms); the 50 ms timer at most {max(gaps):.0f} ms apart; '
        f'caught up {settle:.2f} s after'
    )
    assert heard / seconds >= 45, heard
    assert listed == 200
    assert max(work) < 100 and sum(work) < 0.1 * seconds * 1e3, sorted(work)[-5:]
    assert max(gaps) < 1000, sorted(gaps)[-5:]
