"""Capture what crosses a span or reaches a host of a running fabric, with tcpdump.

Where each is captured, and why:
- span `A-B`: at the span emulator's end on A's side (`A-Br`, in the host's namespace). That
  one interface sees both directions: the frames A sends, as they enter the span, and the
  frames for A, as they leave it after the span's delay (a ping from A shows its request
  and reply a round trip apart, as A sees them). It is there whether the span emulator
  relays the span or the kernel joins its ends, and it needs no namespace. The fabric names
  a span `A-B` with A its first site; `B-A` captures at B's end instead.
- host `<tenant>-<site>` (or `probe-<site>`): at its port on its site's switch (`<site>-<tenant>`),
  in the switch's namespace: everything the host sends and everything delivered to it.

tcpdump runs with -n (no name look-ups: nothing leaves the lab). Without a file it prints
one line per frame as it comes (-l); with one it writes a pcap (-U: every frame flushed, so
the file is whole whenever the capture stops) that Wireshark opens.
"""

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass

from topologies.model import addressing as addr

TCPDUMP = 'tcpdump'
TCPDUMP_PACKAGE = 'tcpdump'  # Debian's; scripts/setup-host.sh installs it
IFF_UP = 0x1
STOP_TIMEOUT_S = 2.0


class CaptureError(ValueError):
    """A capture that cannot start: what is wrong, in words for the user."""


@dataclass(frozen=True)
class CapturePoint:
    what: str  # 'span dca-dcb at dca', for the user
    intf: str
    site: str = None  # the site whose switch's namespace holds intf; None: the host's namespace


def add_arguments(p):
    """The capture's own arguments, shared by `naas-lab capture` and the lab CLI's `capture`."""
    p.add_argument(
        'span',
        nargs='?',
        metavar='SPAN',
        help="a span as the fabric names it, A-B (captured at A's end; B-A: at B's end)",
    )
    p.add_argument('--host', metavar='HOST', help='a host instead: TENANT-SITE or probe-SITE')
    p.add_argument(
        '-w',
        dest='write',
        metavar='FILE.pcap',
        help='write a pcap file (for Wireshark; - writes it to stdout) instead of printing frames',
    )
    p.add_argument('-c', dest='count', type=_positive, metavar='COUNT', help='stop after COUNT frames')


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'expected a number of frames >= 1, got {text!r}')
    return int(text)


def capture_point(fabric, span=None, host=None):
    """Where to capture a span (A-B, either order) or a host of `fabric`; CaptureError if the
    fabric has no such span or host, or neither or both are given."""
    if (span is None) == (host is None):
        raise CaptureError('give a SPAN or --host HOST (one of them)')
    if span is not None:
        ends = {f'{s.a}-{s.b}': (s.a, s.b) for s in fabric.spans}
        ends.update({f'{s.b}-{s.a}': (s.b, s.a) for s in fabric.spans})
        if span not in ends:
            raise CaptureError(
                f'no span {span!r} in fabric {fabric.name}; its spans: {_few(s.id for s in fabric.spans)}'
            )
        a, b = ends[span]
        return CapturePoint(f'span {fabric.span(a, b).id} at {a}', addr.span_intf(a, b) + 'r')
    ports = {}
    for site in fabric.sites.values():
        ports[addr.probe_name(site)] = (site.id, addr.probe_intf(site))
    for tenant in fabric.tenants.values():
        for site in (fabric.sites[s] for s in tenant.sites):
            ports[addr.host_name(tenant, site)] = (site.id, addr.tenant_intf(tenant, site))
    if host not in ports:
        tenant_hosts = [h for h in ports if not h.startswith('probe-')]
        raise CaptureError(
            f'no host {host!r} in fabric {fabric.name}; its hosts: {_few(tenant_hosts)} and probe-SITE'
        )
    site_id, intf = ports[host]
    return CapturePoint(f'host {host} at {site_id} port {intf}', intf, site=site_id)


def _few(names, most=12):
    names = list(names)
    shown = ', '.join(names[:most])
    return shown if len(names) <= most else f'{shown}, ... ({len(names)} in all)'


