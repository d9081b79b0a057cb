"""Measure every span with real traffic between the probe hosts of its two sites.

Each span is measured on its own: temporary flows (cookie MEASURE_COOKIE, above anything a
controller installs) join the two probe ports across that span only, so this works with or
without a controller and never touches tenant traffic (the flows match the probes' MACs).
Delay: 40 pings 5 ms apart; the span's delay is the smallest RTT / 2, the propagation delay
as TCP and BBR estimate it (the emulator never delivers early, so scheduling noise on a busy
machine only adds to the other samples), and the median RTT / 2 is reported beside it.
Throughput: one iperf3 TCP flow, A to B, after a warm-up second. One span at a time: measured
in parallel on two cores, the spans' probes slowed each other down by up to a millisecond.

While a span is measured, the span emulators account how late they delivered frames
(lateness.py): a span measured while any span emulator was late beyond its tolerance has
figures that are no evidence (`inconclusive`), whether they look right or not.
"""

import json
import re
import statistics
import subprocess
import time
from dataclasses import KW_ONLY, asdict, dataclass

from topologies.emulation import budget
from topologies.emulation.lateness import SpanLateness
from topologies.model import addressing as addr

MEASURE_COOKIE = 0x4E4D000000000000  # 'NM': naas measurement
MEASURE_PRIORITY = 65000
DELAY_TOLERANCE = (0.05, 0.5)  # within 5% + 0.5 ms of the configured one-way delay
THROUGHPUT_RANGE = (0.90, 1.05)  # a TCP flow gets 90%..105% of the span's bandwidth
IPERF_PORT = 5201
# A span off by more than the tolerance, or measured while a span emulator was late beyond
# its own, is measured once more before it is called off or inconclusive: on two shared
# cores, a burst of other work (62 OVS daemons' periodic runs, a stall of the whole VM) can
# hold a whole 0.2 s sample back; a span that is really off is off both times.
DELAY_ATTEMPTS = 2


def delay_within(configured_ms, measured_ms):
    """Whether a measured one-way delay is the configured one, within DELAY_TOLERANCE."""
    rel, abs_ms = DELAY_TOLERANCE
    return abs(measured_ms - configured_ms) <= rel * configured_ms + abs_ms


@dataclass
class SpanFigures:
    a: str
    b: str
    delay_ms: float
    mbps: float
    _: KW_ONLY
    measured_delay_ms: float = None  # smallest RTT / 2
    median_delay_ms: float = None  # median RTT / 2: the delay plus this machine's jitter
    measured_mbps: float = None
    up: bool = True
    attempts: int = 0  # delay measurements taken (see DELAY_ATTEMPTS)
    lateness: SpanLateness = None  # its emulator's, over the window shown (None: joined in the kernel)
    lying: tuple = ()  # every span (SpanLateness) that lied while this one was measured

    @property
    def delay_ok(self):
        if self.measured_delay_ms is None:
            return not self.up
        return delay_within(self.delay_ms, self.measured_delay_ms)

    @property
    def throughput_ok(self):
        if self.measured_mbps is None:
            return True  # not measured
        low, high = THROUGHPUT_RANGE
        return low * self.mbps <= self.measured_mbps <= high * self.mbps

    @property
    def ok(self):
        return self.delay_ok and self.throughput_ok

    @property
    def inconclusive(self):
        """Measured while the emulation lied: its figures are no evidence either way."""
        return bool(self.lying)

    def as_dict(self):
        return {
            **asdict(self),
            'lateness': None if self.lateness is None else budget.as_dict(self.lateness),
            'lying': [budget.as_dict(s) for s in self.lying],
            'ok': self.ok,
            'inconclusive': self.inconclusive,
        }


def measure_spans(
    emu, spans=None, pings=40, interval_s=0.005, throughput=True, seconds=3.0, progress=lambda message: None
):
    """Measure the given spans (default: all, in fabric order); a span that is down is skipped.
    Each one's `lateness` and `lying` are over its own (last) measurement: a delay off its
    tolerance, or taken while a span emulator lied, is taken again, up to DELAY_ATTEMPTS times."""
    figures = []
    for span in spans or emu.fabric.spans:
        f = SpanFigures(span.a, span.b, **_configured(emu, span))
        mark = emu.lateness_mark()
        if f.up:
            progress(f'{span.id}: delay' + (f', throughput at {f.mbps:g} Mb/s' if throughput else ''))
            with _probe_paths(emu, span):
                for attempt in range(1, DELAY_ATTEMPTS + 1):
                    f.attempts, mark = attempt, emu.lateness_mark()
                    f.measured_delay_ms, f.median_delay_ms = _one_way_ms(
                        _start_ping(emu, span, pings, interval_s), pings, interval_s
                    )
                    if f.delay_ok and not budget.lying(emu.lateness(since=mark)):
                        break
                if throughput:
                    f.measured_mbps = _iperf(emu, span, seconds)
        lateness = emu.lateness(since=mark)
        f.lateness = lateness.get(span.id)
        if f.up:  # a span that is down was not measured: nothing to doubt
            f.lying = tuple(budget.lying(lateness))
        emu.measured[span.id] = f
        figures.append(f)
    return figures


