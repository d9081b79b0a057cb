"""A UDP probe between two emulated hosts: loss, the longest outage and one-way delay.

A sender in the source host's namespace sends one small datagram every interval (1 ms at
the default 1 kHz); a receiver in the destination host's namespace records each one as it
arrives. Each datagram carries a run id (strays from another run are ignored), its sequence
number, the time it was due and the time it was sent (CLOCK_MONOTONIC in ns: one clock for
the whole machine, whatever namespace reads it, so one-way delays need no synchronisation).

Pacing is on an absolute schedule: probe n is due at start + n x interval, so errors never
add up. The sender sleeps until each due time with clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME), no timer slack, under SCHED_FIFO when it may, and never polls the clock in a
loop: at 1 kHz it takes 1-2% of a core, and a real-time sleeper wakes within tens of us of the
due time even with the fabric's daemons busy on both cores (a normal-priority one was held
back 4-9 ms several times a second; docs/benchmarks.md has the figures). When it falls
behind all the same, it sends the probes it missed at once, back to back, each with its true
send time: nothing is skipped, so every sequence number missing at the receiver is a loss.

Outage (`analyze`): a gap is a run of consecutive sequence numbers that never arrived,
between received probes p and n. It lasted

    sent_ns(n) - sent_ns(p) - interval

i.e. from when the first lost probe should have left to when the first probe that got through
did leave: k lost probes in a row on a regular schedule count k x interval. Only send
times enter it (the sender's clock), so a late receiver does not lengthen it, and a sender
that stalled without losing anything makes no outage at all. Lost probes at the start count
from the probe's start; lost probes at the end count until the sender stopped (an `open`
outage: the network had not come back when the probe ended). With no loss the longest
outage is exactly 0. `lost_ms` = lost x interval is the cross-check (it adds up all gaps).

    python -m topologies.emulation.probe receive --port 9777 [--duration S] [--run ID] [--out FILE]
    python -m topologies.emulation.probe send DST_IP --port 9777 [--rate 1000] [--duration S] [--run ID]

Each prints one line `{"ready": ...}` when it starts and its JSON report when it ends
(SIGTERM, SIGINT or --duration). In Python: `Probe(src_host, dst_host, dst_ip)` (Mininet
hosts) as a context manager; `probe.result()` is a `ProbeResult`.
"""

import argparse
import ctypes
import itertools
import json
import math
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

PORT = 9777
RATE_HZ = 1000
MAGIC = b'NPRB'
# magic, run id, interval ns, sequence number, due ns, sent ns: 36 bytes of UDP payload
DATAGRAM = struct.Struct('!4sIIQQQ')
CLOCK_MONOTONIC = 1  # <time.h>: the clock of time.monotonic_ns(), shared by every namespace
TIMER_ABSTIME = 1
RT_PRIORITY = 10  # SCHED_FIFO priority of sender and receiver (below the kernel's threads)
PR_SET_TIMERSLACK = 29
READY_TIMEOUT_S = 10.0
# After the sender stops, the receiver waits this long for probes still in flight.
DRAIN_S = 0.5
PERCENTILES = (50, 90, 99)


# --- the figures (pure) --------------------------------------------------------------------------


@dataclass
class Outage:
    start_ms: float  # when the first lost probe was due, ms after the probe started
    duration_ms: float  # sent_ns(first back) - sent_ns(last before) - interval
    lost: int  # probes lost in this gap
    first_seq: int
    open: bool = False  # still lost when the sender stopped: duration is a lower bound


