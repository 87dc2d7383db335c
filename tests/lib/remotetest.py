"""Running postie-remote in tests: the message goes in as a regular file
on fd 0, the result lines come back parsed."""

import os, subprocess, tempfile, time
from postietest import prog, env_for


def run_remote(home, domain, sender, rcpts, msg, timeout=60, env=None, argv=None):
    """Returns (exit code, [result lines as str], stderr, seconds)."""
    with tempfile.TemporaryFile(dir=home) as f:
        f.write(msg)
        f.flush()
        f.seek(0)
        e = env_for(home, **(env or {}))
        t = time.time()
        p = subprocess.run(argv or [prog("postie-remote"), domain, sender] + list(rcpts), stdin=f,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=timeout)
        el = time.time() - t
    lines = p.stdout.decode("utf-8", "surrogateescape").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return p.returncode, lines, p.stderr, el


def letters(lines):
    return "".join(l[:1] for l in lines)


def well_formed(lines, n):
    """n recipient lines + one message line, each K/D/Z/U, no control
    characters, at most 1000 bytes with the newline."""
    if len(lines) != n + 1:
        return False
    for l in lines:
        if not l or l[0] not in "KDZU":
            return False
        if len(l.encode("utf-8", "surrogateescape")) + 1 > 1000:
            return False
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in l):
            return False
    return True


def set_control(home, name, value):
    """Writes home/control/name (value None: removes it)."""
    p = os.path.join(home, "control", name)
    if value is None:
        if os.path.exists(p):
            os.unlink(p)
        return
    with open(p, "w") as f:
        f.write(value)
