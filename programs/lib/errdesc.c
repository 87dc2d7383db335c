/* errdesc.c: the one place that papers over a difference between the C
   libraries postie builds with (musl, glibc): the text of an errno value
   in a child between vfork and exec, where nothing may allocate.

   glibc has strerrordesc_np: the C-locale text, a static string, or 0 for
   an unknown value (its strerror may allocate for one). musl has no
   strerrordesc_np, and needs none: its strerror is a lookup in a static
   table (postie never calls setlocale, so the text is the C one), and an
   unknown value gets a static "No error information". The weak reference
   is null where the C library has no such function, or where a static
   link did not bring it in. */
#include <string.h>
#include "errdesc.h"

extern char const *strerrordesc_np (int) __attribute__((weak)) ;

char const *errdesc (int e)
{
  return strerrordesc_np ? strerrordesc_np(e) : strerror(e) ;
}
