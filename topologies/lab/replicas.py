"""Several naas-controller replicas on one etcd cluster (docs/ha.md), as child processes: for
the lab, scenarios and tests. They share one auth file; each has its own gRPC and OpenFlow
ports and log. Which one leads is read from their logs (the latest generation a live replica
says it leads with): the lab drives the controller only as a process and over gRPC.

    with EtcdCluster() as etcd, Replicas('triangle', etcd.url, workdir, 3) as replicas:
        with replicas.client('red') as red:     # every replica's address: it finds the leader
            red.create_intent('dca', 'dcb', 1)
        replicas.kill(replicas.leader())

`address` (every replica's OpenFlow address), `client`, `fabric`, `start` and `stop` are a
ControllerProcess's: the lab and wait_ready take either.
"""

import os
import re
import signal
import time

from topologies.lab.controller_process import ControllerProcess, free_port

LEADS = re.compile(r'naas\.replica: (\S+) leads \(generation (\d+)')


class Replicas:
    def __init__(self, fabric, url, workdir, count=3, extra_args=(), quotas=None, http=False):
        """`http`: each replica serves /metrics and the web view on a port of its own (`web_urls`)."""
        self.fabric, self.url, self.workdir = fabric, url, str(workdir)
        self.processes = []
        auth = None
        for k in range(count):
            name = f'r{k}'
            process = ControllerProcess(
                fabric,
                url,
                os.path.join(self.workdir, f'{name}.log'),
                extra_args=['--name', name, *extra_args],
                quotas=quotas,
                auth=auth,
                http_port=free_port() if http else None,
            )
            auth = process.auth
            self.processes.append(process)

    @property
    def tokens(self):
        return self.processes[0].tokens

    @property
    def web_urls(self):
        """Each replica's web view (a follower's says it follows, naming the leader)."""
        return [p.web_url for p in self.processes if p.web_url]

    @property
    def targets(self):
        """Every replica's gRPC address, as naasctl --server takes them."""
        return ','.join(p.grpc_target for p in self.processes)

    @property
    def address(self):
        """Every replica's OpenFlow (host, port): the switches connect to them all."""
        return [p.address for p in self.processes]

    def start(self, timeout_s=20.0):
        for process in self.processes:
            process.db = self.url  # the cluster's, as it is now
            process.start(timeout_s)
        return self

    def stop(self):
        """Each by its pid, followers first (the leader would hand over to them on its way
        out); the first exit status that was not 0, else 0 (None if none was running)."""
        lead = self.leader(timeout_s=0)
        order = [k for k in range(len(self.processes)) if k != lead] + ([lead] if lead is not None else [])
        statuses = [self.processes[k].stop() for k in order]
        return next((s for s in statuses if s), None if all(s is None for s in statuses) else 0)

    def alive(self, k):
        proc = self.processes[k].proc
        return proc is not None and proc.poll() is None

    def leader(self, timeout_s=10.0):
        """The index of the replica that leads now (the latest generation a live one took), or
        None once `timeout_s` has passed without one."""
        deadline = time.monotonic() + timeout_s
        while True:
            best = None
            for k, process in enumerate(self.processes):
                if not self.alive(k):
                    continue
                for _, generation in LEADS.findall(process.log()):
                    if best is None or int(generation) > best[1]:
                        best = (k, int(generation))
            if best is not None or time.monotonic() >= deadline:
                return best[0] if best else None
            time.sleep(0.02)

    def followers(self):
        lead = self.leader()
        return [k for k in range(len(self.processes)) if k != lead and self.alive(k)]

    def problems(self):
        """Every replica's problem lines (ControllerProcess.problems), each named."""
        return [f'r{k}: {line}' for k, p in enumerate(self.processes) for line in p.problems()]

    def kill(self, k):
        self.processes[k].kill()

    def pause(self, k):
        os.kill(self.processes[k].proc.pid, signal.SIGSTOP)

    def resume(self, k):
        os.kill(self.processes[k].proc.pid, signal.SIGCONT)

    def restart(self, k, timeout_s=20.0):
        self.processes[k].start(timeout_s)

    def client(self, who='operator', **kw):
        """A naasctl Client that knows every replica (it follows the leader for writes)."""
        from naasctl.client import Client

        return Client(self.targets, token=self.tokens[who], **kw)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
