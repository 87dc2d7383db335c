#!/usr/bin/python3
"""postie-tlsd's PEM files (lib/pem.c, RFC 7468), as people and tools
write them and as a broken or hostile file may be. Taken: CRLF line
ends, base64 wrapped at other widths than 64 (groups of four running
over a line's end, which BearSSL's decoder refused as "invalid PEM"),
blanks inside the base64, text before, between and after the blocks.
Refused, with a log line that names the file and the fault, the
connection closed, postie-tlsd exiting 111 and the program never run:
an END line whose label is not the BEGIN line's and a NUL inside the
base64 (both taken by BearSSL's decoder, which never compared the
labels and took any control character for a space), a missing END
line, '=' in the middle, a character that is not base64."""
import os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server
from tlstest import make_cert, s_client, tls_instance, tlsd_refused

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
APP = os.path.join(HERE, "tls-app")
work = tmpdir("tlsd-pem")
certfile = make_cert(os.path.join(work, "orig"))
with open(certfile) as f:
    CERT = f.read()
with open(os.path.join(work, "orig", "tls", "key.pem")) as f:
    KEY = f.read()


def rewrap(pem, width, eol="\n", blank=""):
    """pem's blocks with their base64 in lines of width characters
    (blank put before each line), eol at every line's end."""
    def one(m):
        b64 = re.sub(r"\s", "", m.group(2))
        lines = [blank + b64[i:i + width] for i in range(0, len(b64), width)]
        return eol.join([m.group(1)] + lines + [m.group(3)]) + eol
    return re.sub(r"(-----BEGIN [^-]*-----)\n(.*?)\n(-----END [^-]*-----)\n", one, pem, flags=re.S)


def bad_base64(pem, at, what):
    """pem with what put in its first block's base64, at characters in."""
    i = pem.index("-----\n") + 6 + at
    return pem[:i] + what + pem[i:]


# name -> (cert.pem's text, key.pem's text, the log's reason or None
# when the handshake is to work, which file the reason is about)
cases = {
    "crlf-66-blanks": (rewrap(CERT, 66, "\r\n", " \t"), rewrap(KEY, 66, "\r\n"), None, None),
    "wrap-10-text-around": ("Subject: CN=mx.test.example\n\n" + rewrap(CERT, 10) + "trailing words\n",
                            "a comment\n" + rewrap(KEY, 70) + "\n\n", None, None),
    "end-label-mismatch": (CERT.replace("-----END CERTIFICATE-----", "-----END X509 CRL-----"), KEY,
                           "invalid PEM: the END line's label is not the BEGIN line's", "cert.pem"),
    "key-end-label-mismatch": (CERT, KEY.replace("-----END PRIVATE KEY-----", "-----END EC PRIVATE KEY-----"),
                               "invalid PEM: the END line's label is not the BEGIN line's", "key.pem"),
    "nul-in-base64": (bad_base64(CERT, 20, "\0"), KEY, "invalid PEM: a character that is not base64", "cert.pem"),
    "no-end": (CERT.replace("-----END CERTIFICATE-----\n", ""), KEY, "truncated PEM object", "cert.pem"),
    "equals-in-the-middle": (bad_base64(CERT, 24, "="), KEY, "invalid PEM: misplaced '=' in the base64", "cert.pem"),
    "data-after-padding": (bad_base64(CERT, 24, "YQ=="), KEY, "invalid PEM: base64 after its '=' padding", "cert.pem"),
    "bad-character": (CERT, bad_base64(KEY, 5, "*"), "invalid PEM: a character that is not base64", "key.pem"),
}
servers = {}
try:
    for name, (certtext, keytext, why, which) in cases.items():
        home = tls_instance(os.path.join(work, name), certtext, keytext)
        servers[name] = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-K", "5000", APP],
                               os.path.join(work, name + ".log"),
                               env={"POSTIE_HOME": home, "TLSAPP_MARK": os.path.join(work, name + ".ran")})

    for name, (certtext, keytext, why, which) in cases.items():
        srv = servers[name]
        rc, out = s_client(srv.port, certfile, ["-ign_eof"], b"ping\r\nQUIT\r\n")
        t = srv.wait_log(lambda t: " end pid " in t)
        if why is None:
            check(name + "-handshake", rc == 0 and "Verify return code: 0 (ok)" in out and "echo ping" in out, out[-600:])
            check(name + "-exit-0", re.search(r" end pid \d+ .* exit 0 ", t) is not None, t[-600:])
            continue
        path = os.path.join(work, name, "tls", which)
        tlsd_refused(name, out, t, "%s: %s" % (path, why), os.path.join(work, name + ".ran"))
finally:
    for s in servers.values():
        s.stop()
done()