@dataclass
class ProbeResult:
    interval_ms: float
    sent: int
    received: int  # distinct sequence numbers
    lost: int
    duplicates: int  # extra copies of a sequence number already received
    reordered: int  # arrived after a probe with a higher sequence number
    longest_outage_ms: float
    longest_outage_start_ms: float = None  # ms after start_ns; None without loss
    lost_ms: float = 0.0  # lost x interval: all gaps together
    outages: list = field(default_factory=list)  # every gap, in time order (Outage)
    delay_ms: dict = field(default_factory=dict)  # one-way: min, p50, p90, p99, max
    start_ns: int = None  # CLOCK_MONOTONIC when probe 0 was due
    sender: dict = field(default_factory=dict)  # pacing and CPU figures (see send()), receiver's CPU

    def outage_start_ns(self):
        """When the longest outage began, on CLOCK_MONOTONIC (compare with time.monotonic_ns())."""
        if self.longest_outage_start_ms is None:
            return None
        return self.start_ns + round(self.longest_outage_start_ms * 1e6)

    def as_dict(self):
        return asdict(self)


def percentile(ordered, q):
    """Nearest-rank percentile of an ascending list (q in 0..100); None if it is empty."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def analyze(records, interval_ns, start_ns, sent=None, sender=None):
    """Figures of one probe run from the receiver's records, in arrival order:
    (seq, sent_ns, recv_ns). `start_ns`: when probe 0 was due; `sent`: how many the sender
    sent (None: as far as the highest sequence number received, so losses at the end go
    unseen). Records with seq >= sent are not counted (they cannot be this run's)."""
    first = {}  # seq -> (sent_ns, recv_ns) of its first copy
    duplicates = reordered = 0
    highest = -1
    for seq, sent_ns, recv_ns in records:
        if sent is not None and seq >= sent:
            continue
        if seq in first:
            duplicates += 1
            continue
        first[seq] = (sent_ns, recv_ns)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    if sent is None:
        sent = highest + 1
    interval_ms = interval_ns / 1e6

    outages = []

    def gap(prev_seq, prev_sent_ns, next_seq, until_ns, is_open=False):
        lost = next_seq - prev_seq - 1
        if lost > 0:
            outages.append(
                Outage(
                    start_ms=round((prev_sent_ns + interval_ns - start_ns) / 1e6, 3),
                    duration_ms=round(max(0, until_ns - prev_sent_ns - interval_ns) / 1e6, 3),
                    lost=lost,
                    first_seq=prev_seq + 1,
                    open=is_open,
                )
            )

    # Probe -1 is a virtual one sent one interval before the start: losses at the start count
    # from start_ns; the end, after the last probe sent, is when probe `sent` would be due.
    prev_seq, prev_sent = -1, start_ns - interval_ns
    for seq in sorted(first):
        gap(prev_seq, prev_sent, seq, first[seq][0])
        prev_seq, prev_sent = seq, first[seq][0]
    gap(prev_seq, prev_sent, sent, start_ns + sent * interval_ns, is_open=True)

    delays = sorted((recv - snd) / 1e6 for snd, recv in first.values())
    delay = {}
    if delays:
        delay = {
            'min': round(delays[0], 3),
            **{f'p{q}': round(percentile(delays, q), 3) for q in PERCENTILES},
            'max': round(delays[-1], 3),
        }
    longest = max(outages, key=lambda o: o.duration_ms, default=None)
    lost = sent - len(first)
    return ProbeResult(
        interval_ms=interval_ms,
        sent=sent,
        received=len(first),
        lost=lost,
        duplicates=duplicates,
        reordered=reordered,
        longest_outage_ms=longest.duration_ms if longest else 0.0,
        longest_outage_start_ms=longest.start_ms if longest else None,
        lost_ms=round(lost * interval_ms, 3),
        outages=outages,
        delay_ms=delay,
        start_ns=start_ns,
        sender=dict(sender or {}),
    )


def gap_stats_us(times_ns):
    """min, p50, p99, p999, max and mean of the gaps between consecutive times, in us."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times_ns))
    if not gaps:
        return {}
    return {
        'min': round(gaps[0] / 1e3, 1),
        'p50': round(percentile(gaps, 50) / 1e3, 1),
        'p99': round(percentile(gaps, 99) / 1e3, 1),
        'p999': round(percentile(gaps, 99.9) / 1e3, 1),
        'max': round(gaps[-1] / 1e3, 1),
        'mean': round(sum(gaps) / len(gaps) / 1e3, 1),
    }


# --- sender and receiver (run inside the hosts' namespaces) -------------------------------------


class _Stop:
    """Set by SIGTERM/SIGINT; the loops check it at least every few ms."""

    def __init__(self):
        self.set = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, *_):
        self.set = True


def _precise_sleeps():
    """Ask the kernel for no timer slack (default 50 us) so sleeps end when asked."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


def absolute_sleeper():
    """sleep_until(t_ns): sleep until time.monotonic_ns() reaches t_ns, with
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): the kernel wakes the thread at that
    instant, however long the call itself took to start. Returns True if a signal cut the
    sleep short (EINTR), else False."""
    call = ctypes.CDLL(None, use_errno=True).clock_nanosleep
    call.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Timespec), ctypes.c_void_p)
    call.restype = ctypes.c_int  # 0, or the error number itself (not errno)
    when = _Timespec()
    ref = ctypes.byref(when)

    def sleep_until(t_ns):
        when.tv_sec, when.tv_nsec = divmod(t_ns, 1_000_000_000)
        return call(CLOCK_MONOTONIC, TIMER_ABSTIME, ref, None) != 0

    return sleep_until


