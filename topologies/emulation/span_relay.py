"""Userspace fiber span: relay frames between two interfaces after a one-way delay.

This kernel has no sch_netem, so a long-haul span is emulated as

    switch A port X <-veth-> Xr  [span_relay]  Yr <-veth-> Y switch B port

Every frame arriving on Xr leaves on Yr after the span delay, and vice versa.
Bandwidth is shaped by HTB elsewhere; this process only adds delay, jitter and
loss. Senders must have checksum offload off (`ethtool -K IF tx off`): frames
are copied as captured, so a checksum left to "hardware" would stay unfilled.

    python -m topologies.emulation.span_relay --a Xr --b Yr --delay-ms 12.5

Control: newline-delimited JSON on stdin, e.g. {"delay_ms": 20},
{"jitter_ms": 1, "loss_percent": 0.5}, {"stats": true}; replies on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from collections import deque

ETH_P_ALL, SOL_PACKET, PACKET_AUXDATA, PACKET_IGNORE_OUTGOING, PACKET_OUTGOING = 3, 263, 8, 23, 4
SO_SNDBUFFORCE, SO_RCVBUFFORCE, SO_TIMESTAMPNS = 32, 33, 35  # SCM_TIMESTAMPNS is 35 too
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
AUXDATA, TIMESPEC = struct.Struct('IIIHHHH'), struct.Struct('qq')  # tpacket_auxdata, timespec
CMSG_SPACE = socket.CMSG_SPACE(AUXDATA.size) + socket.CMSG_SPACE(TIMESPEC.size)
BUF_BYTES, MAX_FRAME = 4 << 20, 65535
# Waking from an idle sleep takes 0.1-0.3 ms here (VM exit, C-states), more than the
# accuracy we want; so sleep until this long before a departure, then poll.
EARLY_S = 0.0004
# A frame this late when its turn comes is dropped, as a router port's finite buffer would:
# when this machine's cores fall behind, the span must not turn into seconds of queue (which
# TCP would fill and every LLDP probe would wait in), but lose frames so senders back off.
MAX_LATE_MS = 100.0
SETTINGS = ('delay_ms', 'jitter_ms', 'loss_percent')


class DelayLine:
    """One direction of a span: a FIFO of frames, each released at its due time.

    Times are seconds on a monotonic clock, passed in by the caller so that the
    class is pure (no sockets, no clock) and unit-testable.
    """

    def __init__(
        self,
        delay_ms=0.0,
        jitter_ms=0.0,
        loss_percent=0.0,
        max_frames=10000,
        rng: random.Random | None = None,
        max_late_ms=None,
    ):
        self.delay_ms, self.jitter_ms, self.loss_percent = delay_ms, jitter_ms, loss_percent
        self.max_frames, self.rng = max_frames, rng or random.Random()
        self.max_late_s = math.inf if max_late_ms is None else max_late_ms / 1000.0
        self._queue: deque[tuple[float, bytes]] = deque()  # due times never decrease
        self._last_due = -math.inf
        self.received = self.sent = self.dropped_loss = self.dropped_queue = self.dropped_send = 0
        self.dropped_late = 0

    def push(self, now: float, frame: bytes) -> bool:
        """Queue frame; False if it was lost or the queue is full."""
        self.received += 1
        if self.loss_percent and self.rng.random() * 100.0 < self.loss_percent:
            self.dropped_loss += 1
            return False
        if len(self._queue) >= self.max_frames:
            self.dropped_queue += 1
            return False
        delay = self.delay_ms
        if self.jitter_ms:  # uniform in +-jitter, as netem does without a distribution table
            delay = max(0.0, delay + self.rng.uniform(-self.jitter_ms, self.jitter_ms))
        # A fiber does not reorder: a frame never departs before the one ahead of it.
        self._last_due = max(now + delay / 1000.0, self._last_due)
        self._queue.append((self._last_due, frame))
        return True

    def pop_due(self, now: float) -> list[bytes]:
        """The frames due by `now`, less those more than max_late_ms overdue (dropped)."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            due, frame = self._queue.popleft()
            if now - due > self.max_late_s:
                self.dropped_late += 1
            else:
                out.append(frame)
        self.sent += len(out)
        return out

    def next_due(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def send_failed(self) -> None:
        """The kernel refused a popped frame (span cut, buffers full): count it as dropped."""
        self.sent -= 1
        self.dropped_send += 1

    def counters(self) -> dict:
        return {
            'received': self.received,
            'sent': self.sent,
            'queued': len(self._queue),
            'dropped_loss': self.dropped_loss,
            'dropped_queue': self.dropped_queue,
            'dropped_send': self.dropped_send,
            'dropped_late': self.dropped_late,
        }


def check_setting(key: str, value) -> float:
    """value as a float if it is valid for setting key, else ValueError."""
    top = 100.0 if key == 'loss_percent' else math.inf
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0 <= value <= top and math.isfinite(value))
    ):
        raise ValueError(f'{key} must be a number >= 0' + (' and <= 100' if top == 100 else ''))
    return float(value)


