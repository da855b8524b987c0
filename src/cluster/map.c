/* The cluster map and its discovery thread.  The thread owns a control
 * connection to the leader: a periodic refresh is one LEADER and one
 * CLUSTER request on it; a full search happens only when that fails or a
 * worker reports the leader gone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster/discover.h"
#include "cluster/map.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "sync.h"

static void free_cands(char **c, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(c[i]);
	free(c);
}

static int push_cand(char ***c, size_t *n, const char *addr)
{
	size_t i;
	char **grown, *copy;
	for (i = 0; i < *n; i++)
		if (strcmp((*c)[i], addr) == 0)
			return 0;
	copy = strdup(addr);
	grown = copy ? realloc(*c, (*n + 1) * sizeof **c) : NULL;
	if (grown == NULL) {
		free(copy);
		return DQLC_ENOMEM;
	}
	grown[(*n)++] = copy;
	*c = grown;
	return 0;
}

/* Candidates: voters, then standbys, then spares, then the seeds. */
static int build_cands(const struct dqlc_config *cfg, const dqlc_node_info_t *members,
		       size_t n_members, char ***out, size_t *n_out)
{
	char **c = NULL;
	size_t n = 0, i;
	int role, rv = 0;
	for (role = DQLC_ROLE_VOTER; role <= DQLC_ROLE_SPARE && rv == 0; role++)
		for (i = 0; i < n_members && rv == 0; i++)
			if (members[i].role == role)
				rv = push_cand(&c, &n, members[i].address);
	for (i = 0; i < cfg->n_nodes && rv == 0; i++)
		rv = push_cand(&c, &n, cfg->nodes[i]);
	if (rv != 0) {
		free_cands(c, n);
		return rv;
	}
	*out = c;
	*n_out = n;
	return 0;
}

