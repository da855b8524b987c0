/* TCP sockets with poll()-based deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "net/sock.h"
#include "net/tls.h"

static int resolve(const char *address, struct sockaddr_storage *sa, socklen_t *len,
		   dqlc_error_t *err)
{
	char host[256], port_s[8];
	struct addrinfo hints, *res = NULL;
	int port, rv;
	rv = dqlc__parse_address(address, host, sizeof host, &port, err);
	if (rv != 0)
		return rv;
	snprintf(port_s, sizeof port_s, "%d", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	rv = getaddrinfo(host, port_s, &hints, &res);
	if (rv == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV;
		rv = getaddrinfo(host, port_s, &hints, &res);
	}
	if (rv != 0 || res == NULL)
		return dqlc__err(err, DQLC_ECONNECT, "%s: cannot resolve host: %s", address,
				 gai_strerror(rv));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int dqlc__sock_connect_start(const char *address, int *fd, dqlc_error_t *err)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	int s, rv;
	rv = resolve(address, &sa, &len, err);
	if (rv != 0)
		return rv;
	s = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return dqlc__err_sys(err, DQLC_ECONNECT, errno, "%s: socket", address);
	if (connect(s, (struct sockaddr *)&sa, len) != 0 && errno != EINPROGRESS) {
		int e = errno;
		close(s);
		return dqlc__err_sys(err, DQLC_ECONNECT, e, "%s: connect", address);
	}
	*fd = s;
	return 0;
}

int dqlc__sock_connect_result(int fd, const char *address, dqlc_error_t *err)
{
	int so = 0;
	socklen_t len = sizeof so;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
		so = errno;
	if (so != 0)
		return dqlc__err_sys(err, DQLC_ECONNECT, so, "%s: connect", address);
	return 0;
}

void dqlc__sock_tune(int fd, const struct dqlc_config *cfg)
{
	int one = 1;
	/* Requests are small and latency-bound: never wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (cfg->keepalive) {
		/* dqlite has no usable heartbeat: let TCP notice dead peers. */
		int idle = 30, intvl = 10, cnt = 3;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	}
}

