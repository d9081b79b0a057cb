"""The Mininet CLI with commands for the fabric's domain: spans, tenants, measurement."""

import argparse
import shlex
import time

from mininet.cli import CLI

from topologies.emulation import budget, capture
from topologies.emulation.measure import DELAY_TOLERANCE, SpanFigures, measure_spans
from topologies.model import addressing as addr


def span_table(figures):
    """One line per span: configured and measured delay, how late its emulator delivered frames
    (ms after due: p50, p99, max; frames dropped overdue) and throughput. `!` marks a figure
    off its configured value, `?` a span whose emulator was late beyond its tolerance."""
    rows = [
        f'{"span":15} {"state":5} {"delay ms":>9} {"measured":>9} {"median":>7} '
        f'{"late p50":>8} {"p99":>7} {"max":>7} {"dropped":>7}  {"Mb/s":>8} {"measured":>9}'
    ]
    for f in figures:
        delay = '' if f.measured_delay_ms is None else f'{f.measured_delay_ms:9.3f}'
        median = '' if f.median_delay_ms is None else f'{f.median_delay_ms:7.3f}'
        mbps = '' if f.measured_mbps is None else f'{f.measured_mbps:9.2f}'
        rows.append(
            f'{f.a + "-" + f.b:15} {"up" if f.up else "down":5} {f.delay_ms:9.3f} '
            f'{delay:>9}{" " if f.delay_ok else "!"}{median:>7} {_lateness_cells(f.lateness)} '
            f'{f.mbps:8g} {mbps:>9}{"" if f.throughput_ok else "!"}'
        )
    return '\n'.join(rows)


def _lateness_cells(s):
    if s is None:
        return f'{"(kernel)":>8} {"":7} {"":7} {"":7} '
    if s.p99_ms is None:
        cells = f'{"-":>8} {"-":>7} {"-":>7}'
    else:
        cells = f'{s.p50_ms:8.3f} {s.p99_ms:7.3f} {s.max_ms:7.3f}'
    return f'{cells} {s.dropped_late:7d}{"?" if s.lying else " "}'


def lateness_note(figures):
    """What `?` means, when a row has one."""
    if not any(f.lateness is not None and f.lateness.lying for f in figures):
        return ''
    return (
        '? late beyond tolerance (p99 over 0.5 ms + 5% of the delay, or frames dropped overdue): '
        'the machine could not keep up with the emulation'
    )


