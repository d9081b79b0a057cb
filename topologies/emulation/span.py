"""A long-haul span as a Mininet link: scaled bandwidth (HTB) and one-way delay.

Each span is two veth pairs whose inner ends are joined with the span's delay:

    switch A port `A-B` <-veth-> `A-Br`  [delay]  `B-Ar` <-veth-> `B-A` switch B port

The delay is netem where the kernel has it (tc mirred joins the ends, netem holds frames).
Where it does not (these machines), the span emulator joins them: one native process
(`naas-spand`, built from spand.c by scripts/setup-host.sh) serves every relayed span of a
fabric. Spans too short for a process to delay are joined by tc mirred alone. HTB (through
OVS QoS) on the switch ports shapes what each switch sends into the span. Cutting the span
takes the joined ends down, so both switches lose carrier, as with a cut fiber.
"""

import fcntl
import functools
import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from mininet.link import Link

QUEUE_MS = 50  # span queue: 50 ms of traffic at line rate, as a WAN router would hold
MIN_QUEUE_FRAMES = 32
# Room for MPLS labels (4 bytes each) on top of a host's 1500-byte frames, as backbone
# links carry; the hosts keep 1500.
SPAN_MTU = 1600
REPLY_TIMEOUT_S = 10
# Below this delay the kernel joins a span's ends directly, adding nothing: the span
# emulator's own wake-up (30-80 us, up to 0.25 ms on a busy machine) would be most of it.
DIRECT_BELOW_MS = 0.2
SPAND = 'naas-spand'
# The span emulator runs under SCHED_FIFO (when root), as the kernel's own packet processing
# would: on a busy machine an ordinary process waits milliseconds for a core after its timer
# fired, and every frame due meanwhile leaves that late.
RT_PRIORITY = 10
SPAND_SOURCE = Path(__file__).with_name('spand.c')
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = struct.Struct('16sH22x')  # struct ifreq: name, then ifr_flags in a 24-byte union


def run(*argv, check=True):
    """Run a command in the root namespace; raise with its stderr when it fails."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and p.returncode:
        raise RuntimeError(f'{" ".join(argv)}: {p.stderr.strip() or p.returncode}')
    return p


def netem_available():
    """Delay spans with netem where the kernel has it; NAAS_SPAN_EMULATOR=relay|netem forces one."""
    forced = os.environ.get('NAAS_SPAN_EMULATOR')
    return forced == 'netem' if forced else _kernel_has_netem()


@functools.cache
def _kernel_has_netem():
    probe = f'nmprobe{os.getpid() % 100000}'  # a throwaway veth of our own to try it on
    if run('ip', 'link', 'add', probe, 'type', 'veth', 'peer', 'name', probe + 'p', check=False).returncode:
        return False
    try:
        return (
            run('tc', 'qdisc', 'add', 'dev', probe, 'root', 'netem', 'delay', '1ms', check=False).returncode
            == 0
        )
    finally:
        run('ip', 'link', 'del', probe, check=False)


def set_links_up(names, up):
    """Set interfaces of this namespace up or down, back to back in this process: a fiber cut
    takes both ends at once. Two `ip link set` commands took 26-80 ms under load, and meanwhile
    the switch at the second end kept sending into the dead span. (The kernel still closes one
    interface at a time, each waiting for transmissions in progress: a few ms under load.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        requests = []
        for name in names:
            flags = IFREQ.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, IFREQ.pack(name.encode(), 0)))[1]
            requests.append(IFREQ.pack(name.encode(), flags | IFF_UP if up else flags & ~IFF_UP))
        for request in requests:
            fcntl.ioctl(sock, SIOCSIFFLAGS, request)


def queue_frames(mbps):
    return max(MIN_QUEUE_FRAMES, math.ceil(mbps * 1e6 * QUEUE_MS / 1000 / (1500 * 8)))


class SpanEmulatorMissing(RuntimeError):
    pass


def spand_path():
    """The span emulator's program; SpanEmulatorMissing if it is not built or older than its source."""
    path = Path(sys.prefix, 'bin', SPAND)
    rebuild = 'run scripts/setup-host.sh (--venv-only is enough), which builds it with gcc'
    if not os.access(path, os.X_OK):
        raise SpanEmulatorMissing(f'the span emulator {path} is not built: {rebuild}')
    if SPAND_SOURCE.exists() and SPAND_SOURCE.stat().st_mtime > path.stat().st_mtime:
        raise SpanEmulatorMissing(f'the span emulator {path} is older than {SPAND_SOURCE}: {rebuild}')
    return str(path)


