#!/usr/bin/python3
"""postie-tlsd's certificate file as people write it: the key in the same
file as the certificate (a combined file), other PEM objects among the
certificates, and chains up to the documented bound of 8 certificates.
Only certificates become the chain, each once, in the file's order; a
ninth certificate is refused with a log line naming the file, and
nothing crashes (a chain entry added past the bound overwrote the key's
fields, and every handshake died of SIGSEGV). Checked with openssl
s_client -showcerts (the certificates the server sends) and Python's
ssl verifying the whole chain up to its root."""
import os, re, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, readline
from tlstest import client_context, s_client, tls_instance, tlsd_refused

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
APP = os.path.join(HERE, "tls-app")
NAME = "mx.test.example"
work = tmpdir("tlsd-chain")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ecparam(name):
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")


def read(name):
    with open(os.path.join(work, name)) as f:
        return f.read()


# A root CA, 7 intermediates under it in turn (i1 signed by the root, i2
# by i1...), and the server's certificate signed by the last: the leaf
# and 7 CA certificates are 8, the bound; the root makes 9.
ext = os.path.join(work, "ext.cnf")
with open(ext, "w") as f:
    f.write("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
            "[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:%s\n" % NAME)
ecparam("root")
openssl("req", "-x509", "-new", "-key", "root.key", "-out", "root.pem", "-days", "3650",
        "-subj", "/CN=postie test root", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
issuer = "root"
for i in range(1, 8):
    n = "i%d" % i
    ecparam(n)
    openssl("req", "-new", "-key", n + ".key", "-out", n + ".csr", "-subj", "/CN=postie test intermediate %d" % i)
    openssl("x509", "-req", "-in", n + ".csr", "-CA", issuer + ".pem", "-CAkey", issuer + ".key",
            "-CAcreateserial", "-out", n + ".pem", "-days", "3650", "-extfile", ext, "-extensions", "ca")
    issuer = n
# A self-signed server certificate of its own, for the files that hold
# it alone (and a client verifies it against itself).
ecparam("self")
openssl("req", "-x509", "-new", "-key", "self.key", "-out", "self.pem", "-days", "3650",
        "-subj", "/CN=" + NAME, "-addext", "subjectAltName=DNS:" + NAME)
ecparam("leaf")
openssl("req", "-new", "-key", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=" + NAME)
openssl("x509", "-req", "-in", "leaf.csr", "-CA", issuer + ".pem", "-CAkey", issuer + ".key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "3650", "-extfile", ext, "-extensions", "leaf")
# The key as openssl writes it by default (PKCS#8, "PRIVATE KEY"), and the
# curve's parameters as `openssl ecparam` puts them before an EC key.
openssl("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-out", "leaf.p8")
openssl("pkcs8", "-topk8", "-nocrypt", "-in", "self.key", "-out", "self.p8")
openssl("ecparam", "-name", "prime256v1", "-out", "params.pem")
KEY = read("leaf.p8")
SELF, SELFKEY = read("self.pem"), read("self.p8")
selffile = os.path.join(work, "self.pem")
LEAF = read("leaf.pem")
CAS = [read("i%d.pem" % i) for i in range(7, 0, -1)]   # i7 (the leaf's issuer) first
ROOT = read("root.pem")
rootfile = os.path.join(work, "root.pem")

# instance name -> the certificate file's text, the key file's.
layouts = {
    "combined": (SELF + SELFKEY, SELFKEY),                    # (a) a cert+key file
    "key-first": (SELFKEY + SELF, SELFKEY),
    "params-key": (SELF + read("params.pem") + SELFKEY, SELFKEY),
    "key-between": (LEAF + KEY + "".join(CAS), KEY),          # the bound, the key after the leaf
    "eight-then-key": (LEAF + "".join(CAS) + KEY, KEY),       # (b) the bound, then the key
    "nine": (LEAF + "".join(CAS) + ROOT, KEY),                # (c) one past it
    "nine-then-key": (LEAF + "".join(CAS) + ROOT + KEY, KEY),
}
servers = {}


def instance(name, certtext, keytext):
    return tls_instance(os.path.join(work, name), certtext, keytext)


def sent_certs(out):
    """The certificates s_client -showcerts printed, as their PEM bodies."""
    return re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", out, re.S)


def body(pem):
    return re.search(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", pem, re.S).group(1)


def python_session(port, cafile):
    """A session through Python's ssl verifying the chain against cafile
    (and the name): the echo of one line, or the error."""
    try:
        with socket.create_connection(("127.0.0.1", port), 10) as raw:
            s = client_context(cafile).wrap_socket(raw, server_hostname=NAME)
            readline(s)
            s.sendall(b"abc\r\n")
            got = readline(s)
            s.close()
            return got
    except (OSError, ValueError) as e:
        return repr(e).encode()


try:
    for name, (certtext, keytext) in layouts.items():
        home = instance(name, certtext, keytext)
        servers[name] = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-K", "5000", APP],
                               os.path.join(work, name + ".log"),
                               env={"POSTIE_HOME": home, "TLSAPP_MARK": os.path.join(work, name + ".ran")})

    # The key beside the certificate, before it, after the curve's
    # parameters, between the leaf and its CAs; a chain of 8 (the bound)
    # then the key: the server sends exactly the certificates of the
    # file, each once, in order; the handshake works, the chain verifies
    # (with s_client and with Python's ssl), and every connection ends
    # normally (exit 0, no signal).
    for name, want, cafile in (("combined", [SELF], selffile), ("key-first", [SELF], selffile),
                               ("params-key", [SELF], selffile), ("key-between", [LEAF] + CAS, rootfile),
                               ("eight-then-key", [LEAF] + CAS, rootfile)):
        srv = servers[name]
        rc, out = s_client(srv.port, cafile, ["-showcerts", "-ign_eof"], b"ping\r\nQUIT\r\n")
        got = sent_certs(out)
        check(name + "-certs-sent-once", got == [body(p) for p in want], (len(got), len(want), out[-600:]))
        check(name + "-handshake", rc == 0 and "Verify return code: 0 (ok)" in out and "echo ping" in out, out[-600:])
        check(name + "-python-verified", python_session(srv.port, cafile) == b"echo abc\r\n")
        t = srv.wait_log(lambda t: t.count(" end pid ") >= 2)
        ends = re.findall(r" end pid \d+ .*", t)
        check(name + "-no-crash", len(ends) == 2 and all(" exit 0 " in e for e in ends), t[-600:])

    # One past the bound, with or without the key after it: the
    # connection is refused, the log names the certificate file and says
    # why, postie-tlsd exits 111 (no signal), the program never runs.
    for name in ("nine", "nine-then-key"):
        srv = servers[name]
        rc, out = s_client(srv.port, rootfile, ["-showcerts"], b"ping\r\n")
        check(name + "-no-certificate-sent", not sent_certs(out), out[-400:])
        certfile = os.path.join(work, name, "tls", "cert.pem")
        t = srv.wait_log(lambda t: " end pid " in t)
        tlsd_refused(name, out, t, "%s: too many certificates in the chain" % certfile, os.path.join(work, name + ".ran"))
finally:
    for s in servers.values():
        s.stop()
done()
