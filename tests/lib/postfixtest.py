"""A private Postfix (Debian's postfix package) on loopback, for tests that
need a real Postfix as a peer: its own configuration, queue and log
under one directory, no inet listener unless asked, no DNS (a relayhost
given as [address]:port, disable_dns_lookups), its log in a file
(postlogd: there is no syslog in a test). Run as root. make bench's
Postfix (tests/bench/bench.py) uses SERVICES too."""
import os, shutil, subprocess, time

SERVICES = """pickup    unix  n       -       n       60      1       pickup
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
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def available():
    """Why a private Postfix cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (Postfix's master)"
    for p in ("/usr/sbin/postfix", "/usr/sbin/sendmail", "/usr/lib/postfix/sbin/master"):
        if not os.path.exists(p):
            return "no %s (package postfix)" % p
    return None


class Postfix:
    """Postfix with main.cf settings `extra` (a dict) on top of a minimal
    private configuration under top/ (etc/, queue/, data/, maillog)."""

    def __init__(self, top, extra, master_extra=""):
        self.top = top
        self.conf = os.path.join(top, "etc")
        self.queue = os.path.join(top, "queue")
        self.maillog = os.path.join(top, "maillog")
        data = os.path.join(top, "data")
        for d in (self.conf, self.queue, data):
            os.makedirs(d, exist_ok=True)
        shutil.chown(data, "postfix")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": data,
            "meta_directory": "/etc/postfix",
            "shlib_directory": "/usr/lib/postfix",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "command_directory": "/usr/sbin",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "client.example",
            "mydomain": "client.example",
            "myorigin": "$mydomain",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": top,
            "import_environment": "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
        }
        main.update(extra)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_extra + SERVICES)
        p = self.run("start")
        if p.returncode != 0:
            raise RuntimeError("postfix start: %s %s" % (p.stdout.decode(errors="replace"), self.logtext()))

    def run(self, *args, timeout=60):
        return subprocess.run(["postfix", "-c", self.conf] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)

    def master_pid(self):
        try:
            return int(open(os.path.join(self.queue, "pid", "master.pid")).read().strip())
        except (OSError, ValueError):
            return None

    def sendmail(self, sender, rcpts, message):
        """Postfix's own sendmail(1) (postdrop, then pickup)."""
        return subprocess.run(["/usr/sbin/sendmail", "-C", self.conf, "-f", sender, "--"] + rcpts, input=message,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)

    def logtext(self):
        try:
            return open(self.maillog, errors="replace").read()
        except OSError:
            return ""

    def wait_log(self, pred, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            t = self.logtext()
            if pred(t):
                return t
            time.sleep(0.1)
        return self.logtext()

    def stop(self):
        """postfix stop, and wait for the master to be gone."""
        pid = self.master_pid()
        self.run("stop")
        end = time.time() + 20
        while pid and time.time() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        if pid:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
