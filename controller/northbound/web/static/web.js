// The naas-fabric web view: the fabric at its sites' coordinates, the intents, and what happens
// to them, read-only. Data: /api/intents (once, and again after a reconnect or a resync) and
// /api/events (server-sent events: fabric, topology, intents, resync, follower). The DOM is
// built once and updated in place: a batch of intent events touches only its intents' rows,
// the event list keeps the latest EVENT_CAP, a span refresh changes attributes only.
'use strict';

const EVENT_CAP = 200;
const SVG = 'http://www.w3.org/2000/svg';
const W = 1000, H = 620, MARGIN = 45, MIN_GAP = 16, FONT = 11;
// Sequential scales that never reach red (a cut span) nor grey (the unmeasured).
const LOAD_SCALE = [[0, [150, 200, 150]], [0.5, [240, 196, 25]], [0.8, [232, 113, 10]], [1, [110, 20, 60]]];
const DELAY_SCALE = [[0, [198, 219, 239]], [1, [8, 48, 107]]];

const view = {
  drawn: false,
  pos: new Map(),        // site id -> [x, y]
  spans: new Map(),      // span id -> {line, label, cut, data}
  pairs: new Map(),      // 'a b' and 'b a' -> span id
  sites: new Map(),      // site id -> {g, data}
  intents: new Map(),    // intent id -> {data, row, cells}
  tenants: new Set(),
  selected: null,
  loaded: false,
  pending: [],           // batches heard while the intents load
  lastFabric: null,
};

const $ = (id) => document.getElementById(id);

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// --- the map ---------------------------------------------------------------------------------