class FabricCLI(CLI):
    """Mininet's CLI, plus: spans, span, measure, tenants, capture (see `help <command>`)."""

    prompt = 'naas> '

    def __init__(self, emulation, **kwargs):
        self.emu = emulation
        self._looked = (emulation.lateness_mark(), time.monotonic())  # `spans` shows lateness since
        super().__init__(emulation.net, **kwargs)

    def onecmd(self, line):
        # Mininet's CLI lets any other exception end the session (and tear the fabric down).
        try:
            return super().onecmd(line)
        except Exception as e:
            print(f'*** {type(e).__name__}: {e}')
            return False

    def do_spans(self, _line):
        """List spans: state, configured and last measured one-way delay and throughput, and
        how late each span emulator delivered frames since the last `spans`.
        Usage: spans"""
        mark, since = self._looked
        lateness = self.emu.lateness(since=mark)
        self._looked = (self.emu.lateness_mark(), time.monotonic())
        figures = []
        for span in self.emu.fabric.spans:
            state = self.emu.span_state(span.a, span.b)
            last = self.emu.measured.get(span.id)
            figures.append(
                SpanFigures(
                    span.a,
                    span.b,
                    state['delay_ms'],
                    state['mbps'],
                    up=state['up'],
                    measured_delay_ms=last.measured_delay_ms if last else None,
                    median_delay_ms=last.median_delay_ms if last else None,
                    measured_mbps=last.measured_mbps if last else None,
                    lateness=lateness.get(span.id),
                )
            )
        print(f'(lateness over the last {time.monotonic() - since:.1f} s)')
        print(span_table(figures))
        _print_lying(figures, budget.lying(lateness))

    def do_span(self, line):
        """Cut, restore or slow down a span (both directions).
        Usage: span down SITE SITE | span up SITE SITE | span delay SITE SITE MS"""
        words = line.split()
        try:
            verb, a, b, *rest = words
            if verb in ('down', 'up') and not rest:
                self.emu.span_up(a, b, up=verb == 'up')
            elif verb == 'delay' and len(rest) == 1:
                self.emu.set_span_delay(a, b, float(rest[0]))
            else:
                raise ValueError
        except KeyError as e:
            print(f'*** {e.args[0]}')
            return
        except ValueError as e:
            print(f'*** {e}' if str(e) else f'*** usage: {self.do_span.__doc__.split("Usage: ")[1]}')
            return
        print(f'span {a}-{b}: {self.emu.span_state(a, b)}')

    def do_measure(self, line):
        """Measure spans now with the probe hosts (ping; iperf3 with --throughput).
        Usage: measure [SITE SITE] [--throughput]"""
        words = line.split()
        throughput = '--throughput' in words
        sites = [w for w in words if w != '--throughput']
        spans = None
        if sites:
            span = self.emu.fabric.span(*sites[:2]) if len(sites) == 2 else None
            if span is None:
                print(f'*** no span between {" and ".join(sites)}')
                return
            spans = [span]
        rel, abs_ms = DELAY_TOLERANCE
        print(f'(delay within {rel:.0%} + {abs_ms} ms of configured is ok; lateness while each was measured)')
        figures = measure_spans(self.emu, spans, throughput=throughput, progress=print)
        print(span_table(figures))
        _print_lying(figures, [])
        for f in figures:
            if f.inconclusive:
                print(f'{f.a}-{f.b}: inconclusive, measured while {budget.describe_lying(list(f.lying))}')

    def do_tenants(self, _line):
        """List tenants and their hosts with addresses.
        Usage: tenants"""
        fabric = self.emu.fabric
        for tenant in fabric.tenants.values():
            print(f'{tenant.id} ({tenant.name or tenant.id}) {addr.tenant_subnet(tenant)}')
            for site_id in tenant.sites:
                site = fabric.sites[site_id]
                print(
                    f'  {addr.host_name(tenant, site):16} {addr.host_ip(tenant, site):14} '
                    f'{site.id} port {addr.tenant_port(tenant)}'
                )

    def do_capture(self, line):
        """Capture with tcpdump until COUNT frames or Ctrl-C: frames printed, or with -w a pcap
        file for Wireshark. A span A-B is captured at A's end (both directions: what A sends
        into it, what reaches A after its delay), a host at its port on its site's switch.
        Usage: capture SPAN [-w FILE.pcap] [-c COUNT] | capture --host HOST [-w FILE.pcap] [-c COUNT]"""
        parser = argparse.ArgumentParser(prog='capture', add_help=False)
        capture.add_arguments(parser)
        try:
            args = parser.parse_args(shlex.split(line))
        except SystemExit:  # argparse has said what is wrong; the lab goes on
            return
        try:
            if args.write == '-':
                raise capture.CaptureError('-w - writes a pcap to stdout: use naas-lab capture for that')
            point = capture.capture_point(self.emu.fabric, args.span, args.host)
            tcpdump = capture.tcpdump_path()
            capture.check_up(point)
            pid = self.emu.switch(point.site).pid if point.site else None
            argv = capture.tcpdump_argv(tcpdump, point, pid, write=bool(args.write), count=args.count)
            print(
                f'capturing {point.what}' + (f' into {args.write}' if args.write else '') + '; Ctrl-C ends it'
            )
            capture.run(argv, write=args.write)
        except capture.CaptureError as e:
            print(f'*** {e}')
        except KeyboardInterrupt:
            pass  # how a capture ends: tcpdump has stopped and said what it captured


def _print_lying(figures, lying):
    note = lateness_note(figures)
    if note:
        print(note)
    if lying:
        print(f'late beyond tolerance: {budget.describe_lying(lying)}')
