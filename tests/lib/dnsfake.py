"""A tiny authoritative-looking DNS server over UDP for tests.

FakeDNS(zone, host, port) answers from zone, a dict keyed by lowercase
names without the trailing dot:
  {"example.test": {"MX": [(10, "mx1.example.test"), (0, "")],  # "" = the root (null MX)
                    "A": ["127.0.0.2"], "AAAA": ["::1"]},
   "broken.test": {"rcode": 2},                                 # SERVFAIL
   "junk.test": {"raw_mx": b"..."}}                             # raw MX rdata, any bytes
A name not in the zone gets NXDOMAIN; a name in it without records of the
asked type gets an empty answer (NODATA). .queries lists (name, type)."""

import socket, struct, threading

T_A, T_MX, T_AAAA = 1, 15, 28
TYPES = {T_A: "A", T_MX: "MX", T_AAAA: "AAAA"}


def encode_name(name):
    out = b""
    for label in name.split(".") if name else []:
        b = label.encode("latin-1")
        out += bytes([len(b)]) + b
    return out + b"\0"


class FakeDNS:
    def __init__(self, zone, host="127.0.0.1", port=53):
        self.zone = zone
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.sock.close()

    def _loop(self):
        while True:
            try:
                q, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                r = self.answer(q)
            except Exception:
                continue
            if r:
                self.sock.sendto(r, addr)

    def answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        if qd != 1:
            return None
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("latin-1"))
            i += 1 + q[i]
        i += 1
        qtype, qclass = struct.unpack(">HH", q[i:i + 4])
        question = q[12:i + 4]
        name = ".".join(labels).lower()
        self.queries.append((name, TYPES.get(qtype, qtype)))
        rd = flags & 0x0100
        entry = self.zone.get(name)
        answers = []
        rcode = 0
        if entry is None:
            rcode = 3
        elif "rcode" in entry:
            rcode = entry["rcode"]
        else:
            if qtype == T_MX and "raw_mx" in entry:
                answers.append((T_MX, entry["raw_mx"]))
            elif qtype == T_MX:
                for pref, host in entry.get("MX", []):
                    answers.append((T_MX, struct.pack(">H", pref) + encode_name(host)))
            elif qtype == T_A:
                for a in entry.get("A", []):
                    answers.append((T_A, socket.inet_pton(socket.AF_INET, a)))
            elif qtype == T_AAAA:
                for a in entry.get("AAAA", []):
                    answers.append((T_AAAA, socket.inet_pton(socket.AF_INET6, a)))
        hdr = struct.pack(">HHHHHH", qid, 0x8400 | 0x0080 | rd | rcode, 1, len(answers), 0, 0)
        body = b""
        for t, rdata in answers:
            body += b"\xc0\x0c" + struct.pack(">HHIH", t, 1, 60, len(rdata)) + rdata
        return hdr + question + body