def pace(start_ns, interval_ns, end_ns, clock, sleep_until, send, stopped):
    """The sender's schedule: probe n is due at start_ns + n x interval_ns, until end_ns (None:
    until stopped() is true). Before each probe it reads the clock once and, if the probe is
    not due yet, sleeps once, until the due time (absolute: no error adds up); a probe already
    due is sent at once, so after a stall the missed ones go back to back. send(seq, due_ns)
    sends and returns when it did; pace returns those times, one per probe, in order. It never
    polls the clock in a loop: sleep_until(t) returns True only when a signal cut the sleep
    short, and then pace looks at stopped() and the clock once more."""
    sent_at = []
    seq = 0
    while not stopped():
        due = start_ns + seq * interval_ns
        if end_ns is not None and due >= end_ns:
            break
        if clock() < due and sleep_until(due):
            continue
        sent_at.append(send(seq, due))
        seq += 1
    return sent_at


def _realtime(wanted):
    """SCHED_FIFO at RT_PRIORITY if wanted and allowed (root); whether it is."""
    if not wanted:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        return True
    except (OSError, AttributeError):
        return False


def _say(obj, out=sys.stdout):
    out.write(json.dumps(obj) + '\n')
    out.flush()


def _cpu(started_cpu_s, started_ns, clock):
    """CPU this process used since (started_cpu_s, started_ns): ms, and % of one core."""
    cpu_ms = (time.process_time() - started_cpu_s) * 1e3
    wall_ms = max(1e-3, (clock() - started_ns) / 1e6)
    return {'cpu_ms': round(cpu_ms, 1), 'cpu_pct': round(100 * cpu_ms / wall_ms, 2)}


