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

int dqlc__sql_tx_effect(const char *sql)
{
	char kw[32], kw2[32];
	const char *p = next_token(skip_empty(sql), kw, sizeof kw);
	if (strcmp(kw, "BEGIN") == 0)
		return 1;
	if (strcmp(kw, "COMMIT") == 0 || strcmp(kw, "END") == 0)
		return -1;
	if (strcmp(kw, "ROLLBACK") == 0) {
		/* ROLLBACK [TRANSACTION] TO savepoint keeps the transaction. */
		p = next_token(p, kw2, sizeof kw2);
		if (strcmp(kw2, "TRANSACTION") == 0)
			next_token(p, kw2, sizeof kw2);
		return strcmp(kw2, "TO") == 0 ? 0 : -1;
	}
	return 0;
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
