/* dqlc: SQL text handling -- where statements end, whether one returns rows.
 *
 * The splitter follows SQLite's own sqlite3_complete(): a ';' ends a
 * statement unless it is inside a '...' string, a "...", `...` or [...]
 * identifier, a -- or C-style comment, or the body of a CREATE [TEMP]
 * TRIGGER (which ends at "END" followed by ';'). */
#ifndef DQLC_SHELL_SPLIT_H
#define DQLC_SHELL_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the first complete statement in text[0..len), its ';'
 * included, or 0 when the text holds no complete statement yet. */
size_t split_complete(const char *text, size_t len);

/* Skip whitespace and complete comments at the start of text[0..len).
 * Returns the offset of the first other character (len if none).  *open
 * (may be NULL) is set when the text ends inside a comment. */
size_t split_skip_blank(const char *text, size_t len, bool *open);

/* True when text holds nothing but whitespace, comments and ';'. */
bool split_is_blank(const char *text, size_t len);

/* How a statement is sent. */
enum split_kind {
	SPLIT_EXEC = 0, /* EXEC_SQL: no rows */
	SPLIT_QUERY,    /* QUERY_SQL: rows (tried first; zero columns -> exec) */
};

/* Decide for one statement: SELECT, VALUES, EXPLAIN, read-only PRAGMAs
 * and WITH ... SELECT are queries; everything else (and anything with
 * RETURNING, and the PRAGMAs that write while returning rows) is exec. */
enum split_kind split_classify(const char *sql, size_t len);

/* Statements dqlc refuses to send because they crash dqlite 1.11 servers
 * (RETURNING, PRAGMA journal_mode = ..., PRAGMA page_size = ...): the
 * reason, or NULL. */
const char *split_refusal(const char *sql, size_t len);

/* The first keyword of sql, upper-cased, into kw ("" if it does not start
 * with a word). */
const char *split_first_keyword(const char *sql, size_t len, char *kw, size_t kwlen);

#endif