// Equirectangular, x shrunk by cos(mean latitude) (as topologies/lab/fabric_map.py draws the
// demo's map), fitted into the box, then sites pushed apart so nearby campuses stay apart.
function project(sites) {
  const k = Math.cos((sites.reduce((t, s) => t + s.lat, 0) / sites.length) * Math.PI / 180);
  const raw = sites.map((s) => [s.lon * k, -s.lat]);
  const xs = raw.map((p) => p[0]), ys = raw.map((p) => p[1]);
  const x0 = Math.min(...xs), y0 = Math.min(...ys);
  const dx = Math.max(...xs) - x0, dy = Math.max(...ys) - y0;
  const w = W - 2 * MARGIN, h = H - 2 * MARGIN;
  let scale = Math.min(dx ? w / dx : Infinity, dy ? h / dy : Infinity);
  if (!isFinite(scale)) scale = 0;
  const ox = MARGIN + (w - dx * scale) / 2, oy = MARGIN + (h - dy * scale) / 2;
  const pts = raw.map(([x, y]) => [ox + (x - x0) * scale, oy + (y - y0) * scale]);
  for (let round = 0; round < 100; round++) {
    let moved = false;
    for (let i = 0; i < pts.length; i++) {
      for (let j = i + 1; j < pts.length; j++) {
        const p = pts[i], q = pts[j];
        let vx = q[0] - p[0], vy = q[1] - p[1], d = Math.hypot(vx, vy);
        if (d >= MIN_GAP) continue;
        if (d < 1e-6) { vx = Math.cos(i + 2.4 * j); vy = Math.sin(i + 2.4 * j); d = 1; }
        const push = (MIN_GAP - d) / 2 / d + 1e-3;
        p[0] -= vx * push; p[1] -= vy * push; q[0] += vx * push; q[1] += vy * push;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return new Map(sites.map((s, i) => [s.id, pts[i]]));
}

const LABEL_SPOTS = [[7, 4, 'start'], [-7, 4, 'end'], [0, -8, 'middle'], [0, 15, 'middle'],
  [6, -6, 'start'], [-6, -6, 'end'], [6, 13, 'start'], [-6, 13, 'end']];

// Greedy: each label takes the first spot that overlaps no marker nor earlier label.
function placeLabels(pos) {
  const boxes = [...pos.values()].map(([x, y]) => [x - 5, y - 5, x + 5, y + 5]);
  const placed = new Map();
  for (const [id, [x, y]] of pos) {
    const w = 0.62 * FONT * id.length;
    let best = null;
    for (const [dx, dy, anchor] of LABEL_SPOTS) {
      const left = x + dx - { start: 0, middle: w / 2, end: w }[anchor];
      const box = [left, y + dy - 0.8 * FONT, left + w, y + dy + 0.2 * FONT];
      let overlap = boxes.reduce((t, b) => t + Math.max(0, Math.min(box[2], b[2]) - Math.max(box[0], b[0]))
        * Math.max(0, Math.min(box[3], b[3]) - Math.max(box[1], b[1])), 0);
      if (box[0] < 4 || box[2] > W - 4) overlap += 1000;
      if (!best || overlap < best[0]) best = [overlap, [x + dx, y + dy, anchor], box];
      if (!overlap) break;
    }
    placed.set(id, best[1]);
    boxes.push(best[2]);
  }
  return placed;
}

function drawFabric(fabric) {
  $('fabric-name').textContent = fabric.fabric;
  document.title = `naas-fabric: ${fabric.fabric}`;
  view.pos = project(fabric.sites);
  const labels = placeLabels(view.pos);
  const spans = $('spans'), spanLabels = $('span-labels'), sites = $('sites');
  for (const span of fabric.spans) {
    const [x1, y1] = view.pos.get(span.a), [x2, y2] = view.pos.get(span.b);
    const line = svg('line', { class: 'span', x1, y1, x2, y2, 'data-span': span.id, tabindex: 0 }, spans);
    svg('title', {}, line);
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
    const label = svg('text', { class: 'span-label', x: mx, y: my - 4, 'text-anchor': 'middle', display: 'none' }, spanLabels);
    const cut = svg('g', { class: 'cut-mark', 'data-cut': span.id, display: 'none' }, spanLabels);
    svg('circle', { cx: mx, cy: my, r: 8 }, cut);  // a ring and a cross: visible on the shortest span
    svg('path', { d: `M${mx - 4.5},${my - 4.5}L${mx + 4.5},${my + 4.5}M${mx - 4.5},${my + 4.5}L${mx + 4.5},${my - 4.5}` }, cut);
    line.addEventListener('mouseenter', () => showSpan(span.id));
    line.addEventListener('click', () => showSpan(span.id));
    line.addEventListener('focus', () => showSpan(span.id));
    view.spans.set(span.id, { line, label, cut, data: span });
    view.pairs.set(`${span.a} ${span.b}`, span.id);
    view.pairs.set(`${span.b} ${span.a}`, span.id);
  }
  for (const site of fabric.sites) {
    const [x, y] = view.pos.get(site.id), [lx, ly, anchor] = labels.get(site.id);
    const g = svg('g', { class: 'site', 'data-site': site.id, 'data-kind': site.kind }, sites);
    svg('circle', { cx: x, cy: y, r: site.kind === 'pop' ? 4.5 : 5.5 }, g);
    svg('text', { x: lx, y: ly, 'text-anchor': anchor }, g).textContent = site.id;
    svg('title', {}, g).textContent = `${site.id}: ${site.name} (${site.kind}, ${site.region})`;
    view.sites.set(site.id, { g, data: site });
  }
  view.drawn = true;
}

function mix(scale, r) {
  r = Math.max(0, Math.min(1, r));
  for (let i = 1; i < scale.length; i++) {
    const [r0, c0] = scale[i - 1], [r1, c1] = scale[i];
    if (r <= r1) {
      const t = (r - r0) / (r1 - r0 || 1);
      return `rgb(${c0.map((c, k) => Math.round(c + (c1[k] - c) * t)).join(',')})`;
    }
  }
  return `rgb(${scale[scale.length - 1][1].join(',')})`;
}

const gbps = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
const ms = (x) => (x == null ? '–' : x.toFixed(2));

function spanText(span) {
  const lines = [`${span.id}: ${gbps(span.capacity_gbps)} Gb/s each way, ${span.up ? 'up' : 'DOWN (cut)'}`];
  for (const d of span.directions) {
    lines.push(`${d.src}→${d.dst}: utilization ${gbps(d.utilization_gbps)} Gb/s `
      + `(${(100 * d.utilization_gbps / span.capacity_gbps).toFixed(0)}%), committed ${gbps(d.committed_gbps)}, `
      + `peak ${gbps(d.peak_gbps)}, delay ${ms(d.delay_ms)} ms${d.delay_measured ? '' : ' (not measured yet)'}`);
  }
  return lines;
}

function showSpan(id) {
  const s = view.spans.get(id);
  if (s) $('span-detail').textContent = spanText(s.data).join(' · ');
}

// The spans' figures and states, in place; returns what changed state (for the event list).
function updateFabric(fabric) {
  const changes = [];
  const by = $('colour-by').value, showDelay = $('show-delay').checked;
  const maxDelay = Math.max(1e-9, ...fabric.spans.map((s) => Math.max(...s.directions.map((d) => d.delay_ms))));
  let down = 0;
  for (const span of fabric.spans) {
    const s = view.spans.get(span.id);
    if (!s) continue;
    if (s.data.up !== span.up) changes.push(`span ${span.id} ${span.up ? 'up' : 'down'}`);
    s.data = span;
    const load = (key) => Math.max(...span.directions.map((d) => d[key])) / span.capacity_gbps;
    const delay = Math.max(...span.directions.map((d) => d.delay_ms));
    s.line.setAttribute('data-up', String(span.up));
    s.line.setAttribute('data-utilization', load('utilization_gbps').toFixed(3));
    s.line.setAttribute('data-delay-ms', delay.toFixed(3));
    if (span.up) {
      const colour = by === 'delay' ? mix(DELAY_SCALE, delay / maxDelay)
        : mix(LOAD_SCALE, load(by === 'committed' ? 'committed_gbps' : 'utilization_gbps'));
      s.line.setAttribute('stroke', colour);
    } else {
      s.line.removeAttribute('stroke');
      down++;
    }
    s.cut.setAttribute('display', span.up ? 'none' : 'inline');
    s.label.setAttribute('display', showDelay ? 'inline' : 'none');
    s.label.textContent = `${ms(delay)} ms`;
    s.line.firstChild.textContent = spanText(span).join('\n');
  }
  for (const site of fabric.sites) {
    const s = view.sites.get(site.id);
    if (!s) continue;
    if (s.data.connected !== site.connected) changes.push(`switch ${site.id} ${site.connected ? 'connected' : 'gone'}`);
    s.data = site;
    s.g.setAttribute('data-connected', String(site.connected));
  }
  view.down = down;
  view.lastFabric = fabric;
  legend(by, maxDelay);
  counts();
  return changes;
}

function legend(by, maxDelay) {
  const el = $('legend');
  const stops = by === 'delay' ? [0, 0.5, 1].map((r) => [mix(DELAY_SCALE, r), `${ms(r * maxDelay)} ms`])
    : [0, 0.5, 0.8, 1].map((r) => [mix(LOAD_SCALE, r), `${r * 100}%`]);
  el.replaceChildren(...stops.flatMap(([c, t]) => {
    const i = document.createElement('i');
    i.style.background = c;
    return [i, document.createTextNode(t)];
  }), Object.assign(document.createElement('span'), { textContent: ' red dashed ×: cut' }));
}

// --- paths of the selected intent ------------------------------------------------------------

function drawPaths() {
  const g = $('paths');
  g.replaceChildren();
  for (const s of view.spans.values()) s.line.classList.remove('on-primary', 'on-backup');
  for (const s of view.sites.values()) s.g.classList.remove('on-path');
  const it = view.selected && view.intents.get(view.selected);
  $('selected').textContent = it ? `selected ${it.data.id}: ${describe(it.data)}` : 'select an intent to see its paths';
  if (!it) return;
  for (const [role, sites] of [['backup', it.data.backup_path], ['primary', it.data.path]]) {
    if (!sites.length) continue;
    const points = sites.map((id) => view.pos.get(id)).filter(Boolean).map((p) => p.join(',')).join(' ');
    svg('polyline', { class: 'path', points, 'data-role': role, 'data-intent': it.data.id, 'data-sites': sites.join(' ') }, g);
    for (let i = 1; i < sites.length; i++) {
      const span = view.spans.get(view.pairs.get(`${sites[i - 1]} ${sites[i]}`));
      if (span) span.line.classList.add(`on-${role}`);
    }
    if (role === 'primary') for (const id of sites) view.sites.get(id)?.g.classList.add('on-path');
  }
}

function describe(i) {
  const path = i.path.length ? i.path.join(' → ') : 'not placed';
  return `${i.src} → ${i.dst}, ${i.state}; path ${path}${i.backup_path.length ? `; backup ${i.backup_path.join(' → ')}` : ''}`;
}

function select(id) {
  const before = view.selected && view.intents.get(view.selected);
  if (before) before.row.setAttribute('aria-selected', 'false');
  view.selected = view.selected === id ? null : id;
  const now = view.selected && view.intents.get(view.selected);
  if (now) now.row.setAttribute('aria-selected', 'true');
  drawPaths();
}

// --- intents ---------------------------------------------------------------------------------

const COLUMNS = ['id', 'tenant', 'src', 'dst', 'state', 'class', 'gbps', 'latency', 'path'];

function cellText(i, column) {
  switch (column) {
    case 'gbps': return gbps(i.gbps);
    case 'latency': return ms(i.latency_ms);
    case 'path': return i.path.join('→') + (i.backup_path.length ? ` (backup ${i.backup_path.join('→')})` : '');
    default: return i[column];
  }
}

function putIntent(data) {
  let it = view.intents.get(data.id);
  if (!it) {
    const row = document.createElement('tr');
    row.dataset.intent = data.id;
    row.setAttribute('aria-selected', 'false');
    const cells = COLUMNS.map((c) => {
      const td = document.createElement('td');
      td.className = c;
      row.appendChild(td);
      return td;
    });
    row.addEventListener('click', () => select(data.id));
    it = { row, cells, data: null };
    view.intents.set(data.id, it);
    $('intents').tBodies[0].appendChild(row);
    if (!view.tenants.has(data.tenant)) {
      view.tenants.add(data.tenant);
      const option = document.createElement('option');
      option.value = option.textContent = data.tenant;
      $('tenant').appendChild(option);
    }
  }
  COLUMNS.forEach((c, k) => {
    const text = String(cellText(data, c));
    if (it.cells[k].textContent !== text) it.cells[k].textContent = text;
  });
  it.row.dataset.state = data.state;
  it.row.title = `${data.reason}\n${describe(data)}`;
  it.row.hidden = Boolean($('tenant').value) && data.tenant !== $('tenant').value;
  it.data = data;
  if (view.selected === data.id) drawPaths();
}

function dropIntent(id) {
  const it = view.intents.get(id);
  if (!it) return;
  it.row.remove();
  view.intents.delete(id);
  if (view.selected === id) { view.selected = null; drawPaths(); }
}

async function loadIntents() {
  view.loaded = false;
  view.pending = [];
  const answer = await fetch('/api/intents', { cache: 'no-store' });
  if (!answer.ok) return;
  const { intents } = await answer.json();
  const seen = new Set(intents.map((i) => i.id));
  for (const id of [...view.intents.keys()]) if (!seen.has(id)) dropIntent(id);
  const body = $('intents').tBodies[0];
  for (const i of intents) putIntent(i);
  for (const i of intents) body.appendChild(view.intents.get(i.id).row);  // creation order
  view.loaded = true;
  for (const batch of view.pending.splice(0)) applyBatch(batch, false);
  counts();
}

function applyBatch(batch, log = true) {
  if (log) {
    logEvents(batch.events);
    const list = $('events');
    list.dataset.heard = Number(list.dataset.heard || 0) + batch.events.length;  // for tests and the curious
  }
  if (!view.loaded) { view.pending.push(batch); return; }
  for (const i of batch.intents) putIntent(i);
  for (const id of batch.gone) dropIntent(id);
  counts();
}

function counts() {
  const by = {};
  for (const { data } of view.intents.values()) by[data.state] = (by[data.state] || 0) + 1;
  const states = Object.entries(by).sort().map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ');
  $('counts').textContent = `${view.intents.size} intents${states ? ` (${states})` : ''} · ${view.down || 0} spans down`;
}

// --- the event list --------------------------------------------------------------------------

const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false }) + `.${String(Math.floor((t % 1) * 1000)).padStart(3, '0')}`;

function logLines(lines) {
  // lines: [{at, text, kind}] oldest first; newest ends on top; the list keeps EVENT_CAP.
  const list = $('events'), fragment = document.createDocumentFragment();
  for (const { at, text, kind } of lines.slice(-EVENT_CAP).reverse()) {
    const li = document.createElement('li');
    if (kind) li.className = kind;
    const time = document.createElement('time');
    time.textContent = clock(at);
    li.append(time, text);
    fragment.appendChild(li);
  }
  list.prepend(fragment);
  while (list.childElementCount > EVENT_CAP) list.lastElementChild.remove();
}

function logEvents(events) {
  logLines(events.map((e) => {
    const moved = e.old_path.length && e.new_path.length && e.old_path.join() !== e.new_path.join();
    const where = moved ? `: ${e.old_path.join(' ')} → ${e.new_path.join(' ')}` : e.new_path.length ? `: ${e.new_path.join(' ')}` : '';
    return {
      at: e.at,
      text: `${e.intent} (${e.tenant}) ${e.state}, ${e.reason}${where}`,
      kind: moved ? 'move' : e.state === 'FAILED' ? 'failed' : '',
    };
  }));
}

// --- the stream ------------------------------------------------------------------------------

function onFabric(fabric, topology) {
  $('notice').hidden = true;
  if (!view.drawn) drawFabric(fabric);
  const changes = updateFabric(fabric);
  if (topology || changes.length) logLines(changes.map((text) => ({ at: fabric.at, text, kind: 'topology' })));
}

function status(text, kind) {
  $('status').textContent = text;
  $('status').dataset.status = kind;
}

function connect() {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => { status('live', 'live'); loadIntents(); });
  source.addEventListener('error', () => status('reconnecting…', 'reconnecting'));
  source.addEventListener('fabric', (e) => onFabric(JSON.parse(e.data), false));
  source.addEventListener('topology', (e) => onFabric(JSON.parse(e.data), true));
  source.addEventListener('intents', (e) => applyBatch(JSON.parse(e.data)));
  source.addEventListener('resync', () => loadIntents());
  source.addEventListener('follower', (e) => {
    const role = JSON.parse(e.data);
    status('follower', 'follower');
    $('notice').textContent = `${role.message}. This page shows the fabric once this replica leads.`;
    $('notice').hidden = false;
  });
}

document.addEventListener('DOMContentLoaded', () => {
  $('event-cap').textContent = EVENT_CAP;
  $('tenant').addEventListener('change', () => {
    const tenant = $('tenant').value;
    for (const { row, data } of view.intents.values()) row.hidden = Boolean(tenant) && data.tenant !== tenant;
  });
  const redraw = () => view.lastFabric && updateFabric(view.lastFabric);
  $('colour-by').addEventListener('change', redraw);
  $('show-delay').addEventListener('change', redraw);
  drawPaths();
  connect();
});
