#!/usr/bin/python3
"""postie-tlsd on its own, under postie-tcpserver, with a small UCSPI-TLS
program (tests/lib/tls-app): implicit TLS and TLS on request, checked with
openssl s_client and Python's ssl verifying the instance's certificate;
only TLS 1.2 with ECDHE and AEAD suites; the certificate read anew by each
connection; no certificate; the key decoded only when a handshake is
asked for (a plain session pays nothing for it, a bad key is found then),
and opened before the privileges are dropped; hostile clients (garbage, a stalled
handshake, a huge record) end with a log line and never reach the
program."""
import os, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, readline
from tlstest import make_cert, client_context, s_client

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
APP = os.path.join(HERE, "tls-app")
home = tmpdir("tlsd")
ca = make_cert(home)
mark = os.path.join(home, "ran")
env = {"POSTIE_HOME": home, "TLSAPP_MARK": mark}


def first_bytes(s, timeout=5):
    """What the server sends first, b"" if it closes (or resets) first."""
    s.settimeout(timeout)
    try:
        return s.recv(100)
    except (ConnectionResetError, socket.timeout):
        return b""


def logpath(n):
    return os.path.join(home, n + ".log")


imp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-v", "2", "-K", "1500", APP], logpath("implicit"), env=env)
req = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r", "-K", "1500", APP], logpath("request"), env=env)
# Stale UCSPI-TLS variables in postie-tlsd's own environment.
# A program that writes 24 MB and exits (killed after 2 s if stuck), and
# one with time enough for a slow reader to take 8 MB.
FLOOD = 24 << 20
flood = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-v", "2", "-K", "1500", APP], logpath("flood"),
               env=dict(env, TLSAPP_FLOOD=str(FLOOD)))
SLOW = 8 << 20
slow = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-v", "2", "-K", "1500", APP], logpath("slow"),
              env=dict(env, TLSAPP_FLOOD=str(SLOW), TLSAPP_ALARM="60"))
stale = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r", APP], logpath("stale"),
               env=dict(env, SSL_PROTOCOL="TLSv1.2", SSL_CIPHER="X", SSLCTLFD="0", SSLREADFD="0", SSLWRITEFD="1"))
# An instance of its own whose key is corrupt (the certificate is fine).
badhome = tmpdir("tlsd-badkey")
make_cert(badhome)
with open(os.path.join(badhome, "tls", "key.pem"), "w") as f:
    f.write("-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n")
badkey = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r", "-K", "1500", APP], logpath("badkey"),
                env=dict(env, POSTIE_HOME=badhome))
# Started as root, the TLS work as nobody: the key (root's, mode 0600)
# must have been opened before the privileges went.
drop = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r", "-K", "1500", APP], logpath("drop"),
              env=dict(env, TLS_UID="65534", TLS_GID="65534")) if os.getuid() == 0 else None
