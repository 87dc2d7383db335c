#!/usr/bin/python3
"""postie-setup -N: the smtpd service (port 25) without TLS, as for a site
whose TLS is terminated in front of postie, or for tests and benchmarks:
its run script has no postie-tlsd, EHLO does not offer STARTTLS (and
STARTTLS is refused with 454), mail is accepted and delivered, and no
postie-tlsd runs for its sessions; the submission service of the same
instance still offers STARTTLS. Without -N, port 25 offers STARTTLS."""
import os, smtplib, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

need = missing(SYSTEM_PROGS + ["postie-tlsd"])
if need:
    skip("setup-notls", "missing programs: " + " ".join(need))
    done()


def comms_of(pid):
    """The names of pid's descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = open("/proc/%d/task/%d/children" % (p, p)).read().split()
        except OSError:
            continue
        for k in kids:
            try:
                out.append(open("/proc/%s/comm" % k).read().strip())
            except OSError:
                continue
            todo.append(int(k))
    return out


base = scratch("setup-notls")
for flag in ("-N", ""):
    name = "notls" if flag else "tls"
    home = os.path.join(base, name)
    ports = (free_port(), free_port(), free_port())
    r = setup(home, ports, me="n.example", extra=[flag] if flag else [])
    check(name + "-setup", r.returncode == 0, r.stderr.decode())
    run = open(os.path.join(home, "service/smtpd/run")).read()
    check(name + "-run-script", ("postie-tlsd -r" in run) == (not flag) and "@" not in run.replace("@U_", ""), run)
    check(name + "-submission-run-script", "postie-tlsd -r" in open(os.path.join(home, "service/submission/run")).read())
    add_user(home, "u", "pw")
    sv = Supervised(home)
    try:
        check(name + "-ready", sv.wait_ready(), logs(home, "smtpd"))
        c = smtplib.SMTP("127.0.0.1", ports[0], timeout=20)
        c.ehlo("client.example")
        check(name + "-starttls-offered", c.has_extn("starttls") == (not flag), c.ehlo_resp)
        held = comms_of(sv.pid("smtpd"))
        check(name + "-tlsd-in-session", ("postie-tlsd" in held) == (not flag), held)
        if flag:
            code, msg = c.docmd("STARTTLS")
            check(name + "-starttls-refused", code == 454, "%d %r" % (code, msg))
            c.sendmail("a@far.example", ["u@n.example"], b"Subject: notls\r\n\r\nhello\r\n")
            got = wait_for(lambda: [m for m in maildir_messages(home, "u") if b"Subject: notls" in m])
            check(name + "-delivered", bool(got), logs(home, "send"))
        c.quit()
        s = smtplib.SMTP("127.0.0.1", ports[1], timeout=20)
        s.ehlo("client.example")
        check(name + "-submission-starttls", s.has_extn("starttls"), s.ehlo_resp)
        s.quit()
    finally:
        check(name + "-stopped", sv.stop())
done()
