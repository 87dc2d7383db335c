#!/usr/bin/python3
"""postie-remote's TLS and AUTH against a real Postfix (Debian's
package) as the next server: a private instance on loopback (its own
configuration, queue and log under the test's directory, no DNS,
127.0.0.1 only), started and stopped here.

- STARTTLS offered: postie-remote delivers inside TLS, and Postfix's log
  shows the TLS connection;
- a route that requires TLS (tls=encrypt) to a Postfix without STARTTLS
  defers, saying why;
- tls=verify against the right CA file delivers, against another defers;
- a smarthost route with auth= delivers through a submission port that
  requires AUTH over TLS (cyrus SASL, a sasldb made with saslpasswd2),
  and wrong credentials defer."""
import os, pwd, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from remotetest import run_remote, letters, well_formed, set_control
from tlstest import make_cert

if os.geteuid() != 0 or not shutil.which("postfix") or not shutil.which("saslpasswd2"):
    skip("postfix", "needs root, postfix and saslpasswd2 (sasl2-bin): package/deps --test")
    done()

home = mkinstance(tmpdir("remote-postfix"))
ctl = os.path.join(home, "control")
# Postfix's own uid must reach its files: not under the test's private
# (mode 700) directory; removed at the end
import tempfile
pf = tempfile.mkdtemp(prefix="postie-remote-postfix.")
os.chmod(pf, 0o755)
conf = os.path.join(pf, "etc")
os.makedirs(conf, exist_ok=True)
cert = make_cert(os.path.join(pf, "cert"), name="localhost")
othercert = make_cert(os.path.join(pf, "other"), name="localhost")
for d in ("cert", "cert/tls", "other", "other/tls"):
    os.chmod(os.path.join(pf, d), 0o755)
key = os.path.join(pf, "cert", "tls", "key.pem")
os.chown(key, pwd.getpwnam("postfix").pw_uid, -1)
P_TLS, P_CLEAR, P_SUB = free_port(), free_port(), free_port()
while P_CLEAR == P_TLS:
    P_CLEAR = free_port()
while P_SUB in (P_TLS, P_CLEAR):
    P_SUB = free_port()

# cyrus SASL for smtpd: PLAIN and LOGIN against a private sasldb (Debian's
# Postfix reads smtpd.conf from $config_directory/sasl)
sasl = os.path.join(conf, "sasl")
os.makedirs(sasl, exist_ok=True)
sasldb = os.path.join(sasl, "sasldb2")
with open(os.path.join(sasl, "smtpd.conf"), "w") as f:
    f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n" % sasldb)
subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", "example.test", "alice"], input=b"s3cret pw", check=True)
os.chown(sasldb, pwd.getpwnam("postfix").pw_uid, -1)
os.chmod(sasldb, 0o600)
os.chmod(sasl, 0o755)