try:
    # A client that stops reading, once the program is gone, is given -K
    # per network write, not forever.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", flood.port))
    ts = client_context(ca).wrap_socket(s, server_hostname="mx.test.example")
    got = ts.recv(100)
    t0 = time.time()
    t = flood.wait_log(lambda t: "client stopped reading" in t, timeout=12)
    took = time.time() - t0
    ts.close()
    check("stopped-reader-ended", got.startswith(b"x") and "client stopped reading" in t and took < 8, (took, t[-400:]))
    # A slow reader that keeps reading gets everything, however long it takes.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", slow.port))
    ts = client_context(ca).wrap_socket(s, server_hostname="mx.test.example")
    n, t0 = 0, time.time()
    try:
        while True:
            d = ts.recv(65536)
            if not d:
                break
            n += len(d)
            time.sleep(0.01)
    except (ssl.SSLError, OSError):
        pass
    took = time.time() - t0
    ts.close()
    check("slow-reader-gets-all", n == SLOW and took > 3, (n, took, slow.logtext()[-400:]))

    # TLS_UID without TLS_GID (or the reverse) would keep root's gid or
    # uid: refused before anything runs.
    for name, extra in (("uid-only", {"TLS_UID": "65534"}), ("gid-only", {"TLS_GID": "65534"})):
        os.path.exists(mark) and os.unlink(mark)
        p = subprocess.run([prog("postie-tlsd"), APP], env=dict(os.environ, **env, **extra),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)
        check("privileges-" + name + "-refused", p.returncode == 100 and b"TLS_UID and TLS_GID must be set together" in p.stderr
              and not os.path.exists(mark), (p.returncode, p.stderr))

    # Implicit TLS: openssl s_client verifies the certificate, the program
    # sees SSL_PROTOCOL and SSL_CIPHER, and the session works.
    rc, out = s_client(imp.port, ca, ["-ign_eof"], b"ping\r\nQUIT\r\n")
    check("implicit-s_client-verified", rc == 0 and "Verify return code: 0 (ok)" in out, out[-600:])
    check("implicit-env", "SSL_PROTOCOL=TLSv1.2" in out and "SSL_CIPHER=ECDHE-ECDSA-" in out, out[-600:])
    check("implicit-echo", "echo ping" in out, out[-600:])
    t = imp.wait_log(lambda t: "handshake done" in t)
    check("implicit-log", "127.0.0.1: handshake done: TLSv1.2 ECDHE-ECDSA-" in t, t[-400:])

    # Python's ssl, verifying certificate and name.
    ctx = client_context(ca)
    with socket.create_connection(("127.0.0.1", imp.port), 10) as raw:
        s = ctx.wrap_socket(raw, server_hostname="mx.test.example")
        hello = readline(s)
        check("python-tls12", s.version() == "TLSv1.2", s.version())
        c = s.cipher()[0]
        check("python-aead-suite", c.startswith("ECDHE-ECDSA-") and ("GCM" in c or "CHACHA20" in c), c)
        s.sendall(b"abc\r\n")
        check("python-echo", readline(s) == b"echo abc\r\n")
        s.sendall(b"QUIT\r\n")
        s.settimeout(5)
        try:
            end = s.recv(100)
        except ssl.SSLError as e:
            end = str(e).encode()
        check("python-close", end == b"", end)
        s.close()

    # Only ECDHE with AEAD: a client offering only CBC suites, or only
    # static RSA key exchange, is refused; TLS 1.3 alone is refused.
    for name, args in (("cbc", ["-cipher", "ECDHE-ECDSA-AES128-SHA", "-tls1_2"]),
                       ("tls13-only", ["-tls1_3"]),
                       ("tls11", ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"])):
        rc, out = s_client(imp.port, ca, args, b"")
        check("refused-" + name, "Cipher is (NONE)" in out and "SSL_PROTOCOL" not in out, out[-300:])
    t = imp.wait_log(lambda t: "protocol version" in t)
    check("refused-cbc-log", "handshake failed: fatal alert sent: handshake failure" in t, t[-600:])
    check("refused-version-log", "handshake failed: fatal alert sent: protocol version (TLS 1.2 only)" in t, t[-600:])

    # Hostile handshakes: nothing reaches the program.
    os.path.exists(mark) and os.unlink(mark)
    s = imp.connect()
    s.sendall(b"EHLO garbage instead of a ClientHello\r\n" * 4)
    got = first_bytes(s)
    s.close()
    t = imp.wait_log(lambda t: "handshake failed: unknown record type" in t or "handshake failed: bad" in t)
    check("garbage-closed", not got.startswith(b"hello"), got)
    check("garbage-logged", "handshake failed" in t, t[-400:])

    # A client that stops mid-handshake: the timeout (-K 1500) ends it.
    hello = bytes.fromhex("160301002e0100002a0303") + b"\0" * 10  # a ClientHello cut short
    s = imp.connect()
    t0 = time.time()
    s.sendall(hello)
    s.settimeout(10)
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        got = b"timeout"
    el = time.time() - t0
    s.close()
    check("stalled-ends", got == b"" and 1.0 < el < 6, "%r after %.1fs" % (got, el))
    t = imp.wait_log(lambda t: "handshake timed out" in t)
    check("stalled-logged", "127.0.0.1: handshake failed: handshake timed out" in t, t[-400:])

    # A huge record: a header claiming 65535 bytes, then the bytes.
    s = imp.connect()
    try:
        s.sendall(b"\x16\x03\x03\xff\xff" + b"\x01" * 65535)
    except OSError:
        pass
    got = first_bytes(s)
    s.close()
    t = imp.wait_log(lambda t: t.count("handshake failed") >= 4)
    check("huge-record-refused", not got.startswith(b"hello") and t.count("handshake failed") >= 4, t[-400:])
    time.sleep(0.3)
    check("hostile-never-ran-program", not os.path.exists(mark))
    t = imp.logtext()
    check("no-crash", "signal" not in t and "exit 111" not in t, t[-600:])

    # Random bytes in every shape of record header: never a crash.
    import random
    rnd = random.Random(12)
    for i in range(20):
        kind = i % 4
        if kind == 0:
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600)))
        elif kind == 1:
            junk = b"\x16\x03\x03" + bytes(rnd.randrange(256) for _ in range(rnd.randrange(2, 600)))
        elif kind == 2:
            body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(4, 300)))
            junk = b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body
        else:
            body = b"\x01" + (len(hello) + 500).to_bytes(3, "big") + bytes(rnd.randrange(256) for _ in range(300))
            junk = b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body
        s = imp.connect()
        try:
            s.sendall(junk)
        except OSError:
            pass
        s.shutdown(socket.SHUT_WR)
        first_bytes(s)
        s.close()
    t = imp.wait_log(lambda t: t.count("handshake failed") >= 24, timeout=20)
    check("random-records-refused", t.count("handshake failed") >= 24, t[-600:])

    # After the handshake, a record whose MAC is wrong ends the session
    # with a log line; the program sees EOF, nothing else.
    raw = imp.connect()
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(ca).wrap_bio(inb, outb, server_hostname="mx.test.example")
    raw.settimeout(10)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            d = outb.read()
            if d:
                raw.sendall(d)
            inb.write(raw.recv(65536))
    d = outb.read()
    if d:
        raw.sendall(d)
    obj.write(b"hello there\r\n")
    rec = bytearray(outb.read())
    rec[-1] ^= 0x55  # the last byte of the AEAD tag
    raw.sendall(bytes(rec))
    got = b""
    try:
        while True:
            x = raw.recv(65536)
            if not x:
                break
            got += x
    except (ConnectionResetError, socket.timeout):
        pass
    raw.close()
    t = imp.wait_log(lambda t: "TLS session ended" in t)
    check("bad-mac-ends-session", "TLS session ended: bad record MAC" in t, t[-400:])

    # The certificate is read by each connection: replace it, no restart.
    ca2 = make_cert(home, "mx2.test.example")
    rc, out = s_client(imp.port, ca2, ["-ign_eof"], b"QUIT\r\n", name="mx2.test.example")
    check("cert-replaced", rc == 0 and "Verify return code: 0 (ok)" in out, out[-400:])
    ca = make_cert(home)

    # On request: clear text first (bytes pass unchanged), then STARTTLS.
    s = req.connect()
    f = readline(s)
    check("request-cleartext-hello", f.startswith(b"hello") and b"SSLCTLFD=" in f and b"SSL_PROTOCOL" not in f, f)
    s.sendall(b"before\r\n")
    check("request-cleartext-echo", readline(s) == b"echo before\r\n")
    s.sendall(b"STARTTLS\r\n")
    check("request-go", readline(s) == b"go\r\n")
    ts = client_context(ca).wrap_socket(s, server_hostname="mx.test.example")
    l = readline(ts)
    check("request-env-block", l.startswith(b"tls SSL_PROTOCOL=TLSv1.2 SSL_CIPHER=ECDHE-ECDSA-"), l)
    ts.sendall(b"inside\r\n")
    check("request-tls-echo", readline(ts) == b"echo inside\r\n")
    # Records of every size, full ones (16 KiB) and a few bytes, in one
    # write and in pieces: nothing lost or reordered on the way in.
    big = bytes(b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36] for i in range(70000))
    ts.sendall(big[:40000])
    for i in range(40000, 70000, 7001):
        ts.sendall(big[i:min(i + 7001, 70000)])
    ts.sendall(b"\r\nsmall\r\n")
    got = b""
    while got.count(b"\n") < 2:
        d = ts.recv(65536)
        if not d:
            break
        got += d
    check("request-tls-big-records", got == b"echo " + big + b"\r\necho small\r\n", (len(got), got[:40], got[-40:]))
    ts.sendall(b"QUIT\r\n")
    ts.close()

    # Bytes the client sent after STARTTLS, still in the socket, are not
    # clear text to anyone: they go to the TLS engine, which refuses them.
    s = req.connect()
    readline(s)
    s.sendall(b"STARTTLS\r\n")
    readline(s)
    s.sendall(b"RSET\r\n")
    got = first_bytes(s)
    s.close()
    check("request-pipelined-not-clear", b"echo" not in got, got)
    t = req.wait_log(lambda t: "handshake failed" in t)
    check("request-pipelined-logged", "handshake failed" in t, t[-400:])

    # No certificate: the program runs without SSLCTLFD, and it is logged.
    os.rename(os.path.join(home, "tls", "cert.pem"), os.path.join(home, "tls", "cert.off"))
    s = req.connect()
    f = readline(s)
    s.sendall(b"QUIT\r\n")
    s.close()
    check("nocert-no-sslctlfd", f.startswith(b"hello") and b"SSLCTLFD" not in f, f)
    t = req.wait_log(lambda t: "TLS not available" in t)
    check("nocert-logged", "cert.pem: unable to open" in t and "TLS not available" in t, t[-400:])
    # Variables already in the environment do not reach the program: a
    # stale SSL_PROTOCOL would make it believe TLS is on.
    s = stale.connect()
    f = readline(s)
    s.sendall(b"QUIT\r\n")
    s.close()
    check("nocert-stale-vars-unset", f.startswith(b"hello") and not [v for v in (b"SSL_PROTOCOL", b"SSL_CIPHER", b"SSLCTLFD", b"SSLREADFD", b"SSLWRITEFD") if v in f], f)
    s = imp.connect()
    got = first_bytes(s)
    s.close()
    check("nocert-implicit-closed", got == b"", got)
    os.rename(os.path.join(home, "tls", "cert.off"), os.path.join(home, "tls", "cert.pem"))

    # The key is decoded only when the program asks for TLS: a session
    # that stays in clear text runs with TLS offered and logs nothing
    # about a corrupt key, and neither file is open in the program.
    s = badkey.connect()
    f = readline(s)
    check("badkey-plain-offered", f.startswith(b"hello") and b"SSLCTLFD=" in f, f)
    s.sendall(b"plain\r\nFDS\r\n")
    check("badkey-plain-echo", readline(s) == b"echo plain\r\n")
    fds = readline(s)
    check("badkey-no-key-fd-in-program", fds.startswith(b"fds ") and b"/tls/" not in fds, fds)
    s.sendall(b"QUIT\r\n")
    first_bytes(s)
    s.close()
    time.sleep(0.3)
    t = badkey.logtext()
    check("badkey-plain-not-logged", "key.pem" not in t and "TLS not available" not in t, t[-400:])
    # Asked for, the bad key ends the connection with the same line as
    # before, now at the request.
    s = badkey.connect()
    readline(s)
    s.sendall(b"STARTTLS\r\n")
    check("badkey-request-go", readline(s) == b"go\r\n")
    try:
        client_context(ca).wrap_socket(s, server_hostname="mx.test.example")
        shook = True
    except (ssl.SSLError, OSError):
        shook = False
    s.close()
    t = badkey.wait_log(lambda t: "cannot be decoded" in t)
    check("badkey-request-refused", not shook, shook)
    check("badkey-request-logged", "127.0.0.1: " + os.path.join(badhome, "tls", "key.pem") + ": the private key cannot be decoded" in t, t[-400:])

    # Privileges dropped to nobody: the root-only key was opened before.
    if drop is None:
        skip("drop-key-opened-before", "not root")
    else:
        s = drop.connect()
        readline(s)
        s.sendall(b"STARTTLS\r\n")
        readline(s)
        ts = client_context(ca).wrap_socket(s, server_hostname="mx.test.example")
        l = readline(ts)
        ts.sendall(b"QUIT\r\n")
        ts.close()
        check("drop-key-opened-before", l.startswith(b"tls SSL_PROTOCOL=TLSv1.2"), (l, drop.logtext()[-400:]))
finally:
    imp.stop()
    req.stop()
    stale.stop()
    badkey.stop()
    drop and drop.stop()
    flood.stop()
    slow.stop()
done()
