/* crypt_libc.h: snprintf and __assert_fail for libxcrypt, without musl's
   printf (crypt_libc.c says why and how they are linked in). */
#ifndef CRYPT_LIBC_H
#define CRYPT_LIBC_H

#include <stddef.h>

extern int __wrap_snprintf (char *, size_t, char const *, ...) ;
extern void __wrap___assert_fail (char const *, char const *, int, char const *) __attribute__((noreturn)) ;

#endif