void dqlc__sock_quickack(int fd)
{
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

int dqlc__sock_wait(int fd, short events, int64_t deadline, int wake_fd, dqlc_error_t *err)
{
	struct pollfd p[2];
	nfds_t n = 1;
	p[0].fd = fd;
	p[0].events = events;
	if (wake_fd >= 0) {
		p[1].fd = wake_fd;
		p[1].events = POLLIN;
		n = 2;
	}
	for (;;) {
		int ms = dqlc__ms_left(deadline), rv;
		if (ms == 0 && deadline != DQLC__NO_DEADLINE)
			return dqlc__err(err, DQLC_ETIMEDOUT, "deadline exceeded waiting for the server");
		p[0].revents = 0;
		if (n == 2)
			p[1].revents = 0;
		rv = poll(p, n, ms);
		if (rv < 0) {
			if (errno == EINTR)
				continue;
			return dqlc__err_sys(err, DQLC_EIO, errno, "poll");
		}
		if (n == 2 && p[1].revents != 0)
			return dqlc__err(err, DQLC_ECANCELED, "canceled");
		if (rv > 0 && p[0].revents != 0)
			return 0; /* ready, or an error the next syscall reports */
	}
}

int dqlc__sock_dial(const struct dqlc_config *cfg, const char *address, int64_t deadline,
		    int *fd, dqlc_error_t *err)
{
	int rv, s;
	int64_t dl = dqlc__deadline_min(deadline, dqlc__deadline_in(cfg->dial_timeout_ms));
	if (cfg->dial != NULL) {
		int ms = dqlc__ms_left(dl), e;
		if (ms == 0)
			return dqlc__err(err, DQLC_ETIMEDOUT, "%s: no time left to dial", address);
		s = -1;
		e = cfg->dial(cfg->dial_arg, address, ms < 0 ? INT32_MAX : ms, &s);
		if (e != 0 || s < 0)
			return dqlc__err_sys(err, DQLC_ECONNECT, e ? e : EINVAL, "%s: dial hook",
					     address);
		fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
		fcntl(s, F_SETFD, FD_CLOEXEC);
		dqlc__sock_tune(s, cfg);
		*fd = s;
		return 0;
	}
	rv = dqlc__sock_connect_start(address, &s, err);
	if (rv != 0)
		return rv;
	rv = dqlc__sock_wait(s, POLLOUT, dl, -1, err);
	if (rv == DQLC_ETIMEDOUT)
		rv = dqlc__err(err, DQLC_ECONNECT, "%s: connect timed out", address);
	if (rv == 0)
		rv = dqlc__sock_connect_result(s, address, err);
	if (rv != 0) {
		close(s);
		return rv;
	}
	dqlc__sock_tune(s, cfg);
	*fd = s;
	return 0;
}

int dqlc__io_read_step(int fd, void *tls, void *buf, size_t cap, size_t *n, dqlc_error_t *err)
{
	ssize_t got;
	if (tls != NULL)
		return dqlc__tls_read(tls, buf, cap, n, err);
	for (;;) {
		got = recv(fd, buf, cap, MSG_DONTWAIT);
		if (got > 0) {
			*n = (size_t)got;
			return 0;
		}
		if (got == 0)
			return dqlc__err(err, DQLC_EIO, "connection closed by the server");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return DQLC__WANT_READ;
		return dqlc__err_sys(err, DQLC_EIO, errno, "recv");
	}
}

int dqlc__io_write_step(int fd, void *tls, const void *buf, size_t len, size_t *n,
			dqlc_error_t *err)
{
	ssize_t put;
	if (tls != NULL)
		return dqlc__tls_write(tls, buf, len, n, err);
	for (;;) {
		put = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (put >= 0) {
			*n = (size_t)put;
			return put > 0 ? 0 : DQLC__WANT_WRITE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return DQLC__WANT_WRITE;
		return dqlc__err_sys(err, DQLC_EIO, errno, "send");
	}
}

/* Wait for what a step asked for. */
static int wait_for(int fd, int want, int64_t deadline, int wake_fd, dqlc_error_t *err)
{
	return dqlc__sock_wait(fd, want == DQLC__WANT_READ ? POLLIN : POLLOUT, deadline, wake_fd,
			       err);
}

int dqlc__sock_write(int fd, void *tls, const void *buf, size_t len, int64_t deadline,
		     int wake_fd, size_t *sent, dqlc_error_t *err)
{
	const char *p = buf;
	size_t done = 0;
	int rv;
	while (done < len) {
		size_t n = 0;
		rv = dqlc__io_write_step(fd, tls, p + done, len - done, &n, err);
		if (rv == 0) {
			done += n;
			continue;
		}
		if (rv == DQLC__WANT_READ || rv == DQLC__WANT_WRITE)
			rv = wait_for(fd, rv, deadline, wake_fd, err);
		if (rv != 0) {
			*sent = done;
			return rv;
		}
	}
	*sent = done;
	return 0;
}

int dqlc__sock_read(int fd, void *tls, void *buf, size_t cap, size_t *got, int64_t deadline,
		    int wake_fd, bool wait_first, dqlc_error_t *err)
{
	if (wait_first && tls == NULL) {
		int rv = wait_for(fd, DQLC__WANT_READ, deadline, wake_fd, err);
		if (rv != 0)
			return rv;
	}
	for (;;) {
		int rv = dqlc__io_read_step(fd, tls, buf, cap, got, err);
		if (rv != DQLC__WANT_READ && rv != DQLC__WANT_WRITE)
			return rv;
		rv = wait_for(fd, rv, deadline, wake_fd, err);
		if (rv != 0)
			return rv;
	}
}

int dqlc__sock_tls_handshake(int fd, void *tls, const char *address, int64_t deadline,
			     dqlc_error_t *err)
{
	for (;;) {
		int rv = dqlc__tls_handshake_step(tls, address, err);
		if (rv != DQLC__WANT_READ && rv != DQLC__WANT_WRITE)
			return rv;
		rv = wait_for(fd, rv, deadline, -1, err);
		if (rv == DQLC_ETIMEDOUT)
			return dqlc__err(err, DQLC_ETLS, "%s: TLS handshake timed out", address);
		if (rv != 0)
			return rv;
	}
}

int dqlc__sock_dial_secure(const struct dqlc_config *cfg, const char *address,
			   int64_t deadline, int *fd, void **tls, dqlc_error_t *err)
{
	int rv = dqlc__sock_dial(cfg, address, deadline, fd, err);
	*tls = NULL;
	if (rv != 0 || cfg->tls_ctx == NULL)
		return rv;
	rv = dqlc__tls_new(cfg, *fd, address, tls, err);
	if (rv == 0)
		rv = dqlc__sock_tls_handshake(*fd, *tls, address, deadline, err);
	if (rv != 0) {
		dqlc__tls_free(*tls);
		*tls = NULL;
		close(*fd);
		*fd = -1;
	}
	return rv;
}