def open_port(ifname: str) -> tuple[socket.socket, bool]:
    """Raw socket on ifname; also returns whether the kernel hides our own sends."""
    # Protocol 0 until bind, so frames of other interfaces are never queued.
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:  # FORCE ignores net.core.[rw]mem_max (needs CAP_NET_ADMIN)
            sock.setsockopt(socket.SOL_SOCKET, force, BUF_BYTES)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, plain, BUF_BYTES)
    # The kernel moves VLAN tags out of received frames into metadata; auxdata gives them back.
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    # Kernel arrival times: our own wakeup after an idle wait lags them by ~0.1 ms.
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)  # Linux >= 4.20
        ignores_outgoing = True
    except OSError:
        ignores_outgoing = False
    sock.bind((ifname, ETH_P_ALL))
    sock.setblocking(False)
    return sock, ignores_outgoing


def receive(sock: socket.socket, ignores_outgoing: bool):
    """Yield (arrival on the monotonic clock, frame with its VLAN tag) until EAGAIN."""
    now = time.monotonic()
    realtime_offset = time.time() - now  # the kernel stamps frames with CLOCK_REALTIME
    while True:
        try:
            frame, ancillary, _flags, addr = sock.recvmsg(MAX_FRAME, CMSG_SPACE)
        except OSError:  # EAGAIN: drained; ENETDOWN is reported once when the link drops
            return
        if not ignores_outgoing and addr[2] == PACKET_OUTGOING:
            continue  # our own send (or the host's) echoed back
        arrival = now
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = TIMESPEC.unpack_from(data)
                stamp = sec + nsec / 1e9 - realtime_offset
                if abs(stamp - now) < 1.0:  # else the wall clock was stepped: distrust it
                    arrival = stamp
            elif level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, _, _, _, _, tci, tpid = AUXDATA.unpack_from(data)
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    frame = frame[:12] + struct.pack('!HH', tpid, tci) + frame[12:]
        yield arrival, frame


def handle_command(text: bytes, lines: list[DelayLine], names: tuple[str, str]) -> dict | None:
    """Apply one control line; return the reply to print, if any."""
    try:
        cmd = json.loads(text)
        if not isinstance(cmd, dict):
            raise ValueError('command must be a JSON object')
        unknown = sorted(set(cmd) - {*SETTINGS, 'stats'})
        if unknown:
            raise ValueError(f'unknown keys {unknown}')
        # Validate everything before applying anything.
        settings = {key: check_setting(key, cmd[key]) for key in SETTINGS if key in cmd}
    except ValueError as exc:  # includes JSON and UTF-8 decode errors
        return {'error': str(exc)}
    for line in lines:
        for key, value in settings.items():
            setattr(line, key, value)
    if not cmd.get('stats'):
        return None
    return {
        'a': names[0],
        'b': names[1],
        'settings': {k: getattr(lines[0], k) for k in SETTINGS},
        'a_to_b': lines[0].counters(),
        'b_to_a': lines[1].counters(),
    }


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def run(ports, lines: list[DelayLine], names: tuple[str, str]) -> None:
    """Relay until stdin reaches EOF."""
    (sock_a, ign_a), (sock_b, ign_b) = ports
    inbound = {sock_a.fileno(): (sock_a, ign_a, lines[0]), sock_b.fileno(): (sock_b, ign_b, lines[1])}
    outbound = ((lines[0], sock_b), (lines[1], sock_a))
    stdin, pending = sys.stdin.fileno(), b''
    while True:
        now = time.monotonic()
        for line, out in outbound:
            for frame in line.pop_due(now):
                try:
                    out.send(frame)
                except OSError:  # ENETDOWN/ENXIO (span cut), ENOBUFS/EAGAIN, EMSGSIZE
                    line.send_failed()
        dues = [due for due in (line.next_due() for line in lines) if due is not None]
        # select() takes a microsecond timeval; epoll would round up to whole ms.
        # Nothing queued: block without timeout so an idle span costs no CPU.
        timeout = max(0.0, min(dues) - time.monotonic() - EARLY_S) if dues else None
        for fd in select.select([stdin, *inbound], [], [], timeout)[0]:
            if fd != stdin:
                sock, ignores_outgoing, line = inbound[fd]
                for arrival, frame in receive(sock, ignores_outgoing):
                    line.push(arrival, frame)
                continue
            chunk = os.read(stdin, 65536)
            if not chunk:
                return  # parent gone or done with us
            *commands, pending = (pending + chunk).split(b'\n')
            for text in filter(bytes.strip, commands):
                reply = handle_command(text, lines, names)
                if reply:
                    emit(reply)


def _stop(_signum, _frame):
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--a', required=True, help='interface of side A (e.g. Xr)')
    parser.add_argument('--b', required=True, help='interface of side B (e.g. Yr)')
    parser.add_argument('--delay-ms', type=float, required=True, help='one-way delay')
    parser.add_argument('--jitter-ms', type=float, default=0.0)
    parser.add_argument('--loss-percent', type=float, default=0.0)
    parser.add_argument(
        '--max-late-ms',
        type=float,
        default=MAX_LATE_MS,
        help=f'drop frames this overdue (default {MAX_LATE_MS:g})',
    )
    args = parser.parse_args(argv)
    try:
        settings = [check_setting(key, getattr(args, key)) for key in SETTINGS]
    except ValueError as exc:
        parser.error(str(exc))
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        ports = [open_port(args.a), open_port(args.b)]
    except OSError as exc:
        emit({'error': f'cannot open {args.a}/{args.b}: {exc}'})
        return 1
    lines = [DelayLine(*settings, max_late_ms=args.max_late_ms) for _ in range(2)]
    try:
        emit({'ready': True})
        run(ports, lines, (args.a, args.b))
    finally:
        for sock, _ in ports:
            sock.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
