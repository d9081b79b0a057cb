"""The Mininet CLI with commands for the fabric's domain: spans, tenants, measurement."""

from mininet.cli import CLI

from topologies.emulation.measure import DELAY_TOLERANCE, SpanFigures, measure_spans
from topologies.model import addressing as addr


def span_table(figures):
    """One line per span: configured and measured delay and throughput; `!` marks what is off."""
    rows = [
        f'{"span":15} {"state":5} {"delay ms":>9} {"measured":>9} {"median":>7} {"Mb/s":>8} {"measured":>9}'
    ]
    for f in figures:
        delay = '' if f.measured_delay_ms is None else f'{f.measured_delay_ms:9.3f}'
        median = '' if f.median_delay_ms is None else f'{f.median_delay_ms:7.3f}'
        mbps = '' if f.measured_mbps is None else f'{f.measured_mbps:9.2f}'
        rows.append(
            f'{f.a + "-" + f.b:15} {"up" if f.up else "down":5} {f.delay_ms:9.3f} '
            f'{delay:>9}{" " if f.delay_ok else "!"}{median:>7} {f.mbps:8g} {mbps:>9}'
            f'{"" if f.throughput_ok else "!"}'
        )
    return '\n'.join(rows)


class FabricCLI(CLI):
    """Mininet's CLI, plus: spans, span, measure, tenants (see `help <command>`)."""

    prompt = 'naas> '

    def __init__(self, emulation, **kwargs):
        self.emu = emulation
        super().__init__(emulation.net, **kwargs)

    def onecmd(self, line):
        # Mininet's CLI lets any other exception end the session (and tear the fabric down).
        try:
            return super().onecmd(line)
        except Exception as e:
            print(f'*** {type(e).__name__}: {e}')
            return False

    def do_spans(self, _line):
        """List spans: state, configured and last measured one-way delay and throughput.
        Usage: spans"""
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
                )
            )
        print(span_table(figures))

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
        print(f'(delay within {rel:.0%} + {abs_ms} ms of configured is ok)')
        print(span_table(measure_spans(self.emu, spans, throughput=throughput, progress=print)))

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