class SpanEmulator:
    """The span emulator process (`naas-spand`) of one fabric, and its control channel.

    It starts with the first span added and exits when the last one is removed, on stop(),
    or when this process dies (its stdin closes). Requests are answered one at a time
    (newline-delimited JSON, protocol in spand.c); any thread may make them."""

    def __init__(self, label):
        self.label = label  # on its command line, so that `ps` says which fabric it serves
        self.proc = None
        self.spans = set()
        self._lock = threading.Lock()
        self._pending = b''

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def add(self, span_id, a, b, delay_ms, loss_pct=0.0):
        """Join interfaces a and b with delay_ms each way, dropping loss_pct % of the frames."""
        with self._lock:
            if self.proc is None:
                self._start()
            self._request({'add': span_id, 'a': a, 'b': b, 'delay_ms': delay_ms, 'loss_pct': loss_pct})
            self.spans.add(span_id)

    def set_delay(self, span_id, delay_ms):
        """Frames arriving from now on get the new delay; those in flight keep theirs."""
        with self._lock:
            self._request({'set': span_id, 'delay_ms': delay_ms})

    def set_loss(self, span_id, loss_pct):
        """Frames arriving from now on are dropped at random, loss_pct % of them."""
        with self._lock:
            self._request({'set': span_id, 'loss_pct': loss_pct})

    def remove(self, span_id):
        with self._lock:
            if span_id not in self.spans:
                return
            self.spans.discard(span_id)
            if self.spans:
                self._request({'remove': span_id})
            else:
                self._stop()

    def stats(self):
        """{span id: the emulator's counters and lateness histograms} (format in spand.c)."""
        with self._lock:
            return self._request({'stats': True})['spans'] if self.proc else {}

    def stop(self):
        with self._lock:
            self.spans.clear()
            self._stop()

    def _start(self):
        priority = ['--rt-priority', str(RT_PRIORITY)] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen(
            [spand_path(), '--label', self.label, *priority],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C at the lab's CLI (ending a ping) must not end the spans
        )
        self._pending = b''
        if self._reply() != {'ready': True}:
            self._stop()
            raise RuntimeError('the span emulator did not start')

    def _stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.stdin.close()  # EOF: it exits by itself
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _request(self, command):
        try:
            self.proc.stdin.write(json.dumps(command).encode() + b'\n')
            self.proc.stdin.flush()
        except OSError as exc:
            raise RuntimeError(f'the span emulator is gone (exit status {self.proc.poll()})') from exc
        reply = self._reply()
        if 'error' in reply:
            raise RuntimeError(f'span emulator: {reply["error"]}')
        return reply

    def _reply(self):
        fd = self.proc.stdout.fileno()
        while b'\n' not in self._pending:
            ready, _, _ = select.select([fd], [], [], REPLY_TIMEOUT_S)
            chunk = os.read(fd, 1 << 20) if ready else b''
            if not chunk:
                raise RuntimeError(
                    'the span emulator ' + ('did not answer' if not ready else f'exited ({self.proc.poll()})')
                )
            self._pending += chunk
        line, self._pending = self._pending.split(b'\n', 1)
        return json.loads(line)


