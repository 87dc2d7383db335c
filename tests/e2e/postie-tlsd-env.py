#!/usr/bin/python3
"""postie-tlsd: the environment the program gets, when postie-tlsd's own
holds the UCSPI-TLS variables (stale values, each twice: nothing makes
an environment's names unique). The program (a script here) prints the
environment block it was exec'd with (/proc/PID/environ), and each mode
must give exactly the right entries, no stale one before or after:
- -r with TLS available: SSLCTLFD, SSLREADFD, SSLWRITEFD once each, the
  descriptors postie-tlsd made; no SSL_PROTOCOL or SSL_CIPHER (TLS is
  not on yet);
- -r without a certificate: none of the five;
- implicit TLS: SSL_PROTOCOL and SSL_CIPHER once each, the session's; no
  SSLCTLFD, SSLREADFD, SSLWRITEFD (the program holds no such
  descriptors).
Other variables (SSLCTLFDX, a name SSLCTLFD begins) pass unchanged.
postie-tlsd runs on one end of a socket pair; the test is the client
(Python's ssl, verifying the certificate, in the implicit mode)."""
import os, socket, ssl, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tlstest import make_cert, client_context, read_until_closed
from rawenv import RawEnv, showenv_script, entries, values

home = tmpdir("tlsd-env")
ca = make_cert(home)
nocert = tmpdir("tlsd-env-nocert")
show = showenv_script(home)


STALE = [("SSLCTLFD", "77"), ("SSLREADFD", "78"), ("SSL_PROTOCOL", "TLSv9"), ("SSLWRITEFD", "79"),
         ("SSL_CIPHER", "STALE"), ("SSLCTLFDX", "keep"),
         ("SSLCTLFD", "87"), ("SSLREADFD", "88"), ("SSL_PROTOCOL", "TLSv8"), ("SSLWRITEFD", "89"), ("SSL_CIPHER", "STALE2")]


def run(instance, opts, implicit):
    """postie-tlsd opts showenv on a socket pair: the block the program
    printed (its entries), postie-tlsd's exit code and stderr."""
    ours, theirs = socket.socketpair()
    pairs = [(k, v) for k, v in env_for(instance).items() if not k.startswith("SSL")] + STALE
    p = subprocess.Popen([prog("postie-tlsd")] + opts + [show], stdin=theirs, stdout=theirs, stderr=subprocess.PIPE,
                         env=RawEnv(pairs))
    theirs.close()
    try:
        s = client_context(ca).wrap_socket(ours, server_hostname="mx.test.example") if implicit else ours
        got = read_until_closed(s, 20)[0]
    except (OSError, ssl.SSLError) as e:
        got = b"<" + str(e).encode() + b">"
    ours.close()
    try:
        err = p.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        err = p.communicate()[1]
    return entries(got), p.returncode, err.decode(errors="replace")


def stale(block):
    return [e for e in block if "=" in e and (e.split("=", 1)[0], e.split("=", 1)[1]) in STALE and not e.startswith("SSLCTLFDX=")]


# -r, TLS available.
block, rc, err = run(home, ["-r"], False)
fds = [values(block, v) for v in ("SSLCTLFD", "SSLREADFD", "SSLWRITEFD")]
check("request-fds-once", rc == 0 and all(len(v) == 1 and v[0].isdigit() for v in fds), (rc, block, err))
check("request-no-stale", rc == 0 and block and not stale(block), (block, err))
check("request-no-ssl-protocol", rc == 0 and not values(block, "SSL_PROTOCOL") and not values(block, "SSL_CIPHER"), block)
check("request-others-kept", values(block, "SSLCTLFDX") == ["keep"] and values(block, "POSTIE_HOME") == [home], block)

# -r, no certificate: TLS not offered.
block, rc, err = run(nocert, ["-r"], False)
check("request-nocert-ran", rc == 0 and "TLS not available" in err and values(block, "POSTIE_HOME") == [nocert], (rc, block, err))
check("request-nocert-none", block and not [v for v in ("SSL_PROTOCOL", "SSL_CIPHER", "SSLCTLFD", "SSLREADFD", "SSLWRITEFD")
                                           if values(block, v) or v in block], block)
check("request-nocert-others-kept", values(block, "SSLCTLFDX") == ["keep"], block)

# Implicit TLS.
block, rc, err = run(home, [], True)
check("implicit-ssl-once", rc == 0 and values(block, "SSL_PROTOCOL") == ["TLSv1.2"]
      and len(values(block, "SSL_CIPHER")) == 1 and values(block, "SSL_CIPHER")[0].startswith("ECDHE-"), (rc, block, err))
check("implicit-no-fds", block and not [v for v in ("SSLCTLFD", "SSLREADFD", "SSLWRITEFD") if values(block, v) or v in block], block)
check("implicit-no-stale", block and not stale(block), block)
check("implicit-others-kept", values(block, "SSLCTLFDX") == ["keep"], block)
done()
