"""Benchmark how an intent's bandwidth can be enforced with OpenFlow 1.3 on this machine.

Brings up a two-site fabric of its own (one span, three tenants with a host at each site),
hand-installs the flows the controller would install for one intent per tenant (push an
MPLS label at ingress, match it and pop it at egress, static ARP on the hosts), and
measures iperf3 traffic between the tenants' hosts under each enforcement mechanism
(`--modes`, default all):

    meter   an OpenFlow 1.3 drop meter at ingress (`meter:N` instruction), for several
            burst sizes: `10ms` = the rate times 10 ms, `rtt` = the rate times the path's
            measured RTT, `500kbit` = a fixed size, `none` = no burst flag (OVS default)
    queue   a linux-htb queue per intent on the ingress switch's span port (min-rate =
            max-rate = the intent's rate) and `set_queue:Q` in the ingress flow: OpenFlow only
    htb     the same queue and set_queue, plus a tc u32 filter on the span port that sends
            the intent's MPLS label to its queue (done outside OpenFlow, in the switch's netns)
    none    nothing: the span's own shaping only (a baseline)

Scenarios (`--scenario`, default both):

    single  one intent at each of --fractions of the span rate: one TCP flow (per burst
            size, for meters): achieved / rate, target >= 90%; then UDP at twice the rate,
            which must be capped at ~ the rate
    shared  three intents on one span whose rate is their sum plus --headroom: tenant ta
            sends one TCP flow while tb and tc flood UDP at twice their rates, then all
            three flood UDP, then all three send --parallel TCP flows each, then ta alone

The span's veths get --span-mtu (default 1600): a full-size IPv4 packet plus an MPLS label
is 1504 bytes, which a 1500-byte veth drops (ping passes, TCP carries nothing).

Run as root from the repository (about 20 minutes with the defaults):

    .venv/bin/python scripts/bench/enforcement.py [--span-mbps 100] [--delay-ms 10]
        [--modes meter queue htb none] [--scenario single shared]
        [--bursts 2ms 10ms 50ms 100ms rtt 500kbit none] > /tmp/enforcement.md

Prints Markdown tables (machine and date included). The fabric is named
`enforcement-bench` and removed on exit, whatever happens (Emulation context manager).
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from datetime import date

from mininet.log import setLogLevel

from topologies.emulation.measure import finish, wait_listening
from topologies.emulation.net import Emulation
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

FABRIC_NAME = 'enforcement-bench'
SITE_A, SITE_B = 'enfa', 'enfb'
TENANTS = ('ta', 'tb', 'tc')
COOKIE = 0x454E460000000000  # 'ENF'
PRIORITY = 100
IPERF_PORT = 5201
UDP_LEN = 1400  # bytes of UDP payload: a 1442-byte frame

FABRIC_YAML = """\
name: {name}
description: Two sites, one span, three tenants (scripts/bench/enforcement.py).
emulation:
  bandwidth_scale: 0.001
sites:
  - {{id: {a}, kind: datacenter, lat: 39.0, lon: -77.5}}
  - {{id: {b}, kind: datacenter, lat: 40.1, lon: -82.8}}
spans:
  - {{between: [{a}, {b}], capacity_gbps: {mbps}, delay_ms: {delay}}}