class SpanLink(Link):
    """A span between two site switches, each in its own namespace."""

    def __init__(self, node1, node2, mbps, delay_ms, span_id, emulator, loss_pct=0.0, **params):
        self.mbps, self.delay_ms, self.loss_pct = float(mbps), float(delay_ms), float(loss_pct)
        self.span_id, self.emulator = span_id, emulator  # a SpanEmulator, shared by the fabric's spans
        self.netem = netem_available()
        self.mode = None  # 'netem', 'relay' (the span emulator), or 'direct' (no delay to add)
        self.up = True
        super().__init__(node1, node2, **params)
        try:
            self._start_delay()
        except BaseException:
            self.delete()
            raise

    @property
    def outer_names(self):
        """The span emulator's ends of the two veth pairs."""
        return [self.intf1.name + 'r', self.intf2.name + 'r']

    def makeIntfPair(self, intf1, intf2, addr1=None, addr2=None, node1=None, node2=None, deleteIntfs=True):
        """Two veth pairs: each switch port in its switch's namespace, the emulator's ends here."""
        for name, switch in ((intf1, node1), (intf2, node2)):
            run(
                'ip',
                'link',
                'add',
                name + 'r',
                'mtu',
                str(SPAN_MTU),
                'type',
                'veth',
                'peer',
                'name',
                name,
                'mtu',
                str(SPAN_MTU),
                'txqueuelen',
                str(queue_frames(self.mbps)),
                'netns',
                str(switch.pid),
            )
            # The emulator's end is a wire, not a host: no IPv6 chatter into the span.
            run('sysctl', '-q', '-w', f'net.ipv6.conf.{name}r.disable_ipv6=1')
            run('ip', 'link', 'set', name + 'r', 'up')

    def qos_args(self, intf):
        """ovs-vsctl arguments that shape one switch port to the span's rate.

        Shaping goes through Open vSwitch (linux-htb QoS) because OVS resets any qdisc it
        did not make when it adds a port; the HTB leaf queue holds `txqueuelen` frames."""
        rate = str(int(self.mbps * 1e6))
        q = 'q_' + intf.name.replace('-', '_')  # ids unique within one ovs-vsctl transaction
        return [
            '--',
            'set',
            'port',
            intf.name,
            f'qos=@{q}',
            '--',
            f'--id=@{q}',
            'create',
            'qos',
            'type=linux-htb',
            f'other-config:max-rate={rate}',
            f'queues:0=@{q}_0',
            '--',
            f'--id=@{q}_0',
            'create',
            'queue',
            f'other-config:max-rate={rate}',
        ]

    def _mode(self):
        if self.netem:
            return 'netem'
        return 'direct' if self.delay_ms < DIRECT_BELOW_MS and not self.loss_pct else 'relay'

    def _start_delay(self):
        """Join the emulator's two ends: in the kernel (tc mirred, then netem or nothing), or
        through the span emulator."""
        self.mode = self._mode()
        a, b = self.outer_names
        if self.mode == 'relay':
            self.emulator.add(self.span_id, a, b, self.delay_ms, self.loss_pct)
            return
        for src, dst in ((a, b), (b, a)):
            run('tc', 'qdisc', 'add', 'dev', src, 'handle', 'ffff:', 'ingress')
            run(
                'tc',
                'filter',
                'add',
                'dev',
                src,
                'parent',
                'ffff:',
                'protocol',
                'all',
                'u32',
                'match',
                'u32',
                '0',
                '0',
                'action',
                'mirred',
                'egress',
                'redirect',
                'dev',
                dst,
            )
            if self.mode == 'netem':
                self._netem(dst, 'add')

    def _stop_delay(self):
        if self.mode == 'relay':
            self.emulator.remove(self.span_id)
        else:
            for dev in self.outer_names:
                run('tc', 'qdisc', 'del', 'dev', dev, 'ingress', check=False)
                run('tc', 'qdisc', 'del', 'dev', dev, 'root', check=False)

    def _netem(self, dev, verb):
        run(
            'tc',
            'qdisc',
            verb,
            'dev',
            dev,
            'root',
            'netem',
            'delay',
            f'{self.delay_ms}ms',
            'loss',
            f'{self.loss_pct}%',
            'limit',
            str(queue_frames(self.mbps)),
        )

    def set_delay(self, delay_ms):
        """Change the one-way delay in both directions (frames already in flight keep theirs)."""
        if not (math.isfinite(delay_ms) and delay_ms >= 0):
            raise ValueError(f'delay must be a number of ms >= 0, got {delay_ms}')
        self.delay_ms = float(delay_ms)
        self._apply(lambda: self.emulator.set_delay(self.span_id, self.delay_ms))

    def set_loss(self, loss_pct):
        """Drop loss_pct % of the frames from now on, the carrier staying up (100: a stall).
        A span joined in the kernel is relayed from then on: the kernel path drops nothing."""
        if not (math.isfinite(loss_pct) and 0 <= loss_pct <= 100):
            raise ValueError(f'loss must be a percentage 0..100, got {loss_pct}')
        self.loss_pct = float(loss_pct)
        self._apply(lambda: self.emulator.set_loss(self.span_id, self.loss_pct))

    def _apply(self, in_relay):
        """Carry a change of delay or loss to where the span is emulated: rewire when it moves
        across DIRECT_BELOW_MS (or gains loss, which the kernel path cannot drop), else netem,
        else `in_relay()` tells the span emulator."""
        if self._mode() != self.mode:
            self._stop_delay()
            self._start_delay()
        elif self.mode == 'netem':
            for dev in self.outer_names:
                self._netem(dev, 'change')
        elif self.mode == 'relay':
            in_relay()

    def set_up(self, up):
        """Cut the span (both switches see carrier loss, as with a cut fiber) or restore it."""
        set_links_up(self.outer_names, up)
        self.up = up

    def delete(self):
        if self.mode == 'relay':
            self.emulator.remove(self.span_id)
        for intf in (self.intf1, self.intf2):
            if intf is not None:
                run('ip', 'link', 'del', intf.name + 'r', check=False)  # takes the port with it
                intf.node.delIntf(intf)
        self.intf1 = self.intf2 = None

    def __str__(self):
        return f'{self.intf1}<->{self.intf2}' if self.intf1 else 'span (deleted)'
