/* Remembers, per node list, the last leader this process found, so that a
 * new connection asks it first (one round trip instead of a search). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cluster/discover.h"

#define SLOTS 16

struct slot {
	uint64_t key;
	char leader[256];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];
static unsigned next_slot;

static uint64_t key_of(const struct dqlc_config *cfg)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a over the node list */
	size_t i;
	const char *p;
	for (i = 0; i < cfg->n_nodes; i++) {
		for (p = cfg->nodes[i]; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		h = (h ^ ',') * 1099511628211ull;
	}
	return h ? h : 1;
}

void dqlc__leader_cache_get(const struct dqlc_config *cfg, char *out, size_t len)
{
	uint64_t k = key_of(cfg);
	size_t i;
	out[0] = '\0';
	pthread_mutex_lock(&mu);
	for (i = 0; i < SLOTS; i++)
		if (slots[i].key == k) {
			snprintf(out, len, "%s", slots[i].leader);
			break;
		}
	pthread_mutex_unlock(&mu);
}

void dqlc__leader_cache_put(const struct dqlc_config *cfg, const char *leader)
{
	uint64_t k = key_of(cfg);
	size_t i;
	pthread_mutex_lock(&mu);
	for (i = 0; i < SLOTS; i++)
		if (slots[i].key == k)
			break;
	if (i == SLOTS)
		i = next_slot++ % SLOTS;
	slots[i].key = k;
	snprintf(slots[i].leader, sizeof slots[i].leader, "%s", leader);
	pthread_mutex_unlock(&mu);
}

void dqlc__leader_cache_lock(void)
{
	pthread_mutex_lock(&mu);
}

void dqlc__leader_cache_unlock(void)
{
	pthread_mutex_unlock(&mu);
}
