"""Carry OpenFlow from the site switches' namespaces to a controller on the host's loopback.

Each site switch runs in its own network namespace, where 127.0.0.1 is not the host's.
Switches connect to Unix sockets instead (sockets in the file system cross namespaces; OVS
only accepts one inside the switch's own run directory, so each switch gets its own);
every connection accepted there is spliced to a new TCP connection to the controller.
"""

import os
import selectors
import socket
import threading

CHUNK = 65536


class OpenFlowProxy:
    """Unix sockets -> TCP `controller` (host, port): one thread for any number of switches."""

    def __init__(self, controller):
        self.controller = controller
        self._selector = selectors.DefaultSelector()
        self._listeners = {}  # path -> listening socket
        self._peer = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name='openflow-proxy', daemon=True)
        self._thread.start()

    def listen(self, path):
        """Accept switches on a new Unix socket at `path`; returns the OVS controller target."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(8)
        listener.setblocking(False)
        self._listeners[path] = listener
        self._selector.register(listener, selectors.EVENT_READ, 'listener')  # epoll: live at once
        return f'unix:{path}'

    def forget(self, path):
        listener = self._listeners.pop(path, None)
        if listener:
            self._selector.unregister(listener)
            listener.close()
            os.unlink(path)

    @property
    def idle(self):
        return not self._listeners

    def stop(self):
        for path in list(self._listeners):
            self.forget(path)
        self._wake_w.send(b'x')
        self._thread.join(timeout=5)
        for sock in list(self._peer):
            self._close(sock)
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    def _run(self):
        while True:
            for key, _ in self._selector.select():
                if key.fileobj is self._wake_r:
                    return
                if key.data == 'listener':
                    self._accept(key.fileobj)
                elif key.fileobj in self._peer:
                    self._forward(key.fileobj)

    def _accept(self, listener):
        try:
            switch_side, _ = listener.accept()
        except OSError:
            return
        try:
            controller_side = socket.create_connection(self.controller, timeout=1)
        except OSError:
            switch_side.close()  # no controller yet: the switch retries with its backoff
            return
        controller_side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for sock, peer in ((switch_side, controller_side), (controller_side, switch_side)):
            sock.settimeout(5)  # a peer that stops reading is dropped, not waited on forever
            self._peer[sock] = peer
            self._selector.register(sock, selectors.EVENT_READ, 'peer')

    def _forward(self, sock):
        try:
            data = sock.recv(CHUNK)
            if data:
                self._peer[sock].sendall(data)
                return
        except OSError:
            pass
        self._close(sock)

    def _close(self, sock):
        peer = self._peer.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._peer.pop(s, None)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
