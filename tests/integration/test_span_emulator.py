"""The span emulator (naas-spand) on real veths, one process serving two spans:

    span:  ns A: ha<pid> 10.99.0.1 <-veth-> xr<pid>  [span]  yr<pid> <-veth-> hb<pid> 10.99.0.2 :ns B
    wire:  wa<pid> <-veth-> wxa<pid>  [wire]  wxb<pid> <-veth-> wb<pid>   (all in this namespace)

Pings and TCP cross `span`; the tests send and capture raw frames on `wire`, with the
kernel's timestamps, to see each frame's delay. Needs root and `ip`. Measured figures are
printed; run with `-s` to see them.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from topologies.emulation import metrics as emulation_metrics
from topologies.emulation.lateness import LatenessMark, window
from topologies.emulation.span import SpanEmulator, set_links_up
from topologies.lab.controller_process import free_port

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root (netns, veth, AF_PACKET)'),
    pytest.mark.skipif(shutil.which('ip') is None, reason='needs iproute2 `ip`'),
]

PID = os.getpid()
NS_A, NS_B = f'nsr-a-{PID}', f'nsr-b-{PID}'
HOST_A, HOST_B = f'ha{PID}', f'hb{PID}'  # inside the namespaces
XR, YR = f'xr{PID}', f'yr{PID}'  # root-namespace ends the emulator binds to
IP_A, IP_B = '10.99.0.1', '10.99.0.2'
WA, WB, WXA, WXB = f'wa{PID}', f'wb{PID}', f'wxa{PID}', f'wxb{PID}'

ETH_P_ALL, SOL_PACKET, PACKET_AUXDATA, SO_TIMESTAMPNS = 3, 263, 8, 35
# The emulator holds a frame from its own receive stamp; the test reads the delay between two
# other stamps (leaving wa, arriving on wb), taken on other kernel paths: on a loaded machine
# they disagree by some microseconds (a frame measured 12 us short of 2 ms in a CI run).
STAMP_SKEW_MS = 0.02
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
AUXDATA = struct.Struct('IIIHHHH')  # struct tpacket_auxdata
MARK = b'naas-spand-test'
ETHERTYPE = b'\x88\xb5'  # local experimental


def sh(*cmd: str, timeout: float = 10, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)


def in_ns(ns: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
    return sh('ip', 'netns', 'exec', ns, *cmd, **kw)


def ping(count: int = 20, interval: float = 0.05, deadline: float | None = None) -> list[float]:
    """RTTs in ms of the replies received (ns A -> ns B)."""
    cmd = ['ping', '-n', '-c', str(count), '-i', str(interval), '-W', '1']
    if deadline:
        cmd += ['-w', str(deadline)]
    out = in_ns(NS_A, *cmd, IP_B, timeout=count * interval + 15, check=False).stdout
    return [float(m) for m in re.findall(r'time=([\d.]+) ms', out)]


def cleanup() -> None:
    for ns in (NS_A, NS_B):
        sh('ip', 'netns', 'del', ns, check=False)  # takes ha/hb and so their xr/yr peers
    for link in (XR, YR, WA, WB):
        sh('ip', 'link', 'del', link, check=False)


@pytest.fixture(scope='module')
def net():
    cleanup()
    try:
        for ns, host, root_end, ip in ((NS_A, HOST_A, XR, IP_A), (NS_B, HOST_B, YR, IP_B)):
            sh('ip', 'netns', 'add', ns)
            sh('ip', 'link', 'add', root_end, 'type', 'veth', 'peer', 'name', host, 'netns', ns)
            # The root ends carry frames only; keep the host stack from talking on them.
            Path(f'/proc/sys/net/ipv6/conf/{root_end}/disable_ipv6').write_text('1')
            sh('ip', 'link', 'set', root_end, 'up')
            in_ns(ns, 'ip', 'link', 'set', 'lo', 'up')
            in_ns(ns, 'ip', 'addr', 'add', f'{ip}/24', 'dev', host)
            in_ns(ns, 'ip', 'link', 'set', host, 'up')
        for host, end in ((WA, WXA), (WB, WXB)):
            sh('ip', 'link', 'add', end, 'type', 'veth', 'peer', 'name', host)
            for name in (host, end):
                Path(f'/proc/sys/net/ipv6/conf/{name}/disable_ipv6').write_text('1')
                sh('ip', 'link', 'set', name, 'up')
        yield
    finally:
        cleanup()


@pytest.fixture(scope='module')
def emulator(net):
    e = SpanEmulator(f'test-{PID}')
    try:
        e.add('span', XR, YR, 20)
        e.add('wire', WXA, WXB, 10)
        yield e
    finally:
        e.stop()


# --- raw frames on the wire -----------------------------------------------------------------


def frame(seq: int, tag: bytes = b'') -> bytes:
    """A broadcast frame of ours, numbered; with an 802.1Q tag if `tag` (TPID + TCI) is given."""
    return (
        b'\xff' * 6
        + bytes.fromhex('020000000001')
        + tag
        + ETHERTYPE
        + MARK
        + struct.pack('!I', seq)
        + bytes(32)
    )


def seq_of(data: bytes) -> int:
    i = data.index(MARK) + len(MARK)
    return struct.unpack('!I', data[i : i + 4])[0]


def capture_on(ifname):
    """A socket that sees every frame on ifname, with the kernel's timestamp and VLAN tag."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.bind((ifname, ETH_P_ALL))
    return sock