maillog = os.path.join(pf, "maillog")
with open(os.path.join(conf, "main.cf"), "w") as f:
    f.write("""compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = $mydomain
mydestination = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
local_transport = discard
default_transport = discard
relay_transport = discard
biff = no
append_dot_mydomain = no
relayhost =
maillog_file = {log}
maillog_file_prefixes = {pf}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {sasl}
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
""".format(pf=pf, log=maillog, cert=cert, key=key, sasl=sasl))
with open(os.path.join(conf, "master.cf"), "w") as f:
    f.write("""127.0.0.1:{tls} inet n - n - - smtpd
127.0.0.1:{clear} inet n - n - - smtpd -o smtpd_tls_security_level=none
127.0.0.1:{sub} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""".format(tls=P_TLS, clear=P_CLEAR, sub=P_SUB))
os.makedirs(os.path.join(pf, "queue"), exist_ok=True)
os.makedirs(os.path.join(pf, "data"), exist_ok=True)
os.chown(os.path.join(pf, "data"), pwd.getpwnam("postfix").pw_uid, -1)
penv = dict(os.environ, MAIL_CONFIG=conf)
c = subprocess.run(["postfix", "-c", conf, "check"], env=penv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
if c.returncode:
    print(c.stdout.decode(errors="replace"), file=sys.stderr)
r = subprocess.run(["postfix", "-c", conf, "start"], env=penv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop_postfix():
    pidf = os.path.join(pf, "queue", "pid", "master.pid")
    pid = None
    try:
        pid = int(open(pidf).read().strip())
    except (OSError, ValueError):
        pass
    subprocess.run(["postfix", "-c", conf, "stop"], env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 20
    while pid and time.time() < end:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)


def log():
    try:
        return open(maillog, errors="replace").read()
    except OSError:
        return ""


def wait_log(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        t = log()
        if pred(t):
            return t
        time.sleep(0.2)
    return log()


def setctl(name, value):
    set_control(home, name, value)


try:
    check("postfix-started", r.returncode == 0 and all(wait_port(p) for p in (P_TLS, P_CLEAR, P_SUB)) is not False,
          r.stdout.decode(errors="replace"))
    setctl("helohost", "client.test\n")
    MSG = b"Subject: to postfix\n\nhello Postfix\n"

    # 1. Opportunistic STARTTLS: delivered inside TLS, Postfix's log says so.
    setctl("smtproutes", "example.test:127.0.0.1:%d\n" % P_TLS)
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("may-delivered", rc == 0 and well_formed(lines, 1) and letters(lines) == "KK", repr((lines, err)))
    check("may-line-names-tls", lines and "accepted the message (TLSv1.2 ECDHE-" in lines[-1], repr(lines))
    qid = lines[-1].rsplit("queued as ", 1)[-1].strip() if lines else "?"
    t = wait_log(lambda t: "%s: to=<bob@example.test>" % qid in t)
    check("may-postfix-log-tls", "TLS connection established from unknown[127.0.0.1]: TLSv1.2 with cipher ECDHE-" in t, t[-1500:])
    check("may-postfix-log-sent", "%s: to=<bob@example.test>" % qid in t and "status=sent" in t, t[-1500:])

    # 2. tls=encrypt to a Postfix that does not offer STARTTLS: deferred.
    setctl("smtproutes", "example.test:127.0.0.1:%d tls=encrypt\n" % P_CLEAR)
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("encrypt-no-starttls-deferred", rc == 0 and letters(lines) == "UU"
          and "does not offer STARTTLS, which the route requires (tls=encrypt)" in lines[-1], repr(lines))

    # 3. tls=verify: the right CA file delivers, another defers.
    setctl("smtproutes", "example.test:localhost:%d tls=verify ca=%s\n" % (P_TLS, cert))
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("verify-delivered", letters(lines) == "KK" and "certificate verified" in lines[-1], repr(lines))
    setctl("smtproutes", "example.test:localhost:%d tls=verify ca=%s\n" % (P_TLS, othercert))
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("verify-wrong-ca-deferred", letters(lines) == "UU" and "certificate not trusted" in lines[-1], repr(lines))

    # 4. A smarthost: AUTH over TLS on a submission port that requires it,
    # relaying to a domain Postfix does not hold.
    setctl("smtpauth", "sub:alice@example.test:s3cret pw\nbad:alice@example.test:wrong\n")
    os.chmod(os.path.join(ctl, "smtpauth"), 0o600)
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s auth=sub\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("auth-delivered", letters(lines) == "KK" and "accepted the message (TLSv1.2 ECDHE-" in lines[-1], repr((lines, err)))
    qid = lines[-1].rsplit("queued as ", 1)[-1].strip() if lines else "?"
    t = wait_log(lambda t: "%s: to=<carol@far.example>" % qid in t)
    check("auth-postfix-log", "sasl_method=PLAIN, sasl_username=alice@example.test" in t and "%s: to=<carol@far.example>" % qid in t, t[-1500:])
    # without credentials, Postfix refuses to relay (so the AUTH above mattered)
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("no-auth-refused", letters(lines) == "DK" and "554 5.7.1" in lines[0] and "accepted no recipient" in lines[-1], repr(lines))
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s auth=bad\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("auth-wrong-deferred", letters(lines) == "UU" and "said after AUTH: 535" in lines[-1], repr(lines))
finally:
    stop_postfix()
    shutil.rmtree(pf, ignore_errors=True)
done()
