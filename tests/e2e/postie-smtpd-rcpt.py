#!/usr/bin/python3
"""postie-smtpd's RCPT check asks the same resolution postie-send delivers
with (local_resolve: locals, virtualdomains, aliases, extsep, the users
database): what it accepts, postie-send can deliver; what nobody receives is
refused with 550 5.1.1 at RCPT time, never bounced later."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import Launcher, Raw, smtpd_instance, users_cdb

home = smtpd_instance("smtpd-rcpt", {
    "rcpthosts": "local.example\nvirt.example\nrelay.example",
    "locals": "local.example",
    "virtualdomains": "virt.example:alice\n",
    "aliases": "abuse: alice\nteam: alice, bob@remote.example\nghost: nosuchuser\n",
    "extsep": "+-",
})
users_cdb(home, ["alice", "Bob"])
L = Launcher(home)
cases = [
    ("alice@local.example", 250),
    ("ALICE@Local.Example", 250),
    ("bob@local.example", 250),
    ("alice+lists@local.example", 250),
    ("alice-lists@local.example", 250),
    ("carol@local.example", 550),
    ("carol+alice@local.example", 550),
    ("postmaster@local.example", 250),
    ("abuse@local.example", 250),
    ("team@local.example", 250),
    ("ghost@local.example", 550),
    ("anything@virt.example", 250),
    ("someone@relay.example", 250),   # relayed, not ours to check
]
for addr, want in cases:
    c = Raw(L.port)
    c.cmd("EHLO t.example")
    c.cmd("MAIL FROM:<s@remote.example>")
    code, text = c.cmd("RCPT TO:<%s>" % addr)
    ok = code == want and (want != 550 or text[0].startswith("5.1.1"))
    check("rcpt-%s" % addr, ok, "%d %r" % (code, text))
    c.cmd("QUIT")
    c.close()
L.close()
done()