def _configured(emu, span):
    state = emu.span_state(span.a, span.b)  # what the span is set to now, not the file's prior
    return dict(delay_ms=state['delay_ms'], mbps=state['mbps'], up=state['up'])


class _probe_paths:
    """Flows that join the probes of a span's two sites across that span, then go."""

    def __init__(self, emu, span):
        sites = emu.fabric.sites
        self.emu = emu
        self.ends = ((sites[span.a], sites[span.b]), (sites[span.b], sites[span.a]))

    def __enter__(self):
        try:
            self._install()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _install(self):
        flow = f'cookie={MEASURE_COOKIE:#x},priority={MEASURE_PRIORITY}'
        for here, there in self.ends:
            out = addr.span_port(self.emu.fabric, here.id, there.id)
            switch = self.emu.switch(here.id)
            switch.ofctl('add-flow', f'{flow},in_port={addr.PROBE_PORT},actions=output:{out}')
            switch.ofctl(
                'add-flow',
                f'{flow},in_port={out},dl_dst={addr.probe_mac(here)},actions=output:{addr.PROBE_PORT}',
            )
            # Static neighbours: no ARP broadcast needs to cross the span.
            self.emu.probe(here.id).cmd(
                f'ip neigh replace {addr.probe_ip(there)} '
                f'lladdr {addr.probe_mac(there)} dev eth0 nud permanent'
            )

    def __exit__(self, *exc):
        """Best effort on both ends: one failing must not leave the other's flows behind."""
        for here, there in self.ends:
            try:
                self.emu.switch(here.id).ofctl('del-flows', f'cookie={MEASURE_COOKIE:#x}/-1')
            except RuntimeError:
                pass
            self.emu.probe(here.id).cmd(f'ip neigh del {addr.probe_ip(there)} dev eth0')


def _start_ping(emu, span, pings, interval_s):
    target = addr.probe_ip(emu.fabric.sites[span.b])
    # One extra ping: the first one pays for the datapath's flow set-up, so it is dropped.
    return emu.probe(span.a).popen(
        ['ping', '-n', '-c', str(pings + 1), '-i', str(interval_s), '-W', '1', target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc, timeout_s):
    """Output of a host command, or '' if it had to be killed: never leave one behind."""
    try:
        return proc.communicate(timeout=timeout_s)[0] or ''
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return ''


def _one_way_ms(proc, pings, interval_s):
    """(smallest, median) RTT / 2 of the pings, or (None, None) if none came back."""
    out = finish(proc, pings * interval_s + 10)
    rtts = [(int(seq), float(ms)) for seq, ms in re.findall(r'icmp_seq=(\d+) .*time=([\d.]+) ms', out)]
    samples = [ms for seq, ms in rtts if seq > 1]
    if not samples:
        return None, None
    return round(min(samples) / 2, 3), round(statistics.median(samples) / 2, 3)


def _iperf(emu, span, seconds):
    server, client = emu.probe(span.b), emu.probe(span.a)
    srv = server.popen(
        ['iperf3', '-s', '-1', '-p', str(IPERF_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(server, IPERF_PORT)
        cli = client.popen(
            [
                'iperf3',
                '-c',
                addr.probe_ip(emu.fabric.sites[span.b]),
                '-p',
                str(IPERF_PORT),
                '-t',
                str(seconds),
                '-O',
                '1',
                '-J',
                '--connect-timeout',
                '3000',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        out = finish(cli, seconds + 20)
        try:
            return round(json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6, 3)
        except (ValueError, KeyError):
            return 0.0  # the flow failed: nothing carried, reported as such
    finally:
        if srv.poll() is None:
            srv.terminate()
        finish(srv, 5)


def wait_listening(host, port, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if host.cmd(f'ss -Hltn sport = :{port}').strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f'iperf3 did not listen on {host.name}:{port}')
