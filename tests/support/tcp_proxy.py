"""A TCP proxy (green threads) that a test can cut and restore, to take a
backing service away from one process without stopping it for everyone."""

import socket

import eventlet


class TcpProxy:
    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = None
        self.port = None
        self.connections = []
        self._acceptor = None

    def start(self):
        self.listener = eventlet.listen(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self._acceptor = eventlet.spawn(self._accept)
        return self

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            try:
                upstream = eventlet.connect(self.target)
            except OSError:
                client.close()
                continue
            self.connections += [client, upstream]
            eventlet.spawn(self._pump, client, upstream)
            eventlet.spawn(self._pump, upstream, client)

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, EOFError):
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        """Refuse new connections and break the open ones (an outage)."""
        if self._acceptor is not None:
            self._acceptor.kill()
            self._acceptor = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        # Shut down, not close: the pumps blocked on these sockets wake up
        # with end-of-file and finish (closing under them raises in eventlet).
        for sock in self.connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections = []

    def restore(self):
        """Listen again on the same port (the service comes back)."""
        self.start()
