"""Measure every span with real traffic between the probe hosts of its two sites.

Each span is measured on its own: temporary flows (cookie MEASURE_COOKIE, above anything a
controller installs) join the two probe ports across that span only, so this works with or
without a controller and never touches tenant traffic (the flows match the probes' MACs).
Delay: ping, median RTT / 2. Throughput: one iperf3 TCP flow, A to B, after a warm-up second.
Spans that share no site are pinged in parallel; throughput runs one span at a time.
"""
import json
import re
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass

from topologies import addressing as addr

MEASURE_COOKIE = 0x4e4d000000000000   # 'NM': naas measurement
MEASURE_PRIORITY = 65000
DELAY_TOLERANCE = (0.05, 0.5)       # within 5% + 0.5 ms of the configured one-way delay
THROUGHPUT_RANGE = (0.90, 1.05)     # a TCP flow gets 90%..105% of the span's bandwidth
IPERF_PORT = 5201


@dataclass
class SpanFigures:
    a: str
    b: str
    delay_ms: float
    mbps: float
    measured_delay_ms: float = None
    measured_mbps: float = None
    up: bool = True

    @property
    def delay_ok(self):
        if self.measured_delay_ms is None:
            return not self.up
        rel, abs_ms = DELAY_TOLERANCE
        return abs(self.measured_delay_ms - self.delay_ms) <= rel * self.delay_ms + abs_ms

    @property
    def throughput_ok(self):
        if self.measured_mbps is None:
            return True  # not measured
        low, high = THROUGHPUT_RANGE
        return low * self.mbps <= self.measured_mbps <= high * self.mbps

    @property
    def ok(self):
        return self.delay_ok and self.throughput_ok

    def as_dict(self):
        return {**asdict(self), 'ok': self.ok}


def measure_spans(emu, spans=None, pings=40, interval_s=0.005, throughput=True, seconds=3.0,
                  sequential=True, progress=lambda message: None):
    """Measure the given spans (default: all) and return SpanFigures in fabric order."""
    fabric = emu.fabric
    spans = list(spans or fabric.spans)
    figures = {s.id: SpanFigures(s.a, s.b, **_configured(emu, s)) for s in spans}
    live = [s for s in spans if figures[s.id].up]
    for batch in ([s] for s in live) if sequential else _rounds(live):
        progress(f'delay: {", ".join(s.id for s in batch)}')
        with _probe_paths(emu, batch):
            pingers = {s.id: _start_ping(emu, s, pings, interval_s) for s in batch}
            for span_id, proc in pingers.items():
                figures[span_id].measured_delay_ms = _one_way_ms(proc, pings, interval_s)
    if throughput:
        for span in live:
            progress(f'throughput: {span.id} ({figures[span.id].mbps:g} Mb/s)')
            with _probe_paths(emu, [span]):
                figures[span.id].measured_mbps = _iperf(emu, span, seconds)
    for f in figures.values():
        emu.measured[f'{f.a}-{f.b}'] = f
    return [figures[s.id] for s in spans]


def _configured(emu, span):
    state = emu.span_state(span.a, span.b)  # what the span is set to now, not the file's prior
    return dict(delay_ms=state['delay_ms'], mbps=state['mbps'], up=state['up'])


def _rounds(spans):
    """Greedy matching rounds: each site's probe host serves one span at a time."""
    rounds = []
    for span in spans:
        for batch in rounds:
            if all({span.a, span.b}.isdisjoint({s.a, s.b}) for s in batch):
                batch.append(span)
                break
        else:
            rounds.append([span])
    return rounds


class _probe_paths:
    """Flows that join the probes of each span's two sites across that span, then go."""

    def __init__(self, emu, spans):
        self.emu, self.spans = emu, spans

    def _ends(self, span):
        sites = self.emu.fabric.sites
        return ((sites[span.a], sites[span.b]), (sites[span.b], sites[span.a]))

    def __enter__(self):
        for span in self.spans:
            for here, there in self._ends(span):
                out = addr.span_port(self.emu.fabric, here.id, there.id)
                _ofctl(self.emu.switch(here.id), 'add-flow',
                       f'cookie={MEASURE_COOKIE:#x},priority={MEASURE_PRIORITY},'
                       f'in_port={addr.PROBE_PORT},actions=output:{out}',
                       f'cookie={MEASURE_COOKIE:#x},priority={MEASURE_PRIORITY},'
                       f'in_port={out},dl_dst={addr.probe_mac(here)},actions=output:{addr.PROBE_PORT}')
                # Static neighbours: no ARP broadcast needs to cross the span.
                self.emu.probe(here.id).cmd(f'ip neigh replace {addr.probe_ip(there)} '
                                            f'lladdr {addr.probe_mac(there)} dev eth0 nud permanent')
        return self

    def __exit__(self, *exc):
        for span in self.spans:
            for here, there in self._ends(span):
                _ofctl(self.emu.switch(here.id), 'del-flows', f'cookie={MEASURE_COOKIE:#x}/-1')
                self.emu.probe(here.id).cmd(f'ip neigh del {addr.probe_ip(there)} dev eth0')


def _ofctl(switch, verb, *flows):
    for flow in flows:
        switch.ofctl(verb, flow)


def _start_ping(emu, span, pings, interval_s):
    target = addr.probe_ip(emu.fabric.sites[span.b])
    # One extra ping: the first one pays for the datapath's flow set-up, so it is dropped.
    return emu.probe(span.a).popen(['ping', '-n', '-c', str(pings + 1), '-i', str(interval_s),
                                    '-W', '1', target], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)


def _finish(proc, timeout_s):
    """Output of a host command, or '' if it had to be killed: never leave one behind."""
    try:
        return proc.communicate(timeout=timeout_s)[0] or ''
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return ''


def _one_way_ms(proc, pings, interval_s):
    out = _finish(proc, pings * interval_s + 10)
    rtts = [(int(seq), float(ms)) for seq, ms in re.findall(r'icmp_seq=(\d+) .*time=([\d.]+) ms', out)]
    samples = [ms for seq, ms in rtts if seq > 1]
    return round(statistics.median(samples) / 2, 3) if samples else None


def _iperf(emu, span, seconds):
    server, client = emu.probe(span.b), emu.probe(span.a)
    srv = server.popen(['iperf3', '-s', '-1', '-p', str(IPERF_PORT)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(server, IPERF_PORT)
        cli = client.popen(['iperf3', '-c', addr.probe_ip(emu.fabric.sites[span.b]), '-p', str(IPERF_PORT),
                            '-t', str(seconds), '-O', '1', '-J', '--connect-timeout', '3000'],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out = _finish(cli, seconds + 20)
        try:
            return round(json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6, 3)
        except (ValueError, KeyError):
            return 0.0  # the flow failed: nothing carried, reported as such
    finally:
        if srv.poll() is None:
            srv.terminate()
        _finish(srv, 5)


def _wait_listening(host, port, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if host.cmd(f'ss -Hltn sport = :{port}').strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f'iperf3 did not listen on {host.name}:{port}')
