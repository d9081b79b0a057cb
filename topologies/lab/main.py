"""`naas-lab`: check, import, bring up, measure and clean emulated fabrics.

naas-lab list                                   shipped fabrics
naas-lab check FABRIC... [--policy F] [--auth F] [--orders F] [--scenario F]
                                                validate the files, start nothing
naas-lab import sndlib/abilene -o abilene.yaml  a real WAN from topohub as a fabric
naas-lab up --fabric lumen-qts [--controller 127.0.0.1:6653[,...] | --with-controller | --replicas 3]
                                                Mininet CLI (a controller started here: its web view's URL)
naas-lab measure --fabric triangle [--json]     measure every span, then tear down
naas-lab clean --fabric lumen-qts               remove what a killed run left behind
naas-lab scenario FILE [--json] [--map M.svg]   run a scenario: exit 0 only if every expectation holds
naas-lab demo                                   the NaaS demo on lumen-qts (a shipped scenario)
naas-lab capture dca-dcb [-w F.pcap] [-c N]     tcpdump on a span (or --host red-dca) of a running fabric

scenario, demo and measure exit 0 when every promise held, 1 when one is broken, 3 when it
was measured while the emulation was late beyond tolerance (inconclusive), 2 on a bad file,
130 on Ctrl-C (naas-lab scenario --help); up and scenario warn on stderr meanwhile.
"""

import argparse
import contextlib
import json
import signal
import sys
import time

from topologies.emulation.capture import add_arguments as capture_arguments
from topologies.lab import verdict
from topologies.lab.scenario import KINDS, load_scenario
from topologies.lab.scenario import SHIPPED as SHIPPED_SCENARIOS
from topologies.model import importer
from topologies.model.check import check_files
from topologies.model.config import ConfigError
from topologies.model.fabric import load_fabric, shipped_fabrics

DEMO = SHIPPED_SCENARIOS / 'lumen-qts-demo.yaml'
DEMO_MAP = 'naas-demo-map.svg'
SCENARIO_EXITS = f"""Bring the fabric and the controller up, order the intents, run the steps, check
every expectation with real traffic, tear everything down. Each expectation is PASS, FAIL,
or INCONCLUSIVE when it was measured while a span emulator was late beyond its tolerance
(0.5 ms + 5% of the span's delay): the machine could not keep up, so what was measured is
no evidence either way. While that happens a warning goes to stderr.

exit codes:
  {verdict.EXIT_PASSED}    every expectation held
  {verdict.EXIT_FAILED}    a promise broken (an expectation failed), or the run broke off
  {verdict.EXIT_BAD_FILE}    a bad file: nothing was started
  {verdict.EXIT_INCONCLUSIVE}    nothing failed, but some expectation was inconclusive
  {verdict.EXIT_INTERRUPTED}  interrupted (Ctrl-C): everything started was stopped"""


