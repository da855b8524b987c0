/* dqlc: a growable byte buffer (always NUL-terminated). */
#ifndef DQLC_SHELL_BUF_H
#define DQLC_SHELL_BUF_H

#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
};

#define SBUF_INIT {NULL, 0, 0}

/* Appenders abort the program when memory runs out (a shell has nothing
 * better to do). */
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void sbuf_consume(struct sbuf *b, size_t n);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);
/* The contents as a string ("" when empty). */
const char *sbuf_str(const struct sbuf *b);

/* malloc/strdup that abort when out of memory. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
