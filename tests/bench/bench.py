#!/usr/bin/python3
"""bench.py: postie's benchmarks against Postfix, OpenSMTPD and Dovecot.

Run by tests/bench/run (make bench), which prepares the scratch directory and
starts this inside `unshare --net --mount`:

  bench.py --inside     run the scenarios (doc/bench.md), write the results
  bench.py --cleanup    kill whatever is left in the bench cgroups, remove them

Every server runs in a cgroup of its own (CPU time of every process it ever
ran, exited ones included; the processes to sample for memory; and a sure way
to end everything at the end). python3 standard library only."""

import ctypes, json, os, platform, poplib, pwd, re, select, shutil, signal, socket
import statistics, subprocess, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import postfixtest      # the services of Debian's master.cf, chroot off, postlogd

E = os.environ
TOP = E.get("BENCH_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
HERE = os.path.join(TOP, "tests", "bench")
SCRATCH = E.get("BENCH_DIR", "/var/tmp/postie-bench")
USER = E.get("BENCH_USER", "postiebench")
DOMAIN = "example.test"
RCPT = USER + "@" + DOMAIN
SENDER = "sender@" + DOMAIN
FAR = "unreachable.test"            # routed to 127.0.0.1:9, where nothing listens
PASSWORD = "benchpass"

DEFAULTS = {"BENCH_N": "10000", "BENCH_ROUNDS": "3", "BENCH_SCENARIOS": "disk 1 2 3 4 5 6 7 8",
            "BENCH_SESSIONS": "1 10 50", "BENCH_PEERS": "postfix opensmtpd"}
def setting(name):
    return E.get(name) or DEFAULTS[name]
N = int(setting("BENCH_N"))
ROUNDS = int(setting("BENCH_ROUNDS"))
SCENARIOS = setting("BENCH_SCENARIOS").split()
SESSIONS = [int(x) for x in setting("BENCH_SESSIONS").split()]
PEERS = setting("BENCH_PEERS").split()
SIZE = int(E.get("BENCH_SIZE") or 2048)
LAT_N = int(E.get("BENCH_LAT_N") or 200)
LAT_GAP = float(E.get("BENCH_LAT_GAP") or 0.05)
DEEP = int(E.get("BENCH_DEEP") or 10 * N)      # 100,000 for the full N
DEEP_SESSIONS = int(E.get("BENCH_DEEP_SESSIONS") or 10)
DEEP_FILL_SESSIONS = int(E.get("BENCH_DEEP_FILL_SESSIONS") or 10)
POP_N = int(E.get("BENCH_POP_N") or N)
TIMEOUT = float(E.get("BENCH_TIMEOUT") or 3600)
STALL = float(E.get("BENCH_STALL") or 60)
FSYNC_SECS = float(E.get("BENCH_FSYNC_SECS") or 3)
OS_BACKLOG = E.get("BENCH_OPENSMTPD_BACKLOG", "128")
MAXCONN = E.get("BENCH_POSTIE_MAXCONN") or "100"
# The full suite (or more rounds): only such a run updates the README by itself.
FULL = N == 10000 and ROUNDS >= 3 and SIZE == 2048 and DEEP == 100000 and LAT_N >= 200 \
    and not E.get("BENCH_SCENARIOS") and not E.get("BENCH_SESSIONS") and not E.get("BENCH_PEERS")

CG_V1 = "/sys/fs/cgroup/cpuacct"
CG_NAME = E.get("BENCH_CGROUP_NAME") or "postie-bench"

def log(*a):
    try:
        print("bench:", *a, file=sys.stderr, flush=True)
    except OSError:
        pass

def sh(argv, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stdout[-2000:]))
    return r

def start_daemon(argv, logpath):
    """Run a command that forks a daemon and returns: its output goes to a
    file, since the daemon keeps a pipe open forever."""
    with open(logpath, "a") as f:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f)
    if r.returncode != 0:
        with open(logpath) as f:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode, f.read()[-2000:]))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(len(xs) * p))]


# ---------------------------------------------------------------- cgroups

def cg_base():
    """Where the bench's cgroups go, and the cgroup version: v1's cpuacct
    hierarchy, else a v2 hierarchy (unified, or hybrid's unified/).
    BENCH_CGROUP=v1|v2 chooses when both exist."""
    want = E.get("BENCH_CGROUP", "")
    if want != "v2" and os.path.exists(os.path.join(CG_V1, "cgroup.procs")):
        return os.path.join(CG_V1, CG_NAME), 1
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if want != "v1" and os.path.exists(os.path.join(root, "cgroup.controllers")):
            return os.path.join(root, CG_NAME), 2
    return None, 0


class Cgroup:
    """One server's processes. CPU: cpuacct (v1) or cpu.stat (v2)."""

    def __init__(self, name):
        base, self.v = cg_base()
        self.path = os.path.join(base, name) if base else None
        if self.path:
            os.makedirs(self.path, exist_ok=True)

    def procs(self):
        if not self.path:
            return []
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def cpu(self):
        """(user, system) seconds used by every process ever in the group."""
        if not self.path:
            return (0.0, 0.0)
        if self.v == 1:
            def rd(n):
                with open(os.path.join(self.path, n)) as f:
                    return int(f.read().split()[0]) / 1e9
            return (rd("cpuacct.usage_user"), rd("cpuacct.usage_sys"))
        st = {}
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                st[k] = int(v)
        return (st.get("user_usec", 0) / 1e6, st.get("system_usec", 0) / 1e6)

    def wrap(self, argv):
        """argv, run from a shell that first moves itself into the group."""
        if not self.path:
            return argv
        return ["sh", "-c", 'echo $$ >"$0/cgroup.procs" && exec "$@"', self.path] + argv

    def kill_all(self, wait=20):
        """SIGTERM, then SIGKILL, whatever is still in the group."""
        for sig, secs in ((signal.SIGTERM, wait), (signal.SIGKILL, 5)):
            ps = self.procs()
            if not ps:
                return True
            for p in ps:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            end = time.time() + secs
            while self.procs() and time.time() < end:
                time.sleep(0.1)
        return not self.procs()

    def wait_empty(self, secs):
        end = time.time() + secs
        while self.procs() and time.time() < end:
            time.sleep(0.1)
        return not self.procs()


def cleanup_cgroups():
    """Kill every process left in a bench cgroup (by pid) and remove them."""
    base, v = cg_base()
    if not base or not os.path.isdir(base):
        return
    for d in sorted(os.listdir(base)):
        p = os.path.join(base, d)
        if not os.path.isdir(p):
            continue
        cg = Cgroup.__new__(Cgroup)
        cg.path, cg.v = p, v
        left = cg.procs()
        if left:
            log("cleanup: %d process(es) left in %s: killing %s" % (len(left), p, left))
        cg.kill_all(wait=5)
        try:
            os.rmdir(p)
        except OSError as e:
            log("cleanup: unable to remove %s: %s" % (p, e))
    try:
        os.rmdir(base)
    except OSError:
        pass


def proc_mem(pid):
    """(VmRSS KiB, Pss KiB, Private KiB, comm) of one process, or None."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        pss = priv = 0
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    priv += int(line.split()[1])
        return rss, pss, priv, comm
    except (OSError, ValueError, IndexError):
        return None


class Sampler:
    """Peak of sum(VmRSS) and sum(Pss) over a group's processes, every 0.25 s."""

    def __init__(self, cg):
        self.cg = cg
        self.rss = self.pss = self.nprocs = 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop_ev.is_set():
            ps = self.cg.procs()
            rss = pss = 0
            for p in ps:
                m = proc_mem(p)
                if m:
                    rss += m[0]
                    pss += m[1]
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self.nprocs = max(self.nprocs, len(ps))
            self.stop_ev.wait(0.25)

    def stop(self):
        self.stop_ev.set()
        self.th.join()


def group_mem(cg, comm=None):
    """Sum of (RSS, PSS) KiB over the group's processes (named comm, if given)."""
    rss = pss = 0
    for p in cg.procs():
        m = proc_mem(p)
        if m and (comm is None or m[3] == comm):
            rss += m[0]
            pss += m[1]
    return rss, pss


def wait_idle(cg, secs_max, quiet=3.0, busy=0.03):
    """Wait until the group used less than `busy` of one CPU for `quiet`
    seconds in a row. Returns the time waited."""
    t0 = time.monotonic()
    calm = 0.0
    last = sum(cg.cpu())
    while time.monotonic() - t0 < secs_max:
        time.sleep(0.5)
        c = sum(cg.cpu())
        calm = calm + 0.5 if c - last < busy * 0.5 else 0.0
        last = c
        if calm >= quiet:
            break
    return time.monotonic() - t0


# ---------------------------------------------------------------- helpers

def pw():
    return pwd.getpwnam(USER)

def chown_user(path):
    p = pw()
    os.chown(path, p.pw_uid, p.pw_gid)

def fresh_maildir(md):
    """An empty Maildir owned by the bench user."""
    if os.path.isdir(md):
        shutil.rmtree(md)
    for d in (md, md + "/tmp", md + "/new", md + "/cur"):
        os.makedirs(d, mode=0o700, exist_ok=True)
        chown_user(d)
    parent = os.path.dirname(md.rstrip("/"))
    if os.path.isdir(parent) and os.stat(parent).st_uid == 0 and parent.startswith(SCRATCH + "/home"):
        chown_user(parent)

