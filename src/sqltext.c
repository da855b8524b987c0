/* Just enough SQL lexing to keep callers from hurting a server: find
 * keywords outside strings, identifiers in quotes and comments. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sqltext.h"

/* Skip whitespace and comments. */
static const char *skip_space(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

/* Skip one token; copy it upper-cased into kw when it is a bare word. */
static const char *next_token(const char *p, char *kw, size_t kwlen)
{
	size_t n = 0;
	kw[0] = '\0';
	p = skip_space(p);
	if (*p == '\0')
		return p;
	if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
		char close = *p == '[' ? ']' : *p;
		p++;
		while (*p != '\0') {
			if (*p == close) {
				if (close != ']' && p[1] == close) {
					p += 2; /* doubled quote */
					continue;
				}
				p++;
				break;
			}
			p++;
		}
		return p;
	}
	if (isalpha((unsigned char)*p) || *p == '_') {
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '$') {
			if (n + 1 < kwlen)
				kw[n++] = (char)toupper((unsigned char)*p);
			p++;
		}
		kw[n] = '\0';
		return p;
	}
	return p + 1; /* punctuation, numbers digit by digit: harmless */
}

/* Skip blanks, comments and empty statements: SQLite ignores leading
 * semicolons, so "; BEGIN" prepares (and runs) BEGIN. */
static const char *skip_empty(const char *p)
{
	p = skip_space(p);
	while (*p == ';')
		p = skip_space(p + 1);
	return p;
}

const char *dqlc__sql_first_keyword(const char *sql, char *kw, size_t kwlen)
{
	next_token(skip_empty(sql), kw, kwlen);
	return kw;
}

bool dqlc__sql_has_keyword(const char *sql, const char *word)
{
	char kw[32];
	const char *p = sql;
	while (*p != '\0') {
		p = next_token(p, kw, sizeof kw);
		if (kw[0] != '\0' && strcmp(kw, word) == 0)
			return true;
	}
	return false;
}

/* The transaction effect of the statement at p (blanks and empty
 * statements skipped already); *end receives where it stops (after its
 * ';', or at the end of the text).  A CREATE TRIGGER body holds ';'s of its
 * own: it ends at the END that is not a CASE's. */
static int stmt_effect(const char *p, const char **end)
{
	char kw[32], kw2[32];
	int effect = 0, case_depth = 0;
	bool trigger = false;
	p = next_token(p, kw, sizeof kw);
	if (strcmp(kw, "BEGIN") == 0) {
		effect = 1;
	} else if (strcmp(kw, "COMMIT") == 0 || strcmp(kw, "END") == 0) {
		effect = -1;
	} else if (strcmp(kw, "ROLLBACK") == 0) {
		/* ROLLBACK [TRANSACTION] TO savepoint keeps the transaction. */
		const char *q = next_token(p, kw2, sizeof kw2);
		if (strcmp(kw2, "TRANSACTION") == 0)
			next_token(q, kw2, sizeof kw2);
		effect = strcmp(kw2, "TO") == 0 ? 0 : -1;
	} else if (strcmp(kw, "CREATE") == 0) {
		const char *q = next_token(p, kw2, sizeof kw2);
		if (strcmp(kw2, "TEMP") == 0 || strcmp(kw2, "TEMPORARY") == 0)
			next_token(q, kw2, sizeof kw2);
		trigger = strcmp(kw2, "TRIGGER") == 0;
	}
	for (;;) {
		p = skip_space(p);
		if (*p == '\0' || (*p == ';' && !trigger))
			break;
		p = next_token(p, kw, sizeof kw);
		if (trigger && strcmp(kw, "CASE") == 0)
			case_depth++;
		else if (trigger && strcmp(kw, "END") == 0) {
			if (case_depth > 0)
				case_depth--;
			else
				trigger = false;
		}
	}
	*end = *p == ';' ? p + 1 : p;
	return effect;
}

/* The net effect of a script: that of its last BEGIN, COMMIT/END or
 * ROLLBACK (EXEC_SQL runs every statement). */
int dqlc__sql_tx_effect(const char *sql)
{
	int effect = 0, e;
	const char *p = skip_empty(sql);
	while (*p != '\0') {
		e = stmt_effect(p, &p);
		if (e != 0)
			effect = e;
		p = skip_empty(p);
	}
	return effect;
}

bool dqlc__sql_is_blank(const char *sql)
{
	char kw[8];
	const char *p = sql;
	for (;;) {
		p = skip_space(p);
		if (*p == '\0')
			return true;
		if (*p != ';')
			return false;
		p = next_token(p, kw, sizeof kw);
	}
}

bool dqlc__sql_is_multi(const char *sql)
{
	char kw[8];
	const char *p = sql;
	while (*p != '\0') {
		p = skip_space(p);
		if (*p == ';')
			return !dqlc__sql_is_blank(p + 1);
		p = next_token(p, kw, sizeof kw);
	}
	return false;
}

bool dqlc__sql_sets_pragma(const char *sql, const char *name)
{
	char kw[64];
	const char *p = sql;
	while (*p != '\0') {
		p = next_token(p, kw, sizeof kw);
		if (strcmp(kw, "PRAGMA") != 0)
			continue;
		p = next_token(p, kw, sizeof kw);
		if (*skip_space(p) == '.') /* schema-qualified */
			p = next_token(next_token(p, kw, sizeof kw), kw, sizeof kw);
		if (strcmp(kw, name) != 0)
			continue;
		p = skip_space(p);
		if (*p == '=' || *p == '(')
			return true;
	}
	return false;
}
