/* dqlc: statement splitting and classification (see shell-split.h). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "shell-split.h"

/* ---- Lexer --------------------------------------------------------------- */

enum lex {
	LEX_END = 0,    /* end of text */
	LEX_WS,         /* whitespace or a complete comment */
	LEX_SEMI,       /* ; */
	LEX_WORD,       /* a bare word (keyword or identifier) */
	LEX_QUOTED,     /* '...', "...", `...`, [...] */
	LEX_PUNCT,      /* any other character */
	LEX_INCOMPLETE, /* an unterminated string, identifier or comment */
};

/* SQLite's IdChar(): letters, digits, '_', '$' and every byte >= 0x80. */
static bool id_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* The token at text[*pos]; *pos advances past it, *start receives where it
 * began. */
static enum lex lex_next(const char *t, size_t len, size_t *pos, size_t *start)
{
	size_t i = *pos;
	unsigned char c;
	*start = i;
	if (i >= len)
		return LEX_END;
	c = (unsigned char)t[i];
	if (isspace(c)) {
		while (i < len && isspace((unsigned char)t[i]))
			i++;
		*pos = i;
		return LEX_WS;
	}
	if (c == '-' && i + 1 < len && t[i + 1] == '-') {
		while (i < len && t[i] != '\n')
			i++;
		*pos = i;
		return LEX_WS;
	}
	if (c == '/' && i + 1 < len && t[i + 1] == '*') {
		for (i += 2; i + 1 < len; i++) {
			if (t[i] == '*' && t[i + 1] == '/') {
				*pos = i + 2;
				return LEX_WS;
			}
		}
		*pos = len;
		return LEX_INCOMPLETE;
	}
	if (c == '\'' || c == '"' || c == '`' || c == '[') {
		char close = c == '[' ? ']' : (char)c;
		for (i++; i < len; i++) {
			if (t[i] == close) {
				/* A doubled quote ('') continues the string; scanning
				 * it as two adjacent strings gives the same answer. */
				*pos = i + 1;
				return LEX_QUOTED;
			}
		}
		*pos = len;
		return LEX_INCOMPLETE;
	}
	if (c == ';') {
		*pos = i + 1;
		return LEX_SEMI;
	}
	if (id_char(c) && !isdigit(c)) {
		while (i < len && id_char((unsigned char)t[i]))
			i++;
		*pos = i;
		return LEX_WORD;
	}
	*pos = i + 1;
	return LEX_PUNCT;
}

static bool word_is(const char *t, size_t start, size_t end, const char *kw)
{
	size_t n = strlen(kw);
	return end - start == n && strncasecmp(t + start, kw, n) == 0;
}

/* ---- Completeness: sqlite3_complete()'s automaton ------------------------- */

enum { TK_SEMI, TK_WS, TK_OTHER, TK_EXPLAIN, TK_CREATE, TK_TEMP, TK_TRIGGER, TK_END };

/* States: 0 INVALID, 1 START, 2 NORMAL, 3 EXPLAIN, 4 CREATE, 5 TRIGGER,
 * 6 SEMI (a ';' inside a trigger body), 7 END (END after such a ';'). */
static const unsigned char trans[8][8] = {
    /*            SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END */
    /* INVALID */ {1, 0, 2, 3, 4, 2, 2, 2},
    /* START   */ {1, 1, 2, 3, 4, 2, 2, 2},
    /* NORMAL  */ {1, 2, 2, 2, 2, 2, 2, 2},
    /* EXPLAIN */ {1, 3, 3, 2, 4, 2, 2, 2},
    /* CREATE  */ {1, 4, 2, 2, 2, 4, 5, 2},
    /* TRIGGER */ {6, 5, 5, 5, 5, 5, 5, 5},
    /* SEMI    */ {6, 6, 5, 5, 5, 5, 5, 7},
    /* END     */ {1, 7, 5, 5, 5, 5, 5, 5},
};

static int word_token(const char *t, size_t start, size_t end)
{
	if (word_is(t, start, end, "EXPLAIN"))
		return TK_EXPLAIN;
	if (word_is(t, start, end, "CREATE"))
		return TK_CREATE;
	if (word_is(t, start, end, "TEMP") || word_is(t, start, end, "TEMPORARY"))
		return TK_TEMP;
	if (word_is(t, start, end, "TRIGGER"))
		return TK_TRIGGER;
	if (word_is(t, start, end, "END"))
		return TK_END;
	return TK_OTHER;
}

size_t split_complete(const char *text, size_t len)
{
	size_t pos = 0, start;
	int state = 0, tk;
	for (;;) {
		switch (lex_next(text, len, &pos, &start)) {
		case LEX_END:
		case LEX_INCOMPLETE:
			return 0;
		case LEX_WS:
			tk = TK_WS;
			break;
		case LEX_SEMI:
			tk = TK_SEMI;
			break;
		case LEX_WORD:
			tk = word_token(text, start, pos);
			break;
		default:
			tk = TK_OTHER;
			break;
		}
		state = trans[state][tk];
		if (state == 1 && tk == TK_SEMI)
			return pos;
	}
}

size_t split_skip_blank(const char *text, size_t len, bool *open)
{
	size_t pos = 0, start;
	enum lex l;
	if (open != NULL)
		*open = false;
	for (;;) {
		l = lex_next(text, len, &pos, &start);
		if (l == LEX_WS)
			continue;
		if (l == LEX_INCOMPLETE && start + 1 < len && text[start] == '/' &&
		    text[start + 1] == '*') {
			if (open != NULL)
				*open = true;
			return len;
		}
		return l == LEX_END ? len : start;
	}
}

