#!/usr/bin/python3
"""postie-tlsc on its own: the connection on -6/-7's descriptors, cleartext on fd 0/1,
the UCSPI-TLS environment block on -d's descriptor, against Python's ssl
as the server on loopback: the handshake and the session, SNI, the
certificate checked against a CA file (or not at all), and handshakes
that fail (wrong CA, wrong name, TLS 1.3 only, garbage, silence). The CA
file as bundles are (lib/pem.c): more than 64 KiB of certificates read
in pieces, CRLF, base64 wrapped at 66 columns (which BearSSL's decoder
refused), a 60 KiB block after text read with it, and the files refused with their reason: an END line of
another label (which BearSSL's decoder took), a missing END line, a
block larger than 64 KiB."""
import os, socket, ssl, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tlstest import make_cert

d = tmpdir("tlsc")
cert = make_cert(os.path.join(d, "a"), name="mx.test.example")
key = os.path.join(d, "a", "tls", "key.pem")
othercert = make_cert(os.path.join(d, "b"), name="mx.test.example")
rsacert = make_cert(os.path.join(d, "r"), name="mx.test.example", kind="rsa")
rsakey = os.path.join(d, "r", "tls", "key.pem")


def server(mode="echo", certfile=cert, keyfile=key, tls13=False):
    """A one-connection server; returns (port, result dict, thread)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    res = {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    if tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    def sni(sock, name, c):
        res["sni"] = name
    ctx.sni_callback = sni

    def run():
        c, _ = ls.accept()
        ls.close()
        c.settimeout(15)
        try:
            if mode == "garbage":
                c.recv(4096)
                c.sendall(b"220 this is not TLS\r\n" * 20)
                time.sleep(0.5)
                return
            if mode == "silent":
                time.sleep(6)
                return
            t = ctx.wrap_socket(c, server_side=True)
            res["version"], res["cipher"] = t.version(), t.cipher()[0]
            buf = b""
            while not buf.endswith(b"\n"):
                b = t.recv(4096)
                if not b:
                    break
                buf += b
            t.sendall(b"echo: " + buf)
            res["got"] = buf
            try:
                res["eof"] = t.recv(4096) == b""
            except (ssl.SSLError, OSError) as e:
                res["eof"] = repr(e)
        except (ssl.SSLError, OSError) as e:
            res["error"] = repr(e)
        finally:
            c.close()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return ls.getsockname()[1], res, th


def tlsc(port, args, send=b"hello\n", timeout=20):
    """postie-tlsc on a connection to port: returns (exit code, block, out, err)."""
    s = socket.create_connection(("127.0.0.1", port))
    nr, nw = os.pipe()
    sfd = s.fileno()

    # the descriptors as they are here (-d, -6, -7): postie-remote's own
    # runs cover the default 6 and 7
    p = subprocess.Popen([prog("postie-tlsc"), "-d", str(nw), "-6", str(sfd), "-7", str(sfd)] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(nw, sfd))
    os.close(nw)
    s.close()
    block = b""
    while True:
        b = os.read(nr, 4096)
        if not b:
            break
        block += b
    os.close(nr)
    out = b""
    if block:
        # the echo first, then our end (after which postie-tlsc sends
        # close_notify and leaves)
        p.stdin.write(send)
        p.stdin.flush()
        out = p.stdout.readline()
    try:
        o2, err = p.communicate(b"", timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        o2, err = p.communicate()
    return p.returncode, block, out + o2, err


# 1. No CA file: encryption only; the block, the session, the end.
for kind, cf, kf in (("ec", cert, key), ("rsa", rsacert, rsakey)):
    port, res, th = server(certfile=cf, keyfile=kf)
    rc, block, out, err = tlsc(port, ["-k", "mx.test.example"])
    th.join(10)
    env = dict(x.split(b"=", 1) for x in block.split(b"\0") if b"=" in x)
    check("nocheck-%s-exit-0" % kind, rc == 0, (rc, err))
    check("nocheck-%s-block" % kind, env.get(b"SSL_PROTOCOL") == b"TLSv1.2" and env.get(b"SSL_CIPHER", b"").decode() == res.get("cipher")
          and block.endswith(b"\0\0"), (block, res))
    check("nocheck-%s-session" % kind, res.get("got") == b"hello\n" and out == b"echo: hello\n", (res, out))
    check("nocheck-%s-close-notify" % kind, res.get("eof") is True, res)
    check("nocheck-%s-sni" % kind, res.get("sni") == "mx.test.example", res)

# 2. With the right CA file and name: verified.
port, res, th = server()
rc, block, out, err = tlsc(port, ["-k", "mx.test.example", "-c", cert, "-v", "2"])
th.join(10)
check("verified", rc == 0 and b"SSL_PROTOCOL=TLSv1.2" in block and out == b"echo: hello\n", (rc, block, out, err))
check("verified-log", b"handshake done: TLSv1.2 ECDHE-ECDSA-" in err and b"certificate verified" in err, err)

# 3. Failures: no block, exit 1, the reason on stderr.
cases = [
    ("wrong-ca", dict(), ["-k", "mx.test.example", "-c", othercert], b"certificate not trusted"),
    ("wrong-name", dict(), ["-k", "other.example", "-c", cert], b"does not match the server name"),
    ("tls13-only", dict(tls13=True), ["-k", "mx.test.example"], b"handshake failed: "),
    ("garbage", dict(mode="garbage"), [], b"handshake failed: "),
    ("silent", dict(mode="silent"), ["-K", "1000"], b"handshake failed: handshake timed out"),
]
for name, sargs, args, why in cases:
    port, res, th = server(**sargs)
    t = time.time()
    rc, block, out, err = tlsc(port, args)
    took = time.time() - t
    th.join(10)
    check("fail-%s" % name, rc == 1 and block == b"" and why in err and "got" not in res, (rc, block, err, res))
    if name == "silent":
        check("fail-silent-bounded", took < 5, took)

# 4. Usage and files.
rc, block, out, err = tlsc(server()[0], ["-c", cert])
check("usage-ca-without-name", rc == 100, (rc, err))
rc, block, out, err = tlsc(server()[0], ["-k", "mx.test.example", "-c", os.path.join(d, "nonexistent.pem")])
check("missing-ca-file", rc == 111 and b"nonexistent.pem" in err and block == b"", (rc, err))
bad = os.path.join(d, "bad.pem")
with open(bad, "w") as f:
    f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all !!!\n-----END CERTIFICATE-----\n")
rc, block, out, err = tlsc(server()[0], ["-k", "mx.test.example", "-c", bad])
check("bad-ca-file", rc == 111 and b"bad.pem" in err, (rc, err))
rc, block, out, err = tlsc(server()[0], ["-k", "bad name"])
check("bad-server-name", rc == 100, (rc, err))

# 5. CA files as bundles are, and broken ones.
with open(othercert) as f:
    OTHER = f.read()
with open(rsacert) as f:
    RSA = f.read()
with open(cert) as f:
    RIGHT = f.read()


def rewrap(pem, width, eol):
    b64 = "".join(pem.split("\n")[1:-2])
    return eol.join(["-----BEGIN CERTIFICATE-----"] + [b64[i:i + width] for i in range(0, len(b64), width)]
                    + ["-----END CERTIFICATE-----"]) + eol


def cafile(name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ~150 KiB of other certificates (groups of blocks across every 16 KiB
# piece read), then the right one, in CRLF and 66 columns.
bundle = cafile("bundle.pem", "# a bundle\n" + ("subject=other\n" + OTHER + RSA) * 90 + rewrap(RIGHT, 66, "\r\n"))
check("bundle-size", os.path.getsize(bundle) > 128 * 1024, os.path.getsize(bundle))
port, res, th = server()
rc, block, out, err = tlsc(port, ["-k", "mx.test.example", "-c", bundle])
th.join(10)
check("bundle-verified", rc == 0 and out == b"echo: hello\n", (rc, err))
# A block of 60 KiB (within the 64 KiB a block may take) after 12 KiB of
# text read in the same 16 KiB piece: only the block is kept for the next
# read, not the text before it (which made it "object too large").
big = "-----BEGIN X509 CRL-----\n" + "QUFB\n" * 12000 + "-----END X509 CRL-----\n"
for name, text in (("text-then-60k-block", "# a comment\n" * 1000 + big + RIGHT),
                   ("cert-text-then-60k-block", OTHER + "# a comment\n" * 1000 + big + RIGHT)):
    path = cafile(name + ".pem", text)
    port, res, th = server()
    rc, block, out, err = tlsc(port, ["-k", "mx.test.example", "-c", path])
    th.join(10)
    check(name, rc == 0 and out == b"echo: hello\n", (rc, err))
for name, text, why in (
        ("ca-end-label-mismatch", OTHER + RIGHT.replace("-----END CERTIFICATE-----", "-----END X509 CRL-----"),
         b"invalid PEM: the END line's label is not the BEGIN line's"),
        ("ca-no-end", OTHER * 40 + RIGHT.replace("-----END CERTIFICATE-----\n", ""), b"truncated PEM object"),
        ("ca-block-too-large", OTHER + "-----BEGIN CERTIFICATE-----\n" + "QUFB\n" * 17000 + "-----END CERTIFICATE-----\n" + RIGHT,
         b"object too large")):
    path = cafile(name + ".pem", text)
    rc, block, out, err = tlsc(server()[0], ["-k", "mx.test.example", "-c", path])
    check(name, rc == 111 and block == b"" and (path.encode() + b": " + why) in err, (rc, err))
done()
