"""A raw client for the line protocols (SMTP, POP3, IMAP) on loopback, for
hostile input: send any bytes, read CRLF-terminated lines. The protocol
helpers (smtpdtest.Raw, poptest.Raw) add their own reply shapes on top."""
import socket


class LineClient:
    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def send(self, b):
        self.s.sendall(b)

    def line(self):
        """One line without its CRLF; at EOF, whatever was left (b"" if
        nothing)."""
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                r, self.buf = self.buf, b""
                return r
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def closed(self, timeout=5):
        """True if the server closes the connection (reads to EOF)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
