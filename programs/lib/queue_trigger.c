/* queue_trigger.c: wake postie-send through queue/trigger. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "queue.h"

int queue_trigger (char const *path, unsigned char byte)
{
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
  ssize_t r ;
  if (fd < 0) return errno == ENXIO ? 0 : -1 ;
  r = write(fd, &byte, 1) ;
  close(fd) ;
  return r == 1 ;
}
