#!/usr/bin/python3
"""A control file whose contents are wrong is named in the log line with
what is wrong with it ("control/databytes: not a number"), not with a
system error text ("Invalid argument")."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import smtpd_instance, Launcher, Raw

CASES = [("databytes", "abc", "control/databytes: not a number"),
         ("maxrcpt", "12x", "control/maxrcpt: not a number"),
         ("timeoutsmtpd", "99999999999999999999999", "control/timeoutsmtpd: number too large")]

for name, value, want in CASES:
    home = smtpd_instance("ctl-" + name, {name: value})
    l = Launcher(home)
    try:
        c = Raw(l.port)
        c.close()
        l.wait_sessions(1)
        log = l.logtext()
        check("smtpd-%s-%s" % (name, "named"), c.greeting[0] == 421 and want in log
              and "Invalid argument" not in log, "%r %r" % (c.greeting, log))
    finally:
        l.close()

# postie-send reads its settings at start: the same words, and it does not
# start on a bad one.
home = mkinstance(tmpdir("ctl-send"), {"me": "t.example", "concurrencylocal": "ten"})
r = subprocess.run([prog("postie-send")], env=env_for(home), capture_output=True, text=True, timeout=20,
                   stdin=subprocess.DEVNULL)
check("send-concurrencylocal-named", r.returncode != 0
      and "control/concurrencylocal: not a number" in r.stderr, "%d %r" % (r.returncode, r.stderr))
done()
