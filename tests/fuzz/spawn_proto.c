/* Fuzz target: the spawn protocol's records (programs/lib/spawn_proto.c),
   what postie-lspawn (root) reads from postie-send and postie-send reads
   back from the spawners.
   Input: a byte giving the largest payload allowed (times 64), then a
   stream of bytes as read from the pipe. Checks: spawn_get
   takes netstrings one after the other within the buffer, payloads no
   larger than asked; spawn_split gives fields inside the payload, at
   most as many as allowed; and spawn_put writes those fields back as
   the same payload. spawn_result of any text is one kind byte, at most
   SPAWN_LINE_MAX printable bytes and a NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "spawn.h"

#define MAXFIELDS 64

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *buf = (char const *)data + (size ? 1 : 0) ;
  stralloc out = STRALLOC_ZERO ;
  char const *fields[MAXFIELDS] ;
  size_t pos = 0, max = size ? (size_t)data[0] * 64 : 0 ;
  if (size) size-- ;
  for (;;)
  {
    size_t start = 0, plen = 0 ;
    ssize_t r = spawn_get(buf + pos, size - pos, max, &start, &plen) ;
    int n ;
    if (r <= 0) break ;
    if ((size_t)r > size - pos || plen > max || start + plen + 1 != (size_t)r || buf[pos + start + plen] != ',') abort() ;
    n = spawn_split(buf + pos + start, plen, fields, MAXFIELDS) ;
    if (n > MAXFIELDS) abort() ;
    if (n > 0)
    {
      size_t s2, p2 ;
      for (int i = 0 ; i < n ; i++)
        if (fields[i] < buf + pos + start || fields[i] + strlen(fields[i]) >= buf + pos + start + plen) abort() ;
      out.len = 0 ;
      if (!spawn_put(&out, fields, n)) abort() ;
      if (spawn_get(out.s, out.len, plen, &s2, &p2) != (ssize_t)out.len || p2 != plen || memcmp(out.s + s2, buf + pos + start, plen)) abort() ;
    }
    pos += r ;
  }
  out.len = 0 ;
  if (!spawn_result(&out, 'Z', buf, size)) abort() ;
  if (out.len < 2 || out.len > SPAWN_LINE_MAX + 2 || out.s[0] != 'Z' || out.s[out.len - 1]) abort() ;
  for (size_t i = 1 ; i + 1 < out.len ; i++)
    if ((unsigned char)out.s[i] < 32 || out.s[i] == 127) abort() ;
  stralloc_free(&out) ;
  return 0 ;
}
