"""A long-haul span as a Mininet link: scaled bandwidth (HTB) and one-way delay.

Each span is two veth pairs whose inner ends are joined with the span's delay:

    switch A port `A-B` <-veth-> `A-Br`  [delay]  `B-Ar` <-veth-> `B-A` switch B port

The delay is netem where the kernel has it (tc mirred joins the ends, netem holds frames).
Where it does not (these machines), a span emulator process (`span_relay`) joins them, or,
for spans too short for a process to delay, tc mirred alone. HTB (through OVS QoS) on the
switch ports shapes what each switch sends into the span. Cutting the span takes the
joined ends down, so both switches lose carrier, as with a cut fiber.
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

from mininet.link import Link

QUEUE_MS = 50  # span queue: 50 ms of traffic at line rate, as a WAN router would hold
MIN_QUEUE_FRAMES = 32
# Room for MPLS labels (4 bytes each) on top of a host's 1500-byte frames, as backbone
# links carry; the hosts keep 1500.
SPAN_MTU = 1600
READY_TIMEOUT_S = 10
# Below this delay the kernel joins a span's ends directly, adding nothing: a relay process
# would add its own wake-up (0.1-0.25 ms on these VMs), more than the span's delay.
DIRECT_BELOW_MS = 0.2
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


class SpanLink(Link):
    """A span between two site switches, each in its own namespace."""

    def __init__(self, node1, node2, mbps, delay_ms, **params):
        self.mbps, self.delay_ms = float(mbps), float(delay_ms)
        self.netem = netem_available()
        self.relay = None
        self.mode = None  # 'netem', 'relay', or 'direct' (no delay to add)
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
        return 'direct' if self.delay_ms < DIRECT_BELOW_MS else 'relay'

    def _start_delay(self):
        """Join the emulator's two ends: in the kernel (tc mirred, then netem or nothing), or
        through a span_relay process."""
        self.mode = self._mode()
        a, b = self.outer_names
        if self.mode == 'relay':
            self.relay = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    'topologies.emulation.span_relay',
                    '--a',
                    a,
                    '--b',
                    b,
                    '--delay-ms',
                    str(self.delay_ms),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            ready, _, _ = select.select([self.relay.stdout], [], [], READY_TIMEOUT_S)
            line = self.relay.stdout.readline() if ready else ''
            if not line.startswith('{"ready": true}'):
                raise RuntimeError(f'span emulator for {self} did not start: {line.strip()!r}')
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
            self.stop_relay()
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
            'limit',
            str(queue_frames(self.mbps)),
        )

    def set_delay(self, delay_ms):
        """Change the one-way delay in both directions (frames already in flight keep theirs)."""
        if not (math.isfinite(delay_ms) and delay_ms >= 0):
            raise ValueError(f'delay must be a number of ms >= 0, got {delay_ms}')
        self.delay_ms = float(delay_ms)
        if self._mode() != self.mode:  # crossing DIRECT_BELOW_MS: rewire
            self._stop_delay()
            self._start_delay()
        elif self.mode == 'netem':
            for dev in self.outer_names:
                self._netem(dev, 'change')
        elif self.mode == 'relay':
            self.relay.stdin.write(json.dumps({'delay_ms': self.delay_ms}) + '\n')
            self.relay.stdin.flush()

    def set_up(self, up):
        """Cut the span (both switches see carrier loss, as with a cut fiber) or restore it."""
        set_links_up(self.outer_names, up)
        self.up = up

    def stop_relay(self):
        if self.relay and self.relay.poll() is None:
            self.relay.stdin.close()  # EOF: the relay exits by itself
            try:
                self.relay.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        self.relay = None

    def delete(self):
        self.stop_relay()
        for intf in (self.intf1, self.intf2):
            if intf is not None:
                run('ip', 'link', 'del', intf.name + 'r', check=False)  # takes the port with it
                intf.node.delIntf(intf)
        self.intf1 = self.intf2 = None

    def __str__(self):
        return f'{self.intf1}<->{self.intf2}' if self.intf1 else 'span (deleted)'