class Wire:
    """Frames sent on wa cross the `wire` span only; both ends are watched, so each frame's
    delay is read from the kernel's own timestamps (leaving wa, arriving on wb), whatever
    this test process's scheduling."""

    def __init__(self):
        self.sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sender.bind((WA, 0))
        self.sent, self.capture = capture_on(WA), capture_on(WB)
        self.left, self.unread = {}, 0  # when each frame left wa; frames not yet read there

    def send(self, seqs, interval_s: float) -> list[int]:
        """Send the numbered frames `interval_s` apart."""
        start = time.monotonic()
        for i, seq in enumerate(seqs):
            while time.monotonic() < start + i * interval_s:
                pass
            self.sender.send(frame(seq))
        self.unread += len(seqs)

    def received(self, count: int, timeout_s: float = 3.0) -> list[tuple[int, float, bytes]]:
        return captured(self.capture, count, timeout_s)

    def delays_ms(self, got) -> list[float]:
        """Each received frame's delay, from its kernel timestamps on wa and on wb."""
        self.left |= {seq: stamp for seq, stamp, _ in captured(self.sent, self.unread)}
        self.unread = 0
        return [(stamp - self.left[seq]) * 1000 for seq, stamp, _ in got]

    def close(self):
        for sock in (self.sender, self.sent, self.capture):
            sock.close()


@pytest.fixture
def wire(emulator):
    w = Wire()
    try:
        yield w
    finally:
        w.close()


def captured(sock, count: int, timeout_s: float = 3.0) -> list[tuple[int, float, bytes]]:
    """(seq, kernel arrival time, frame with its VLAN tag put back) of our frames, in order."""
    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        if not select.select([sock], [], [], 0.05)[0]:
            continue
        data, ancillary, _, _ = sock.recvmsg(2048, 1024)
        if MARK not in data:
            continue
        stamp = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack('qq', value[:16])
                stamp = sec + nsec / 1e9
            elif level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, _, _, _, _, tci, tpid = AUXDATA.unpack_from(value)
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    data = data[:12] + struct.pack('!HH', tpid, tci) + data[12:]
        got.append((seq_of(data), stamp, data))
    return got


def test_frames_leave_at_their_arrival_plus_the_delay_in_order(emulator, wire):
    emulator.set_delay('wire', 10)
    mark = LatenessMark(emulator.stats())
    wire.send(range(200), 0.001)
    got = wire.received(200)
    assert [seq for seq, _, _ in got] == list(range(200))  # every frame, never reordered
    delays = sorted(wire.delays_ms(got))
    p50, p99 = statistics.median(delays), delays[int(len(delays) * 0.99)]
    late = window(emulator.stats(), mark)['wire']
    print(
        f'\n[naas-spand] 200 frames at 10 ms: delay min {delays[0]:.3f} p50 {p50:.3f} p99 {p99:.3f} ms; '
        f'{late}'
    )
    assert delays[0] >= 10  # never early
    assert p50 <= 10 + 0.1  # exact (this VM stalls a vCPU for milliseconds now and then: the tail
    # is what the emulator must report, checked below, not what it can always avoid)
    assert late.frames == 200 and late.p50_ms < 0.1, late
    # What it reports is what happened (the wire adds a few microseconds of its own).
    assert late.max_ms == pytest.approx(delays[-1] - 10, abs=0.1)
    assert p99 - 10 <= late.p99_ms + 0.05