tenants:
{tenants}
"""


def make_fabric(directory, span_mbps, delay_ms):
    path = os.path.join(directory, f'{FABRIC_NAME}.yaml')
    tenants = '\n'.join(f'  - {{id: {t}, sites: [{SITE_A}, {SITE_B}]}}' for t in TENANTS)
    with open(path, 'w') as f:
        f.write(
            FABRIC_YAML.format(
                name=FABRIC_NAME, a=SITE_A, b=SITE_B, mbps=span_mbps, delay=delay_ms, tenants=tenants
            )
        )
    return load_fabric(path)


def burst_kbit(spec, rate_mbps, rtt_ms):
    """Meter burst size in kbit (OVS: kbit for kbps meters) from `10ms`, `rtt`, `2rtt`,
    `500kbit`; None for `none` (no burst flag: OVS then picks its own)."""
    if spec == 'none':
        return None
    if m := re.fullmatch(r'(\d*(?:\.\d+)?)rtt', spec):
        return max(1, round(rate_mbps * float(m[1] or 1) * rtt_ms))
    if m := re.fullmatch(r'(\d+(?:\.\d+)?)ms', spec):
        return max(1, round(rate_mbps * float(m[1])))  # Mb/s x ms = kbit
    if m := re.fullmatch(r'(\d+)kbit', spec):
        return int(m[1])
    raise ValueError(f'burst {spec!r}: use Nms, [N]rtt, Nkbit or none')


class Bench:
    """One emulated fabric and the intents installed on it."""

    def __init__(self, emu):
        self.emu = emu
        self.fabric = emu.fabric
        self.span_port = {
            SITE_A: addr.span_port(self.fabric, SITE_A, SITE_B),
            SITE_B: addr.span_port(self.fabric, SITE_B, SITE_A),
        }
        self.span_mbps = self.fabric.spans[0].emulated_mbps
        self.qos = {}  # site -> uuid of the span port's QoS row (made by the emulation)
        self._static_arp()

    def set_span_mtu(self, mtu):
        """MTU of the span's four veth ends: a full-size IPv4 packet plus an MPLS label is
        1504 bytes, more than the default 1500, and veth drops what exceeds its MTU."""
        for here, there in ((SITE_A, SITE_B), (SITE_B, SITE_A)):
            intf = addr.span_intf(here, there)
            self.emu.switch(here).vsctl('set', 'interface', intf, f'mtu_request={mtu}')
            subprocess.run(['ip', 'link', 'set', intf + 'r', 'mtu', str(mtu)], check=True)

    def tenant(self, tid):
        return self.fabric.tenants[tid]

    def _static_arp(self):
        for t in self.fabric.tenants.values():
            for here, there in ((SITE_A, SITE_B), (SITE_B, SITE_A)):
                peer = self.fabric.sites[there]
                self.emu.host(t.id, here).cmd(
                    f'ip neigh replace {addr.host_ip(t, peer)} lladdr {addr.host_mac(t, peer)} '
                    'dev eth0 nud permanent'
                )

    # Intents: flows, meters, queues.
    def install(self, tid, rate_mbps=None, burst=None, mode='meter'):
        """Both directions of tenant `tid`'s intent across the span, enforced by `mode`
        ('meter', 'queue', 'htb' or 'none'); `burst` in kbit (meter) or None (no burst flag)."""
        t = self.tenant(tid)
        for here, there in ((SITE_A, SITE_B), (SITE_B, SITE_A)):
            sw, peer = self.emu.switch(here), self.fabric.sites[there]
            out_label, in_label = label(t, here), label(t, there)
            enforce = ''
            if mode == 'meter':
                flags = 'kbps,stats' + (',burst' if burst is not None else '')
                band = f'type=drop,rate={round(rate_mbps * 1000)}'
                if burst is not None:
                    band += f',burst_size={burst}'
                sw.ofctl('add-meter', f'meter={t.number},{flags},band={band}')
                enforce = f'meter:{t.number},'
            elif mode in ('queue', 'htb'):
                self.set_queue(here, t.number, rate_mbps)
                if mode == 'htb':
                    self.classify(here, out_label, t.number)
            flow = f'cookie={COOKIE:#x},priority={PRIORITY}'
            sw.ofctl(
                'add-flow',
                f'{flow},in_port={addr.tenant_port(t)},ip,nw_dst={addr.host_ip(t, peer)},'
                f'actions={enforce}push_mpls:0x8847,set_field:{out_label}->mpls_label,'
                + (f'set_queue:{t.number},' if mode in ('queue', 'htb') else '')
                + f'output:{self.span_port[here]}',
            )
            sw.ofctl(
                'add-flow',
                f'{flow},in_port={self.span_port[here]},mpls,mpls_label={in_label},'
                f'actions=pop_mpls:0x0800,output:{addr.tenant_port(t)}',
            )

    def clear(self):
        """Remove every intent's flows, meters and queues."""
        for site in (SITE_A, SITE_B):
            sw = self.emu.switch(site)
            sw.ofctl('del-flows', f'cookie={COOKIE:#x}/-1')
            sw.ofctl('del-meters')
            sw.cmd(f'tc filter del dev {self.span_intf(site)} parent 1: protocol mpls_uc prio 1 2>/dev/null')
            if site in self.qos:
                queues = sw.vsctl('get', 'qos', self.qos[site], 'queues').stdout.strip()
                for qid, uuid in re.findall(r'(\d+)=([0-9a-f-]{36})', queues):
                    if qid != '0':
                        sw.vsctl(
                            'remove', 'qos', self.qos[site], 'queues', qid, '--', 'destroy', 'queue', uuid
                        )

    def span_intf(self, site):
        return addr.span_intf(site, SITE_B if site == SITE_A else SITE_A)

    def set_queue(self, site, qid, rate_mbps):
        """Queue `qid` (min = max = the rate) in the HTB QoS the emulation put on the span port."""
        sw = self.emu.switch(site)
        if site not in self.qos:
            self.qos[site] = sw.vsctl('get', 'port', self.span_intf(site), 'qos').stdout.strip()
        rate = str(int(rate_mbps * 1e6))
        sw.vsctl(
            '--',
            'set',
            'qos',
            self.qos[site],
            f'queues:{qid}=@q',
            '--',
            '--id=@q',
            'create',
            'queue',
            f'other-config:min-rate={rate}',
            f'other-config:max-rate={rate}',
        )

    def classify(self, site, mpls_label, qid):
        """Send frames with this top MPLS label to queue `qid` (HTB class 1:qid+1): set_queue
        alone does not reach the kernel's qdisc from OVS's userspace datapath."""
        out = self.emu.switch(site).cmd(
            f'tc filter add dev {self.span_intf(site)} parent 1: protocol mpls_uc prio 1 u32 '
            f'match u32 {mpls_label << 12:#x} 0xfffff000 at 0 flowid 1:{qid + 1} && echo ok'
        )
        if 'ok' not in out:
            raise RuntimeError(f'tc filter on {self.span_intf(site)}: {out.strip()}')

    def meter_stats(self, site):
        return self.emu.switch(site).ofctl('meter-stats').stdout

    def tc_classes(self, site):
        return self.emu.switch(site).cmd(f'tc -s class show dev {self.span_intf(site)}')

    # Traffic: tenant hosts at SITE_A send to their peers at SITE_B.
    def rtt_ms(self, tid='ta', count=10):
        t = self.tenant(tid)
        out = self.emu.host(tid, SITE_A).cmd(
            f'ping -n -c {count + 1} -i 0.05 -W 1 {addr.host_ip(t, self.fabric.sites[SITE_B])}'
        )
        rtts = [float(x) for seq, x in re.findall(r'icmp_seq=(\d+) .*time=([\d.]+) ms', out) if int(seq) > 1]
        return min(rtts) if rtts else None

    def run(self, flows, seconds, omit):
        """Run iperf3 flows at once; flows = [(tenant id, 'tcp' | ('udp', Mb/s), parallel)].
        Returns the Mb/s each one delivered (received by the server; 0.0 if it failed)."""
        servers, clients = [], []
        try:
            for tid, _, _ in flows:
                srv = self.emu.host(tid, SITE_B).popen(
                    ['iperf3', '-s', '-1', '-p', str(IPERF_PORT)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                servers.append(srv)
            for tid, _, _ in flows:
                wait_listening(self.emu.host(tid, SITE_B), IPERF_PORT)
            for tid, kind, parallel in flows:
                t = self.tenant(tid)
                argv = [
                    'iperf3',
                    '-c',
                    addr.host_ip(t, self.fabric.sites[SITE_B]),
                    '-p',
                    str(IPERF_PORT),
                    '-t',
                    str(seconds),
                    '-O',
                    str(omit),
                    '-J',
                    '-P',
                    str(parallel),
                    '--connect-timeout',
                    '3000',
                ]
                if kind != 'tcp':
                    argv += ['-u', '-b', f'{kind[1]}M', '-l', str(UDP_LEN)]
                clients.append(
                    self.emu.host(tid, SITE_A).popen(
                        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
                    )
                )
            return [received_mbps(finish(c, seconds + omit + 20)) for c in clients]
        finally:
            for proc in clients + servers:
                if proc.poll() is None:
                    proc.terminate()
                finish(proc, 5)


def label(tenant, ingress_site):
    """The MPLS label of a tenant's intent from `ingress_site` (one per direction)."""
    return 1000 + 10 * tenant.number + (1 if ingress_site == SITE_A else 2)


def received_mbps(out):
    try:
        end = json.loads(out)['end']
    except ValueError:
        return 0.0
    if 'sum_received' in end:  # TCP
        return round(end['sum_received']['bits_per_second'] / 1e6, 2)
    s = end.get('sum', {})  # UDP: sent minus lost
    if not s.get('packets'):
        return 0.0
    return round(s['bits_per_second'] * (1 - s['lost_packets'] / s['packets']) / 1e6, 2)


# Scenarios: each yields Markdown table rows.
def pct(x, rate):
    return f'{100 * x / rate:.0f}%'


def single(bench, args, mode, rtt):
    rows = []
    specs = args.bursts if mode == 'meter' else ['-']
    for fraction in args.fractions:
        rate = round(bench.span_mbps * fraction, 3)
        for spec in specs:
            burst = burst_kbit(spec, rate, rtt) if mode == 'meter' else None
            bench.clear()
            bench.install('ta', rate, burst, mode)
            (tcp,) = bench.run([('ta', 'tcp', 1)], args.seconds, args.omit)
            (udp,) = bench.run([('ta', ('udp', 2 * rate), 1)], args.seconds, args.omit)
            log(f'{mode} rate {rate} burst {spec}: tcp {tcp} udp {udp}')
            rows.append(
                [
                    mode,
                    f'{rate:g}',
                    spec,
                    '-' if burst is None else str(burst),
                    f'{tcp:g}',
                    pct(tcp, rate),
                    f'{udp:g}',
                    pct(udp, rate),
                ]
            )
    bench.clear()
    return rows


def shared(bench, args, mode, rtt):
    rates = [round(bench.span_mbps / (1 + args.headroom) * w / sum(args.weights), 3) for w in args.weights]
    bench.clear()
    for tid, r in zip(TENANTS, rates):
        bench.install(tid, r, burst_kbit(args.shared_burst, r, rtt) if mode == 'meter' else None, mode)
    cases = {
        'ta TCP, tb+tc UDP 2x': [
            ('ta', 'tcp', 1),
            ('tb', ('udp', 2 * rates[1]), 1),
            ('tc', ('udp', 2 * rates[2]), 1),
        ],
        'all UDP 2x': [(t, ('udp', 2 * r), 1) for t, r in zip(TENANTS, rates)],
        f'all TCP x{args.parallel}': [(t, 'tcp', args.parallel) for t in TENANTS],
        'ta TCP alone': [('ta', 'tcp', 1)],
    }
    rows = []
    for name, flows in cases.items():
        got = bench.run(flows, args.seconds, args.omit)
        log(f'{mode} shared {name}: {got}')
        cells = []
        for (tid, _, _), mbps in zip(flows, got):
            r = rates[TENANTS.index(tid)]
            cells.append(f'{tid} {mbps:g}/{r:g} = {pct(mbps, r)}')
        rows.append(
            [mode, args.shared_burst if mode == 'meter' else '-', name, '<br>'.join(cells), f'{sum(got):g}']
        )
    bench.clear()
    return rows


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


def log(message):
    print(message, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--span-mbps', type=float, default=100, help='emulated span rate')
    p.add_argument('--delay-ms', type=float, default=10, help='one-way span delay')
    p.add_argument(
        '--modes',
        nargs='+',
        default=['meter', 'queue', 'htb', 'none'],
        choices=['meter', 'queue', 'htb', 'none'],
    )
    p.add_argument('--scenario', nargs='+', default=['single', 'shared'], choices=['single', 'shared'])
    p.add_argument(
        '--fractions',
        nargs='+',
        type=float,
        default=[0.05, 0.2, 0.5],
        help='single: intent rates as fractions of the span rate',
    )
    p.add_argument('--bursts', nargs='+', default=['2ms', '10ms', '50ms', '100ms', 'rtt', '500kbit', 'none'])
    p.add_argument('--shared-burst', default='100ms', help='meter burst in `shared`')
    p.add_argument(
        '--weights',
        nargs=3,
        type=float,
        default=[2, 3, 4],
        help='shared: how the three intents split the span',
    )
    p.add_argument(
        '--headroom', type=float, default=0.1, help='shared: span rate = sum of the intents x (1 + headroom)'
    )
    p.add_argument('--parallel', type=int, default=4, help='shared: TCP flows per tenant')
    p.add_argument(
        '--span-mtu',
        type=int,
        default=1600,
        help='MTU of the span veths (0: leave 1500, then TCP over MPLS fails)',
    )
    p.add_argument('--seconds', type=int, default=10)
    p.add_argument('--omit', type=int, default=2)
    args = p.parse_args()
    if os.geteuid():
        sys.exit('run as root')
    setLogLevel('warning')

    with tempfile.TemporaryDirectory() as tmp:
        fabric = make_fabric(tmp, args.span_mbps, args.delay_ms)
        with Emulation(fabric) as emu:
            bench = Bench(emu)
            if args.span_mtu:
                bench.set_span_mtu(args.span_mtu)
            bench.install('ta', mode='none')
            rtt = bench.rtt_ms()
            (base,) = bench.run([('ta', 'tcp', 1)], args.seconds, args.omit)
            bench.clear()
            log(f'rtt {rtt} ms, baseline TCP {base} Mb/s')
            if rtt is None or base == 0:
                sys.exit('no traffic across the span with MPLS flows: see the flows above')
            single_rows, shared_rows = [], []
            for mode in args.modes:
                if 'single' in args.scenario:
                    single_rows += single(bench, args, mode, rtt)
                if 'shared' in args.scenario:
                    shared_rows += shared(bench, args, mode, rtt)

    print(f'## Bandwidth enforcement: `scripts/bench/enforcement.py` ({date.today()})\n')
    print(
        f'{platform.node()}, {os.cpu_count()} cores, {platform.release()}. Span '
        f'{args.span_mbps:g} Mb/s (HTB), {args.delay_ms:g} ms one way (RTT measured '
        f'{rtt:.1f} ms); one span TCP flow without enforcement: {base:g} Mb/s. iperf3 '
        f'{args.seconds} s, first {args.omit} s omitted; MPLS push at ingress, pop at egress.\n'
    )
    if single_rows:
        print('### One intent: one TCP flow, then UDP at twice the rate\n')
        print(
            table(
                [
                    'mode',
                    'rate Mb/s',
                    'burst',
                    'burst kbit',
                    'TCP Mb/s',
                    'TCP/rate',
                    'UDP 2x Mb/s',
                    'UDP/rate',
                ],
                single_rows,
            )
            + '\n'
        )
    print(
        'Meters and HTB count Ethernet frame bytes: one TCP flow (1448-byte segments, '
        '1514-byte frames) tops out at 95.6% of the rate, UDP with 1400-byte payloads at 97.1%.\n'
    )
    if shared_rows:
        print(f'### Three intents on one span (span = sum x {1 + args.headroom:g})\n')
        print(
            table(['mode', 'burst', 'traffic', 'delivered/rate per tenant', 'total Mb/s'], shared_rows) + '\n'
        )


if __name__ == '__main__':
    main()
