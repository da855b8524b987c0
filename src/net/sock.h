/* Sockets: dialing with deadlines and deadline-bounded reads and writes.
 * Every wait is a poll() on the socket plus an optional wakeup fd, so a
 * cancel or shutdown reaches a thread blocked in I/O. */
#ifndef DQLC_SOCK_H
#define DQLC_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* Start a non-blocking TCP connect to "host:port" (numeric hosts are not
 * resolved; names go through getaddrinfo).  On success *fd is a
 * non-blocking, close-on-exec socket whose connect may still be in
 * progress. */
int dqlc__sock_connect_start(const char *address, int *fd, dqlc_error_t *err);
/* After the socket polled writable: did the connect succeed? */
int dqlc__sock_connect_result(int fd, const char *address, dqlc_error_t *err);
/* TCP_NODELAY, keepalive as configured; no SIGPIPE is handled per send. */
void dqlc__sock_tune(int fd, const struct dqlc_config *cfg);
/* Dial and wait until connected or the deadline; uses the config's dial hook
 * when set.  *fd is non-blocking and close-on-exec. */
int dqlc__sock_dial(const struct dqlc_config *cfg, const char *address, int64_t deadline,
		    int *fd, dqlc_error_t *err);

/* ACK at once what arrives next.  dqlite servers stream a result as ~4 KiB
 * messages without TCP_NODELAY: with our ACKs delayed, Nagle holds each
 * next message back for the delayed-ACK time (~40 ms).  Linux clears this
 * after a while, so it is re-armed for every batch of a stream. */
void dqlc__sock_quickack(int fd);

/* Wait until fd is ready for `events` (POLLIN/POLLOUT), the deadline passes
 * (DQLC_ETIMEDOUT) or wake_fd (-1: none) becomes readable (DQLC_ECANCELED). */
int dqlc__sock_wait(int fd, short events, int64_t deadline, int wake_fd, dqlc_error_t *err);

/* One non-blocking step on the socket, or on the TLS session `tls` over it
 * (NULL: plain): 0 with *n > 0 bytes moved, DQLC__WANT_READ/WRITE, or an
 * error (EOF is DQLC_EIO). */
int dqlc__io_read_step(int fd, void *tls, void *buf, size_t cap, size_t *n, dqlc_error_t *err);
int dqlc__io_write_step(int fd, void *tls, const void *buf, size_t len, size_t *n,
			dqlc_error_t *err);

/* Write all of buf.  *sent tells how many bytes left the process, so that
 * callers can tell "nothing sent" (safe to retry) from "maybe executed". */
int dqlc__sock_write(int fd, void *tls, const void *buf, size_t len, int64_t deadline,
		     int wake_fd, size_t *sent, dqlc_error_t *err);
/* Read at least 1 and at most cap bytes.  EOF is DQLC_EIO.  wait_first:
 * poll before the first recv (right after sending a request the answer is
 * never there yet: this saves a recv that would only say EAGAIN). */
int dqlc__sock_read(int fd, void *tls, void *buf, size_t cap, size_t *got, int64_t deadline,
		    int wake_fd, bool wait_first, dqlc_error_t *err);

/* Complete a TLS handshake on a connected socket within the deadline. */
int dqlc__sock_tls_handshake(int fd, void *tls, const char *address, int64_t deadline,
			     dqlc_error_t *err);
/* Dial, then (when the config has TLS) start and finish the handshake;
 * *tls is the session or NULL. */
int dqlc__sock_dial_secure(const struct dqlc_config *cfg, const char *address,
			   int64_t deadline, int *fd, void **tls, dqlc_error_t *err);

#endif
