"""naasctl: order, change, watch and check connectivity intents; look at the fabric.

    naasctl intent create phx1 iad1 --bandwidth 10Gbps --latency 25ms --protected --wait
    naasctl intent create-many orders.yaml          (many at once, placed together)
    naasctl intent list --state installed
    naasctl intent update i-3 --bandwidth 20Gbps --no-latency-bound
    naasctl intent delete i-3 --wait
    naasctl intent watch --current                  (until Ctrl-C)
    naasctl intent check phx1 iad1 --bandwidth 400Gbps --latency 20ms
    naasctl intent stats i-3 --window 3600s --watch  (rates, drops, latency, SLA report)
    naasctl topology --watch --interval 5s
    naasctl --json intent get i-3                   (JSON for scripts)
    naasctl --server r0:50051,r1:50051,r2:50051 intent list   (every replica: docs/ha.md)

With several servers, writes go to the leader (a follower names it) and reads to the first
replica that answers; naasctl tries the others for up to 5 s while one is down or no leader
is elected. The server, token and CA certificate may also come from NAAS_SERVER, NAAS_TOKEN
(or NAAS_TOKEN_FILE) and NAAS_CA_CERT. Exit status: 0 done, 1 refused or failed, 2 usage error.
"""

import argparse
import dataclasses
import json
import os
import sys

import grpc

