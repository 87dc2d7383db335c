"""A small SMTP server for tests of SMTP clients, with failure injection.

FakeSMTP(host, port, **behaviour) listens at once; .port is the port; every
session is recorded in .sessions (a list of dicts):
  commands: the command lines received (bytes, CRLF stripped)
  recvs:    for each command, the number of the recv() that brought it
            (commands sent together by a pipelining client share one)
  data:     the raw bytes after "354", up to and including CRLF.CRLF
            (None when no message was received)
Behaviour (replies are bytes without the final CRLF; a multi-line reply
has its CRLFs inside):
  greeting      b"220 fake ESMTP"
  ehlo          list of EHLO keywords (PIPELINING, SIZE n, 8BITMIME...)
  ehlo_reply    a whole reply to EHLO instead (e.g. b"502 no")
  helo_reply    b"250 fake"
  mail_reply    b"250 ok"
  rcpt          {address: reply}, others get rcpt_default (b"250 ok")
  data_reply    b"354 go"
  final_reply   b"250 queued"
  delay         {"greeting"|"EHLO"|"MAIL"|"RCPT"|"DATA"|"."|...: seconds}
  close_on      a command name ("MAIL", ".", ...) after which the server
                closes the connection without replying
  tls           an ssl.SSLContext (server side): STARTTLS is offered
                (until it is done) and answered with starttls_reply; the
                session then records tls = (version, cipher name)
  starttls_reply b"220 2.0.0 go ahead"
  tls_garbage   bytes sent instead of a TLS handshake after the 220
                (then the connection is closed)
  auth          the AUTH mechanisms offered (e.g. ["PLAIN", "LOGIN"]),
                in clear text too; every AUTH exchange line is recorded
                in auth (line, whether TLS was on), answered with
                auth_reply (b"235 2.7.0 ok")
"""

import socket, threading, time


