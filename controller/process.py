"""naas-controller as a child process, for tests, scenarios and the demo: start it, wait
until it listens, stop it by its pid and say whether it stopped cleanly."""
import os
import signal
import socket
import subprocess
import sys
import time


def free_port(host='127.0.0.1'):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ControllerProcess:
    def __init__(self, fabric, db, log_path, port=None, extra_args=()):
        self.fabric, self.db, self.log_path = fabric, str(db), str(log_path)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.proc = None

    @property
    def address(self):
        return ('127.0.0.1', self.port)

    def start(self, timeout_s=20.0):
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'controller.main', '--fabric', self.fabric, '--db', self.db,
             '--openflow-port', str(self.port), *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'naas-controller exited with {self.proc.returncode}:\n{self.log()[-2000:]}')
            if 'listening for OpenFlow' in self.log():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f'naas-controller did not listen within {timeout_s:g} s:\n{self.log()[-2000:]}')

    def stop(self, sig=signal.SIGTERM, timeout_s=15.0):
        """Signal it and wait; returns its exit status (killed if it does not stop)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def problems(self):
        """Log lines that mean something went wrong: crashes and refused OpenFlow messages."""
        return [line for line in self.log().splitlines()
                if ' CRITICAL ' in line or 'Traceback' in line or 'refused message' in line
                or ' ERROR ' in line]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
