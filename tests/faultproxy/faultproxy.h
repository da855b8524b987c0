/*
 * faultproxy: loopback TCP proxies that break dqlite connections on
 * command, for the chaos program and for tests.
 *
 *   fp_t *fp = fp_new();
 *   char addr[32];
 *   int i = fp_add(fp, "127.0.0.1:9001", addr, sizeof addr);  // listens on addr
 *   ... point the client at addr ...
 *   fp_blackhole(fp, i, FP_TO_CLIENT, true);   // replies vanish
 *   fp_arm(fp, i, FP_ARM_RESET_MID_FRAME);     // next reply: half of it, then RST
 *   fp_clear(fp, -1);                          // heal every proxy
 *   fp_free(fp);
 *
 * One event-loop thread serves every proxy of an fp_t (non-blocking
 * sockets, poll()); the control calls below are thread-safe and take effect
 * at once (they wake the loop).
 *
 * Address rewriting.  dqlite nodes name themselves and each other in the
 * replies to LEADER (SERVER) and CLUSTER (SERVERS) by the address they were
 * started with.  A client that dials a proxy would follow those names
 * straight to the nodes, around the proxies.  So the proxy parses the
 * dqlite stream in both directions (version word, then frames) and rewrites
 * in SERVER and SERVERS replies every address that is the upstream of one
 * of this fp_t's proxies into that proxy's listen address (re-encoding the
 * frame when the length changes).  The nodes keep advertising their real
 * addresses to each other, so raft traffic does not pass through the
 * proxies: faults here hit client connections only (pause or kill nodes to
 * hit raft).  A connection on which a CONNECT request (raft's own) is seen
 * is relayed raw from then on.
 *
 * Faults (per proxy; i = -1 means every proxy):
 *  - delay: every chunk in that direction is held `ms` before it is sent;
 *  - stall: nothing more is read or sent in that direction (the kernel's
 *    buffers then fill, the peer's writes block); queued data is delivered
 *    once the stall is cleared;
 *  - black-hole: data in that direction is read and thrown away;
 *  - refuse: new connections are accepted and reset at once;
 *  - drop / reset: close every current connection now, with FIN / RST;
 *  - armed one-shot faults, fired by the next complete frame in their
 *    direction on any connection of the proxy: forward a part of the frame
 *    then RST (reset mid-frame) or FIN (truncate); or (replies only) corrupt
 *    the frame's header so that a client must see it is broken: a type no
 *    reply has, a length word beyond any sane limit, a length a few words
 *    too long (the client then waits for bytes that never come), or the
 *    ROWS end marker overwritten.  Replies are never corrupted in a way that
 *    could still decode as a valid, different reply (the chaos checker must
 *    be able to trust what the library reports), and requests are never
 *    corrupted (a malformed request can abort a 1.11 node).
 *
 * Every fault stays until cleared (fp_clear) or, for an armed fault, until
 * it fires.  Counters (fp_stats) say what fired.
 */
#ifndef DQLC_FAULTPROXY_H
#define DQLC_FAULTPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fp fp_t;

/* Directions. */
#define FP_TO_SERVER 1u
#define FP_TO_CLIENT 2u
#define FP_BOTH 3u

/* One-shot faults (fp_arm). */
typedef enum {
	FP_ARM_NONE = 0,
	FP_ARM_RESET_MID_REPLY,   /* part of the next reply, then RST both ways */
	FP_ARM_TRUNCATE_REPLY,    /* part of the next reply, then FIN both ways */
	FP_ARM_RESET_MID_REQUEST, /* part of the next request, then RST both ways */
	FP_ARM_CORRUPT_TYPE,      /* next reply: type byte set to one no reply has */
	FP_ARM_CORRUPT_LEN_HUGE,  /* next reply: length word 0x7fffffff */
	FP_ARM_CORRUPT_LEN_LONG,  /* next reply: length word + 1..4 words */
	FP_ARM_CORRUPT_MARKER,    /* next ROWS reply: end marker zeroed (others: type) */
	FP_ARM__COUNT
} fp_arm_t;

/* Counters of what the proxies did (fp_stats). */
typedef struct fp_stats {
	uint64_t accepted;       /* client connections accepted */
	uint64_t refused;        /* ... and reset at once (refuse) */
	uint64_t upstream_fail;  /* the node could not be reached: client reset */
	uint64_t dropped;        /* connections closed by fp_drop */
	uint64_t reset;          /* connections reset by fp_reset */
	uint64_t fired[FP_ARM__COUNT]; /* armed faults that fired */
	uint64_t rewritten;      /* SERVER/SERVERS replies rewritten */
	uint64_t blackholed;     /* bytes thrown away */
	uint64_t bytes_up, bytes_down; /* bytes relayed to servers / clients */
	int open;                /* connection pairs open now */
} fp_stats_t;

/* Start the loop thread.  NULL on failure (message on stderr). */
fp_t *fp_new(void);
/* Close every connection and listener, join the thread, free.  NULL-safe. */
void fp_free(fp_t *fp);

/* A new proxy in front of `upstream` ("a.b.c.d:port"), listening on a free
 * 127.0.0.1 port whose "127.0.0.1:port" goes into listen_addr.  Returns the
 * proxy's index (0, 1, ...) or -1. */
int fp_add(fp_t *fp, const char *upstream, char *listen_addr, size_t len);
/* The proxy's listen address (static until fp_free), NULL for a bad index. */
const char *fp_address(fp_t *fp, int i);
int fp_count(fp_t *fp);

/* Faults.  0, or -1 for a bad index/direction.  dir: FP_TO_* bits. */
int fp_delay(fp_t *fp, int i, unsigned dir, int ms); /* 0 clears */
int fp_stall(fp_t *fp, int i, unsigned dir, bool on);
int fp_blackhole(fp_t *fp, int i, unsigned dir, bool on);
int fp_refuse(fp_t *fp, int i, bool on);
int fp_drop(fp_t *fp, int i);  /* FIN every current connection */
int fp_reset(fp_t *fp, int i); /* RST every current connection */
int fp_arm(fp_t *fp, int i, fp_arm_t what);
/* Clear every fault of proxy i (-1: all): delays, stalls, black-holes,
 * refuse and armed faults.  Current connections stay. */
int fp_clear(fp_t *fp, int i);

/* Connection pairs open through proxy i (-1: all). */
int fp_open_connections(fp_t *fp, int i);
/* Wait until no connection is open (after the client closed its sockets,
 * the loop sees EOF and closes its side); true if that happened within
 * timeout_ms. */
bool fp_wait_idle(fp_t *fp, int timeout_ms);

void fp_stats(fp_t *fp, fp_stats_t *out);
const char *fp_arm_name(fp_arm_t what);

#endif
