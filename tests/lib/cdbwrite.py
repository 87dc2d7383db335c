"""Write a cdb file (D. J. Bernstein's constant database format) from python,
for tests that need a database before or without the program that builds it."""
import os, struct


def _hash(k):
    h = 5381
    for c in k:
        h = ((h << 5) + h ^ c) & 0xffffffff
    return h


def cdb_write(path, items, datalen=None):
    """items: iterable of (key bytes, data bytes). Atomic replace.
    datalen: {key: n}, a data length to write in those records' headers
    instead of the true one (a corrupt database)."""
    tmp = path + ".tmp"
    tables = [[] for _ in range(256)]
    body = bytearray()
    pos = 2048
    for k, v in items:
        h = _hash(k)
        tables[h & 255].append((h, pos))
        rec = struct.pack("<II", len(k), (datalen or {}).get(k, len(v))) + k + v
        body += rec
        pos += len(rec)
    header = bytearray()
    tail = bytearray()
    for t in tables:
        n = len(t) * 2
        slots = [(0, 0)] * n
        for h, p in t:
            i = (h >> 8) % n
            while slots[i][1]:
                i = (i + 1) % n
            slots[i] = (h, p)
        header += struct.pack("<II", pos + len(tail), n)
        for h, p in slots:
            tail += struct.pack("<II", h, p)
    with open(tmp, "wb") as f:
        f.write(header + body + tail)
    os.rename(tmp, path)


def users_cdb(home, users, datalen=None):
    """users: list of (name, hash, uid, gid, home, maildir): writes
    HOME/users/users.cdb in the format of programs/lib/usersdb.h
    (datalen: as for cdb_write)."""
    os.makedirs(os.path.join(home, "users"), exist_ok=True)
    items = []
    for name, h, uid, gid, uhome, maildir in users:
        data = b"\0".join(str(x).encode() for x in (h, uid, gid, uhome, maildir)) + b"\0"
        items.append((name.lower().encode(), data))
    cdb_write(os.path.join(home, "users", "users.cdb"), items, datalen)
