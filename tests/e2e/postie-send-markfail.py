#!/usr/bin/python3
"""A success whose D mark cannot be written (pwrite64 of the info file
fails, EIO injected by strace): postie-send logs the warning that the
recipient stays pending, and the result line says
"success, unmarked, delivered again at the next retry", never a plain
"success:" (doc/postie-send.md, "Log lines": a success line means the
mark is written). The recipient is delivered again at the next retry
(a duplicate, never a loss), and that one is a plain success."""
import os, re, signal, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

if not os.path.exists("/usr/bin/strace"):
    skip("markfail", "no strace")
    done()

i = Instance("send-markfail", control={"locals": "example.org", "retrymin": "1", "retrymax": "2"})
trace = os.path.join(i.home, "strace.out")
# the first pwrite64 of every process fails: postie-send's first is the
# first recipient's mark
sp, logf = strace_start(i, "markfail", trace, ["-e", "trace=pwrite64", "-e", "inject=pwrite64:error=EIO:when=1"])
try:
    q = i.inject("sender@example.org", ["alice@example.org"])
    ended = i.wait(lambda: ("end msg " + q) in i.logtext(), 60, 0.05)
finally:
    strace_stop(sp, logf)
log = i.logtext()
lines = [l for l in log.splitlines() if q in l and "<alice@example.org>" in l]
warn = [n for n, l in enumerate(lines) if ": unable to update the info file: " in l and "stays pending" in l]
results = [(n, l) for n, l in enumerate(lines) if RESULT_RE.match(l) or ": success, unmarked" in l]
check("mark-failed", len(warn) == 1, "\n".join(lines))
check("unmarked-line", warn and results and results[0][0] > warn[0]
      and ">: success, unmarked, delivered again at the next retry: " in results[0][1]
      and not RESULT_RE.match(results[0][1]), "\n".join(lines))
check("then-delivered-again", ended and len(results) == 2 and re.search(r">: success: ", results[1][1])
      and len(i.mails("alice")) == 2, "%r mails=%d\n%s" % (ended, len(i.mails("alice")), "\n".join(lines)))
check("sigterm", sp.returncode == 0, "strace exited %r" % sp.returncode)
done()
