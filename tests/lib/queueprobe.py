"""What the remote-delivery uid may do to the queue (doc/queue.md, "Who may
do what"): read a message, nothing else. PROBE is a python program for
`python3 -c PROBE MESSAGE QUEUEDIR`, run as that uid; it prints name=result
pairs. WANT is what least privilege requires."""

PROBE = r'''
import errno, os, sys
m, q = sys.argv[1], sys.argv[2]
out = []
def t(name, f):
    try:
        f()
        out.append(name + "=ok")
    except OSError as e:
        out.append(name + "=" + errno.errorcode.get(e.errno, str(e.errno)))
t("read", lambda: os.close(os.open(m, os.O_RDONLY)))
t("write", lambda: os.close(os.open(m, os.O_WRONLY)))
t("truncate", lambda: os.truncate(m, 0))
t("rename", lambda: os.rename(m, m + ".x"))
t("unlink", lambda: os.unlink(m))
t("create-mess", lambda: os.close(os.open(os.path.join(os.path.dirname(m), "x"), os.O_WRONLY | os.O_CREAT, 0o644)))
t("create-todo", lambda: os.close(os.open(os.path.join(q, "todo", "0", "x"), os.O_WRONLY | os.O_CREAT, 0o644)))
t("create-tmp", lambda: os.close(os.open(os.path.join(q, "tmp", "x"), os.O_WRONLY | os.O_CREAT, 0o644)))
t("list-mess", lambda: os.listdir(os.path.dirname(m)))
t("list-info", lambda: os.listdir(os.path.join(q, "info")))
t("trigger", lambda: os.close(os.open(os.path.join(q, "trigger"), os.O_WRONLY | os.O_NONBLOCK)))
print(" ".join(out))
'''

# A recipient's |program that tries what issue 15 found: reopen the
# message (its fd 0) for writing through /proc/self/fd/0 and append to it,
# chmod it 0600, then ask for a retry (exit 111). It prints
# "attack: reopened|reopen-ERRNO chmoded|chmod-ERRNO".
ATTACK = r"""
import os, sys
out = []
try:
    fd = os.open("/proc/self/fd/0", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"appended by the recipient\n" * 64)
    out.append("reopened")
except OSError as e:
    out.append("reopen-%d" % e.errno)
try:
    os.fchmod(0, 0o600)
    out.append("chmoded")
except OSError as e:
    out.append("chmod-%d" % e.errno)
print("attack:", " ".join(out))
sys.exit(111)
"""

WANT = {"read": "ok", "write": "EACCES", "truncate": "EACCES", "rename": "EACCES", "unlink": "EACCES",
        "create-mess": "EACCES", "create-todo": "EACCES", "create-tmp": "EACCES", "list-mess": "EACCES",
        "list-info": "EACCES", "trigger": "EACCES"}


def parse(stdout):
    return dict(x.split("=", 1) for x in stdout.split())