def tcpdump_path():
    """tcpdump's program, or CaptureError saying which package brings it."""
    path = shutil.which(TCPDUMP)
    if path is None:
        raise CaptureError(
            f'{TCPDUMP} is not installed: apt-get install {TCPDUMP_PACKAGE} (scripts/setup-host.sh does)'
        )
    return path


def tcpdump_argv(tcpdump, point, netns_pid=None, write=False, count=None):
    """The command that captures at `point` with the program `tcpdump` (tcpdump_path()):
    through nsenter (which execs it, so the process started is tcpdump itself) when the
    point is in a switch's namespace."""
    argv = [tcpdump, '-i', point.intf, '-n']
    argv += ['-U', '-w', '-'] if write else ['-l']
    if count:
        argv += ['-c', str(count)]
    if point.site is None:
        return argv
    return ['nsenter', f'--net=/proc/{netns_pid}/ns/net', *argv]


def check_up(point):
    """A span's end must be up when tcpdump opens it (a capture already running rides out a cut)."""
    if point.site is not None:
        return
    try:
        with open(f'/sys/class/net/{point.intf}/flags') as f:
            up = int(f.read(), 16) & IFF_UP
    except FileNotFoundError:
        raise CaptureError(f'{point.what}: its interface {point.intf} does not exist') from None
    if not up:
        raise CaptureError(f'{point.what}: the span is cut (its interface {point.intf} is down)')


def run(argv, write=None):
    """Run the capture until tcpdump ends (its -c, or Ctrl-C) or this process is interrupted
    (SIGTERM turned into an exception by the caller): then tcpdump is stopped, by its pid,
    and the exception goes on. `write`: the pcap's path, '-' for stdout. Returns tcpdump's
    exit status.

    On a terminal tcpdump runs as its foreground job, as a shell runs a command: Ctrl-C
    reaches tcpdump alone. Otherwise it would reach every process of the lab's group too
    (the span emulator, controller replicas), and a capture ended in the lab's CLI would
    take the fabric's spans down with it."""
    out = None
    if write and write != '-':
        try:
            out = open(write, 'wb')
        except OSError as e:
            raise CaptureError(f'cannot write {write}: {e.strerror}') from None
    terminal = _own_terminal()
    try:
        proc = subprocess.Popen(argv, stdout=out, process_group=0 if terminal is not None else None)
        try:
            with _foreground(terminal, proc.pid):
                return proc.wait()
        except BaseException:
            stop(proc)
            raise
    finally:
        if out is not None:
            out.close()


def _own_terminal():
    """Standard input's terminal, if this process is its foreground job; else None."""
    try:
        fd = sys.stdin.fileno()
        return fd if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp() else None
    except (AttributeError, OSError, ValueError):  # no stdin, or one without a descriptor
        return None


@contextlib.contextmanager
def _foreground(terminal, pgid):
    """Process group `pgid` is the terminal's foreground job meanwhile, then this one again."""
    if terminal is None:
        yield
        return
    ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # taking the terminal back from the background
    try:
        try:
            os.tcsetpgrp(terminal, pgid)
        except OSError:  # tcpdump already gone (it failed at once): its status says why
            pass
        yield
    finally:
        os.tcsetpgrp(terminal, os.getpgrp())
        signal.signal(signal.SIGTTOU, ttou)


def stop(proc):
    """End tcpdump as Ctrl-C would (it flushes and prints its counts), by its pid; kill it
    if it has not ended within STOP_TIMEOUT_S."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def switch_netns_pid(rundir, site_id):
    """A process in a site switch's namespace, found from outside the lab: one of its OVS
    daemons, by the pid file in the fabric's run directory (switch.py)."""
    from topologies.emulation.switch import DAEMONS, daemon_pid  # Mininet: not for `naas-lab --help`

    for daemon in DAEMONS:
        pid = daemon_pid(os.path.join(rundir, site_id), daemon)
        if pid is not None:
            return pid
    raise CaptureError(f'site {site_id} is down (its switch is not running): its ports cannot be captured')
