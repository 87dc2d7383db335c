/* dns_mx.h: the MX records of a DNS answer, parsed defensively. */
#ifndef DNS_MX_H
#define DNS_MX_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 1025   /* MAXDNAME: a name dn_expand may produce, NUL included */

typedef struct dns_mx_s dns_mx, *dns_mx_ref ;
struct dns_mx_s
{
  uint16_t pref ;
  char name[DNS_NAME_MAX] ;  /* lowercase, no trailing dot; "" is the root (a null MX) */
} ;

/* dns_mx_parse: the IN MX records in the answer section of the DNS
   message pkt (len bytes, as res_query returns it). At most max records
   are stored in out; *total counts them all. A name with characters other
   than letters, digits, '-', '_' and '.' is stored as "?", so that it
   never reaches a resolver or a log line as it came. Returns the number
   stored, or -1 when the message is malformed. */
extern int dns_mx_parse (unsigned char const *pkt, size_t len, dns_mx *out, unsigned int max, unsigned int *total) ;

/* dns_mx_sort: order by preference, shuffle among equal preferences
   (with random_uint32). */
extern void dns_mx_sort (dns_mx *mx, unsigned int n) ;

#endif