def send(dst, port=PORT, rate_hz=RATE_HZ, duration_s=None, run_id=0, realtime=True):
    """Send probes to dst:port until SIGTERM/SIGINT or duration_s; return the sender's report:
    sent, start_ns, interval_ns, send errors, gaps between consecutive sends (us), how late
    probes left (us after due), whether it ran under SCHED_FIFO, and the CPU it took."""
    stop = _Stop()
    _precise_sleeps()
    realtime = _realtime(realtime)
    interval = round(1e9 / rate_hz)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # unconnected: no ICMP errors
    target = (dst, port)
    clock, pack, sendto = time.monotonic_ns, DATAGRAM.pack, sock.sendto
    errors = 0

    def send_one(seq, due):
        nonlocal errors
        now = clock()
        try:
            sendto(pack(MAGIC, run_id, interval, seq, due, now), target)
        except OSError:
            errors += 1  # e.g. no route or neighbour yet: the probe counts as sent and lost
        return now

    start = clock() + 2 * interval
    end = None if duration_s is None else start + round(duration_s * 1e9)
    _say({'ready': True, 'start_ns': start, 'interval_ns': interval})
    cpu_start = time.process_time()
    sent_at = pace(start, interval, end, clock, absolute_sleeper(), send_one, lambda: stop.set)
    cpu = _cpu(cpu_start, start, clock)
    sock.close()
    late = sorted(t - (start + i * interval) for i, t in enumerate(sent_at))
    return {
        'sent': len(sent_at),
        'start_ns': start,
        'interval_ns': interval,
        'errors': errors,
        'realtime': realtime,
        'gap_us': gap_stats_us(sent_at),
        'late_us': {
            'p50': round((percentile(late, 50) or 0) / 1e3, 1),
            'p99': round((percentile(late, 99) or 0) / 1e3, 1),
            'max': round((late[-1] if late else 0) / 1e3, 1),
        },
        'late_over_1ms': sum(1 for x in late if x > 1_000_000),
        **cpu,
    }


def receive(port=PORT, duration_s=None, run_id=0, bind='0.0.0.0', realtime=True):
    """Record this run's probes until SIGTERM/SIGINT or duration_s, then take what is still
    queued; return {'records': [[seq, sent_ns, recv_ns], ...] in arrival order, 'stray': n,
    'interval_ns', 'start_ns' (from the first probe; None if none came), and the CPU it
    took}. Real-time priority keeps recv_ns (hence the delays) close to the arrival; outages
    do not use it."""
    stop = _Stop()
    _realtime(realtime)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((bind, port))
    sock.settimeout(0.02)
    clock, unpack, size = time.monotonic_ns, DATAGRAM.unpack, DATAGRAM.size
    records, stray = [], 0
    interval = start = None
    end = None if duration_s is None else clock() + round(duration_s * 1e9)
    _say({'ready': True, 'port': port})
    cpu_start, started = time.process_time(), clock()

    def take(data, now):
        nonlocal stray, interval, start
        if len(data) != size:
            stray += 1
            return
        magic, run, interval_ns, seq, due, sent_ns = unpack(data)
        if magic != MAGIC or run != run_id:
            stray += 1
            return
        if interval is None:
            interval, start = interval_ns, due - seq * interval_ns
        records.append((seq, sent_ns, now))

    while not stop.set and (end is None or clock() < end):
        try:
            data = sock.recv(256)
        except (TimeoutError, InterruptedError):
            continue
        take(data, clock())
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(256)
        except (BlockingIOError, InterruptedError):
            break
        take(data, clock())
    sock.close()
    return {
        'records': records,
        'stray': stray,
        'interval_ns': interval,
        'start_ns': start,
        **_cpu(cpu_start, started, clock),
    }


# --- the Python API: a probe between two Mininet hosts ------------------------------------------


class ProbeError(RuntimeError):
    pass


