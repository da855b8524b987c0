/* Minimal SQL lexing used for safety checks and transaction tracking. */
#ifndef DQLC_SQLTEXT_H
#define DQLC_SQLTEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The first keyword, upper-cased, into kw ("" if none). Returns kw. */
const char *dqlc__sql_first_keyword(const char *sql, char *kw, size_t kwlen);
/* Does the bare (upper-case) keyword occur outside strings and comments? */
bool dqlc__sql_has_keyword(const char *sql, const char *word);
/* +1 for BEGIN, -1 for COMMIT/END/ROLLBACK (not ROLLBACK TO), else 0; for a
 * script, the effect of its last such statement. */
int dqlc__sql_tx_effect(const char *sql);
/* More than one statement (something other than blanks after a ';'). */
bool dqlc__sql_is_multi(const char *sql);
/* Does any statement assign PRAGMA `name` (PRAGMA [schema.]name = v or
 * PRAGMA name(v))?  `name` upper case. */
bool dqlc__sql_sets_pragma(const char *sql, const char *name);
/* Only whitespace, comments and semicolons. */
bool dqlc__sql_is_blank(const char *sql);

#endif