def test_a_delay_change_applies_to_frames_arriving_after_it(emulator, wire):
    emulator.set_delay('wire', 20)
    wire.send(range(10), 0.001)
    emulator.set_delay('wire', 2)
    wire.send(range(10, 20), 0.001)
    time.sleep(0.04)  # the queue drains
    wire.send(range(20, 30), 0.001)
    got = wire.received(30)
    assert [seq for seq, _, _ in got] == list(range(30))
    delays = wire.delays_ms(got)
    assert min(delays[:10]) >= 20 - STAMP_SKEW_MS and statistics.median(delays[:10]) <= 20.1, delays[:10]
    # Sent after it, due sooner than the frames ahead of them: a span never reorders, they wait.
    assert all(stamp >= got[9][1] for _, stamp, _ in got[10:20])
    assert min(delays[20:]) >= 2 - STAMP_SKEW_MS and statistics.median(delays[20:]) <= 2.1, delays[20:]
    assert emulator.stats()['wire']['delay_ms'] == 2


def test_frames_overdue_by_more_than_100ms_are_dropped_not_delivered(emulator, wire):
    """A router port's buffer is finite: an emulator that fell far behind drops, never bursts."""
    emulator.set_delay('wire', 10)
    before = emulator.stats()['wire']['a_to_b']
    os.kill(emulator.pid, signal.SIGSTOP)  # as if this machine gave it no CPU for 300 ms
    try:
        wire.send(range(20), 0.001)
        time.sleep(0.3)
    finally:
        os.kill(emulator.pid, signal.SIGCONT)
    wire.send(range(20, 30), 0.001)
    assert [seq for seq, _, _ in wire.received(30, timeout_s=1)] == list(range(20, 30))
    after = emulator.stats()['wire']['a_to_b']
    assert after['dropped_late'] - before['dropped_late'] == 20
    assert after['sent'] - before['sent'] == 10


def test_a_lossy_span_drops_that_share_of_frames_at_random_and_keeps_the_rest_on_time(emulator, wire):
    """A gray failure: 20% of the frames dropped at random (counted), the rest on time and in
    order; 100% forwards nothing; 0 again forwards everything."""
    emulator.set_delay('wire', 2)
    before = emulator.stats()['wire']['a_to_b']
    try:
        emulator.set_loss('wire', 20)
        wire.send(range(250), 0.001)  # (what the capture socket holds until it is read)
        got = wire.received(250, timeout_s=1)
        seqs = [seq for seq, _, _ in got]
        assert seqs == sorted(seqs) and 165 < len(seqs) < 235, len(seqs)  # 200 expected
        delays = wire.delays_ms(got)
        assert min(delays) >= 2 - STAMP_SKEW_MS and statistics.median(delays) <= 2.1, delays
        after = emulator.stats()['wire']
        assert after['loss_pct'] == 20
        assert after['a_to_b']['dropped_loss'] - before['dropped_loss'] == 250 - len(seqs)
        emulator.set_loss('wire', 100)
        wire.send(range(250, 300), 0.001)
        assert wire.received(50, timeout_s=0.5) == []
    finally:
        emulator.set_loss('wire', 0)
    wire.send(range(300, 350), 0.001)
    assert [seq for seq, _, _ in wire.received(50)] == list(range(300, 350))
    assert emulator.stats()['wire']['delay_ms'] == 2  # a loss change keeps the delay


def test_lateness_says_when_the_emulator_was_late(emulator, wire):
    emulator.set_delay('wire', 5)
    mark = LatenessMark(emulator.stats())
    os.kill(emulator.pid, signal.SIGSTOP)  # a burst it cannot deliver on time: it is off the CPU
    try:
        wire.send(range(30), 0.001)
        time.sleep(0.02)
    finally:
        os.kill(emulator.pid, signal.SIGCONT)
    got = wire.received(30)
    assert [seq for seq, _, _ in got] == list(range(30))  # late, but within the buffer: delivered
    late = window(emulator.stats(), mark)['wire']
    measured_late = max(wire.delays_ms(got)) - 5
    print(f'\n[naas-spand] held off the CPU: {late}; measured max lateness {measured_late:.3f} ms')
    assert late.frames == 30 and late.dropped_late == 0
    assert late.lying and late.p99_ms > late.tolerance_ms
    assert late.max_ms == pytest.approx(measured_late, abs=0.1)
    # On time again: the next window counts only what came after the mark.
    mark = LatenessMark(emulator.stats())
    wire.send(range(30, 80), 0.001)
    assert len(wire.received(50)) == 50
    late = window(emulator.stats(), mark)['wire']
    # (its median: the VM's wake-up, 25-170 us; docs/benchmarks.md, "Wake-ups")
    assert late.frames == 50 and late.p50_ms < late.tolerance_ms, late


