/* clock_once.h: the real-time clock, read with a system call rather than
   through the vDSO. For the programs exec'd per message, which read the
   clock once or twice a run: musl's first clock_gettime looks the
   symbol up in the vDSO and then reads the vDSO's data page, two or
   three page faults (about 12 us each on a virtual machine whose page
   faults trap to the hypervisor), where one system call costs about
   1 us (doc/bench.md, profile notes). */
#ifndef CLOCK_ONCE_H
#define CLOCK_ONCE_H

#include <time.h>

/* CLOCK_REALTIME into *ts. Returns 0, or -1 with errno set. */
extern int clock_once (struct timespec *ts) ;

#endif
