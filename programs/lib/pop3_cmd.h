/* pop3_cmd.h: a POP3 command line as postie-popup and postie-pop3d take
   it (RFC 1939 section 3: a keyword, then arguments after single
   spaces), once its line end is stripped. */
#ifndef POP3_CMD_H
#define POP3_CMD_H

#include <stddef.h>

/* line holds len bytes and a NUL after them. Returns 0 when the line
   holds a NUL byte (a command never does); else 1, with the keyword's
   length in *cmdlen (line up to its first space, or all of it) and in
   *arg what follows that space, or 0 when there is no space. */
extern int pop3_cmd_split (char *line, size_t len, size_t *cmdlen, char **arg) ;

/* 1 if the keyword line[0, cmdlen) is cmd, ignoring case. */
extern int pop3_cmd_is (char const *line, size_t cmdlen, char const *cmd) ;

/* A number argument (a message number, TOP's count of lines): 1 to max
   decimal digits and nothing else. Returns 1 and *n, or 0. */
extern int pop3_num_scan (char const *s, size_t max, size_t *n) ;

#endif
