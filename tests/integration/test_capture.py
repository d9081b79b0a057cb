"""Capture on a running triangle, with real tcpdump: a span into a pcap while probes ping
across it, a tenant host printed frame by frame, and the lab CLI's `capture`."""

import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import time

import pytest

from tests.integration.test_emulation import leftovers
from topologies.emulation import measure
from topologies.emulation.cli import FabricCLI
from topologies.emulation.net import Emulation, remove_names
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

NAAS_LAB = [sys.executable, '-m', 'topologies.lab.main']
PINGS = 5


@pytest.fixture(scope='module')
def triangle():
    fabric = load_fabric('triangle')
    with Emulation(fabric) as emu:
        yield emu
    assert leftovers(fabric) == []


def start_capture(*args):
    """`naas-lab capture ARGS --fabric triangle` in a process group of its own, as a terminal
    would start it, once tcpdump listens: (process, its stderr so far)."""
    proc = subprocess.Popen(
        [*NAAS_LAB, 'capture', *args, '--fabric', 'triangle'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
    )
    said = b''
    deadline = time.monotonic() + 15
    while b'listening on' not in said:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stderr.fileno(), 4096) if ready else b''
        if not chunk:
            proc.kill()
            proc.wait()
            pytest.fail(f'capture did not start: {said.decode()}')
        said += chunk
    return proc, said.decode()


def children(pid):
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(c) for c in f.read().split()]


def icmp_frames(pcap):
    """[(time s, source ip, destination ip, ICMP type, sequence)] of the IPv4 ICMP echo frames
    in a pcap file (microsecond or nanosecond, either byte order; Ethernet)."""
    with open(pcap, 'rb') as f:
        data = f.read()
    magic = data[:4]
    order = {
        b'\xd4\xc3\xb2\xa1': '<',
        b'\xa1\xb2\xc3\xd4': '>',
        b'\x4d\x3c\xb2\xa1': '<',
        b'\xa1\xb2\x3c\x4d': '>',
    }
    e = order[magic]  # KeyError: not a pcap file
    scale = 1e-9 if magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d') else 1e-6
    assert struct.unpack(e + 'I', data[20:24])[0] == 1  # link type Ethernet
    frames, at = [], 24
    while at < len(data):
        sec, frac, caplen, _ = struct.unpack(e + 'IIII', data[at : at + 16])
        frame = data[at + 16 : at + 16 + caplen]
        at += 16 + caplen
        if frame[12:14] != b'\x08\x00' or frame[23] != 1:  # IPv4, ICMP
            continue
        ihl = (frame[14] & 0x0F) * 4
        icmp = frame[14 + ihl :]
        if icmp[0] in (0, 8):
            src, dst = (
                '.'.join(map(str, frame[26:30])),
                '.'.join(map(str, frame[30:34])),
            )
            frames.append((sec + frac * scale, src, dst, icmp[0], struct.unpack('>H', icmp[6:8])[0]))
    assert at == len(data), 'a truncated record'
    return frames


def ping_probes(emu, span, count, interval_s=0.2):
    """Ping from the probe of the span's first site to the other's, across that span."""
    there = addr.probe_ip(emu.fabric.sites[span.b])
    return emu.probe(span.a).cmd(f'ping -n -c {count} -i {interval_s} -W 2 {there}')


