"""Small in-process servers for the pool tests: a line echo whose answers can be
delayed (a slow server), and whose listening socket can be closed and reopened
on the same port (a server going down and up) while the connections it has
keep being served."""

import socket
import threading
import time

LOCALHOST = "127.0.0.1"


class line_server:
    """Echoes each line back after `delay` seconds, one thread per connection.
    A connection that starts with "GET " is an HTTP health check instead: it
    gets 200 while `healthy` is true, else 503, and is closed."""

    def __init__(self, delay=0.0, port=0):
        self.delay = delay
        self.healthy = True
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.listener = None
        self.port = port
        self.up()
        self.threads = []

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOCALHOST, self.port))
        s.listen(512)
        s.settimeout(0.05)
        self.port = s.getsockname()[1]
        self.listener = s
        self.accepting = threading.Event()
        self.accepting.set()
        self.accept_thread = threading.Thread(target=self._accept, args=(s, self.accepting), daemon=True)
        self.accept_thread.start()

    def down(self):
        """Stops listening the way a graceful server stops: connections already
        in the accept queue are accepted and served, then the listening socket
        closes and new connects are refused. (Closing it with connections still
        queued would reset them: a fault of the server, not of the proxy.)"""
        s, self.listener = self.listener, None
        if s is None:
            return
        self.accepting.clear()
        self.accept_thread.join()
        s.setblocking(False)
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                break
            self._take(c)
        s.close()

    @property
    def address(self):
        return (LOCALHOST, self.port)

    def _accept(self, s, accepting):
        while accepting.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._take(c)

    def _take(self, c):
        c.setblocking(True)
        with self.lock:
            self.connections += 1
        threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
                if buf.startswith(b"GET "):
                    if b"\r\n\r\n" in buf:
                        status = b"200 OK" if self.healthy else b"503 Service Unavailable"
                        c.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n")
                        break
                    continue
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if self.delay:
                        time.sleep(self.delay)
                    c.sendall(line + b"\n")
        except OSError:
            pass
        finally:
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            c.close()

    def close(self):
        self.down()