def test_its_own_sends_are_not_taken_for_arrivals(emulator, wire):
    before = emulator.stats()['wire']
    wire.send([1], 0)
    assert len(wire.received(1)) == 1
    time.sleep(0.05)
    after = emulator.stats()['wire']
    assert after['a_to_b']['received'] - before['a_to_b']['received'] == 1
    assert after['b_to_a']['received'] == before['b_to_a']['received']  # its send on wxb, not relayed back


def test_vlan_tag_survives_the_span(emulator, wire):
    """veth hands VLAN tags out of band; the emulator must put them back into the frame."""
    tagged = frame(7, tag=bytes.fromhex('8100a064'))
    wire.sender.send(tagged)
    # wb's ingress strips the tag again and `captured` restores it from auxdata, so a tag lost
    # inside the emulator shows up here as an untagged frame.
    assert [data for _, _, data in wire.received(1)] == [tagged]


# --- IP through the span: ping, TCP, cuts --------------------------------------------------


def check_rtt(emulator: SpanEmulator, delay_ms: float) -> None:
    """20 pings through the span: RTT must be twice the one-way delay."""
    emulator.set_delay('span', delay_ms)
    assert emulator.stats()['span']['delay_ms'] == delay_ms
    ping(count=1)  # flush frames queued at an old delay; resolve ARP (one more round trip)
    out = in_ns(NS_A, 'ping', '-n', '-c', '20', '-i', '0.05', '-W', '1', IP_B, timeout=30).stdout
    rtts = [float(m) for m in re.findall(r'time=([\d.]+) ms', out)]  # 0.1 ms resolution
    assert len(rtts) == 20, out
    rtt_min, rtt_avg = map(float, re.search(r'= ([\d.]+)/([\d.]+)/', out).groups())  # 1 us
    expected, median = 2 * delay_ms, statistics.median(rtts)
    print(
        f'\n[naas-spand] delay {delay_ms} ms: RTT min {rtt_min:.3f} avg {rtt_avg:.3f} '
        f'median {median:.1f} ms; error min {rtt_min - expected:+.3f} avg '
        f'{rtt_avg - expected:+.3f} median {median - expected:+.1f} ms'
    )
    assert abs(rtt_min - expected) <= 0.6
    assert -0.6 <= median - expected <= 1.0


def test_rtt_matches_configured_delay(emulator):
    check_rtt(emulator, 20)


def test_delay_change_at_run_time(emulator):
    check_rtt(emulator, 5)


def test_invalid_command_reports_error_and_keeps_running(emulator):
    with pytest.raises(RuntimeError, match='delay_ms must be a number'):
        emulator.set_delay('span', -3)
    with pytest.raises(RuntimeError, match='no such span'):
        emulator.set_delay('nope', 3)
    with pytest.raises(RuntimeError, match='exists'):
        emulator.add('span', XR, YR, 1)
    assert emulator.stats()['span']['delay_ms'] == 5
    assert len(ping(count=5)) == 5


def test_cut_span_drops_and_emulator_survives(emulator):
    emulator.set_delay('span', 5)
    sh('ip', 'link', 'set', YR, 'down')
    try:
        assert ping(count=5, interval=0.2) == []
        assert emulator.proc.poll() is None
        assert emulator.stats()['span']['a_to_b']['dropped_send'] > 0
    finally:
        sh('ip', 'link', 'set', YR, 'up')
    # Both directions must recover: A->B sends on yr and B->A reads from it again.
    rtts = ping(count=30, interval=0.1, deadline=10)
    assert rtts, 'span did not recover after the link came back'
    assert min(rtts) == pytest.approx(10, abs=0.6)


