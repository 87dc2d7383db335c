"""The system's own libcrypt (Debian's libxcrypt, every method), through
ctypes: hashes as /etc/shadow holds them, and its verdict on them."""
import ctypes, ctypes.util

lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
lib.crypt_gensalt.restype = ctypes.c_char_p
lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
lib.crypt_checksalt.restype = ctypes.c_int
lib.crypt_checksalt.argtypes = [ctypes.c_char_p]

# crypt_checksalt's answers (<crypt.h>), as postie-users-hash -c words them.
CHECKSALT = {0: "ok", 1: "invalid", 2: "disabled", 3: "legacy", 4: "too-cheap"}


def crypt(pw, setting):
    """crypt(3) of pw (str) with setting (str): a str, or None."""
    h = lib.crypt(pw.encode(), setting.encode())
    return h.decode() if h is not None else None


def mkhash(prefix, pw, rounds=0):
    """pw hashed with the method of prefix and a fresh salt; None when the
    system's libcrypt has no such method."""
    salt = lib.crypt_gensalt(prefix.encode(), rounds, None, 0)
    h = lib.crypt(pw.encode(), salt) if salt else None
    return h.decode() if h and not h.startswith(b"*") else None


def checksalt(h):
    """The system's crypt_checksalt of h, as a word (CHECKSALT)."""
    return CHECKSALT.get(lib.crypt_checksalt(h.encode()), "invalid")
