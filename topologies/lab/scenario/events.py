"""Events: what a scenario does to the lab (registered step kinds; see steps.py)."""

import subprocess
import time

from topologies.emulation.measure import finish, wait_listening
from topologies.lab.scenario.steps import HOSTS, Event, Field, number, register, span

MAX_WAIT_S = 600
MAX_SPAN_DELAY_MS = 10000
TRAFFIC_PORT = 5300  # traffic_start's iperf3 servers: 5300, 5301, ...
UDP_PAYLOAD = 1400


@register
class Wait(Event):
    key = 'wait'
    title = 'wait {seconds:g} s'

    def read(self, r, value, key):
        return {'seconds': r.number(value, key, positive=True, minimum=0, maximum=MAX_WAIT_S)}

    def run(self, run, seconds):
        time.sleep(seconds)


@register
class SpanDown(Event):
    key = 'span_down'
    title = 'span {span} down'
    outage = True

    def read(self, r, value, key):
        return {'span': r.span(value, key)}

    def run(self, run, span):
        run.lab.span_down(*span)


@register
class SpanUp(SpanDown):
    key = 'span_up'
    title = 'span {span} up'

    def run(self, run, span):
        run.lab.span_up(*span)


@register
class SpanDelay(Event):
    key = 'span_delay'
    title = 'span {span} delay {ms:g} ms'
    outage = True
    fields = {'span': Field(span), 'ms': Field(number(minimum=0, maximum=MAX_SPAN_DELAY_MS))}

    def run(self, run, span, ms):
        run.lab.span_delay(*span, ms)


@register
class SpanLoss(Event):
    """A gray failure: the span drops a share of its frames at random, its carrier up."""

    key = 'span_loss'
    title = 'span {span} loses {pct:g}%'
    outage = True
    fields = {'span': Field(span), 'pct': Field(number(minimum=0, maximum=100))}

    def run(self, run, span, pct):
        run.lab.span_loss(*span, pct)


@register
class SpanStall(SpanDown):
    """A gray failure: the span forwards nothing, its carrier up (span_loss at 100%; a
    span_loss of 0 ends it)."""

    key = 'span_stall'
    title = 'span {span} stalls'

    def run(self, run, span):
        run.lab.span_loss(*span, 100)


@register
class SiteDown(Event):
    """A whole site down as a crashed machine: its switch's daemons killed. Intents through it
    move; intents to or from it fail, saying so; the site's spans keep their carrier."""

    key = 'site_down'
    title = 'site {site} down'
    outage = True

    def read(self, r, value, key):
        return {'site': r.site(value, key)}

    def run(self, run, site):
        run.lab.site_down(site)


@register
class SiteUp(SiteDown):
    """The site's switch back, with an empty table, for the controller to reconcile."""

    key = 'site_up'
    title = 'site {site} up'

    def run(self, run, site):
        run.lab.site_up(site)


