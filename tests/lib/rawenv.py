"""An environment with a name more than once (execve takes any list of
entries; a dict cannot hold one), and a program that prints the block
it was exec'd with: for the tests of what a program gives the next one
in its environment (postie-checkpassword.py, postie-tlsd-env.py)."""
import os


class RawEnv(dict):
    """An environment given as a list of (name, value) pairs, duplicates
    kept, for subprocess's env=: it builds the block from items()."""
    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = list(pairs)

    def items(self):
        return list(self.pairs)


def showenv_script(directory):
    """A script in directory that writes its own environment block
    (/proc/PID/environ: what execve passed, duplicates included) on fd 1.
    Returns its path."""
    path = os.path.join(directory, "showenv")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec cat /proc/$$/environ\n")
    os.chmod(path, 0o755)
    return path


def entries(out):
    """The entries of a block as showenv_script writes it (bytes), as str."""
    return [e.decode(errors="replace") for e in out.split(b"\0") if e]


def values(block, name):
    """The values of every entry of name in block (a list of entries)."""
    return [e[len(name) + 1:] for e in block if e.startswith(name + "=")]