def wait_port(port, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %d s" % (port, secs))

def body_text(i, size=SIZE):
    line = "%d" % (i % 10) + "X" * 78 + "\r\n"
    n = max(1, size // len(line))
    return line * n

def fill_maildir(md, n):
    """n messages of ~SIZE bytes in md/new (for POP3), owned by the bench user."""
    p = pw()
    body = body_text(0).replace("\r\n", "\n")
    for i in range(n):
        name = "%d.P%dQ%d.bench" % (int(time.time()), os.getpid(), i)
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "w") as f:
            f.write("Return-Path: <%s>\nDelivered-To: %s\nFrom: <%s>\nTo: <%s>\n"
                    "Subject: pop3 bench %d\nMessage-Id: <%d.bench@%s>\n\n%s"
                    % (SENDER, RCPT, SENDER, RCPT, i, i, DOMAIN, body))
        os.chown(tmp, p.pw_uid, p.pw_gid)
        os.rename(tmp, os.path.join(md, "new", name))


# ---------------------------------------------------------------- servers

class Server:
    name = "?"
    port = 0
    session_comm = None     # the process that serves one SMTP session

    def __init__(self, deep=False, suffix=""):
        self.deep = deep
        self.label = self.name + ("-deep" if deep else "") + suffix
        self.cg = Cgroup(self.label)
        self.p = None           # the server's main process, when the bench started it itself

    def stop_server(self):
        """Terminate the process the bench started (OpenSMTPD's smtpd -d,
        postie's s6-svscan, which brings every service down, then exits);
        servers with a stop command of their own override this."""
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                pass
        self.p = None

    def stop(self):
        self.stop_server()
        if not self.cg.wait_empty(30):
            log("%s: processes left after stop: %s: killing" % (self.label, self.cg.procs()))
            self.cg.kill_all(wait=5)

    def maildir(self):
        return os.path.join(SCRATCH, "home", USER, "Maildir")

    def queued(self):
        """Messages in the queue (files under the queue's message directory)."""
        return None


def count_files(*dirs):
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n


class Postfix(Server):
    name = "postfix"
    port = 2601
    session_comm = "smtpd"

    def __init__(self, deep=False):
        super().__init__(deep)
        self.dir = os.path.join(SCRATCH, self.label)
        self.conf = os.path.join(self.dir, "etc")

    def setup(self):
        for d in (self.conf, self.dir + "/queue", self.dir + "/data"):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.dir + "/data", "postfix")
        with open(self.conf + "/main.cf", "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.{dom}
mydomain = {dom}
myorigin = $mydomain
mydestination = {dom}, $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps = proxy:unix:passwd.byname
home_mailbox = Maildir/
mailbox_size_limit = 0
message_size_limit = 20000000
recipient_delimiter = +
biff = no
append_dot_mydomain = no
relayhost =
transport_maps = inline:{{ {far}=smtp:[127.0.0.1]:9 }}
default_transport = error
relay_transport = error
content_filter =
smtpd_milters =
non_smtpd_milters =
maillog_file = {d}/maillog
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
""".format(d=self.dir, dom=DOMAIN, far=FAR))
        # Debian's master.cf services, chroot off, smtpd on 127.0.0.1 only, postlogd
        # (there is no syslog in the namespace).
        with open(self.conf + "/master.cf", "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port + postfixtest.SERVICES)
        sh(["postfix", "-c", self.conf, "check"])

    def start(self):
        start_daemon(self.cg.wrap(["postfix", "-c", self.conf, "start"]), self.dir + "/start.log")
        wait_port(self.port)

    def stop_server(self):
        sh(["postfix", "-c", self.conf, "stop"], check=False)

    def queued(self):
        q = self.dir + "/queue/"
        return count_files(q + "incoming", q + "active", q + "deferred", q + "hold", q + "maildrop")

    def version(self):
        return "Postfix " + sh(["postconf", "-dh", "mail_version"]).stdout.strip()


class OpenSMTPD(Server):
    name = "opensmtpd"
    port = 2602
    session_comm = None     # no process per session

    def __init__(self, deep=False):
        super().__init__(deep)
        self.root = os.path.join(SCRATCH, "opensmtpd-root")
        self.dir = os.path.join(SCRATCH, self.label)
        self.p = None

    def setup(self):
        os.makedirs(self.dir, exist_ok=True)
        spool = self.dir + "/spool"
        os.makedirs(spool, exist_ok=True)
        os.chmod(spool, 0o711)
        with open(self.dir + "/smtpd.conf", "w") as f:
            f.write('listen on 127.0.0.1 port %d hostname bench.%s\n'
                    'action "local" maildir\n'
                    'action "far" relay host smtp://127.0.0.1:9\n'
                    'match from any for domain "%s" action "local"\n'
                    'match from any for domain "%s" action "far"\n' % (self.port, DOMAIN, DOMAIN, FAR))
        os.chmod(self.dir + "/smtpd.conf", 0o644)

    def start(self):
        # /var/spool/smtpd is compiled in: inside the namespace it is a link,
        # in an overlay, to this instance's spool.
        link = "/var/spool/smtpd"
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(self.dir + "/spool", link)
        smtpd = self.root + "/usr/sbin/smtpd"
        sh([smtpd, "-n", "-f", self.dir + "/smtpd.conf"])
        env = dict(E)
        if OS_BACKLOG:
            env["LD_PRELOAD"] = os.path.join(SCRATCH, "tools", "backlog_shim.so")
            env["BACKLOG_MIN"] = OS_BACKLOG
        self.logf = open(self.dir + "/smtpd.log", "a")
        self.p = subprocess.Popen(self.cg.wrap([smtpd, "-d", "-f", self.dir + "/smtpd.conf"]),
                                  stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf, env=env)
        wait_port(self.port)

    def queued(self):
        # spool/queue/BUCKET/MSGID/{message,envelopes/}: one directory a message.
        q = self.dir + "/spool/queue"
        try:
            return sum(len(os.listdir(os.path.join(q, b))) for b in os.listdir(q))
        except OSError:
            return None

    def version(self):
        try:
            with open(self.root + "/.deb-fields") as f:
                return "OpenSMTPD " + f.readline().split(":", 1)[1].strip() + \
                    (" (listen backlog %s via LD_PRELOAD)" % OS_BACKLOG if OS_BACKLOG else "")
        except OSError:
            return "OpenSMTPD"


class Dovecot(Server):
    name = "dovecot"
    port = 2610

    def __init__(self, deep=False):
        super().__init__(deep)
        self.dir = os.path.join(SCRATCH, "dovecot")
        self.home = self.dir + "/home"

    def maildir(self):
        return self.home + "/Maildir"

    def setup(self):
        os.makedirs(self.dir + "/run", exist_ok=True)
        os.makedirs(self.dir + "/state", exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        chown_user(self.home)
        p = pw()
        with open(self.dir + "/passwd", "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (USER, PASSWORD, p.pw_uid, p.pw_gid, self.home))
        os.chmod(self.dir + "/passwd", 0o640)
        shutil.chown(self.dir + "/passwd", group="dovecot")
        with open(self.dir + "/dovecot.conf", "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(d=self.dir, port=self.port))

    def start(self):
        start_daemon(self.cg.wrap(["dovecot", "-c", self.dir + "/dovecot.conf"]), self.dir + "/start.log")
        wait_port(self.port)

    def stop_server(self):
        sh(["dovecot", "-c", self.dir + "/dovecot.conf", "stop"], check=False)

    def version(self):
        return "Dovecot " + sh(["dovecot", "--version"]).stdout.split()[0]


class Postie(Server):
    """An unprivileged-mode instance (postie-setup -u) run by the bench user
    under s6-svscan, from the copy package/install put in SCRATCH/inst.
    Port 25's service without TLS (postie-setup -N), as the Postfix it is
    compared with, unless tls: scenario 8's instance (postie-tls), whose
    port 25 offers STARTTLS through postie-tlsd -r, as Postfix with TLS."""
    name = "postie"
    port = 2525
    pop3_port = 2110
    session_comm = "postie-smtpd"

    def __init__(self, deep=False, tls=False):
        super().__init__(deep, "-tls" if tls else "")
        self.tls = tls
        self.home = os.path.join(SCRATCH, self.label)
        self.bin = os.path.join(SCRATCH, "inst", "bin")
        self.p = None

    def maildir(self):
        return os.path.join(self.home, "mail", USER, "Maildir")

    def run_as(self, argv, input=None):
        env = dict(E, POSTIE_HOME=self.home, PATH=self.bin + ":" + E.get("PATH", "/usr/bin:/bin"))
        r = subprocess.run(["s6-setuidgid", USER] + argv, input=input, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stdout[-2000:]))
        return r

    def write(self, rel, text):
        path = os.path.join(self.home, rel)
        with open(path, "w") as f:
            f.write(text)
        chown_user(path)

    def setup(self):
        os.makedirs(self.home, exist_ok=True)
        chown_user(self.home)
        self.run_as([self.bin + "/postie-setup", "-u", "-d", self.home,
                     "-p", "%d,2587,%d" % (self.port, self.pop3_port), "-m", DOMAIN]
                    + ([] if self.tls else ["-N"]))
        # Accept mail for the far domain (not local: postie-send routes it out).
        with open(os.path.join(self.home, "control", "rcpthosts")) as f:
            rh = f.read()
        self.write("control/rcpthosts", rh + ("" if rh.endswith("\n") or not rh else "\n") + FAR + "\n")
        self.write("control/smtproutes", "%s:127.0.0.1:9\n" % FAR)
        # Peers take 50+ sessions from 127.0.0.1 (Postfix: 100 processes).
        for svc in ("smtpd", "pop3d"):
            for k in ("MAXCONN", "MAXCONNIP"):
                if os.path.isdir(os.path.join(self.home, "service", svc, "env")):
                    self.write("service/%s/env/%s" % (svc, k), MAXCONN + "\n")
        open(os.path.join(self.home, "service", "submission", "down"), "w").close()
        p = pw()
        mailhome = os.path.join(self.home, "mail", USER)
        self.run_as([self.bin + "/postie-users", "add", USER, str(p.pw_uid), str(p.pw_gid), mailhome],
                    input=PASSWORD + "\n")
        os.makedirs(mailhome, mode=0o700, exist_ok=True)
        chown_user(mailhome)
        fresh_maildir(self.maildir())

    def start(self):
        svc = os.path.join(self.home, "service")
        self.logf = open(os.path.join(self.home, "svscan.log"), "a")
        self.p = subprocess.Popen(self.cg.wrap(["s6-setsid", "--", "s6-setuidgid", USER,
                                                "s6-svscan", "--", svc]),
                                  stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        # s6-svok, not supervise/control: that one stays from the last run.
        end = time.time() + 20
        for s in ("smtpd", "pop3d", "send"):
            while subprocess.run(["s6-svok", os.path.join(svc, s)]).returncode != 0:
                if time.time() > end or self.p.poll() is not None:
                    raise RuntimeError("postie: service %s never came under supervision" % s)
                time.sleep(0.05)
        # Polled rather than s6-svwait, which sometimes missed the event here.
        for s, want in (("smtpd", "true true"), ("pop3d", "true true"), ("send", "true")):
            fields = "up,ready" if want == "true true" else "up"
            while True:
                r = sh(["s6-svstat", "-o", fields, os.path.join(svc, s)], check=False)
                if r.returncode == 0 and r.stdout.strip() == want:
                    break
                if time.time() > end + 20:
                    break
                time.sleep(0.05)
            if r.stdout.strip() != want:
                try:
                    with open(os.path.join(self.home, "log", s, "current")) as f:
                        tail = f.read()[-1500:]
                except OSError:
                    tail = "(no log)"
                raise RuntimeError("postie: service %s not ready after 40 s: %s\nits log ends with:\n%s"
                                   % (s, r.stdout.strip(), tail))
        wait_port(self.port)

    def queued(self):
        return count_files(os.path.join(self.home, "queue", "mess"))

    def version(self):
        r = sh(["git", "-C", TOP, "describe", "--always", "--dirty"], check=False)
        return "postie " + (r.stdout.strip() if r.returncode == 0 else "(no git)")


class PostieBase(Postie):
    """Another postie build (BENCH_POSTIE_BASE: a build directory at the
    top of another checkout, e.g. a worktree of an older commit), installed
    by that checkout's own package/install into SCRATCH/inst-base and set
    up the same way: measured beside the current build in the same run,
    so that postie/postie-base says what a change did."""
    name = "postie-base"

    def __init__(self, deep=False, tls=False):
        super().__init__(deep, tls)
        self.bin = os.path.join(SCRATCH, "inst-base", "bin")

    def version(self):
        top = os.path.dirname(os.path.abspath(E["BENCH_POSTIE_BASE"]))
        r = sh(["git", "-C", top, "describe", "--always", "--dirty"], check=False)
        return "postie-base " + (r.stdout.strip() if r.returncode == 0 else "(no git)")


# ---------------------------------------------------------------- measurements

RESULTS = []

def record(r):
    r["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.append(r)
    RAW.write(json.dumps(r) + "\n")
    RAW.flush()
    log(json.dumps(r))


def count_new(new):
    try:
        with os.scandir(new) as it:
            return sum(1 for _ in it)
    except OSError:
        return 0


def wait_delivered(srv, new, base, n, m0):
    """Wait until n files more than base are in new/, TIMEOUT after m0 at
    most, or until none came for STALL seconds. Returns how many came."""
    count = count_new(new) - base
    last, last_t = count, time.monotonic()
    while count < n and time.monotonic() - m0 < TIMEOUT:
        time.sleep(0.1)
        count = count_new(new) - base
        if count != last:
            last, last_t = count, time.monotonic()
        elif time.monotonic() - last_t > STALL:
            log("%s: no delivery for %d s, %d of %d delivered: giving up" % (srv.label, STALL, count, n))
            break
    return count


def newest_since(new, t0):
    """Seconds from t0 (time.time()) to the newest file's ctime in new/
    (the rename or link into new/ sets it)."""
    newest = t0
    with os.scandir(new) as it:
        for ent in it:
            try:
                newest = max(newest, ent.stat().st_ctime)
            except OSError:
                pass
    return max(newest - t0, 1e-6)


def smtp_run(srv, sessions, n, rcpt=RCPT, wait_delivery=True):
    """smtp-source: n messages, `sessions` at once. Acceptance: until it exits;
    end to end: until the newest of the n files landed in new/ (its ctime,
    which the rename or link into new/ sets). Server already started."""
    new = os.path.join(srv.maildir(), "new")
    base = count_new(new)
    samp = Sampler(srv.cg)
    u0, s0 = srv.cg.cpu()
    cmd = ["smtp-source", "-s", str(sessions), "-l", str(SIZE), "-m", str(n),
           "-f", SENDER, "-t", rcpt, "127.0.0.1:%d" % srv.port]
    ru0 = os.times()
    t0 = time.time()
    m0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = -9, str(e.stdout or "") + " TIMEOUT"
    accept = time.monotonic() - m0
    ru1 = os.times()
    count = count_new(new) - base
    if wait_delivery:
        count = wait_delivered(srv, new, base, n, m0)
    poll = time.monotonic() - m0
    u1, s1 = srv.cg.cpu()
    samp.stop()
    e2e = None
    if wait_delivery and count >= n:
        e2e = newest_since(new, t0)
    return {"server": srv.name, "sessions": sessions, "n": n, "size": SIZE, "delivered": count,
            "smtp_source_rc": rc, "smtp_source_out": out[-300:],
            "ok": rc == 0 and (count >= n or not wait_delivery),
            "accept_s": round(accept, 3), "accept_mps": round(n / accept, 1),
            "e2e_s": round(e2e, 3) if e2e else None, "e2e_mps": round(n / e2e, 1) if e2e else None,
            "e2e_poll_s": round(poll, 3),
            "cpu_user_s": round(u1 - u0, 3), "cpu_sys_s": round(s1 - s0, 3),
            "cpu_s": round(u1 - u0 + s1 - s0, 3),
            "client_cpu_s": round((ru1.children_user - ru0.children_user) +
                                  (ru1.children_system - ru0.children_system), 3),
            "peak_rss_kb": samp.rss, "peak_pss_kb": samp.pss, "max_procs": samp.nprocs}


class Inotify:
    """The new/ directory's arrivals (IN_CREATE: link; IN_MOVED_TO: rename)."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, path.encode(), 0x100 | 0x80) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)

    def drain(self):
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def wait(self, secs):
        """Monotonic time of the next arrival, or None."""
        r, _, _ = select.select([self.fd], [], [], secs)
        if not r:
            return None
        t = time.monotonic()
        self.drain()
        return t

    def close(self):
        os.close(self.fd)


class SMTPClient:
    """Just enough SMTP to time the reply to the end of DATA."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.reply()

    def reply(self):
        while True:
            while b"\r\n" not in self.buf:
                d = self.s.recv(4096)
                if not d:
                    raise RuntimeError("connection closed")
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), line

    def cmd(self, text, want):
        self.s.sendall(text.encode() + b"\r\n")
        code, line = self.reply()
        if code != want:
            raise RuntimeError("%r: %r" % (text, line))

    def close(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            self.reply()
        except (OSError, RuntimeError):
            pass
        self.s.close()


def latency_run(srv, count):
    """Single messages on an idle server: from the 250 after DATA to the
    file's arrival in new/ (inotify)."""
    new = os.path.join(srv.maildir(), "new")
    ino = Inotify(new)
    lats, lost, early = [], 0, 0
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: latency\r\n\r\n" % (SENDER, RCPT)) + body_text(0)
    try:
        for i in range(count):
            ino.drain()
            c = SMTPClient(srv.port)
            c.cmd("EHLO bench.client", 250)
            c.cmd("MAIL FROM:<%s>" % SENDER, 250)
            c.cmd("RCPT TO:<%s>" % RCPT, 250)
            c.cmd("DATA", 354)
            c.s.sendall(msg.encode() + b".\r\n")
            code, line = c.reply()
            t250 = time.monotonic()
            if code != 250:
                raise RuntimeError("end of DATA: %r" % line)
            if select.select([ino.fd], [], [], 0)[0]:
                # Delivered before the 250 reached us: latency 0.
                ino.drain()
                early += 1
                t = t250
            else:
                t = ino.wait(30)
            c.close()
            if t is None:
                lost += 1
            else:
                lats.append(t - t250)
            time.sleep(LAT_GAP)
    finally:
        ino.close()
    ms = [x * 1000 for x in lats]
    return {"server": srv.name, "n": count, "lost": lost, "ok": lost == 0, "before_250": early,
            "p50_ms": round(pct(ms, 0.5), 3) if ms else None,
            "p99_ms": round(pct(ms, 0.99), 3) if ms else None,
            "max_ms": round(max(ms), 3) if ms else None,
            "mean_ms": round(statistics.mean(ms), 3) if ms else None}


def pop3_run(srv, port, n):
    """One POP3 session: USER/PASS, STAT, RETR + DELE of every message, QUIT."""
    md = srv.maildir()
    u0, s0 = srv.cg.cpu()
    samp = Sampler(srv.cg)
    t0 = time.monotonic()
    p = poplib.POP3("127.0.0.1", port, timeout=120)
    p.user(USER)
    p.pass_(PASSWORD)
    t_login = time.monotonic()
    count, _ = p.stat()
    got = 0
    for i in range(1, count + 1):
        _, lines, octets = p.retr(i)
        got += octets
        p.dele(i)
    t_retr = time.monotonic()
    p.quit()
    t_end = time.monotonic()
    u1, s1 = srv.cg.cpu()
    samp.stop()
    left = count_new(md + "/new") + count_new(md + "/cur")
    total = t_end - t0
    return {"server": srv.name, "n": n, "messages": count, "bytes": got, "left": left,
            "ok": count == n and left == 0,
            "login_s": round(t_login - t0, 3), "retr_dele_s": round(t_retr - t_login, 3),
            "quit_s": round(t_end - t_retr, 3), "total_s": round(total, 3),
            "mps": round(count / total, 1) if total else None,
            "cpu_s": round(u1 - u0 + s1 - s0, 3), "peak_rss_kb": samp.rss}


def idle_session(srv):
    """RSS of the process serving one idle SMTP session (after EHLO)."""
    before = set(srv.cg.procs())
    c = SMTPClient(srv.port)
    c.cmd("EHLO bench.client", 250)
    time.sleep(0.5)
    found = []
    for p in srv.cg.procs():
        m = proc_mem(p)
        if m and m[3] == srv.session_comm:
            found.append((p in before, m))
    c.close()
    if not found:
        return {"server": srv.name, "ok": False, "why": "no %s process found" % srv.session_comm}
    found.sort(key=lambda x: x[0])     # a process the session started comes first
    m = found[0][1]
    return {"server": srv.name, "ok": True, "comm": m[3], "rss_kb": m[0], "pss_kb": m[1],
            "private_kb": m[2], "candidates": len(found)}


# ---------------------------------------------------------------- scenario 8: STARTTLS

TLS_N = int(E.get("BENCH_TLS_N") or N)
TLS_SESSIONS = int(E.get("BENCH_TLS_SESSIONS") or 10)
# The processes that hold one session's TLS: postie-tlsd (and, for the
# whole session, postie-smtpd behind it); Postfix's smtpd does SMTP and
# TLS in one process, with tlsmgr shared by all sessions.
TLS_PROCS = {"postie": (["postie-tlsd"], ["postie-tlsd", "postie-smtpd"]),
             "postie-base": (["postie-tlsd"], ["postie-tlsd", "postie-smtpd"]),
             "postfix-tls": (["smtpd", "tlsmgr"], ["smtpd", "tlsmgr"])}


class PostfixTLS(Postfix):
    """The bench's Postfix with STARTTLS offered on its smtpd
    (smtpd_tls_security_level = may), signing with the same EC P-256
    certificate and key that postie-setup made for postie, no session
    cache (each message is a new session anyway)."""
    name = "postfix-tls"

    def __init__(self, cert, key):
        super().__init__()
        self.cert, self.key = cert, key

    def setup(self):
        super().setup()
        for n, src in (("cert.pem", self.cert), ("key.pem", self.key)):
            shutil.copy(src, os.path.join(self.conf, n))
            os.chown(os.path.join(self.conf, n), 0, 0)
        os.chmod(os.path.join(self.conf, "key.pem"), 0o600)
        with open(self.conf + "/main.cf", "a") as f:
            f.write("smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {c}/cert.pem\n"
                    "smtpd_tls_key_file = {c}/key.pem\nsmtpd_tls_loglevel = 0\n".format(c=self.conf))
        sh(["postfix", "-c", self.conf, "check"])


def tls_context(cert):
    """A client context that verifies the server's certificate against
    the one certificate both servers use (its name is the postie
    instance's, not 127.0.0.1: the name is not checked)."""
    import ssl
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    return ctx


def tls_message(port, ctx, data):
    """One message over a new connection and a new TLS session:
    EHLO, STARTTLS, the handshake, EHLO, one transaction, QUIT.
    Returns (protocol, cipher)."""
    c = SMTPClient(port)
    try:
        c.cmd("EHLO bench.client", 250)
        c.cmd("STARTTLS", 220)
        c.s = ctx.wrap_socket(c.s)
        c.cmd("EHLO bench.client", 250)
        c.cmd("MAIL FROM:<%s>" % SENDER, 250)
        c.cmd("RCPT TO:<%s>" % RCPT, 250)
        c.cmd("DATA", 354)
        c.s.sendall(data)
        code, line = c.reply()
        if code != 250:
            raise RuntimeError("end of DATA: %r" % line)
        got = (c.s.version(), c.s.cipher()[0])
    finally:
        c.close()
    return got


def tls_run(srv, sessions, n, ctx):
    """n messages from `sessions` client threads, each message over a new
    TLS session; timed until the last of the n files is in new/."""
    new = os.path.join(srv.maildir(), "new")
    base = count_new(new)
    body = body_text(0)
    lock = threading.Lock()
    state = {"next": 0, "failed": 0, "errors": [], "tls": set()}

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= n:
                    return
                state["next"] += 1
            data = ("From: <%s>\r\nTo: <%s>\r\nSubject: tls bench %d\r\n\r\n%s.\r\n"
                    % (SENDER, RCPT, i, body)).encode()
            try:
                got = tls_message(srv.port, ctx, data)
                with lock:
                    state["tls"].add(got)
            except Exception as e:
                with lock:
                    state["failed"] += 1
                    state["errors"] = (state["errors"] + [str(e)])[-5:]
    samp = Sampler(srv.cg)
    u0, s0 = srv.cg.cpu()
    ru0 = os.times()
    t0 = time.time()
    m0 = time.monotonic()
    ths = [threading.Thread(target=worker, daemon=True) for _ in range(sessions)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(TIMEOUT)
    accept = time.monotonic() - m0
    ru1 = os.times()
    count = wait_delivered(srv, new, base, n - state["failed"], m0)
    u1, s1 = srv.cg.cpu()
    samp.stop()
    e2e = newest_since(new, t0) if count >= n else None
    return {"server": srv.name, "sessions": sessions, "n": n, "size": SIZE, "delivered": count,
            "failed_messages": state["failed"], "errors": state["errors"],
            "tls": sorted("%s %s" % x for x in state["tls"]),
            "ok": state["failed"] == 0 and count >= n,
            "accept_s": round(accept, 3), "accept_mps": round(n / accept, 1),
            "e2e_s": round(e2e, 3) if e2e else None, "e2e_mps": round(n / e2e, 1) if e2e else None,
            "cpu_s": round(u1 - u0 + s1 - s0, 3),
            "client_cpu_s": round((ru1.user - ru0.user) + (ru1.system - ru0.system), 3),
            "peak_rss_kb": samp.rss, "peak_pss_kb": samp.pss, "max_procs": samp.nprocs}


def tls_session_mem(srv, sessions, ctx):
    """`sessions` sessions held open after STARTTLS and the second EHLO:
    PSS of the processes that hold their TLS (TLS_PROCS), and of the
    whole server, above what it used idle, per session."""
    time.sleep(1)
    idle = group_mem(srv.cg)[1]
    conns = []
    try:
        for _ in range(sessions):
            c = SMTPClient(srv.port)
            conns.append(c)
            c.cmd("EHLO bench.client", 250)
            c.cmd("STARTTLS", 220)
            c.s = ctx.wrap_socket(c.s)
            c.cmd("EHLO bench.client", 250)
        time.sleep(1)
        tls_comms, session_comms = TLS_PROCS[srv.name]
        per = {}
        for p in srv.cg.procs():
            m = proc_mem(p)
            if m and m[3] in session_comms:
                k = per.setdefault(m[3], [0, 0])
                k[0] += 1
                k[1] += m[1]
        total = group_mem(srv.cg)[1]
    finally:
        for c in conns:
            c.close()
    tls_pss = sum(per.get(c, [0, 0])[1] for c in tls_comms)
    sess_pss = sum(per.get(c, [0, 0])[1] for c in session_comms)
    return {"server": srv.name, "sessions": sessions, "ok": bool(per), "procs": per,
            "tls_pss_kb_per_session": round(tls_pss / sessions, 1),
            "session_pss_kb_per_session": round(sess_pss / sessions, 1),
            "server_pss_kb_per_session": round((total - idle) / sessions, 1),
            "idle_pss_kb": idle}


def scenario_tls(smtp):
    """Scenario 8: STARTTLS on port 25's service, a new TLS session per
    message, end to end to Maildir: postie against Postfix with TLS on;
    then the memory of TLS_SESSIONS sessions held open after STARTTLS."""
    if not any(s.name == "postie" for s in smtp):
        log("scenario 8: needs postie (and its certificate): skipped")
        return []
    # Scenarios 1-4 compare a port 25 without TLS on both sides: this one
    # has an instance of its own whose port 25 offers STARTTLS.
    postie = Postie(tls=True)
    postie.setup()
    cert = os.path.join(postie.home, "tls", "cert.pem")
    servers = []
    if "postfix" in PEERS:
        pf = PostfixTLS(cert, os.path.join(postie.home, "tls", "key.pem"))
        pf.setup()
        servers.append(pf)
    if E.get("BENCH_POSTIE_BASE"):
        # The other build, with postie's certificate and key (the client
        # verifies against that one certificate).
        base = PostieBase(tls=True)
        base.setup()
        for f in ("cert.pem", "key.pem"):
            dst = os.path.join(base.home, "tls", f)
            shutil.copyfile(os.path.join(postie.home, "tls", f), dst + ".new")
            os.chmod(dst + ".new", 0o600 if f == "key.pem" else 0o644)
            chown_user(dst + ".new")
            os.rename(dst + ".new", dst)
        servers.append(base)
    servers.append(postie)
    ctx = tls_context(cert)
    for rnd in range(1, ROUNDS + 1):
        for srv in servers:
            log("scenario 8: %s, STARTTLS, %d sessions, N=%d, round %d" % (srv.name, TLS_SESSIONS, TLS_N, rnd))
            fresh(srv)
            attempt("tls", srv, lambda: tls_run(srv, TLS_SESSIONS, TLS_N, ctx), round=rnd)
    for rnd in range(1, ROUNDS + 1):
        for srv in servers:
            log("scenario 8: %s, %d sessions held after STARTTLS, round %d" % (srv.name, TLS_SESSIONS, rnd))
            attempt("tls-mem", srv, lambda: tls_session_mem(srv, TLS_SESSIONS, ctx), round=rnd)
    return servers


def report_tls(w):
    """Scenario 8's tables."""
    rs = by("tls")
    if not rs:
        return
    w("## Scenario 8: STARTTLS, a new TLS session per message, end to end, msg/s (%d sessions, N=%d)"
      % (TLS_SESSIONS, TLS_N))
    w("")
    w("| server | runs | msg/s | range | CPU s | CPU ms/msg | client CPU s | peak PSS MiB | failed | TLS | postie/server msg/s | postie/server CPU |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    good = lambda n: [r for r in by("tls", server=n) if r.get("ok")]
    pm = median([r["e2e_mps"] for r in good("postie")])
    pc = median([r["cpu_s"] for r in good("postie")])
    for name in ("postfix-tls", "postie-base", "postie"):
        all_ = by("tls", server=name)
        if not all_:
            continue
        g = good(name)
        ms = [r["e2e_mps"] for r in g]
        m, c = median(ms), median([r["cpu_s"] for r in g])
        tls = sorted(set(t for r in g for t in r.get("tls", [])))
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |" % (
            name, len(all_), fmt(m), ("%s-%s" % (fmt(min(ms)), fmt(max(ms)))) if ms else "-", fmt(c, 2),
            fmt(c * 1000 / TLS_N if c is not None else None, 2),
            fmt(median([r["client_cpu_s"] for r in g]), 2),
            fmt(median([r["peak_pss_kb"] for r in g]) / 1024 if g else None, 1), len(all_) - len(g),
            ", ".join(tls) or "-", "" if name == "postie" else ratio(pm, m),
            "" if name == "postie" else ratio(pc, c)))
    w("")
    mem = by("tls-mem")
    if mem:
        w("%d sessions held open after STARTTLS and the second EHLO, PSS per session (KiB): the "
          "processes that hold the TLS (postie-tlsd; Postfix's smtpd and its share of tlsmgr), the "
          "whole session (postie-tlsd + postie-smtpd; smtpd + tlsmgr), and the whole server's growth "
          "over its idle PSS:" % TLS_SESSIONS)
        w("")
        w("| server | runs | TLS processes | whole session | server growth | postie/server TLS | postie/server session |")
        w("|---|---|---|---|---|---|---|")
        good = lambda n: [r for r in by("tls-mem", server=n) if r.get("ok")]
        pt = median([r["tls_pss_kb_per_session"] for r in good("postie")])
        ps = median([r["session_pss_kb_per_session"] for r in good("postie")])
        for name in ("postfix-tls", "postie-base", "postie"):
            g = good(name)
            if not g:
                continue
            t = median([r["tls_pss_kb_per_session"] for r in g])
            s_ = median([r["session_pss_kb_per_session"] for r in g])
            w("| %s | %d | %s | %s | %s | %s | %s |" % (
                name, len(g), fmt(t), fmt(s_), fmt(median([r["server_pss_kb_per_session"] for r in g])),
                "" if name == "postie" else ratio(pt, t), "" if name == "postie" else ratio(ps, s_)))
        w("")
        w("postie's goal (issue 12): msg/s at least Postfix's, postie-tlsd's PSS per session under 1/4 of "
          "Postfix's smtpd + tlsmgr per session.")
        w("")



# ---------------------------------------------------------------- scenarios

def servers_smtp(deep=False):
    s = []
    for p in PEERS:
        if p == "postfix":
            s.append(Postfix(deep))
        elif p == "opensmtpd":
            s.append(OpenSMTPD(deep))
        elif p not in ("dovecot", "none"):
            raise SystemExit("bench: unknown peer %s (postfix, opensmtpd, none)" % p)
    if E.get("BENCH_NO_POSTIE") != "1":
        if E.get("BENCH_POSTIE_BASE"):
            s.append(PostieBase(deep))
        s.append(Postie(deep))
    return s


def started(srv):
    srv.start()
    time.sleep(1)


def attempt(scen, srv, fn, start=started, **extra):
    """Start srv, measure with fn(), stop srv, record the result. A failure
    (a server that does not start, a client error) is recorded as a failed
    measurement and the run goes on."""
    try:
        if start:
            start(srv)
        r = fn()
    except Exception as e:
        log("%s: %s failed: %s" % (scen, srv.label, e))
        r = {"server": srv.name, "ok": False, "error": str(e)[-1000:]}
    finally:
        srv.stop()
    r.update(scenario=scen, **extra)
    record(r)
    return r


def fresh(srv):
    fresh_maildir(srv.maildir())
    os.sync()


def scenario_smtp(servers):
    """Scenarios 1 and 2: one smtp-source run gives both times."""
    for sess in SESSIONS:
        for rnd in range(1, ROUNDS + 1):
            for srv in servers:
                log("scenario 1/2: %s, %d sessions, N=%d, round %d" % (srv.name, sess, N, rnd))
                fresh(srv)
                attempt("smtp", srv, lambda: smtp_run(srv, sess, N), round=rnd, sessions=sess)


def scenario_latency(servers):
    for rnd in range(1, ROUNDS + 1):
        for srv in servers:
            log("scenario 3: %s, %d single messages, round %d" % (srv.name, LAT_N, rnd))
            fresh(srv)
            attempt("latency", srv, lambda: latency_run(srv, LAT_N), round=rnd)


def send_rss(srv):
    """The scheduler's RSS: postie-send for postie, qmgr for Postfix, the
    whole server for OpenSMTPD (its processes all say smtpd)."""
    comm = {"postie": "postie-send", "postfix": "qmgr"}.get(srv.name)
    return comm or "(all)", group_mem(srv.cg, comm)[0]


def deep_fill(srv):
    comm, rss0 = send_rss(srv)
    tot0 = group_mem(srv.cg)[1]
    u0 = sum(srv.cg.cpu())
    t0 = time.monotonic()
    p = subprocess.run(["smtp-source", "-s", str(DEEP_FILL_SESSIONS), "-l", str(SIZE), "-m", str(DEEP), "-f", SENDER,
                        "-t", "nobody@" + FAR, "127.0.0.1:%d" % srv.port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    fill = time.monotonic() - t0
    settle = wait_idle(srv.cg, max(120, DEEP / 100))
    _, rss1 = send_rss(srv)
    tot1 = group_mem(srv.cg)[1]
    queued = srv.queued()
    return {"server": srv.name, "deep": DEEP, "queued": queued,
            "ok": p.returncode == 0 and (queued is None or queued >= DEEP),
            "smtp_source_rc": p.returncode, "smtp_source_out": p.stdout[-300:],
            "fill_s": round(fill, 2), "fill_mps": round(DEEP / fill, 1), "settle_s": round(settle, 2),
            "cpu_s": round(sum(srv.cg.cpu()) - u0, 2), "sched_comm": comm,
            "sched_rss_empty_kb": rss0, "sched_rss_deep_kb": rss1,
            "sched_bytes_per_msg": round((rss1 - rss0) * 1024 / DEEP, 1),
            "total_pss_empty_kb": tot0, "total_pss_deep_kb": tot1}


def deep_round(srv):
    t0 = time.monotonic()
    srv.start()
    settle = wait_idle(srv.cg, max(120, DEEP / 100))
    comm, rss = send_rss(srv)
    r = smtp_run(srv, DEEP_SESSIONS, N)
    _, rss_after = send_rss(srv)
    r.update(deep=DEEP, startup_s=round(time.monotonic() - t0, 2), settle_s=round(settle, 2),
             sched_comm=comm, sched_rss_kb=rss, sched_rss_after_kb=rss_after)
    return r


def scenario_deep(servers):
    """Scenario 4: DEEP messages deferred for an unreachable domain, then
    scenario 1 (DEEP_SESSIONS sessions) against the deep queue."""
    for srv in servers:
        log("scenario 4: %s: filling the queue with %d messages for %s" % (srv.name, DEEP, FAR))
        fresh(srv)
        attempt("deep-fill", srv, lambda: deep_fill(srv))
    for rnd in range(1, ROUNDS + 1):
        for srv in servers:
            log("scenario 4: %s, deep queue, %d sessions, N=%d, round %d" % (srv.name, DEEP_SESSIONS, N, rnd))
            fresh(srv)
            attempt("deep", srv, lambda: deep_round(srv), start=None, round=rnd)


def scenario_pop3(postie, dovecot):
    servers = [(dovecot, dovecot.port)] + ([(postie, postie.pop3_port)] if postie else [])
    for rnd in range(1, ROUNDS + 1):
        for srv, port in servers:
            log("scenario 5: %s, POP3, N=%d, round %d" % (srv.name, POP_N, rnd))
            fresh_maildir(srv.maildir())
            fill_maildir(srv.maildir(), POP_N)
            os.sync()
            attempt("pop3", srv, lambda: pop3_run(srv, port, POP_N), round=rnd)


# ---------------------------------------------------------------- scenario 7: IMAP

IMAP_BIG = int(E.get("BENCH_IMAP_BIG") or 100000)     # the folder SELECT opens
IMAP_N = int(E.get("BENCH_IMAP_N") or N)              # the folder FETCH and SEARCH read
IMAP_PORT_POSTIE = 2143                               # postie-setup -u's STARTTLS port
IMAP_NEEDLE = "needle-%d" % 4242


class DovecotIMAP(Dovecot):
    """Dovecot's IMAP (imap-login, one imap process per session) with
    STARTTLS, as postie's imapd service: the instance's certificate."""
    port = 2611

    def __init__(self, cert, key):
        Server.__init__(self)
        self.label = "dovecot-imap"
        self.cg = Cgroup(self.label)
        self.dir = os.path.join(SCRATCH, "dovecot-imap")
        self.home = self.dir + "/home"
        self.cert, self.key = cert, key

    def setup(self):
        if not os.access("/usr/lib/dovecot/imap", os.X_OK):
            raise RuntimeError("Dovecot's imap is missing: run sh package/deps --bench (dovecot-imapd)")
        for d in ("/run", "/state", "/ssl"):
            os.makedirs(self.dir + d, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        chown_user(self.home)
        shutil.copy(self.cert, self.dir + "/ssl/cert.pem")
        shutil.copy(self.key, self.dir + "/ssl/key.pem")
        os.chmod(self.dir + "/ssl/key.pem", 0o600)
        p = pw()
        with open(self.dir + "/passwd", "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (USER, PASSWORD, p.pw_uid, p.pw_gid, self.home))
        os.chmod(self.dir + "/passwd", 0o640)
        shutil.chown(self.dir + "/passwd", group="dovecot")
        with open(self.dir + "/dovecot.conf", "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/ssl/cert.pem
ssl_key = <{d}/ssl/key.pem
auth_mechanisms = plain
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(d=self.dir, port=self.port))


def imap_fill(md, big, n):
    """The template both servers get a hard-linked copy of: INBOX with big
    messages and the folder Ten with n, all in cur/ (read by a client
    before), ~SIZE bytes each, every subject different; one message of
    Ten has IMAP_NEEDLE in its body."""
    p = pw()
    body = body_text(0).replace("\r\n", "\n")
    for folder, count in ((md, big), (md + "/.Ten", n)):
        for d in ("", "/tmp", "/new", "/cur"):
            os.makedirs(folder + d, mode=0o700, exist_ok=True)
            chown_user(folder + d)
        for i in range(count):
            name = "%d.P%dQ%d.bench:2," % (1700000000 + i, os.getpid(), i)
            path = os.path.join(folder, "cur", name)
            with open(path, "w") as f:
                f.write("Return-Path: <%s>\nFrom: <%s>\nTo: <%s>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                        "Subject: imap bench %d\nMessage-Id: <%d.imap@%s>\n\n%s%s"
                        % (SENDER, SENDER, RCPT, i, i, DOMAIN, body,
                           IMAP_NEEDLE + "\n" if folder != md and i == count // 2 else ""))
            os.chown(path, p.pw_uid, p.pw_gid)


class IMAPBench:
    """imaplib over STARTTLS, the certificate verified; each command timed."""

    def __init__(self, port, ctx):
        import imaplib
        self.c = imaplib.IMAP4("127.0.0.1", port, timeout=600)
        self.c.host = DOMAIN
        self.c.starttls(ssl_context=ctx)
        self.c.login(USER, PASSWORD)

    def timed(self, fn, *a):
        t0 = time.monotonic()
        typ, d = fn(*a)
        if typ != "OK":
            raise RuntimeError("IMAP %s%r: %s %r" % (fn.__name__, a, typ, d[:2]))
        return time.monotonic() - t0, d

    def close(self):
        try:
            self.c.logout()
        except Exception:
            pass


def imap_session_mem(srv, before):
    """{comm: PSS KiB} of the processes that came with one session."""
    out = {}
    for p in srv.cg.procs():
        if p in before:
            continue
        m = proc_mem(p)
        if m:
            out[m[3]] = out.get(m[3], 0) + m[1]
    return out


def imap_run(srv, port, ctx, session_comm):
    u0, s0 = srv.cg.cpu()
    # Cold: the first look at the 100,000 messages (UIDs, the index).
    a = IMAPBench(port, ctx)
    sel_cold, d = a.timed(a.c.select, "INBOX")
    exists = int(d[0])
    a.close()
    b = IMAPBench(port, ctx)
    sel_warm, d = b.timed(b.c.select, "INBOX")
    sel_ten, d = b.timed(b.c.select, "Ten")
    ten = int(d[0])
    subj_s, d1 = b.timed(b.c.search, None, "SUBJECT", '"imap bench %d"' % (IMAP_N - 1))
    body_s, d2 = b.timed(b.c.search, None, "BODY", IMAP_NEEDLE)
    fetch_cold, f = b.timed(b.c.fetch, "1:%d" % IMAP_N, "(UID BODY.PEEK[HEADER])")
    headers = sum(1 for x in f if isinstance(x, tuple) and x[1].startswith(b"Return-Path:"))
    fetch_warm, _ = b.timed(b.c.fetch, "1:%d" % IMAP_N, "(UID BODY.PEEK[HEADER])")
    subj2_s, d3 = b.timed(b.c.search, None, "SUBJECT", '"imap bench %d"' % (IMAP_N - 1))
    b.close()
    u1, s1 = srv.cg.cpu()
    # One idle session: logged in, Ten selected, then INBOX selected.
    time.sleep(1)
    before = set(srv.cg.procs())
    c = IMAPBench(port, ctx)
    c.timed(c.c.select, "Ten")
    time.sleep(1)
    mem_ten = imap_session_mem(srv, before)
    c.timed(c.c.select, "INBOX")
    time.sleep(1)
    mem_big = imap_session_mem(srv, before)
    c.close()
    want_subj = [str(IMAP_N).encode()]        # subject N-1 is message N
    want_body = [str(IMAP_N // 2 + 1).encode()]
    ok = (exists == IMAP_BIG and ten == IMAP_N and d1 == want_subj and d3 == want_subj
          and d2 == want_body and headers == IMAP_N and session_comm in mem_ten)
    return {"server": srv.name, "ok": ok, "exists": exists, "ten": ten, "headers": headers,
            "search_subject": [x.decode() for x in d1], "search_body": [x.decode() for x in d2],
            "select_cold_s": round(sel_cold, 3), "select_warm_s": round(sel_warm, 3),
            "select_ten_s": round(sel_ten, 3), "fetch_cold_s": round(fetch_cold, 3),
            "fetch_warm_s": round(fetch_warm, 3), "search_subject_s": round(subj_s, 3),
            "search_subject_again_s": round(subj2_s, 3), "search_body_s": round(body_s, 3),
            "cpu_s": round(u1 - u0 + s1 - s0, 2), "session_comm": session_comm,
            "idle_pss_kb": mem_ten.get(session_comm), "idle_total_pss_kb": sum(mem_ten.values()),
            "idle_big_pss_kb": mem_big.get(session_comm), "idle_big_total_pss_kb": sum(mem_big.values()),
            "idle_procs": mem_ten}


def scenario_imap(postie):
    """Scenario 7: postie-imapd against Dovecot's imap, both over STARTTLS
    on loopback, on hard-linked copies of one Maildir."""
    import ssl
    template = os.path.join(SCRATCH, "imap-template", "Maildir")
    log("scenario 7: writing %d + %d messages" % (IMAP_BIG, IMAP_N))
    os.makedirs(os.path.dirname(template), exist_ok=True)
    imap_fill(template, IMAP_BIG, IMAP_N)
    cert = os.path.join(postie.home, "tls", "cert.pem")
    dove = DovecotIMAP(cert, os.path.join(postie.home, "tls", "key.pem"))
    dove.setup()
    record({"scenario": "versions-imap", "versions": [dove.version()]})
    ctx = ssl.create_default_context(cafile=cert)

    def start_postie(srv):
        srv.start()
        wait_port(IMAP_PORT_POSTIE)
        time.sleep(1)

    servers = [(dove, dove.port, "imap", started), (postie, IMAP_PORT_POSTIE, "postie-imapd", start_postie)]
    try:
        for rnd in range(1, ROUNDS + 1):
            for srv, port, comm, start in servers:
                log("scenario 7: %s, IMAP, %d and %d messages, round %d" % (srv.name, IMAP_BIG, IMAP_N, rnd))
                md = srv.maildir()
                if os.path.isdir(md):
                    shutil.rmtree(md)
                sh(["cp", "-al", template, md])
                os.sync()
                attempt("imap", srv, lambda: imap_run(srv, port, ctx, comm), start=start, round=rnd)
                shutil.rmtree(md)
                fresh_maildir(md)
    finally:
        dove.cg.kill_all(wait=5)
        shutil.rmtree(os.path.dirname(template), ignore_errors=True)


def report_imap(w):
    rs = by("imap")
    if not rs:
        return
    w("## Scenario 7: IMAP, SELECT of %d messages, FETCH and SEARCH of %d, one idle session (python imaplib, STARTTLS)"
      % (IMAP_BIG, IMAP_N))
    w("")
    w("Seconds from a command to its tagged OK; PSS KiB of the process serving one idle session (postie-imapd, "
      "Dovecot's imap) logged in with a folder of %d selected, and (all): every process the session added "
      "(postie-tlsd and postie-imapup too; Dovecot's imap-login)." % IMAP_N)
    w("")
    cols = (("select_cold_s", "SELECT %d first" % IMAP_BIG, 2), ("select_warm_s", "SELECT %d again" % IMAP_BIG, 2),
            ("fetch_cold_s", "FETCH %d headers first" % IMAP_N, 2), ("fetch_warm_s", "FETCH %d headers again" % IMAP_N, 2),
            ("search_subject_s", "SEARCH SUBJECT", 3), ("search_subject_again_s", "SEARCH SUBJECT after FETCH", 3),
            ("search_body_s", "SEARCH BODY", 3), ("cpu_s", "CPU s", 2), ("idle_pss_kb", "idle PSS KiB", 0),
            ("idle_total_pss_kb", "(all)", 0), ("idle_big_pss_kb", "idle PSS, %d selected" % IMAP_BIG, 0))
    w("| server | runs | " + " | ".join(c[1] for c in cols) + " | failed |")
    w("|---|---|" + "---|" * len(cols) + "---|")
    med = {}
    for name in ("dovecot", "postie"):
        all_ = by("imap", server=name)
        good = [r for r in all_ if r["ok"]]
        med[name] = {k: median([r.get(k) for r in good]) for k, _, _ in cols}
        if all_:
            w("| %s | %d | " % (name, len(all_)) + " | ".join(fmt(med[name][k], nd) for k, _, nd in cols)
              + " | %d |" % (len(all_) - len(good)))
    if by("imap", server="dovecot") and by("imap", server="postie"):
        w("| postie/dovecot | | " + " | ".join(ratio(med["postie"][k], med["dovecot"][k]) for k, _, _ in cols) + " | |")
    w("")
    w("postie's goals: each time at most Dovecot's (postie/dovecot <= 1), an idle session's memory under 1/4 "
      "of Dovecot's imap process (<= 0.25).")
    w("")


def elf_sizes(paths):
    """{path: (text, data, bss)} of the ELF files among paths."""
    out = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        r = sh(["size", p], check=False)
        lines = r.stdout.splitlines()
        if r.returncode == 0 and len(lines) >= 2:
            t, d, b = lines[1].split()[:3]
            out[p] = (int(t), int(d), int(b))
    return out


def dpkg_files(pkg):
    r = sh(["dpkg", "-L", pkg], check=False)
    return [l for l in r.stdout.splitlines() if os.path.isfile(l) and not os.path.islink(l)]


def dpkg_size(pkgs):
    tot = 0
    for p in pkgs:
        r = sh(["dpkg-query", "-W", "-f=${Installed-Size}", p], check=False)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            tot += int(r.stdout.strip())
    return tot


def tree_size(d):
    tot = 0
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                tot += os.lstat(p).st_size
    return tot


def scenario_footprint(smtp_servers):
    inst = os.path.join(SCRATCH, "inst")
    bindir = os.path.join(inst, "bin")
    progs = sorted(os.listdir(bindir)) if os.path.isdir(bindir) else []
    sizes = elf_sizes([os.path.join(bindir, p) for p in progs])
    dyndir = os.path.join(SCRATCH, "dyn", "bin")
    dyn = elf_sizes([os.path.join(dyndir, p) for p in progs])
    for p in progs:
        path = os.path.join(bindir, p)
        if path in sizes:
            t, d, b = sizes[path]
            record({"scenario": "text", "server": "postie", "program": p, "text": t, "data": d, "bss": b,
                    "file": os.path.getsize(path),
                    "dynamic_text": dyn.get(os.path.join(dyndir, p), (None,))[0]})
        else:
            record({"scenario": "text", "server": "postie", "program": p, "text": None,
                    "script_bytes": os.path.getsize(path)})
    peers = {"postfix": dpkg_files("postfix"), "dovecot": dpkg_files("dovecot-core") + dpkg_files("dovecot-pop3d")}
    osroot = os.path.join(SCRATCH, "opensmtpd-root")
    if os.path.isdir(osroot):
        peers["opensmtpd"] = [os.path.join(r, f) for r, _, fs in os.walk(osroot) for f in fs
                              if not os.path.islink(os.path.join(r, f))]
    for name, files in peers.items():
        s = elf_sizes(files)
        record({"scenario": "text-total", "server": name, "programs": len(s),
                "text": sum(v[0] for v in s.values())})
    record({"scenario": "text-total", "server": "postie", "programs": len(sizes),
            "text": sum(v[0] for v in sizes.values())})
    # Installed size: postie as make install lays it out; the peers as dpkg says.
    deb_os = None
    try:
        with open(os.path.join(osroot, ".deb-fields")) as f:
            for line in f:
                if line.startswith("Installed-Size:"):
                    deb_os = int(line.split(":")[1]) * 1024
    except OSError:
        pass
    record({"scenario": "installed", "server": "postie", "bytes": tree_size(inst),
            "bin_bytes": tree_size(bindir),
            "deps_bytes": dpkg_size(["libskarnet2.13", "s6", "execline", "libs6-2.11"]) * 1024,
            "deps": "skalibs, s6, execline (Debian packages)"})
    record({"scenario": "installed", "server": "postfix", "bytes": dpkg_size(["postfix"]) * 1024})
    if deb_os:
        record({"scenario": "installed", "server": "opensmtpd", "bytes": deb_os})
    record({"scenario": "installed", "server": "dovecot",
            "bytes": dpkg_size(["dovecot-core", "dovecot-pop3d"]) * 1024})
    # One idle SMTP session.
    for rnd in range(1, ROUNDS + 1):
        for srv in smtp_servers:
            if not srv.session_comm:
                continue
            log("scenario 6: %s, one idle SMTP session, round %d" % (srv.name, rnd))
            def one():
                r = idle_session(srv)
                r["server_total_pss_kb"] = group_mem(srv.cg)[1]
                return r
            attempt("session", srv, one, round=rnd)


def scenario_disk(when):
    log("disk (%s): write+fsync+rename+directory fsync, %g s per test" % (when, FSYNC_SECS))
    r = sh([os.path.join(SCRATCH, "tools", "fsyncbench"), os.path.join(SCRATCH, "fsync"), str(FSYNC_SECS)])
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 7:
            record({"scenario": "disk", "when": when, "test": f[0], "ops": int(f[1]), "ops_s": float(f[3]),
                    "p50_us": float(f[4]), "p99_us": float(f[5]), "max_us": float(f[6])})
    log("processes (%s): posix_spawn + exec + exit + wait of a static musl program, %g s" % (when, FSYNC_SECS))
    r = sh([os.path.join(SCRATCH, "tools", "procbench"), str(FSYNC_SECS)])
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 7 and f[0] == "spawn":
            record({"scenario": "proc", "when": when, "spawns": int(f[1]), "spawns_s": float(f[3]),
                    "wall_us": float(f[4]), "child_cpu_us": float(f[5]), "parent_cpu_us": float(f[6])})


# ---------------------------------------------------------------- report

def fmt(x, nd=0):
    if x is None:
        return "-"
    return ("%%.%df" % nd) % x

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def machine():
    m = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    m["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            m["ram_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    m["kernel"] = platform.release()
    r = sh(["findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", SCRATCH], check=False)
    m["fs"] = " ".join(r.stdout.split())
    r = sh(["systemd-detect-virt"], check=False)
    if r.returncode == 0:
        m["virt"] = r.stdout.strip()
    try:
        with open("/etc/debian_version") as f:
            m["debian"] = f.read().strip()
    except OSError:
        pass
    return m


def by(scen, **kw):
    return [r for r in RESULTS if r.get("scenario") == scen and all(r.get(k) == v for k, v in kw.items())]


def report(versions, mach, started_at, elapsed):
    L = []
    w = L.append
    w("# postie benchmark, %s" % started_at)
    w("")
    w("Machine: %s, %s cores, %s GiB RAM, Linux %s%s; scratch on %s." % (
        mach.get("cpu", "?"), mach.get("cores"), mach.get("ram_gib"), mach.get("kernel"),
        (", " + mach["virt"]) if mach.get("virt") else "", mach.get("fs", "?")))
    w("Servers: %s." % "; ".join(versions))
    w("Settings: N=%d, %d round(s), messages of %d bytes, scenarios %s%s; took %d s." % (
        N, ROUNDS, SIZE, " ".join(SCENARIOS), "" if FULL else " (not the full defaults)", elapsed))
    w("Medians over the rounds; postie/X is postie's median over X's "
      "(above 1 is better for msg/s, below 1 is better for CPU, memory, latency, size).")
    w("")
    disk = by("disk")
    if disk:
        w("## The disk's own limit (one writer), at the start and at the end of the run")
        w("")
        w("| test | ops/s start | ops/s end | p50 µs start | p99 µs start | p50 µs end | p99 µs end |")
        w("|---|---|---|---|---|---|---|")
        for t in ("overwrite", "newfile", "rename", "enqueue"):
            a = ([r for r in disk if r["test"] == t and r.get("when", "start") == "start"] or [None])[0]
            b = ([r for r in disk if r["test"] == t and r.get("when") == "end"] or [None])[0]
            g = lambda r, k: fmt(r[k]) if r else "-"
            if a or b:
                w("| %s | %s | %s | %s | %s | %s | %s |" % (t, g(a, "ops_s"), g(b, "ops_s"), g(a, "p50_us"),
                                                          g(a, "p99_us"), g(b, "p50_us"), g(b, "p99_us")))
        w("")
        w("A large difference between start and end means the machine was busy with something "
          "else: read the whole report with care.")
        w("")
        w("enqueue = create, write 4 KiB, fsync, rename into another directory, fsync both "
          "directories: what one Maildir delivery or one queue insertion costs at least.")
        w("")
    proc = by("proc")
    if proc:
        w("## The price of a process, at the start and at the end of the run")
        w("")
        w("| when | spawns/s | wall µs | child CPU µs | parent CPU µs | CPU µs in all |")
        w("|---|---|---|---|---|---|")
        for when in ("start", "end"):
            for r in [r for r in proc if r.get("when") == when]:
                w("| %s | %s | %s | %s | %s | %s |" % (when, fmt(r["spawns_s"]), fmt(r["wall_us"]), fmt(r["child_cpu_us"]),
                                                     fmt(r["parent_cpu_us"]), fmt(r["child_cpu_us"] + r["parent_cpu_us"])))
        w("")
        w("A process = posix_spawn, exec, start-up and exit of a static musl program that returns "
          "at once, and the wait for it: the least each of the processes a message needs costs on "
          "this machine (postie runs three per message in scenarios 1 and 2, four with STARTTLS; "
          "doc/bench.md).")
        w("")
    smtp = by("smtp")
    names = [s for s in PEERS if s not in ("dovecot", "none")] + (["postie-base"] if by("smtp", server="postie-base") or by("latency", server="postie-base") else []) + ["postie"]
    for scen, key, title in (("1", "e2e_mps", "Scenario 1: end to end (SMTP to Maildir new/), msg/s"),
                             ("2", "accept_mps", "Scenario 2: acceptance (until smtp-source exits), msg/s")):
        if scen not in SCENARIOS or not smtp:
            continue
        w("## " + title)
        w("")
        hdr = "| sessions | server | runs | msg/s | range | CPU s | CPU ms/msg | peak PSS MiB | peak RSS MiB | failed |"
        if scen == "1":
            hdr += " postie/server msg/s | postie/server CPU |"
        else:
            hdr += " postie/server msg/s |"
        w(hdr)
        w("|" + "---|" * (hdr.count("|") - 1))
        for sess in SESSIONS:
            med = {}
            for name in names:
                rs = by("smtp", server=name, sessions=sess)
                good = [r for r in rs if r["ok"]]
                if not rs:
                    continue
                v = [r[key] for r in good if r[key]]
                med[name] = (median(v), median([r["cpu_s"] for r in good]))
            for name in names:
                rs = by("smtp", server=name, sessions=sess)
                if not rs:
                    continue
                good = [r for r in rs if r["ok"]]
                v = [r[key] for r in good if r[key]]
                m, cpu = med[name]
                pm, pcpu = med.get("postie", (None, None))
                row = "| %d | %s | %d | %s | %s | %s | %s | %s | %s | %d |" % (
                    sess, name, len(rs), fmt(m), ("%s-%s" % (fmt(min(v)), fmt(max(v)))) if v else "-",
                    fmt(cpu, 2), fmt(cpu * 1000 / N if cpu is not None else None, 2),
                    fmt(median([r["peak_pss_kb"] / 1024 for r in good]), 1),
                    fmt(median([r["peak_rss_kb"] / 1024 for r in good]), 1), len(rs) - len(good))
                if name == "postie":
                    row += " |" + (" |" if scen == "1" else "")
                else:
                    row += " %s |" % ratio(pm, m)
                    if scen == "1":
                        row += " %s |" % ratio(pcpu, cpu)
                w(row)
        w("")
    lat = by("latency")
    if lat:
        w("## Scenario 3: idle latency, 250 after DATA to the file in new/ (%d messages a round)" % LAT_N)
        w("")
        w("| server | runs | p50 ms | p99 ms | max ms | lost | there before the 250 | postie/server p50 | postie/server p99 |")
        w("|---|---|---|---|---|---|---|---|---|")
        measured = lambda n: [r for r in by("latency", server=n) if r.get("p50_ms") is not None]
        pm = median([r["p50_ms"] for r in measured("postie")])
        p9 = median([r["p99_ms"] for r in measured("postie")])
        for name in names:
            all_ = by("latency", server=name)
            rs = measured(name)
            if not all_:
                continue
            m50, m99 = median([r["p50_ms"] for r in rs]), median([r["p99_ms"] for r in rs])
            w("| %s | %d%s | %s | %s | %s | %d | %d | %s | %s |" % (
                name, len(all_), "" if len(rs) == len(all_) else " (%d failed)" % (len(all_) - len(rs)),
                fmt(m50, 2), fmt(m99, 2), fmt(max([r["max_ms"] or 0 for r in rs] or [0]), 2),
                sum(r["lost"] for r in rs), sum(r["before_250"] for r in rs), "" if name == "postie" else ratio(pm, m50),
                "" if name == "postie" else ratio(p9, m99)))
        w("")
    fills = by("deep-fill")
    if fills:
        w("## Scenario 4: deep queue (%d messages deferred for an unreachable domain)" % DEEP)
        w("")
        w("| server | fill msg/s | smtp-source exit | in the queue | settle s | scheduler | its RSS empty MiB | its RSS deep MiB | bytes/deferred msg | server PSS deep MiB |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in fills:
            if "fill_mps" not in r:
                w("| %s | failed: %s |" % (r["server"], " ".join(r.get("error", "?").split())[-120:].replace("|", "/")))
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["server"], fmt(r["fill_mps"]), "%d%s" % (r["smtp_source_rc"], "" if r["ok"] else " (failed: "
                + " ".join(r["smtp_source_out"].split())[-80:].replace("|", "/") + ")"),
                fmt(r["queued"]), fmt(r["settle_s"], 1), r["sched_comm"],
                fmt(r["sched_rss_empty_kb"] / 1024, 1), fmt(r["sched_rss_deep_kb"] / 1024, 1),
                fmt(r["sched_bytes_per_msg"], 1), fmt(r["total_pss_deep_kb"] / 1024, 1)))
        short = [r["server"] for r in fills if r.get("queued") is not None and r["queued"] < DEEP]
        if short:
            w("")
            w("Not every message was queued for: %s; their deep-queue figures below are for a "
              "shallower queue." % ", ".join(short))
        w("")
        w("Then scenario 1 with %d sessions against the deep queue:" % DEEP_SESSIONS)
        w("")
        w("| server | runs | msg/s deep | msg/s empty (scenario 1) | deep/empty | start-up settle s | CPU s | postie/server msg/s |")
        w("|---|---|---|---|---|---|---|---|")
        pdeep = median([r["e2e_mps"] for r in by("deep", server="postie") if r["ok"]])
        for name in names:
            rs = by("deep", server=name)
            if not rs:
                continue
            good = [r for r in rs if r["ok"]]
            d = median([r["e2e_mps"] for r in good])
            e = median([r["e2e_mps"] for r in by("smtp", server=name, sessions=DEEP_SESSIONS) if r["ok"]])
            w("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                name, len(rs), fmt(d), fmt(e), ratio(d, e), fmt(median([r["settle_s"] for r in good]), 1),
                fmt(median([r["cpu_s"] for r in good]), 2), "" if name == "postie" else ratio(pdeep, d)))
        pd = median([r["e2e_mps"] for r in by("deep", server="postie") if r["ok"]])
        pe = median([r["e2e_mps"] for r in by("smtp", server="postie", sessions=DEEP_SESSIONS) if r["ok"]])
        w("")
        if pd and pe:
            w("postie's goal: deep/empty >= 0.90: %s (%.2f)." % ("met" if pd / pe >= 0.9 else "NOT MET", pd / pe))
        else:
            w("postie's goal (deep/empty >= 0.90): not measured (needs scenario 1 with %d sessions)." % DEEP_SESSIONS)
        w("")
    pop = by("pop3")
    if pop:
        w("## Scenario 5: POP3, retrieve and delete %d messages in one session (python poplib)" % POP_N)
        w("")
        w("| server | runs | msg/s | total s | login s | RETR+DELE s | QUIT s | CPU s | failed | postie/server msg/s |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        pm = median([r["mps"] for r in by("pop3", server="postie") if r["ok"]])
        for name in ("dovecot", "postie"):
            rs = by("pop3", server=name)
            if not rs:
                continue
            good = [r for r in rs if r["ok"]]
            m = median([r["mps"] for r in good])
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                name, len(rs), fmt(m), fmt(median([r["total_s"] for r in good]), 2),
                fmt(median([r["login_s"] for r in good]), 3), fmt(median([r["retr_dele_s"] for r in good]), 2),
                fmt(median([r["quit_s"] for r in good]), 2), fmt(median([r["cpu_s"] for r in good]), 2),
                len(rs) - len(good), "" if name == "postie" else ratio(pm, m)))
        w("")
    text = by("text")
    if by("text-total"):
        w("## Scenario 6: footprint")
        w("")
        w("Stripped programs as make install lays them out (size(1): text, data, bss bytes), and the "
          "text of the same program linked dynamically against glibc (`make LIBC=glibc`; the default "
          "build links every program statically against musl; postie-users and postie-checkpassword "
          "also against libxcrypt, built for musl):")
        w("")
        w("| program | text | data | bss | text, glibc dynamic | under 64 KiB |")
        w("|---|---|---|---|---|---|")
        for r in text:
            if r["text"] is None:
                w("| %s | (sh script, %d bytes) | | | | |" % (r["program"], r["script_bytes"]))
            else:
                dt = r.get("dynamic_text")
                ok = "yes" if r["text"] < 65536 else ("glibc dynamic only" if dt is not None and dt < 65536 else "no")
                w("| %s | %d | %d | %d | %s | %s |" % (r["program"], r["text"], r["data"], r["bss"],
                                                  "-" if dt is None else "%d" % dt, ok))
        w("")
        tot = {r["server"]: r for r in by("text-total")}
        inst = {r["server"]: r for r in by("installed")}
        w("| | ELF files | text total KiB | installed KiB | postie/server text | postie/server installed |")
        w("|---|---|---|---|---|---|")
        pt = tot.get("postie", {}).get("text")
        pi = inst.get("postie", {}).get("bytes")
        for name in ("postie", "postfix", "opensmtpd", "dovecot"):
            if name not in tot:
                continue
            t = tot[name]["text"]
            i = inst.get(name, {}).get("bytes")
            w("| %s | %d | %s | %s | %s | %s |" % (
                name, tot[name]["programs"], fmt(t / 1024), fmt(i / 1024 if i else None),
                "" if name == "postie" else ratio(pt, t), "" if name == "postie" else ratio(pi, i)))
        if "postie" in inst:
            w("")
            w("postie's installed size is PREFIX/bin, templates and doc; it also needs skalibs, s6 and "
              "execline (%s KiB installed, Debian packages). The peers' figures are dpkg's Installed-Size "
              "(dovecot: dovecot-core + dovecot-pop3d)." % fmt(inst["postie"]["deps_bytes"] / 1024))
        sess = by("session")
        if sess:
            w("")
            w("One idle SMTP session (after EHLO), the process serving it:")
            w("")
            w("| server | process | runs | RSS KiB | PSS KiB | private KiB | postie/server RSS | postie/server private |")
            w("|---|---|---|---|---|---|---|---|")
            good = lambda n: [r for r in by("session", server=n) if r["ok"]]
            prss = median([r["rss_kb"] for r in good("postie")])
            ppriv = median([r["private_kb"] for r in good("postie")])
            for name in names:
                rs = good(name)
                if not rs:
                    continue
                rss, priv = median([r["rss_kb"] for r in rs]), median([r["private_kb"] for r in rs])
                w("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                    name, rs[0]["comm"], len(rs), fmt(rss), fmt(median([r["pss_kb"] for r in rs])), fmt(priv),
                    "" if name == "postie" else ratio(prss, rss), "" if name == "postie" else ratio(ppriv, priv)))
        w("")
    report_imap(w)
    report_tls(w)
    return "\n".join(L) + "\n"


def update_readme(table, stamp):
    path = os.path.join(HERE, "README.md")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return
    a, b = "<!-- latest results: begin -->", "<!-- latest results: end -->"
    if a not in text or b not in text:
        return
    # One level down: the table sits under the README's own headings.
    table = re.sub(r"(?m)^(#+) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", table)
    body = "%s\n\nFrom results/%s.md (raw numbers: results/%s.jsonl).\n\n%s%s" % (a, stamp, stamp, table, b)
    text = text[:text.index(a)] + body + text[text.index(b) + len(b):]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


# ---------------------------------------------------------------- namespace

def overlay(target, name, entries):
    """Lay scratch entries over a system directory, privately (this mount
    namespace only): entries {name: symlink target or None for a dir}."""
    up = os.path.join(SCRATCH, "ovl", name, "upper")
    wk = os.path.join(SCRATCH, "ovl", name, "work")
    os.makedirs(up, exist_ok=True)
    os.makedirs(wk, exist_ok=True)
    for e, tgt in entries.items():
        p = os.path.join(up, e)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if tgt:
            os.symlink(tgt, p)
        else:
            os.makedirs(p, exist_ok=True)
    sh(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s,workdir=%s" % (target, up, wk), target])


def enter_namespace():
    sh(["ip", "link", "set", "lo", "up"])
    sh(["mount", "--bind", os.path.join(SCRATCH, "resolv.conf"), "/etc/resolv.conf"])
    if "opensmtpd" in PEERS:
        root = os.path.join(SCRATCH, "opensmtpd-root")
        if not os.path.exists("/usr/libexec/opensmtpd"):
            overlay("/usr/libexec", "libexec", {"opensmtpd": root + "/usr/libexec/opensmtpd"})
        if not os.path.exists("/var/spool/smtpd") or os.path.islink("/var/spool/smtpd"):
            overlay("/var/spool", "spool", {})
        else:
            raise SystemExit("bench: /var/spool/smtpd is a real directory here: is OpenSMTPD installed? "
                             "BENCH_PEERS=postfix to leave it out")
        pwe = pwd.getpwnam("opensmtpd").pw_dir
        if not os.path.isdir(pwe):
            if pwe.startswith("/var/lib/"):
                overlay("/var/lib", "varlib", {pwe[len("/var/lib/"):]: None})
            else:
                raise SystemExit("bench: the home of opensmtpd, %s, is missing" % pwe)


def main():
    global RAW
    if sys.argv[1:] == ["--cleanup"]:
        cleanup_cgroups()
        return 0
    if sys.argv[1:] != ["--inside"]:
        print("usage: bench.py --inside | --cleanup (run tests/bench/run)", file=sys.stderr)
        return 100
    def stop(sig, frame):
        raise SystemExit(128 + sig)     # through every finally: servers stopped
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    enter_namespace()
    resdir = os.path.join(HERE, "results")
    os.makedirs(resdir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t_start = time.time()
    RAW = open(os.path.join(resdir, stamp + ".jsonl"), "w")
    mach = machine()
    record({"scenario": "machine", **mach, "settings": {
        "N": N, "rounds": ROUNDS, "scenarios": SCENARIOS, "sessions": SESSIONS, "size": SIZE,
        "peers": PEERS, "lat_n": LAT_N, "deep": DEEP, "deep_sessions": DEEP_SESSIONS,
        "deep_fill_sessions": DEEP_FILL_SESSIONS, "pop_n": POP_N}})

    smtp = servers_smtp()
    for s in smtp:
        s.setup()
    versions = [s.version() for s in smtp]
    need_deep = "4" in SCENARIOS
    need_pop = "5" in SCENARIOS
    dove = Dovecot() if need_pop else None
    if dove:
        dove.setup()
        versions.append(dove.version())
    record({"scenario": "versions", "versions": versions})
    extra = []
    try:
        if "disk" in SCENARIOS:
            scenario_disk("start")
        if "1" in SCENARIOS or "2" in SCENARIOS:
            scenario_smtp(smtp)
        if "3" in SCENARIOS:
            scenario_latency(smtp)
        if need_deep:
            deep = servers_smtp(deep=True)
            for s in deep:
                s.setup()
            scenario_deep(deep)
        if need_pop:
            scenario_pop3(next((s for s in smtp if s.name == "postie"), None), dove)
        if "6" in SCENARIOS:
            scenario_footprint(smtp)
        if "7" in SCENARIOS and any(s.name == "postie" for s in smtp):
            scenario_imap(next(s for s in smtp if s.name == "postie"))
        if "8" in SCENARIOS:
            extra += scenario_tls(smtp)
        if "disk" in SCENARIOS:
            scenario_disk("end")
    finally:
        for s in smtp + ([dove] if dove else []) + extra:
            s.cg.kill_all(wait=5)
    elapsed = int(time.time() - t_start)
    table = report(versions, mach, started_at, elapsed)
    with open(os.path.join(resdir, stamp + ".md"), "w") as f:
        f.write(table)
    RAW.close()
    print(table)
    if FULL or E.get("BENCH_README") == "1":
        update_readme(table, stamp)
        log("tests/bench/README.md now shows this run")
    log("results: tests/bench/results/%s.md and .jsonl" % stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