def test_a_cut_takes_both_ends_down_at_once(emulator):
    """SpanLink.set_up's cut: both root ends down in one go, so both hosts lose carrier."""

    def carriers():
        return [
            in_ns(ns, 'cat', f'/sys/class/net/{host}/carrier').stdout.strip()
            for ns, host in ((NS_A, HOST_A), (NS_B, HOST_B))
        ]

    emulator.set_delay('span', 5)
    started = time.monotonic()
    set_links_up([XR, YR], False)
    took_ms = (time.monotonic() - started) * 1000
    try:
        print(f'\n[naas-spand] both ends of the span down in {took_ms:.2f} ms')
        assert carriers() == ['0', '0']
        assert ping(count=3, interval=0.2) == []
    finally:
        set_links_up([XR, YR], True)
    assert carriers() == ['1', '1']
    assert ping(count=30, interval=0.1, deadline=10), 'span did not recover'


def test_stats_counts_traffic(emulator):
    s = emulator.stats()['span']
    for direction in ('a_to_b', 'b_to_a'):
        assert s[direction]['sent'] > 0
        assert s[direction]['received'] >= s[direction]['sent']
    assert (s['a'], s['b']) == (XR, YR)


def test_one_process_serves_every_span(emulator):
    serial = emulator.stats()['wire']['serial']
    emulator.remove('wire')
    try:
        assert set(emulator.stats()) == {'span'}
        assert len(ping(count=5)) == 5  # the other span is untouched
    finally:
        emulator.add('wire', WXA, WXB, 10)
    again = emulator.stats()['wire']
    assert again['serial'] > serial and again['a_to_b']['received'] == 0  # counters start over


def test_idle_cpu(emulator):
    tick = os.sysconf('SC_CLK_TCK')

    def cpu_seconds() -> float:
        # Fields after the ")" of the command name: utime and stime are the 12th/13th.
        fields = Path(f'/proc/{emulator.pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    before = cpu_seconds()
    time.sleep(5)
    percent = (cpu_seconds() - before) / 5 * 100
    print(f'\n[naas-spand] idle CPU over 5 s: {percent:.2f} %')
    assert percent < 1  # a busy loop would show ~100 %


@pytest.mark.skipif(
    not (shutil.which('iperf3') and shutil.which('ethtool')), reason='needs iperf3 and ethtool'
)
@pytest.mark.parametrize('delay_ms', [5, 20])
def test_tcp_throughput(emulator, delay_ms):
    emulator.set_delay('span', delay_ms)
    # Frames are copied as captured: checksums left to "hardware" would arrive unfilled.
    in_ns(NS_A, 'ethtool', '-K', HOST_A, 'tx', 'off')
    in_ns(NS_B, 'ethtool', '-K', HOST_B, 'tx', 'off')
    server = subprocess.Popen(
        ['ip', 'netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-B', IP_B],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):  # wait until the server listens
            if f'{IP_B}:5201' in in_ns(NS_B, 'ss', '-ltn', check=False).stdout:
                break
            time.sleep(0.1)
        out = in_ns(NS_A, 'iperf3', '-c', IP_B, '-t', '3', '-J', timeout=30).stdout
        mbit = json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6
        stats = emulator.stats()['span']
        counters = {k: v for k, v in stats['a_to_b'].items() if k != 'late_us'}
        print(
            f'\n[naas-spand] TCP through the span, delay {delay_ms} ms (RTT {2 * delay_ms} ms): '
            f'{mbit:.0f} Mbit/s; a_to_b {counters}'
        )
        assert mbit > 1
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(5)


def test_the_lab_serves_what_the_emulator_counted(emulator, wire):
    """`naas-lab up --metrics-port`: the span emulator's counters and lateness, as Prometheus
    reads them, are what the emulator itself says."""
    emulator.set_delay('wire', 2)
    wire.send(range(50), 0.001)
    wire.received(50)
    port = free_port()
    server = emulation_metrics.serve(emulator.stats, port)
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    stats = emulator.stats()['wire']
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ends = {'span': 'wire', 'from': stats['a'], 'to': stats['b']}
    assert samples[('naas_emulation_span_delay_seconds', (('span', 'wire'),))] == 0.002
    for outcome in emulation_metrics.OUTCOMES:
        key = tuple(sorted({**ends, 'outcome': outcome}.items()))
        assert samples[('naas_emulation_span_frames_total', key)] == stats['a_to_b'][outcome]
    every = tuple(sorted({**ends, 'le': '+Inf'}.items()))
    assert samples[('naas_emulation_span_lateness_seconds_bucket', every)] == stats['a_to_b']['sent'] >= 50
