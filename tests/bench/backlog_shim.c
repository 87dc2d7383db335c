/* backlog_shim.c: LD_PRELOAD shim that raises listen(2) backlogs to at
   least BACKLOG_MIN (environment, default 128). OpenSMTPD 6.8 listens with
   a compiled-in backlog of 5: with more than a handful of clients
   connecting at once the kernel drops SYNs and clients stall on 1 s SYN
   retransmits, which measures the backlog, not the server. The bench runs
   OpenSMTPD with this shim unless BENCH_OPENSMTPD_BACKLOG is empty
   (doc/bench.md). Build: cc -O2 -shared -fPIC -o backlog_shim.so backlog_shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int listen (int fd, int backlog)
{
  static int (*real)(int, int) ;
  if (!real) real = (int (*)(int, int))dlsym(RTLD_NEXT, "listen") ;
  if (!real) return -1 ;
  char const *e = getenv("BACKLOG_MIN") ;
  int min = e ? atoi(e) : 128 ;
  return real(fd, backlog < min ? min : backlog) ;
}
