/* cdbfind.h: cdb_find that checks the record it returns. skalibs'
   cdb_find checks the hash table, the record header and the key against
   the mapping, but never the data length: a database with one record's
   data length corrupted (past the end of the file, up to 0xffffffff)
   would have the caller read past the mapping (SIGBUS, or a copy of up
   to 4 GiB). Every cdb lookup in postie goes through cdbfind. */
#ifndef CDBFIND_H
#define CDBFIND_H

#include <stdint.h>
#include <skalibs/cdb.h>

/* As cdb_find: 1 found (*d is the record's data, inside the mapping), 0
   not found, -1 malformed database (errno = EINVAL), which includes a
   record whose data does not end inside the file. */
extern int cdbfind (cdb const *c, cdb_data *d, char const *key, uint32_t keylen) ;

#endif
