"""Helpers for the TLS tests: an instance's certificate (made with the
openssl command, as postie-setup does), instances holding given PEM
text, the checks of a connection postie-tlsd refused, and clients that
verify it."""
import os, re, socket, ssl, subprocess
from postietest import check


def make_cert(home, name="mx.test.example", kind="ec"):
    """A self-signed certificate for name in home/tls/ (cert.pem, key.pem).
    kind: "ec" (P-256) or "rsa" (2048 bits). Returns the cert's path (the
    CA file a client verifies against)."""
    d = os.path.join(home, "tls")
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "key.pem.new")
    cert = os.path.join(d, "cert.pem.new")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509"] + newkey + ["-nodes", "-keyout", key, "-out", cert,
                    "-days", "3650", "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    os.rename(key, os.path.join(d, "key.pem"))
    os.rename(cert, os.path.join(d, "cert.pem"))
    return os.path.join(d, "cert.pem")


def tls_instance(home, certtext, keytext):
    """An instance directory home whose tls/cert.pem and tls/key.pem
    (mode 600) hold certtext and keytext, for postie-tlsd's POSTIE_HOME."""
    os.makedirs(os.path.join(home, "tls"))
    with open(os.path.join(home, "tls", "cert.pem"), "w") as f:
        f.write(certtext)
    with open(os.path.join(home, "tls", "key.pem"), "w") as f:
        f.write(keytext)
    os.chmod(os.path.join(home, "tls", "key.pem"), 0o600)
    return home


def tlsd_refused(name, out, log, logline, ranmark):
    """The checks of a connection postie-tlsd refused for an unusable
    certificate or key file: no session (out, the client's output), the
    log line (logline, file and reason) in log, exit 111 without a
    signal, and the program never run (no ranmark file)."""
    check(name + "-refused", "echo ping" not in out, out[-400:])
    check(name + "-log-says-why", logline in log, log[-600:])
    check(name + "-exit-111", re.search(r" end pid \d+ .* exit 111 ", log) is not None and " signal " not in log, log[-600:])
    check(name + "-program-not-run", not os.path.exists(ranmark))


def client_context(cafile, name="mx.test.example"):
    """A context that verifies the server's certificate against cafile
    (and its name): never verification turned off."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    return ctx


def s_client(port, cafile, args=(), data=b"", name="mx.test.example", timeout=20):
    """openssl s_client on 127.0.0.1:port, verifying against cafile.
    Returns (exit code, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", cafile,
                        "-verify_return_error", "-verify_hostname", name, "-servername", name] + list(args),
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def s_client_after(port, cafile, wait_for, data, args=(), name="mx.test.example", timeout=20):
    """openssl s_client as s_client() does, but sends data only once the
    server has said wait_for (bytes): an SMTP client waits for the
    greeting, and s_client alone would not. Returns (exit code, output)."""
    import select, time
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", cafile,
                          "-verify_return_error", "-verify_hostname", name, "-servername", name] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    end = time.time() + timeout

    def more(out, until):
        """out, plus what s_client says until the predicate holds, EOF, or
        the deadline."""
        while not until(out) and time.time() < end:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                d = os.read(p.stdout.fileno(), 65536)
                if not d:
                    break
                out += d
        return out
    out = more(b"", lambda o: wait_for in o)
    try:
        p.stdin.write(data)
        p.stdin.close()
    except BrokenPipeError:
        pass
    out = more(out, lambda o: False)
    if p.poll() is None:
        p.kill()
    p.wait()
    p.stdout.close()
    return p.returncode, out.decode("utf-8", "replace")


def read_until_closed(s, timeout=10):
    """What the server sends before it closes s (b"<timeout or reset>"
    appended if it does not), and how long that took."""
    import time
    s.settimeout(timeout)
    t0, got = time.time(), b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        got += b"<timeout or reset>"
    return got, time.time() - t0


def hostile_handshakes(switch, garbage):
    """Three hostile clients after the server agreed to start TLS:
    switch() connects and returns (socket, the server's yes). Each sends
    something else than a good handshake: `garbage` (clear-text
    commands), a ClientHello cut short (then waits: only the server's
    handshake timeout ends it), a record header claiming 65535 bytes and
    the bytes. Returns {name: (server's yes, what it sent then, seconds
    until it closed)}."""
    out = {}
    for name, data in (("garbage", garbage),
                       ("stalled", bytes.fromhex("160301002e0100002a0303") + b"\0" * 10),
                       ("huge", b"\x16\x03\x03\xff\xff" + b"\x01" * 65535)):
        s, yes = switch()
        try:
            s.sendall(data)
        except OSError:
            pass
        got, secs = read_until_closed(s)
        s.close()
        out[name] = (yes, got, secs)
    return out