class Probe:
    """A probe from src_host to dst_ip (dst_host's address): receiver first, then sender.

        with Probe(src, dst, ip) as probe:
            ...                      # cut something; probe.start_ns is when probe 0 was due
        result = probe.result()

    stop() (also on leaving the `with`) stops the sender, lets probes in flight land for
    DRAIN_S, stops the receiver and computes the figures. Its two processes are stopped by
    their pids, also on errors; nothing else is touched."""

    def __init__(self, src_host, dst_host, dst_ip, port=PORT, rate_hz=RATE_HZ, drain_s=DRAIN_S):
        self.src, self.dst, self.dst_ip = src_host, dst_host, dst_ip
        self.port, self.rate_hz, self.drain_s = port, rate_hz, drain_s
        self.run_id = random.getrandbits(32)
        self.receiver = self.sender = None
        self.start_ns = self.interval_ns = None
        self._result = None

    def _command(self, *args):
        return [
            sys.executable,
            '-m',
            'topologies.emulation.probe',
            *map(str, args),
            '--port',
            str(self.port),
            '--run',
            str(self.run_id),
        ]

    def start(self):
        try:
            self.receiver = self.dst.popen(
                self._command('receive'), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=_REPO
            )
            _ready(self.receiver, 'receiver')
            self.sender = self.src.popen(
                self._command('send', self.dst_ip, '--rate', self.rate_hz),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=_REPO,
            )
            ready = _ready(self.sender, 'sender')
            self.start_ns, self.interval_ns = ready['start_ns'], ready['interval_ns']
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self):
        """Stop both ends and return the ProbeResult."""
        if self._result is not None:
            return self._result
        try:
            sender = _report(self.sender, 'sender')
            time.sleep(self.drain_s)
            receiver = _report(self.receiver, 'receiver')
        finally:
            self.kill()
        self._result = analyze(
            receiver['records'],
            sender['interval_ns'],
            sender['start_ns'],
            sent=sender['sent'],
            sender={
                **sender,
                'stray': receiver['stray'],
                'receiver_cpu_ms': receiver.get('cpu_ms'),
                'receiver_cpu_pct': receiver.get('cpu_pct'),
            },
        )
        return self._result

    def result(self):
        if self._result is None:
            raise ProbeError('the probe has not been stopped yet')
        return self._result

    def kill(self):
        """Kill whichever of its own processes still runs (by pid)."""
        for proc in (self.sender, self.receiver):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.stop()
        else:
            self.kill()


_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ready(proc, what):
    """The process's first line, {"ready": true, ...}, within READY_TIMEOUT_S."""
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ''
    try:
        msg = json.loads(line)
    except ValueError:
        msg = {}
    if not msg.get('ready'):
        proc.kill()
        _, err = proc.communicate()
        raise ProbeError(f'probe {what} did not start: {line.strip()!r} {err.strip()[-500:]}')
    return msg


def _report(proc, what, timeout_s=10.0):
    """SIGTERM (by pid), then the JSON report it prints as it exits."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ProbeError(f'probe {what} did not stop within {timeout_s:g} s') from None
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ProbeError(
            f'probe {what} exited with {proc.returncode} and no report: {err.strip()[-500:]}'
        ) from None


# --- command line ---------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m topologies.emulation.probe', description=__doc__.split('\n')[0]
    )
    sub = parser.add_subparsers(dest='command', required=True)
    snd = sub.add_parser('send', help='send probes to DST')
    snd.add_argument('dst')
    snd.add_argument('--rate', type=float, default=RATE_HZ, help='probes per second (default 1000)')
    rcv = sub.add_parser('receive', help='record probes; report with the figures')
    rcv.add_argument('--out', help='write the report here rather than to stdout')
    for p in (snd, rcv):
        p.add_argument('--port', type=int, default=PORT)
        p.add_argument('--duration', type=float, help='seconds (default: until SIGTERM)')
        p.add_argument('--run', type=int, default=0, help='run id: probes of other runs are ignored')
        p.add_argument(
            '--no-realtime',
            dest='realtime',
            action='store_false',
            help='stay at normal priority (default: SCHED_FIFO when allowed)',
        )
    args = parser.parse_args(argv)
    if args.command == 'send':
        _say(
            send(
                args.dst,
                args.port,
                args.rate,
                args.duration,
                args.run,
                args.realtime,
            )
        )
        return 0
    report = receive(args.port, args.duration, args.run, realtime=args.realtime)
    if report['records']:  # the figures as far as the receiver can tell (losses at the end unseen)
        report['summary'] = analyze(report['records'], report['interval_ns'], report['start_ns']).as_dict()
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f)
        _say({'written': args.out})
    else:
        _say(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
