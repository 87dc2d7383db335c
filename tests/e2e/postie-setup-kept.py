#!/usr/bin/python3
"""postie-setup run again with other -p, -m or -i values keeps the files
that exist (ports, IP, control/me) and says so, one "kept:" line each;
with the same values, or without those options, it says nothing of the
kind."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

d = os.path.join(tmpdir("setup-kept"), "inst")


def setup(*args):
    # -a: as root, an unprivileged instance needs the postmaster address
    # (postie-setup will not make a root-owned postmaster mailbox).
    return subprocess.run([prog("postie-setup"), "-u", "-d", d, "-a", "admin@example.org"] + list(args),
                          capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PATH=BIN + ":" + os.environ["PATH"]))


r = setup("-p", "2601,2602,2603", "-m", "one.example")
check("first-run", r.returncode == 0 and "kept:" not in r.stdout, r.stdout[-300:] + r.stderr)
r = setup("-p", "2601,2602,2603", "-m", "one.example")
check("same-options-quiet", r.returncode == 0 and "kept:" not in r.stdout, r.stdout + r.stderr)
r = setup()
check("no-options-quiet", r.returncode == 0 and "kept:" not in r.stdout, r.stdout + r.stderr)
r = setup("-p", "2701,2602,2703", "-m", "two.example", "-i", "127.0.0.2")
kept = [l for l in r.stdout.splitlines() if l.startswith("kept: ")]
want = ["kept: %s/control/me says one.example, which differs from the option -m two.example" % d,
        "kept: %s/service/smtpd/env/PORT says 2601, which differs from the option -p 2701" % d,
        "kept: %s/service/pop3d/env/PORT says 2603, which differs from the option -p 2703" % d,
        "kept: %s/service/smtpd/env/IP says 127.0.0.1, which differs from the option -i 127.0.0.2" % d]
check("different-options-said", r.returncode == 0 and all(any(k.startswith(w) for k in kept) for w in want)
      and len(kept) == 6 and "nothing to add" in r.stdout, r.stdout + r.stderr)
check("different-options-kept", open(os.path.join(d, "control/me")).read() == "one.example\n"
      and open(os.path.join(d, "service/smtpd/env/PORT")).read() == "2601\n", "files changed")
done()