from naasctl import format as fmt
from naasctl.client import ApiError, Client, IntentState, enum_names, enum_value, split_servers
from topologies.model.order import CLASSES, Order, Protection, ServiceClass, load_orders
from topologies.model.units import parse_bandwidth, parse_duration, parse_latency


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        token = read_token(args, parser)
        if args.run is intent_update and not _changes(args):
            args.parser.error(
                'nothing to change: give --bandwidth, --latency, --no-latency-bound, '
                '--protected, --unprotected, --class, --description, --label or '
                '--clear-labels'
            )
    except SystemExit as e:
        return e.code
    try:
        naas = Client(args.server, token=token, ca_cert=args.ca_cert, timeout_s=args.timeout)
    except OSError as e:
        return _fail(f'--ca-cert: cannot read {args.ca_cert}: {e.strerror}', token, status=2)
    try:
        with naas:
            return args.run(naas, args) or 0
    except ApiError as e:
        if e.code == grpc.StatusCode.UNAVAILABLE:
            return _fail(f'cannot reach the controller at {_where(naas)}: {e.message}', token)
        if e.code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return _fail(f'no answer from {naas.server} within {args.timeout:g} s', token)
        return _fail(str(e), token)
    except TimeoutError as e:
        return _fail(str(e), token)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `naasctl intent watch | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog='naasctl',
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2],
    )
    parser.add_argument(
        '--server',
        type=_arg(_servers),
        default=os.environ.get('NAAS_SERVER', '127.0.0.1:50051'),
        metavar='HOST:PORT[,HOST:PORT...]',
        help='the controller, or every replica of it separated by commas: writes go to the '
        'leader, reads to any replica (env NAAS_SERVER; default %(default)s)',
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        '--token',
        help='bearer token (env NAAS_TOKEN); prefer --token-file: other users can see command lines',
    )
    token.add_argument(
        '--token-file', metavar='PATH', help='file whose first line is the token (env NAAS_TOKEN_FILE)'
    )
    parser.add_argument(
        '--ca-cert',
        default=os.environ.get('NAAS_CA_CERT') or None,
        metavar='PEM',
        help='CA certificate: TLS instead of plain text (env NAAS_CA_CERT)',
    )
    parser.add_argument('--json', action='store_true', help='print JSON for scripts')
    parser.add_argument(
        '--timeout',
        type=_arg(parse_duration),
        default=10.0,
        metavar='DURATION',
        help='per call, e.g. 10s (default 10s)',
    )
    # --json may also follow the command: `naasctl intent list --json`.
    json_too = argparse.ArgumentParser(add_help=False)
    json_too.add_argument(
        '--json', action='store_true', default=argparse.SUPPRESS, help='print JSON for scripts'
    )
    commands = parser.add_subparsers(dest='command', required=True, metavar='{intent,topology}')
    _intent_commands(commands, json_too)

    p = commands.add_parser('topology', parents=[json_too], help='spans and sites, now or as they change')
    p.add_argument('--watch', action='store_true', help='print a new snapshot on every change')
    p.add_argument(
        '--interval',
        type=_arg(parse_duration),
        default=2.0,
        metavar='DURATION',
        help='with --watch: at least this often (default 2s)',
    )
    p.set_defaults(run=topology, parser=p)
    return parser


def _intent_commands(commands, json_too):
    intent = commands.add_parser(
        'intent', help='create, create-many, get, list, update, delete, watch, check, stats'
    )
    verbs = intent.add_subparsers(dest='verb', required=True)

    def verb(name, run, help):
        p = verbs.add_parser(name, parents=[json_too], help=help)
        p.set_defaults(run=run, parser=p)
        return p

    p = verb('create', intent_create, 'order connectivity between two sites')
    _order_arguments(p)
    p.add_argument(
        '--class',
        dest='service_class',
        type=str.lower,
        choices=CLASSES,
        help='default priority',
    )
    p.add_argument('--description', default='', metavar='TEXT')
    p.add_argument('--label', type=_label, action='append', metavar='KEY=VALUE', help='repeatable')
    _prefix_arguments(p)
    p.add_argument('--request-id', default='', metavar='ID', help='idempotency key for retries')
    _wait_arguments(p, 'INSTALLED (exit 1 if it FAILED)')

    p = verb(
        'create-many',
        intent_create_many,
        'order many intents from a file, placed together (exit 1 if any is refused)',
    )
    p.formatter_class, p.epilog = argparse.RawDescriptionHelpFormatter, CREATE_MANY_HELP
    p.add_argument('orders', type=_arg(load_orders), metavar='FILE', help="YAML, or '-' for standard input")
    _filter_arguments(p)

    p = verb('get', intent_get, 'show one intent')
    p.add_argument('id', metavar='ID')

    p = verb('list', intent_list, 'list intents (every page, unless --page-size)')
    _filter_arguments(p)
    p.add_argument(
        '--state',
        type=_arg(lambda text: enum_value(IntentState, text)),
        help=', '.join(enum_names(IntentState)).lower(),
    )
    p.add_argument('--site', default='', help='with an endpoint at this site')
    p.add_argument('--page-size', type=int, default=0, metavar='N', help='one page of N intents')
    p.add_argument('--page-token', default='', metavar='TOKEN', help='the page after a previous one')

    p = verb('update', intent_update, "change an intent's order")
    p.add_argument('id', metavar='ID')
    p.add_argument('--bandwidth', type=_arg(parse_bandwidth), metavar='BANDWIDTH', help='e.g. 20Gbps')
    excess = p.add_mutually_exclusive_group()
    excess.add_argument('--excess', type=_arg(parse_bandwidth), metavar='BANDWIDTH', help='e.g. 5Gbps')
    excess.add_argument('--no-excess', action='store_true', help='remove the excess rate')
    latency = p.add_mutually_exclusive_group()
    latency.add_argument('--latency', type=_arg(parse_latency), metavar='LATENCY', help='e.g. 25ms')
    latency.add_argument('--no-latency-bound', action='store_true', help='remove the latency bound')
    protection = p.add_mutually_exclusive_group()
    protection.add_argument('--protected', action='store_const', const=True, dest='protected')
    protection.add_argument('--unprotected', action='store_const', const=False, dest='protected')
    p.add_argument('--class', dest='service_class', type=str.lower, choices=CLASSES)
    p.add_argument('--description', metavar='TEXT')
    labels = p.add_mutually_exclusive_group()
    labels.add_argument(
        '--label', type=_label, action='append', metavar='KEY=VALUE', help='repeatable; replaces all labels'
    )
    labels.add_argument('--clear-labels', action='store_true', help='remove all labels')

    p = verb('delete', intent_delete, 'withdraw an intent')
    p.add_argument('id', metavar='ID')
    _wait_arguments(p, 'WITHDRAWN')

    p = verb('watch', intent_watch, 'print intent events as they happen, until Ctrl-C')
    _filter_arguments(p)
    p.add_argument('--intent', default='', metavar='ID', help="only this intent's events")
    p.add_argument('--current', action='store_true', help="first every intent's current state")

    p = verb('check', intent_check, 'would this order be admitted now? (exit 1 if not)')
    _order_arguments(p)

    p = verb('stats', intent_stats, "an intent's rates, drops, latency, jitter and SLA report")
    p.add_argument('id', metavar='ID')
    p.add_argument(
        '--window',
        type=_arg(parse_duration),
        metavar='DURATION',
        help="the SLA report's, up to now (default 300s, at most 86400s)",
    )
    p.add_argument('--watch', action='store_true', help='print them again every --interval, until Ctrl-C')
    p.add_argument(
        '--interval',
        type=_arg(parse_duration),
        default=1.0,
        metavar='DURATION',
        help='with --watch (default 1s)',
    )


CREATE_MANY_HELP = """\
FILE is a list of orders with the keys of `intent create`'s options, in the same units
(docs/api.md, "Orders files"):

  - {src: phx1, dst: iad1, bandwidth: 200G, latency: 25ms, protected: true}
  - {src: phx1, dst: atl1, bandwidth: 50Gbps, class: bulk, labels: {team: web},
     description: backups, request_id: backup-1}

Required: src, dst, bandwidth. Optional: tenant (default --tenant), excess, latency,
protected (true/false), class, description, labels (a mapping), src_prefixes and
dst_prefixes (lists of CIDRs), request_id. The orders are placed together, so they may fit
where one create after the other would not. A bad order (naming orders[i], counted from 0)
refuses them all and creates nothing; otherwise each is admitted or refused on its own.

Exit status: 0 if every order was admitted; 1 if any was refused (the others stay
admitted), or the call was; 2 if FILE or an option is bad."""


def _order_arguments(p):
    p.add_argument('src', metavar='SRC', help='one site')
    p.add_argument('dst', metavar='DST', help='the other site')
    p.add_argument(
        '--bandwidth',
        type=_arg(parse_bandwidth),
        required=True,
        metavar='BANDWIDTH',
        help='in each direction, e.g. 10Gbps, 200Mbps',
    )
    p.add_argument(
        '--excess',
        type=_arg(parse_bandwidth),
        default=0.0,
        metavar='BANDWIDTH',
        help='let this much more through when the spans have room (default: none)',
    )
    p.add_argument(
        '--latency',
        type=_arg(parse_latency),
        default=0.0,
        metavar='LATENCY',
        help='one-way bound, e.g. 25ms (default: none)',
    )
    p.add_argument('--protected', action='store_true', help='reserve a disjoint backup path')
    _filter_arguments(p)


def _filter_arguments(p):
    p.add_argument('--tenant', default='', help="operators: the tenant's (tenants: their own)")


def _prefix_arguments(p):
    p.add_argument(
        '--src-prefix',
        action='append',
        default=[],
        metavar='CIDR',
        help="only these of the tenant's addresses at SRC (repeatable; default all)",
    )
    p.add_argument(
        '--dst-prefix',
        action='append',
        default=[],
        metavar='CIDR',
        help="only these of the tenant's addresses at DST (repeatable; default all)",
    )


def _wait_arguments(p, state):
    p.add_argument('--wait', action='store_true', help=f'wait until it is {state}')
    p.add_argument(
        '--wait-timeout',
        type=_arg(parse_duration),
        default=30.0,
        metavar='DURATION',
        help='with --wait (default 30s)',
    )


# Commands: each takes the client and the arguments, prints, and returns the exit status.


def intent_create(naas, args):
    intent = naas.create_intent(_order(args))
    if args.wait:
        intent = naas.wait_for_state(intent.id, ('INSTALLED',), args.wait_timeout)
    _show(args, intent, fmt.intent_detail)


def intent_create_many(naas, args):
    orders = [dataclasses.replace(order, tenant=order.tenant or args.tenant) for order in args.orders]
    results = naas.create_intents(orders)
    _show(args, results, lambda r: fmt.batch_text(orders, r))
    return 0 if all(r.HasField('intent') for r in results) else 1


def intent_get(naas, args):
    _show(args, naas.get_intent(args.id), fmt.intent_detail)


def intent_list(naas, args):
    filters = dict(tenant=args.tenant, state=args.state, site=args.site)
    if not args.page_size and not args.page_token:
        intents, next_token = list(naas.list_intents(**filters)), None
    else:
        intents, next_token = naas.list_page(page_size=args.page_size, page_token=args.page_token, **filters)
    if args.json and next_token is None:
        print(fmt.to_json(intents))
    elif args.json:  # one page: the token goes with it
        print(
            json.dumps(
                {'intents': [fmt.to_dict(i) for i in intents], 'next_page_token': next_token}, indent=2
            )
        )
    else:
        print(fmt.intent_table(intents) if intents else 'no intents')
        if next_token:
            print(f'next page: --page-token {next_token}')


def intent_update(naas, args):
    _show(args, naas.update_intent(args.id, **_changes(args)), fmt.intent_detail)


def intent_delete(naas, args):
    intent = naas.delete_intent(args.id)
    if args.wait and intent.state != IntentState.INTENT_STATE_WITHDRAWN:
        withdrawn = naas.wait_for_state(intent.id, ('WITHDRAWN',), args.wait_timeout)
        if withdrawn.src_site:
            intent = withdrawn
        else:  # gone from the controller: show the order as deleted, in its last state
            intent.state, intent.state_reason = withdrawn.state, withdrawn.state_reason
    _show(args, intent, fmt.intent_detail)


def intent_watch(naas, args):
    events = naas.watch_intents(tenant=args.tenant, intent_id=args.intent, include_current=args.current)
    return _follow(
        events, lambda event: fmt.to_json(event, one_line=True) if args.json else fmt.event_line(event)
    )


def intent_check(naas, args):
    check = naas.check_intent(_order(args))
    _show(args, check, lambda c: fmt.check_text(c, args.bandwidth))
    return 0 if check.admissible else 1


def intent_stats(naas, args):
    if not args.watch:
        _show(args, naas.get_intent_stats(args.id, args.window), fmt.stats_text)
        return 0
    readings = naas.watch_intent_stats(args.id, window_s=args.window, interval_s=args.interval)
    return _follow(
        readings, lambda s: fmt.to_json(s, one_line=True) if args.json else fmt.stats_text(s) + '\n'
    )


def _order(args):
    """The Order of `intent create`'s or `intent check`'s options (check has fewer)."""
    option = vars(args).get
    return Order(
        tenant=args.tenant,
        src=args.src,
        dst=args.dst,
        bandwidth_gbps=args.bandwidth,
        max_latency_ms=args.latency or None,
        protection=Protection.PROTECTED if args.protected else Protection.NONE,
        service_class=ServiceClass((option('service_class') or 'priority').upper()),
        excess_gbps=args.excess,
        description=option('description') or '',
        labels=dict(option('label') or []),
        src_prefixes=tuple(option('src_prefix') or ()),
        dst_prefixes=tuple(option('dst_prefix') or ()),
        request_id=option('request_id') or '',
    )


def topology(naas, args):
    if not args.watch:
        _show(args, naas.get_topology(), fmt.topology_text)
        return 0
    snapshots = naas.watch_topology(interval_ms=round(args.interval * 1000))
    return _follow(
        snapshots, lambda t: fmt.to_json(t, one_line=True) if args.json else fmt.topology_text(t) + '\n'
    )


def _follow(stream, line):
    """Prints each message of a stream as it comes; Ctrl-C ends it with status 0."""
    try:
        for message in stream:
            print(line(message), flush=True)
    except KeyboardInterrupt:
        stream.cancel()
        return 0
    print('naasctl: the server ended the stream', file=sys.stderr)
    return 1


def _show(args, message, human):
    print(fmt.to_json(message) if args.json else human(message))


def _changes(args):
    """update_intent's keyword arguments from `intent update`'s options."""
    changes = {}
    if args.bandwidth is not None:
        changes['bandwidth_gbps'] = args.bandwidth
    if args.excess is not None or args.no_excess:
        changes['excess_gbps'] = 0.0 if args.no_excess else args.excess
    if args.latency is not None or args.no_latency_bound:
        changes['max_latency_ms'] = 0.0 if args.no_latency_bound else args.latency
    if args.protected is not None:
        changes['protected'] = args.protected
    if args.service_class is not None:
        changes['service_class'] = args.service_class
    if args.description is not None:
        changes['description'] = args.description
    if args.label is not None or args.clear_labels:
        changes['labels'] = dict(args.label or [])
    return changes


def read_token(args, parser):
    """--token, else --token-file's first line, else NAAS_TOKEN, else NAAS_TOKEN_FILE's first line."""
    if args.token is None and args.token_file is None:
        args.token = os.environ.get('NAAS_TOKEN') or None
        if args.token is None:
            args.token_file = os.environ.get('NAAS_TOKEN_FILE') or None
    if args.token_file is None:
        return args.token
    try:
        with open(args.token_file, encoding='utf-8') as f:
            token = f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        parser.error(
            f'argument --token-file: cannot read {args.token_file}: '
            f'{getattr(e, "strerror", None) or "not a text file"}'
        )
    if not token:
        parser.error(f'argument --token-file: the first line of {args.token_file} is empty')
    return token


def _arg(parse):
    """An argparse type from a parser that raises ValueError, keeping the parser's message."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def _servers(text):
    """--server as the client splits it, checked here so that a bad one is a usage error."""
    servers = split_servers(text)
    if not servers:
        raise ValueError(f'{text!r}: give HOST:PORT, or several separated by commas')
    return ','.join(servers)


def _where(naas):
    """The server a failed call was last sent to, and the others if there are some."""
    if len(naas.servers) == 1:
        return naas.server  # the leader when the one server given named it
    return f'any of {",".join(naas.servers)} (the last tried: {naas.server})'


def _label(text):
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f'{text!r}: not a label; write it like team=web')
    return key, value


def _fail(message, token, status=1):
    """One line on stderr; the token never, even if a server echoed it."""
    if token:
        message = message.replace(token, '<token>')
    print(f'naasctl: {message}', file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