CAPTURE_HELP = """Capture with tcpdump on a span or a host of a fabric running on this machine
(naas-lab up, a scenario, a test), as long as it runs: frames printed as they come, or
written to a pcap file with -w. Ctrl-C or SIGTERM ends it (exit 0, and 143 for SIGTERM).

A span A-B is captured at the span emulator's end on A's side, which sees both directions:
what A sends into the span, and what reaches A from it after the span's delay; B-A captures
at B's end. A host TENANT-SITE (or probe-SITE) is captured at its port on its site's switch.
Exit status 2: a bad argument, no such span or host, no such fabric running, no tcpdump."""


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='naas-lab',
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2],
    )
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('list', help='list the shipped fabrics')
    p = sub.add_parser(
        'check',
        help='validate fabric, policy, auth, orders and scenario files without starting anything',
        description='Validate each file as the program that uses it reads it; print every problem as '
        'FILE: KEY: RULE (exit 2), or one ok line per file (exit 0).',
    )
    p.add_argument('fabrics', nargs='*', metavar='FABRIC', help='shipped name, path or topohub:KEY')
    p.add_argument('--policy', metavar='FILE', help='a policy file (docs/policy.md), against the one FABRIC')
    p.add_argument('--auth', metavar='FILE', help='an auth file (docs/api.md), against the one FABRIC')
    p.add_argument(
        '--orders',
        action='append',
        default=[],
        metavar='FILE',
        help='an orders file (docs/api.md); repeatable',
    )
    p.add_argument(
        '--scenario',
        action='append',
        default=[],
        metavar='FILE',
        help='a scenario file (docs/scenarios.md), with its fabric; repeatable',
    )
    p.set_defaults(parser=p)
    p = sub.add_parser('import', help='turn a topohub network into a fabric file')
    importer.add_arguments(p)
    p = sub.add_parser('up', help='bring a fabric up and open the Mininet CLI')
    _fabric_args(p)
    p.add_argument(
        '--controller',
        type=_host_port,
        default=None,
        metavar='HOST:PORT[,HOST:PORT...]',
        help='OpenFlow controller, or every replica of it (default: none; switches forward nothing)',
    )
    p.add_argument(
        '--replicas',
        type=int,
        default=0,
        metavar='N',
        help='start an etcd cluster of 3 and N controller replicas on loopback, the switches '
        'connected to all of them (docs/ha.md); prints how to reach their API and web views',
    )
    p.add_argument(
        '--with-controller',
        action='store_true',
        help='start naas-controller here (its store in a temporary directory) and point the fabric '
        'at it; prints how to reach its API and its web view',
    )
    p.add_argument(
        '--metrics-port',
        type=int,
        metavar='PORT',
        help="serve the emulation's own figures (span emulator lateness and drops) for Prometheus "
        'on 127.0.0.1:PORT/metrics (docs/observability.md)',
    )
    p = sub.add_parser('measure', help='measure every span with real traffic, then tear down')
    _fabric_args(p)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--skip-throughput', action='store_true', help='measure delay only')
    p.add_argument('--seconds', type=float, default=3.0, help='iperf3 time per span (default 3)')
    p = sub.add_parser('clean', help="remove a killed run's switches and span interfaces")
    _fabric_args(p)
    p = sub.add_parser(
        'scenario',
        help='run a scenario file: fabric, intents, events, expectations',
        description=SCENARIO_EXITS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('file', metavar='FILE', help='scenario file (format: docs/scenarios.md)')
    _scenario_args(p)
    p = sub.add_parser(
        'demo',
        help='the NaaS demo: tenants, traffic, a span cut and a slow span',
        description=SCENARIO_EXITS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _scenario_args(p, default_map=DEMO_MAP)
    p = sub.add_parser(
        'soak',
        help='a chaos soak: failures one after another and API load, every promise checked',
        description='Exit status: 0 every promise held, 1 one broke (each is listed), 2 a bad argument.',
    )
    _fabric_args(p)
    p.add_argument('--minutes', type=float, default=2.0, help='how long (default 2)')
    p.add_argument('--seed', type=int, default=None, help='for the same failures in the same order')
    p.add_argument('--json', action='store_true', help='print one JSON object (progress on stderr)')
    p = sub.add_parser(
        'capture',
        help='capture a span or a host of a running fabric with tcpdump (for Wireshark: -w)',
        description=CAPTURE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    capture_arguments(p)
    p.add_argument('--fabric', help='the running fabric: shipped name or path (default: the one running)')
    p.set_defaults(parser=p)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return verdict.EXIT_BAD_FILE
    except ModuleNotFoundError as e:  # installed without the lab's extra
        print(
            f"naas-lab {args.command}: {e.name} is not installed: pip install 'naas-fabric[lab]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print('interrupted; everything this run created has been removed', file=sys.stderr)
        return verdict.EXIT_INTERRUPTED
    except SystemExit as e:
        if e.code == 143:
            print('terminated; everything this run created has been removed', file=sys.stderr)
        raise


def _fabric_args(p):
    p.add_argument('--fabric', required=True, help='shipped name, path or topohub:KEY')
    p.add_argument('-v', '--verbose', action='store_true', help="show Mininet's progress")


def _scenario_args(p, default_map=None):
    p.add_argument('--json', action='store_true', help='print one JSON object (progress on stderr)')
    p.add_argument(
        '--map',
        default=default_map,
        metavar='FILE.svg',
        help="write a map of the intents' paths before and after the events"
        + (f' (default {default_map})' if default_map else ''),
    )
    p.add_argument('-v', '--verbose', action='store_true', help="show Mininet's progress")


def _host_port(text):
    """'HOST:PORT[,HOST:PORT...]' -> [(host, port)]."""
    found = []
    for part in text.split(','):
        host, _, port = part.strip().rpartition(':')
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise argparse.ArgumentTypeError(f'expected HOST:PORT[,HOST:PORT...], got {text!r}')
        found.append((host, int(port)))
    return found


def _terminate(_signum, _frame):
    # SystemExit, not KeyboardInterrupt: Mininet's CLI swallows the latter and goes on.
    # Either way the emulation's context manager tears everything down on the way out.
    raise SystemExit(143)


def cmd_list(_args):
    for name in shipped_fabrics():
        f = load_fabric(name)
        print(
            f'{name:14} {len(f.sites):3} sites {len(f.spans):3} spans {len(f.tenants):2} tenants  '
            f'{f.description}'
        )
    print('\nand any topohub network: naas-lab import --list')
    return 0


def cmd_check(args):
    if not (args.fabrics or args.orders or args.scenario):
        args.parser.error('give a file to check: FABRIC, --orders or --scenario')
    if (args.policy or args.auth) and len(args.fabrics) != 1:
        args.parser.error('--policy and --auth are checked against a fabric: give exactly one FABRIC')
    good = check_files(args.fabrics, policy=args.policy, auth=args.auth, orders=args.orders)
    for path in args.scenario:
        try:
            s = load_scenario(path)
        except ConfigError as e:
            print(e, file=sys.stderr)
            good = False
            continue
        expectations = sum(1 for step in s.steps if KINDS[step.kind].expectation)
        print(
            f'{s.source}: ok: scenario {s.name} on fabric {s.fabric.name}: {len(s.intents)} intents, '
            f'{len(s.steps)} steps ({expectations} expectations)'
        )
    return 0 if good else 2


def cmd_import(args):
    return importer.run(args)


def _emulation(args, controller=None):
    from mininet.log import setLogLevel

    from topologies.emulation.net import Emulation

    setLogLevel('info' if args.verbose else 'warning')
    return Emulation(load_fabric(args.fabric), controller=controller)


def cmd_up(args):
    from topologies.emulation.budget import BudgetWatch
    from topologies.emulation.cli import FabricCLI

    if args.replicas or args.with_controller:
        return _up_with_lab(args)
    emu = _emulation(args, controller=args.controller)
    started = time.monotonic()
    with emu:
        f = emu.fabric
        print(
            f'fabric {f.name}: {len(f.sites)} sites, {len(f.spans)} spans, {len(f.tenants)} tenants '
            f'up in {time.monotonic() - started:.1f} s; type help for commands',
            file=sys.stderr,
        )
        with BudgetWatch(emu, _warn), _emulation_metrics(emu, args.metrics_port):
            FabricCLI(emu)
    return 0


@contextlib.contextmanager
def _emulation_metrics(emu, port):
    """The emulation's figures on 127.0.0.1:`port`/metrics while the CLI runs (None: not served)."""
    if port is None:
        yield
        return
    from topologies.emulation import metrics

    server = metrics.serve(emu.span_emulator.stats, port)
    print(f"the emulation's figures: http://127.0.0.1:{port}/metrics", file=sys.stderr)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _up_with_lab(args):
    """The controller (or etcd and the replicas) and the fabric pointed at it, through a Lab
    (it waits until the controller, or the leader, has measured every span); the Mininet CLI;
    everything stopped on the way out."""
    import os
    import tempfile

    from mininet.log import setLogLevel

    from topologies.emulation.budget import BudgetWatch
    from topologies.emulation.cli import FabricCLI
    from topologies.lab.lab import Lab

    if args.controller or (args.replicas and args.with_controller):
        print('naas-lab up: --controller, --with-controller and --replicas go apart', file=sys.stderr)
        return 2
    setLogLevel('info' if args.verbose else 'warning')
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    with (
        tempfile.TemporaryDirectory(prefix='naas-up-') as tmp,
        Lab(load_fabric(args.fabric), tmp, say=say, replicas=args.replicas) as lab,
    ):
        token_file = os.path.join(tmp, 'operator.token')
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
            f.write(lab.controller.tokens['operator'])
        if args.replicas:
            where = f'{args.replicas} replicas on etcd {lab.etcd.url}; their logs'
            target = lab.controller.targets
        else:
            where, target = 'the controller: its log', lab.controller.grpc_target
        say(
            f'{where} in {tmp}; the API:\n'
            f'  NAAS_SERVER={target} NAAS_TOKEN_FILE={token_file} naasctl intent list\n'
            f'the web view (open on this machine): {" ".join(lab.controller.web_urls)}'
        )
        with BudgetWatch(lab.emulation, _warn), _emulation_metrics(lab.emulation, args.metrics_port):
            FabricCLI(lab.emulation)
    return 0


def _warn(line):
    print(f'naas-lab: {line}', file=sys.stderr, flush=True)


def cmd_measure(args):
    from topologies.emulation.measure import measure_spans

    emu = _emulation(args)
    say = (lambda message: print(message, file=sys.stderr)) if args.json else print
    started = time.monotonic()
    with emu:
        say(
            f'fabric {emu.fabric.name} up in {time.monotonic() - started:.1f} s; measuring '
            f'{len(emu.fabric.spans)} spans'
        )
        figures = measure_spans(
            emu, throughput=not args.skip_throughput, seconds=args.seconds, progress=lambda m: say(f'  {m}')
        )
    off = [f for f in figures if not f.ok and not f.inconclusive]
    doubtful = [f for f in figures if f.inconclusive]
    ok = not off and not doubtful
    code = verdict.EXIT_FAILED if off else verdict.EXIT_INCONCLUSIVE if doubtful else verdict.EXIT_PASSED
    if args.json:
        print(
            json.dumps(
                {
                    'fabric': emu.fabric.name,
                    'ok': ok,
                    'inconclusive': [f'{f.a}-{f.b}' for f in doubtful],
                    'spans': [f.as_dict() for f in figures],
                }
            )
        )
        return code
    from topologies.emulation.budget import describe_lying
    from topologies.emulation.cli import lateness_note, span_table

    print(span_table(figures))
    if lateness_note(figures):
        print(lateness_note(figures))
    for f in doubtful:
        print(
            f'{f.a}-{f.b}: INCONCLUSIVE{" (and off)" if not f.ok else ""}: measured while '
            f'{describe_lying(list(f.lying))}'
        )
    if off:
        print('SOME SPANS ARE OFF (marked !)')
    elif doubtful:
        print(f'INCONCLUSIVE: {len(doubtful)} spans measured while the emulation was late beyond tolerance')
    else:
        print('all spans within tolerance')
    return code


def cmd_clean(args):
    from topologies.emulation.net import existing_names, remove_names, running

    fabric = load_fabric(args.fabric)
    if running(fabric):
        print(f'fabric {fabric.name} is running: stop that run instead (nothing removed)', file=sys.stderr)
        return 1
    leftovers = existing_names(fabric)
    remove_names(fabric)
    print(f'removed {", ".join(leftovers)}' if leftovers else 'nothing to clean')
    return 0


def cmd_scenario(args, spec=None):
    from mininet.log import setLogLevel

    from topologies.lab.scenario.runner import run

    scenario = load_scenario(spec or args.file)  # a bad file: ConfigError, nothing started
    setLogLevel('info' if args.verbose else 'warning')
    say = (
        (lambda message: print(message, file=sys.stderr, flush=True))
        if args.json
        else (lambda message: print(message, flush=True))
    )
    say(f'scenario {scenario.name}: {scenario.description}'.rstrip(': '))
    report = run(scenario, say=say, warn=_warn)
    if args.map and (report.paths_before or report.paths_after):
        _write_map(args.map, scenario, report)
        say(f'map of the paths before and after the events: {args.map}')
    print(json.dumps(report.as_dict()) if args.json else report.text())
    return report.exit_code


def cmd_soak(args):
    import tempfile

    from mininet.log import setLogLevel

    from topologies.lab.lab import Lab
    from topologies.lab.soak import Soak

    fabric = load_fabric(args.fabric)
    if not 0 < args.minutes <= 24 * 60:
        print('naas-lab soak: --minutes must be > 0 and at most a day', file=sys.stderr)
        return verdict.EXIT_BAD_FILE
    setLogLevel('info' if args.verbose else 'warning')
    say = (
        (lambda message: print(message, file=sys.stderr, flush=True))
        if args.json
        else (lambda message: print(message, flush=True))
    )
    with tempfile.TemporaryDirectory(prefix='naas-soak-') as tmp, Lab(fabric, tmp, say=say) as lab:
        report = Soak(lab, args.minutes, args.seed, say).run()
    print(json.dumps(report.as_dict()) if args.json else report.text())
    return report.exit_code


def cmd_capture(args):
    import os

    from topologies.emulation import capture
    from topologies.emulation.net import running
    from topologies.emulation.switch import fabric_rundir

    try:
        fabric = load_fabric(args.fabric) if args.fabric else _the_running_fabric()
        point = capture.capture_point(fabric, args.span, args.host)
        tcpdump = capture.tcpdump_path()
        if not running(fabric):
            raise capture.CaptureError(
                f'fabric {fabric.name} is not running (naas-lab up --fabric {args.fabric} starts it)'
            )
        if os.geteuid() != 0:
            raise capture.CaptureError("needs root (as the lab does): tcpdump enters the fabric's namespaces")
        pid = capture.switch_netns_pid(fabric_rundir(fabric.name), point.site) if point.site else None
        capture.check_up(point)
        argv = capture.tcpdump_argv(tcpdump, point, pid, write=bool(args.write), count=args.count)
        into = f' into {args.write}' if args.write and args.write != '-' else ''
        print(f'capturing {point.what} of fabric {fabric.name}{into}; Ctrl-C ends it', file=sys.stderr)
        return capture.run(argv, write=args.write)
    except capture.CaptureError as e:
        print(f'naas-lab capture: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0  # how a capture is ended: tcpdump has flushed and said what it captured


def _the_running_fabric():
    """The one fabric running on this machine, loaded by its name; CaptureError otherwise."""
    from topologies.emulation.capture import CaptureError
    from topologies.emulation.net import running_fabric_names

    names = running_fabric_names()
    if not names:
        raise CaptureError('no fabric is running (naas-lab up --fabric F starts one)')
    if len(names) > 1:
        raise CaptureError(f'fabrics {", ".join(names)} are running: say which with --fabric')
    try:
        return load_fabric(names[0])
    except ConfigError:
        raise CaptureError(f'fabric {names[0]} is running from a file: give it with --fabric FILE') from None


def cmd_demo(args):
    return cmd_scenario(args, spec=str(DEMO))


def _write_map(path, scenario, report):
    from topologies.lab.fabric_map import write_map

    changes = [f'{s} cut' for s in report.spans_down] + [f'{s} slowed' for s in report.spans_slowed]
    write_map(
        path,
        scenario.fabric,
        [
            ('before the events', report.paths_before, set()),
            (
                'at the end' + (f': {", ".join(changes)}' if changes else ''),
                report.paths_after,
                set(report.spans_down),
            ),
        ],
        title=f'scenario {scenario.name}',
    )


COMMANDS = {
    'list': cmd_list,
    'check': cmd_check,
    'import': cmd_import,
    'up': cmd_up,
    'measure': cmd_measure,
    'clean': cmd_clean,
    'scenario': cmd_scenario,
    'demo': cmd_demo,
    'soak': cmd_soak,
    'capture': cmd_capture,
}

if __name__ == '__main__':
    sys.exit(main())
