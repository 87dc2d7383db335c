/* errdesc.h: the C-locale text of an errno value, for a vfork child
   (errdesc.c). */
#ifndef ERRDESC_H
#define ERRDESC_H

/* A static string, or 0 when the C library knows no text for e. Never
   allocates. */
extern char const *errdesc (int e) ;

#endif
