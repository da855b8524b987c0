/*
 * fakenode: a hostile dqlite node for tests.
 *
 * It listens on a free 127.0.0.1 port, speaks the handshake, answers
 * LEADER with itself (so clients take it for the leader), and answers every
 * request with a reply built like a real node's (SERVER, WELCOME, DB, STMT,
 * RESULT, ROWS in one or several batches, EMPTY, SERVERS, METADATA, FILES)
 * that is then, by chance, mutated: truncated (then FIN, RST or silence),
 * not sent at all (stall, reset, close), sent with a length word that is
 * huge, zero, short or long, with a wrong type, bad text padding, a text
 * without its NUL, random bits flipped, replaced by garbage or by a FAILURE
 * with any code (NOT_LEADER, LEADERSHIP_LOST, BUSY, 0, huge...), followed
 * by an extra unsolicited frame, dribbled a byte at a time, or for ROWS:
 * no end marker, a huge column count, bad type nibbles, a PART batch and
 * then silence or a FAILURE, later batches with another column count, a
 * huge row header, a blob claiming 2^63 bytes.
 *
 * Mutations come from a xorshift PRNG seeded by the plan (fn_set_plan) and
 * the order of replies, so one client doing one thing at a time sees the
 * same replies for the same seed.
 *
 * One thread accepts; each connection has a thread of its own; fn_stop()
 * shuts every socket down and joins them all.  A stall lasts until the
 * client closes its side or fn_stop (or stall_max_ms, if set).
 */
#ifndef DQLC_FAKENODE_H
#define DQLC_FAKENODE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fn fn_t;

typedef enum {
	FN_VALID = 0,
	FN_TRUNC_CLOSE,  /* part of the reply, then FIN */
	FN_TRUNC_RST,    /* part of the reply, then RST */
	FN_TRUNC_STALL,  /* part of the reply, then nothing */
	FN_STALL,        /* no reply at all */
	FN_RESET,        /* RST instead of a reply */
	FN_CLOSE,        /* FIN instead of a reply */
	FN_LEN_HUGE,     /* length word 0xffffffff or 0x7fffffff or 2^24 */
	FN_LEN_ZERO,     /* length word 0 */
	FN_LEN_SHORT,    /* length word smaller than the body sent */
	FN_LEN_LONG,     /* length word larger than the body sent */
	FN_WRONG_TYPE,   /* another type code (any of 0..255) */
	FN_BAD_PADDING,  /* non-zero bytes after a text's NUL */
	FN_TEXT_NO_NUL,  /* every byte of the last word non-zero */
	FN_BITFLIP,      /* 1..8 random bits flipped, header included */
	FN_GARBAGE,      /* random bytes instead of the reply */
	FN_FAILURE,      /* a FAILURE with some code instead of the reply */
	FN_EXTRA_FRAME,  /* the reply, then an unsolicited frame */
	FN_DRIBBLE,      /* the reply one byte at a time, 0-3 ms apart */
	FN_ROWS_NO_MARKER,
	FN_ROWS_HUGE_COLS,
	FN_ROWS_BAD_TYPE,
	FN_ROWS_PART_STALL,
	FN_ROWS_PART_FAILURE,
	FN_ROWS_COLS_CHANGE,
	FN_HUGE_COUNT,   /* SERVERS/FILES count, a blob length of 2^62, a STMT
			    claiming 2^20 or 2^40 parameters */
	FN__COUNT
} fn_mut_t;

typedef struct fn_plan {
	uint64_t seed;
	int mutate_pct;       /* 0..100: chance that a reply is mutated */
	bool spare_handshake; /* LEADER, CLIENT, OPEN and CLUSTER replies stay
				 valid (discovery and connecting succeed) */
	int only;             /* -1: any mutation; else only this fn_mut_t */
	int stall_max_ms;     /* 0: a stall lasts until the client goes */
} fn_plan_t;

/* Start listening (a thread).  NULL on failure (message on stderr). */
fn_t *fn_start(void);
/* "127.0.0.1:port"; valid until fn_stop. */
const char *fn_address(const fn_t *fn);
/* Replace the plan (applies from the next reply; also restarts the PRNG). */
void fn_set_plan(fn_t *fn, const fn_plan_t *plan);
/* Close everything, join every thread, free.  NULL-safe. */
void fn_stop(fn_t *fn);

/* Replies sent so far by mutation, and connections accepted. */
uint64_t fn_count(fn_t *fn, fn_mut_t m);
uint64_t fn_connections(fn_t *fn);
/* Connections whose thread is still running. */
int fn_open_connections(fn_t *fn);
const char *fn_mut_name(fn_mut_t m);

#endif