class FakeSMTP:
    def __init__(self, host="127.0.0.1", port=0, family=None, name="fake", greeting=b"220 fake ESMTP",
                 ehlo=("PIPELINING", "8BITMIME", "SIZE 10000000"), ehlo_reply=None,
                 helo_reply=b"250 fake", mail_reply=b"250 2.1.0 ok", rcpt=None, rcpt_default=b"250 2.1.5 ok",
                 data_reply=b"354 go ahead", final_reply=b"250 2.0.0 queued", delay=None, close_on=None,
                 settle=0.03, tls=None, starttls_reply=b"220 2.0.0 go ahead", tls_garbage=None,
                 auth=None, auth_reply=b"235 2.7.0 ok"):
        if family is None:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.name = name
        self.greeting = greeting
        self.ehlo = list(ehlo) if ehlo is not None else []
        self.ehlo_reply = ehlo_reply
        self.helo_reply = helo_reply
        self.mail_reply = mail_reply
        self.rcpt = dict(rcpt or {})
        self.rcpt_default = rcpt_default
        self.data_reply = data_reply
        self.final_reply = final_reply
        self.delay = dict(delay or {})
        self.close_on = close_on
        self.settle = settle
        self.tls = tls
        self.starttls_reply = starttls_reply
        self.tls_garbage = tls_garbage
        self.auth = list(auth or [])
        self.auth_reply = auth_reply
        self.sessions = []
        self.lock = threading.Lock()
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        rec = {"commands": [], "recvs": [], "data": None, "tls": None, "auth": []}
        with self.lock:
            self.sessions.append(rec)
        buf = b""
        nrecv = 0
        c.settimeout(30)

        def reply(r, cmd):
            d = self.delay.get(cmd)
            if d:
                time.sleep(d)
            c.sendall(r + b"\r\n")

        def more():
            nonlocal buf, nrecv
            # let everything a pipelining client sent in one go arrive
            time.sleep(self.settle)
            b = c.recv(65536)
            if not b:
                raise EOFError
            nrecv += 1
            buf += b

        try:
            reply(self.greeting, "greeting")
            if not self.greeting.startswith(b"2"):
                # a refusing server still answers QUIT, then closes
                pass
            while True:
                while b"\r\n" not in buf:
                    more()
                line, buf = buf.split(b"\r\n", 1)
                rec["commands"].append(line)
                rec["recvs"].append(nrecv)
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode("ascii", "replace")
                if self.close_on == verb:
                    break
                if verb == "QUIT":
                    reply(b"221 bye", "QUIT")
                    break
                if not self.greeting.startswith(b"2"):
                    reply(b"503 bad sequence", verb)
                    continue
                if verb == "EHLO":
                    if self.ehlo_reply is not None:
                        reply(self.ehlo_reply, "EHLO")
                    else:
                        kw = list(self.ehlo)
                        if self.tls is not None and rec["tls"] is None:
                            kw.append("STARTTLS")
                        if self.auth:
                            kw.append("AUTH " + " ".join(self.auth))
                        lines = [b"250-" + self.name.encode()] + [b"250-" + k.encode() for k in kw]
                        lines[-1] = b"250 " + lines[-1][4:]
                        reply(b"\r\n".join(lines), "EHLO")
                elif verb == "HELO":
                    reply(self.helo_reply, "HELO")
                elif verb == "MAIL":
                    rec["mail_ok"] = self.mail_reply.startswith(b"2")
                    rec["rcpt_ok"] = 0
                    reply(self.mail_reply, "MAIL")
                elif verb == "RCPT":
                    addr = line[line.find(b"<") + 1:line.rfind(b">")].decode("utf-8", "surrogateescape")
                    r = self.rcpt.get(addr, self.rcpt_default)
                    if rec.get("mail_ok") and r.startswith(b"2"):
                        rec["rcpt_ok"] += 1
                    reply(r if rec.get("mail_ok") else b"503 5.5.1 no MAIL", "RCPT")
                elif verb == "DATA":
                    if not rec.get("mail_ok") or not rec.get("rcpt_ok"):
                        reply(b"554 5.5.1 no valid recipients", "DATA")
                        continue
                    reply(self.data_reply, "DATA")
                    if not self.data_reply.startswith(b"354"):
                        continue
                    while True:
                        i = (b"\r\n" + buf).find(b"\r\n.\r\n")
                        if i >= 0:
                            break
                        more()
                    rec["data"], buf = buf[:i + 3], buf[i + 3:]
                    if self.close_on == ".":
                        break
                    reply(self.final_reply, ".")
                elif verb == "STARTTLS" and self.tls is not None and rec["tls"] is None:
                    reply(self.starttls_reply, "STARTTLS")
                    if not self.starttls_reply.startswith(b"220"):
                        continue
                    if self.tls_garbage is not None:
                        c.sendall(self.tls_garbage)
                        break
                    # what the client pipelined behind STARTTLS never counts
                    buf = b""
                    c.settimeout(10)
                    c = self.tls.wrap_socket(c, server_side=True)
                    rec["tls"] = (c.version(), c.cipher()[0])
                elif verb == "AUTH" and self.auth:
                    rec["auth"].append((line, rec["tls"] is not None))
                    words = line.split()
                    if len(words) == 2 and words[1].upper() == b"LOGIN":
                        for prompt in (b"334 VXNlcm5hbWU6", b"334 UGFzc3dvcmQ6"):
                            reply(prompt, "AUTH")
                            while b"\r\n" not in buf:
                                more()
                            l2, buf = buf.split(b"\r\n", 1)
                            rec["auth"].append((l2, rec["tls"] is not None))
                    rec["authed"] = self.auth_reply.startswith(b"2")
                    reply(self.auth_reply, "AUTH")
                elif verb in ("RSET", "NOOP"):
                    reply(b"250 ok", verb)
                else:
                    reply(b"502 5.5.2 unknown command", verb)
        except (EOFError, OSError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            rec["done"] = True

    def wait_sessions(self, n=1, timeout=5):
        """The sessions, once at least n of them have ended."""
        end = time.time() + timeout
        while time.time() < end and sum(1 for s in self.sessions if s.get("done")) < n:
            time.sleep(0.01)
        return self.sessions


def wire(msg):
    """What a client must send for msg after DATA: CRLF line ends (a bare
    LF or CR ends a line), dot-stuffing, a last line end, CRLF.CRLF."""
    out = bytearray()
    atbol = True
    i = 0
    while i < len(msg):
        c = msg[i:i + 1]
        if c == b"\r":
            out += b"\r\n"
            atbol = True
            if msg[i + 1:i + 2] == b"\n":
                i += 1
        elif c == b"\n":
            out += b"\r\n"
            atbol = True
        else:
            if atbol and c == b".":
                out += b"."
            out += c
            atbol = False
        i += 1
    if not atbol:
        out += b"\r\n"
    return bytes(out) + b".\r\n"