@register
class TrafficStart(Event):
    """Constant-rate UDP (iperf3) between two hosts of a tenant until traffic_stop or the end;
    run.traffic holds name -> (server, client, port)."""

    key = 'traffic_start'
    title = 'traffic {traffic} {src} -> {dst} at {rate_gbps:g} Gb/s'
    fields = {
        'name': Field(lambda r, value, key: r.short_name(value, key), arg='traffic'),
        **HOSTS,
        'rate_gbps': Field(number(positive=True)),
    }
    same_tenant = True

    def check(self, r, args, key):
        name = args['traffic']
        if name in r.running:
            r.v.problem(
                f'{key}.name',
                f'traffic {name!r} is already running (started at '
                f'{r.running[name]}); stop it first or use another name',
            )
        elif name:
            r.running[name] = key.rsplit('.', 1)[0]

    def run(self, run, traffic, src, dst, rate_gbps):
        used, port = {p for _, _, p in run.traffic.values()}, TRAFFIC_PORT
        while port in used:
            port += 1
        mbps = rate_gbps * 1000 * run.scenario.fabric.bandwidth_scale
        server = run.lab.host(dst).popen(
            ['iperf3', '-s', '-p', str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        run.traffic[traffic] = (server, None, port)  # stopped with the rest if what follows fails
        wait_listening(run.lab.host(dst), port)
        client = run.lab.host(src).popen(
            [
                'iperf3',
                '-c',
                run.lab.ip(dst),
                '-p',
                str(port),
                '-u',
                '-b',
                f'{mbps:g}M',
                '-l',
                str(UDP_PAYLOAD),
                '-t',
                '86400',
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        run.traffic[traffic] = (server, client, port)

    def finish(self, run):
        for name in list(run.traffic):
            stop_traffic(run, name)


def stop_traffic(run, name):
    for proc in run.traffic.pop(name)[:2]:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            finish(proc, 5)


@register
class TrafficStop(Event):
    key = 'traffic_stop'
    title = 'traffic {traffic} stopped'

    def read(self, r, value, key):
        if not isinstance(value, str) or not value:
            r.v.problem(key, f'must be the name of running traffic, got {value!r}')
        elif value in r.running:
            del r.running[value]
            r.stopped[value] = key.rsplit('.', 1)[0]
        elif value in r.stopped:
            r.v.problem(key, f'traffic {value!r} was already stopped at {r.stopped[value]}')
        else:
            r.v.problem(
                key,
                f'no traffic {value!r} is running here (running: '
                f'{", ".join(r.running) or "none"}); traffic_start starts it',
            )
        return {'traffic': value}

    def run(self, run, traffic):
        stop_traffic(run, traffic)


@register
class RestartController(Event):
    key = 'restart_controller'
    title = 'controller restarted'
    outage = True

    def read(self, r, value, key):
        if value is not True and value != {}:
            r.v.problem(key, f'must be true or {{}}, got {value!r}')
        return {}

    def run(self, run):
        run.watcher.stop()
        run.lab.restart_controller()
        run.watcher = run.watch()


# Controller replicas and their etcd cluster (a scenario with `replicas: N`, docs/ha.md).


@register
class ReplicaKill(Event):
    """A controller replica's process dies (SIGKILL): 'leader', or a replica by index."""

    key = 'replica_kill'
    title = 'replica {replica} killed'
    outage = True

    def read(self, r, value, key):
        return {'replica': r.replica(value, key)}

    def run(self, run, replica):
        run.say(f'  replica r{run.lab.kill_replica(replica)} killed')
        run.rewatch()


@register
class ReplicaPause(Event):
    """A replica stopped (SIGSTOP) for `seconds`, then continued: a leader cut off past its
    lease is replaced, and ends itself once back, changing nothing."""

    key = 'replica_pause'
    title = 'replica {replica} paused {seconds:g} s'
    outage = True
    fields = {
        'replica': Field(lambda r, value, key: r.replica(value, key)),
        'seconds': Field(number(positive=True, maximum=MAX_WAIT_S)),
    }

    def run(self, run, replica, seconds):
        run.say(f'  replica r{run.lab.pause_replica(replica, seconds)} paused {seconds:g} s, continued')
        run.rewatch()


@register
class ReplicaRestart(Event):
    """Every replica that is not running started again, as a follower (`replica_restart: true`)."""

    key = 'replica_restart'
    title = 'replicas restarted'

    def read(self, r, value, key):
        if value is not True:
            r.v.problem(key, f'must be true, got {value!r}')
        r.replica('leader', key)  # only with replicas
        return {}

    def run(self, run):
        run.lab.restart_replicas()


@register
class EtcdKill(Event):
    """An etcd member dies (SIGKILL): one of 3 changes nothing; two refuse every write."""

    key = 'etcd_kill'
    title = 'etcd member {member} killed'
    outage = True

    def read(self, r, value, key):
        return {'member': r.etcd_member(value, key)}

    def run(self, run, member):
        run.lab.etcd.kill(member)


@register
class EtcdRestart(EtcdKill):
    key = 'etcd_restart'
    title = 'etcd member {member} restarted'
    outage = False

    def run(self, run, member):
        run.lab.etcd.restart(member)