def test_span_into_a_pcap_ended_by_sigterm(triangle, tmp_path):
    span = triangle.fabric.span('dca', 'dcb')
    pcap = tmp_path / 'dca-dcb.pcap'
    proc, said = start_capture('dca-dcb', '-w', str(pcap))
    assert 'capturing span dca-dcb at dca of fabric triangle into' in said
    tcpdump = children(proc.pid)
    assert len(tcpdump) == 1
    with measure._probe_paths(triangle, span):
        out = ping_probes(triangle, span, PINGS)
    assert f'{PINGS} received' in out, out
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    assert not os.path.exists(f'/proc/{tcpdump[0]}')  # stopped, and reaped
    a, b = (addr.probe_ip(triangle.fabric.sites[s]) for s in ('dca', 'dcb'))
    frames = icmp_frames(pcap)
    requests = {seq: t for t, src, dst, kind, seq in frames if (src, dst, kind) == (a, b, 8)}
    replies = {seq: t for t, src, dst, kind, seq in frames if (src, dst, kind) == (b, a, 0)}
    assert sorted(requests) == sorted(replies) == list(range(1, PINGS + 1)), frames
    # At dca's end a request enters the span and its reply comes out of it: at least the
    # span's delay both ways apart (the emulator never delivers early).
    for seq in requests:
        assert replies[seq] - requests[seq] >= 2 * span.delay_ms / 1000, (seq, frames)
    # and what reads pcap files reads it whole
    read = subprocess.run(['tcpdump', '-n', '-r', str(pcap), 'icmp'], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    assert len(read.stdout.splitlines()) == 2 * PINGS


def test_span_printed_until_ctrl_c(triangle):
    span = triangle.fabric.span('dcb', 'dcc')
    proc, said = start_capture('dcb-dcc')
    assert 'capturing span dcb-dcc at dcb of fabric triangle; Ctrl-C ends it' in said
    with measure._probe_paths(triangle, span):
        ping_probes(triangle, span, 2)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the capture's whole group
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    b, c = (addr.probe_ip(triangle.fabric.sites[s]) for s in ('dcb', 'dcc'))
    lines = out.decode().splitlines()
    assert sum(f'IP {b} > {c}: ICMP echo request' in line for line in lines) == 2, lines
    assert sum(f'IP {c} > {b}: ICMP echo reply' in line for line in lines) == 2, lines
    assert 'packets captured' in err.decode()


def test_pcap_to_stdout_and_a_file_it_cannot_write(triangle, tmp_path):
    span = triangle.fabric.span('dca', 'dcc')
    proc, _ = start_capture('dca-dcc', '-w', '-', '-c', '2')
    with measure._probe_paths(triangle, span):
        ping_probes(triangle, span, 2)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    pcap = tmp_path / 'stdout.pcap'
    pcap.write_bytes(out)
    assert len(icmp_frames(pcap)) == 2
    nowhere = tmp_path / 'no-such-directory' / 'x.pcap'
    p = subprocess.run(
        [*NAAS_LAB, 'capture', 'dca-dcc', '-w', str(nowhere), '--fabric', 'triangle'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 2
    assert p.stderr.endswith(f'naas-lab capture: cannot write {nowhere}: No such file or directory\n')


def test_host_printed_until_count(triangle):
    fabric = triangle.fabric
    red = fabric.tenants['red']
    host, peer = (fabric.sites[s] for s in ('dca', 'dcb'))
    source, target = addr.host_ip(red, host), addr.host_ip(red, peer)
    proc, said = start_capture('--host', 'red-dca', '-c', '3')
    assert 'capturing host red-dca at dca port dca-red' in said
    sender = triangle.host('red', 'dca')
    # No controller: nothing answers, but every request reaches the host's switch port.
    sender.cmd(f'ip neigh replace {target} lladdr {addr.host_mac(red, peer)} dev eth0 nud permanent')
    try:
        sender.cmd(f'ping -n -c 3 -i 0.2 -W 1 {target}')
        out, err = proc.communicate(timeout=10)
    finally:
        sender.cmd(f'ip neigh del {target} dev eth0')
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    assert len(lines) == 3, lines
    for line in lines:
        assert f'IP {source} > {target}: ICMP echo request' in line, lines


def test_lab_cli_capture(triangle, tmp_path, capsys):
    span = triangle.fabric.span('dcb', 'dcc')
    pcap = tmp_path / 'cli.pcap'
    script = tmp_path / 'commands'
    script.write_text(f'capture dcc-dcb -c 4 -w {pcap}\ncapture dcb-dcx\ncapture --host red-dcx\n')
    there = addr.probe_ip(triangle.fabric.sites['dcc'])
    with measure._probe_paths(triangle, span), open(os.devnull) as stdin:
        ping = triangle.probe('dcb').popen(['ping', '-n', '-c', '40', '-i', '0.1', '-W', '2', there])
        try:
            FabricCLI(triangle, stdin=stdin, script=str(script))
        finally:
            measure.finish(ping, 10)
    out = capsys.readouterr().out
    assert f'capturing span dcb-dcc at dcc into {pcap}; Ctrl-C ends it' in out
    assert "*** no span 'dcb-dcx' in fabric triangle; its spans: dca-dcb, dcb-dcc, dca-dcc" in out
    assert "*** no host 'red-dcx' in fabric triangle" in out
    frames = icmp_frames(pcap)
    b, c = (addr.probe_ip(triangle.fabric.sites[s]) for s in ('dcb', 'dcc'))
    assert len(frames) == 4 and {(src, dst) for _, src, dst, _, _ in frames} <= {(b, c), (c, b)}, frames


def ended(pid, timeout_s):
    """The exit status of child `pid` once it has ended, or None if it runs on after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def test_ctrl_c_in_the_lab_cli_ends_the_capture_alone():
    """`naas-lab up` on a terminal: Ctrl-C ends a capture and nothing else; the spans still
    carry frames (the span emulator did not get the Ctrl-C), and the lab ends cleanly."""
    fabric = load_fabric('thin-fat')
    pid, terminal = pty.fork()
    if pid == 0:  # the child: naas-lab on the terminal
        os.execv(sys.executable, [*NAAS_LAB, 'up', '--fabric', 'thin-fat'])
    said = b''

    def until(mark, timeout_s=60):
        nonlocal said
        deadline = time.monotonic() + timeout_s
        while mark not in said:
            ready, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
            try:
                chunk = os.read(terminal, 4096) if ready else b''
            except OSError:  # EIO: the terminal's other side is closed
                chunk = b''
            if not chunk:
                return False
            said += chunk
        return True

    try:
        assert until(b'naas> '), said.decode(errors='replace')
        os.write(terminal, b'capture west-east\n')
        assert until(b'listening on west-eastr'), said.decode(errors='replace')
        said = b''
        os.write(terminal, b'\x03')  # Ctrl-C, as typed
        assert until(b'naas> ', 10), said.decode(errors='replace')
        assert b'packets captured' in said
        said = b''
        os.write(terminal, b'measure west east\n')
        assert until(b'naas> ', 60), said.decode(errors='replace')
        measured = re.search(rb'^west-east\s+up\s+8\.000\s+([\d.]+)', said, re.M)
        assert measured and abs(float(measured.group(1)) - 8) <= 0.05 * 8 + 0.5, said.decode(errors='replace')
        os.write(terminal, b'exit\n')
        until(b'never said', 60)  # until naas-lab has closed the terminal
    finally:
        status = ended(pid, 0)
        if status is None:
            os.kill(pid, signal.SIGTERM)  # it tears the lab down
            status = ended(pid, 60)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            remove_names(fabric)  # what naas-lab clean removes after a killed run
        os.close(terminal)
    assert status is not None, 'naas-lab did not end'
    assert os.waitstatus_to_exitcode(status) == 0
    assert leftovers(fabric) == []