bool split_is_blank(const char *text, size_t len)
{
	size_t pos = 0, start;
	for (;;) {
		switch (lex_next(text, len, &pos, &start)) {
		case LEX_END:
			return true;
		case LEX_WS:
		case LEX_SEMI:
			continue;
		case LEX_INCOMPLETE:
			/* An unterminated comment is blank; a string is not. */
			return text[start] == '/';
		default:
			return false;
		}
	}
}

/* ---- Classification -------------------------------------------------------- */

/* The next significant token (whitespace and comments skipped). */
static enum lex sig_next(const char *t, size_t len, size_t *pos, size_t *start)
{
	enum lex l;
	do
		l = lex_next(t, len, pos, start);
	while (l == LEX_WS);
	return l;
}

static void copy_upper(const char *t, size_t start, size_t end, char *kw, size_t kwlen)
{
	size_t n = 0;
	for (size_t i = start; i < end && n + 1 < kwlen; i++)
		kw[n++] = (char)toupper((unsigned char)t[i]);
	kw[n] = '\0';
}

const char *split_first_keyword(const char *sql, size_t len, char *kw, size_t kwlen)
{
	size_t pos = 0, start;
	kw[0] = '\0';
	if (sig_next(sql, len, &pos, &start) == LEX_WORD)
		copy_upper(sql, start, pos, kw, kwlen);
	return kw;
}

static bool has_word(const char *t, size_t len, const char *word)
{
	size_t pos = 0, start;
	enum lex l;
	while ((l = lex_next(t, len, &pos, &start)) != LEX_END) {
		if (l == LEX_WORD && word_is(t, start, pos, word))
			return true;
	}
	return false;
}

/* After WITH: the first statement keyword outside parentheses. */
static enum split_kind classify_with(const char *t, size_t len, size_t pos)
{
	static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "REPLACE"};
	size_t start;
	int depth = 0;
	enum lex l;
	while ((l = lex_next(t, len, &pos, &start)) != LEX_END && l != LEX_INCOMPLETE) {
		if (l == LEX_PUNCT && t[start] == '(')
			depth++;
		else if (l == LEX_PUNCT && t[start] == ')')
			depth--;
		else if (l == LEX_WORD && depth == 0) {
			if (word_is(t, start, pos, "SELECT") || word_is(t, start, pos, "VALUES"))
				return SPLIT_QUERY;
			for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
				if (word_is(t, start, pos, writes[i]))
					return SPLIT_EXEC;
		}
	}
	return SPLIT_EXEC;
}

/* The name of a PRAGMA and whether it sets a value: *name_start/end
 * delimit the name.  False when sql is not a PRAGMA. */
static bool pragma_parts(const char *t, size_t len, size_t *ns, size_t *ne, bool *has_value)
{
	size_t pos = 0, start;
	enum lex l;
	if (sig_next(t, len, &pos, &start) != LEX_WORD || !word_is(t, start, pos, "PRAGMA"))
		return false;
	l = sig_next(t, len, &pos, &start);
	if (l != LEX_WORD && l != LEX_QUOTED)
		return false;
	*ns = start;
	*ne = pos;
	l = sig_next(t, len, &pos, &start);
	if (l == LEX_PUNCT && t[start] == '.') {
		sig_next(t, len, &pos, &start);
		*ns = start;
		*ne = pos;
		l = sig_next(t, len, &pos, &start);
	}
	*has_value = l == LEX_PUNCT && (t[start] == '=' || t[start] == '(');
	return true;
}

const char *split_refusal(const char *sql, size_t len)
{
	size_t ns, ne;
	bool has_value;
	if (has_word(sql, len, "RETURNING"))
		return "RETURNING is not supported: a dqlite 1.11 server fails the statement and "
		       "then crashes on the next connection (run the write, then SELECT the row)";
	if (pragma_parts(sql, len, &ns, &ne, &has_value) && has_value) {
		if (word_is(sql, ns, ne, "journal_mode"))
			return "changing journal_mode is not supported: dqlite needs WAL, and a "
			       "1.11 server crashes";
		if (word_is(sql, ns, ne, "page_size"))
			return "changing page_size is not supported: a dqlite 1.11 server crashes";
	}
	return NULL;
}

enum split_kind split_classify(const char *sql, size_t len)
{
	size_t pos = 0, start;
	if (has_word(sql, len, "RETURNING"))
		return SPLIT_EXEC;
	if (sig_next(sql, len, &pos, &start) != LEX_WORD)
		return SPLIT_EXEC;
	if (word_is(sql, start, pos, "SELECT") || word_is(sql, start, pos, "VALUES") ||
	    word_is(sql, start, pos, "EXPLAIN"))
		return SPLIT_QUERY;
	if (word_is(sql, start, pos, "WITH"))
		return classify_with(sql, len, pos);
	if (word_is(sql, start, pos, "PRAGMA")) {
		/* Queries, except those that write while returning a row: sent as
		 * exec, the server refuses the row instead of running an
		 * unreplicated write. */
		size_t ns, ne;
		bool has_value;
		if (!pragma_parts(sql, len, &ns, &ne, &has_value))
			return SPLIT_QUERY; /* let the server report the syntax error */
		if (word_is(sql, ns, ne, "wal_checkpoint") || word_is(sql, ns, ne, "optimize") ||
		    word_is(sql, ns, ne, "incremental_vacuum") ||
		    (has_value && (word_is(sql, ns, ne, "journal_mode") ||
				   word_is(sql, ns, ne, "locking_mode"))))
			return SPLIT_EXEC;
		return SPLIT_QUERY;
	}
	return SPLIT_EXEC;
}