int dqlc__map_init(struct dqlc__map *m, const struct dqlc_config *cfg, dqlc_error_t *err)
{
	pthread_condattr_t ca;
	memset(m, 0, sizeof *m);
	m->cfg = cfg;
	if (build_cands(cfg, NULL, 0, &m->cands, &m->n_cands) != 0)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		free_cands(m->cands, m->n_cands);
		return dqlc__err_sys(err, DQLC_ENOMEM, errno, "eventfd");
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv_leader, &ca);
	pthread_cond_init(&m->cv_thread, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

/* Ask the control connection whether its node still leads. */
static bool control_confirms(struct dqlc__map *m)
{
	dqlc_node_info_t who;
	if (m->control == NULL || !dqlc_conn_usable(m->control))
		return false;
	if (dqlc_conn_leader(m->control, &who, NULL) != 0)
		return false;
	return strcmp(who.address, m->control->address) == 0;
}

/* The control connection belongs to the discovery thread, which alone
 * uses it; but the atfork child handler reads the pointer (under m->mu) to
 * close its socket, so it changes only under m->mu, and the old one is
 * destroyed after the swap. */
static void set_control(struct dqlc__map *m, struct dqlc_conn *c)
{
	struct dqlc_conn *old;
	pthread_mutex_lock(&m->mu);
	old = m->control;
	m->control = c;
	pthread_mutex_unlock(&m->mu);
	dqlc__conn_destroy(old);
}

/* Order members voters, standbys, spares, unknown roles, keeping the
 * server's order within a role (dqlc_pool_cluster promises voters first;
 * CLUSTER lists them in configuration order). */
static void sort_members(dqlc_node_info_t *nodes, size_t n)
{
	size_t i, j;
	for (i = 1; i < n; i++) {
		dqlc_node_info_t x = nodes[i];
		unsigned rank = (unsigned)x.role; /* -1 (unknown) ranks last */
		for (j = i; j > 0 && (unsigned)nodes[j - 1].role > rank; j--)
			nodes[j] = nodes[j - 1];
		nodes[j] = x;
	}
}

/* One refresh, with no lock held: find (or confirm) the leader, then read
 * the members from it.  After a reported failure (suspect) the control
 * connection is not asked: its node may be the very one that stopped
 * answering, and asking would cost a whole control timeout. */
static int refresh_once(struct dqlc__map *m, char **cands, size_t n, const char *hint,
			bool suspect, dqlc_node_info_t **members, size_t *n_members,
			dqlc_error_t *err)
{
	int rv;
	if (suspect || !control_confirms(m)) {
		dqlc__leader_t l;
		struct dqlc_conn *c;
		set_control(m, NULL);
		rv = dqlc__find_leader(m->cfg, (const char *const *)cands, n, hint,
				       dqlc__deadline_in(m->cfg->connect_timeout_ms), m->wake_fd,
				       &l, err);
		if (rv != 0)
			return rv;
		rv = dqlc__conn_new((struct dqlc_config *)m->cfg, false, l.address, l.fd, l.tls,
				    true, &c, err);
		if (rv != 0)
			return rv;
		c->node_id = l.id;
		/* Control requests are tiny: a node that cannot answer one in
		 * a dial timeout is as good as gone. */
		c->timeout_ms = m->cfg->dial_timeout_ms * 2;
		set_control(m, c);
	}
	rv = dqlc_conn_cluster(m->control, members, n_members, err);
	if (rv != 0) {
		set_control(m, NULL);
	} else {
		sort_members(*members, *n_members);
	}
	return rv;
}

static void *thread_main(void *arg)
{
	struct dqlc__map *m = arg;
	int failures = 0;
	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		int64_t period = m->cfg->leader_refresh_ms, now = dqlc__now_ns();
		bool due = !m->known || m->refresh ||
			   (period > 0 && now - m->last_refresh_ns >= period * 1000000);
		char **cands = NULL, hint[256], old[256];
		size_t n = 0, n_members = 0;
		dqlc_node_info_t *members = NULL;
		dqlc_error_t err;
		bool suspect;
		int rv;
		if (!due) {
			dqlc__cond_wait_until(&m->cv_thread, &m->mu,
				   period > 0 ? m->last_refresh_ns + period * 1000000
					      : DQLC__NO_DEADLINE);
			continue;
		}
		m->refresh = false;
		/* After a reported failure the old leader is not asked first:
		 * it may be the very node that stopped answering. */
		snprintf(hint, sizeof hint, "%s", m->known ? m->leader : "");
		snprintf(old, sizeof old, "%s", m->known ? m->leader : m->last_leader);
		suspect = !m->known;
		rv = build_cands(m->cfg, m->members, m->n_members, &cands, &n);
		pthread_mutex_unlock(&m->mu);

		memset(&err, 0, sizeof err);
		if (rv == 0)
			rv = refresh_once(m, cands, n, hint, suspect, &members, &n_members, &err);
		else
			dqlc__err(&err, rv, "out of memory");
		free_cands(cands, n);
		if (rv == 0 && strcmp(old, m->control->address) != 0) {
			dqlc__log(m->cfg, DQLC_LOG_INFO, "leader %s%s%s", old[0] ? old : "",
				  old[0] ? " -> " : "is ", m->control->address);
			dqlc__event(m->cfg, DQLC_EVENT_LEADER_CHANGED, m->control->address, old, 0, 0,
				    0);
		}
		if (rv != 0 && rv != DQLC_ECANCELED)
			dqlc__log(m->cfg, DQLC_LOG_WARN, "leader search failed: %s", err.message);

		pthread_mutex_lock(&m->mu);
		m->last_refresh_ns = dqlc__now_ns();
		if (rv == 0) {
			char **nc = NULL;
			size_t nn = 0;
			if (!m->known || strcmp(m->leader, m->control->address) != 0) {
				m->gen++;
				if (m->last_leader[0] != '\0' &&
				    strcmp(m->last_leader, m->control->address) != 0)
					m->changes++;
			}
			snprintf(m->leader, sizeof m->leader, "%s", m->control->address);
			snprintf(m->last_leader, sizeof m->last_leader, "%s", m->leader);
			m->leader_id = m->control->node_id;
			m->known = true;
			free(m->members);
			m->members = members;
			m->n_members = n_members;
			if (build_cands(m->cfg, members, n_members, &nc, &nn) == 0) {
				free_cands(m->cands, m->n_cands);
				m->cands = nc;
				m->n_cands = nn;
			}
			failures = 0;
		} else {
			free(members);
			if (m->known) {
				m->known = false;
				m->gen++;
			}
			m->last_err = err;
			/* Searching again at once would spin when the cluster
			 * is down and nobody waits: back off unless asked. */
			if (!m->stop && !m->refresh && m->waiters == 0) {
				int64_t wait = m->cfg->backoff_cap_ms << (failures < 4 ? failures : 4);
				failures++;
				dqlc__cond_wait_until(&m->cv_thread, &m->mu, dqlc__deadline_in(wait));
			}
		}
		pthread_cond_broadcast(&m->cv_leader);
		if (rv == 0 && m->on_refresh != NULL && !m->stop) {
			pthread_mutex_unlock(&m->mu);
			m->on_refresh(m->on_refresh_arg);
			pthread_mutex_lock(&m->mu);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* m->mu held. */
static int ensure_thread(struct dqlc__map *m, dqlc_error_t *err)
{
	int rv;
	if (m->running)
		return 0;
	if (m->stop)
		return dqlc__err(err, DQLC_ECLOSED, "pool is closing");
	{
		/* Like the workers, the discovery thread takes no signals. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		rv = pthread_create(&m->thread, NULL, thread_main, m);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rv != 0)
		return dqlc__err_sys(err, DQLC_ENOMEM, rv, "starting the discovery thread");
	m->running = true;
	return 0;
}

int dqlc__map_leader(struct dqlc__map *m, int64_t deadline, char *addr, size_t len,
		     uint64_t *gen, dqlc_error_t *err)
{
	int rv = 0;
	pthread_mutex_lock(&m->mu);
	if ((rv = ensure_thread(m, err)) != 0)
		goto out;
	m->waiters++;
	while (!m->known && !m->stop) {
		if (dqlc__deadline_passed(deadline)) {
			if (m->last_err.code != 0) {
				if (err != NULL)
					*err = m->last_err;
				rv = m->last_err.code;
			} else {
				rv = dqlc__err(err, DQLC_ETIMEDOUT,
					       "deadline exceeded while looking for the leader");
			}
			break;
		}
		m->refresh = true;
		pthread_cond_signal(&m->cv_thread);
		dqlc__cond_wait_until(&m->cv_leader, &m->mu, deadline);
	}
	m->waiters--;
	if (rv == 0 && m->stop)
		rv = dqlc__err(err, DQLC_ECLOSED, "pool is closing");
	if (rv == 0) {
		snprintf(addr, len, "%s", m->leader);
		*gen = m->gen;
	}
out:
	pthread_mutex_unlock(&m->mu);
	return rv;
}

void dqlc__map_invalidate(struct dqlc__map *m, uint64_t gen)
{
	char lost[256] = "";
	pthread_mutex_lock(&m->mu);
	if (m->known && m->gen == gen) {
		m->known = false;
		m->gen++;
		m->refresh = true;
		snprintf(lost, sizeof lost, "%s", m->leader);
		pthread_cond_signal(&m->cv_thread);
	}
	pthread_mutex_unlock(&m->mu);
	if (lost[0] != '\0') {
		dqlc__log(m->cfg, DQLC_LOG_INFO, "leader %s lost; searching", lost);
		dqlc__event(m->cfg, DQLC_EVENT_LEADER_LOST, lost, NULL, 0, 0, 0);
	}
}

void dqlc__map_refresh(struct dqlc__map *m)
{
	pthread_mutex_lock(&m->mu);
	m->refresh = true;
	if (m->running)
		pthread_cond_signal(&m->cv_thread);
	pthread_mutex_unlock(&m->mu);
}

uint64_t dqlc__map_gen(struct dqlc__map *m)
{
	uint64_t g;
	pthread_mutex_lock(&m->mu);
	g = m->gen;
	pthread_mutex_unlock(&m->mu);
	return g;
}

int dqlc__map_snapshot(struct dqlc__map *m, dqlc_node_info_t **nodes, size_t *n, char *leader,
		       size_t leader_len, dqlc_error_t *err)
{
	pthread_mutex_lock(&m->mu);
	*nodes = malloc((m->n_members > 0 ? m->n_members : 1) * sizeof **nodes);
	if (*nodes == NULL) {
		pthread_mutex_unlock(&m->mu);
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	if (m->n_members > 0)
		memcpy(*nodes, m->members, m->n_members * sizeof **nodes);
	*n = m->n_members;
	if (leader != NULL)
		snprintf(leader, leader_len, "%s", m->known ? m->leader : "");
	pthread_mutex_unlock(&m->mu);
	return 0;
}

void dqlc__map_stop(struct dqlc__map *m)
{
	uint64_t one = 1;
	bool join;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	join = m->running;
	m->running = false;
	pthread_cond_broadcast(&m->cv_thread);
	pthread_cond_broadcast(&m->cv_leader);
	pthread_mutex_unlock(&m->mu);
	if (write(m->wake_fd, &one, sizeof one) < 0) {
		/* the counter is already non-zero: the thread wakes anyway */
	}
	if (join)
		pthread_join(m->thread, NULL);
	set_control(m, NULL);
}

void dqlc__map_destroy(struct dqlc__map *m)
{
	dqlc__map_stop(m);
	close(m->wake_fd);
	free_cands(m->cands, m->n_cands);
	free(m->members);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv_leader);
	pthread_cond_destroy(&m->cv_thread);
}
