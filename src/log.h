/* The log hook: never print, only call the user's function. */
#ifndef DQLC_LOG_H
#define DQLC_LOG_H

#include "cfg.h"
#include "error.h"

/* Format and deliver `fmt` if the config has a hook at or below `level`.
 * Must be called with no library lock held. */
void dqlc__log(const struct dqlc_config *cfg, int level, const char *fmt, ...)
    DQLC__PRINTF(3, 4);

/* Deliver an event to the config's hook (no lock held). */
void dqlc__event(const struct dqlc_config *cfg, int type, const char *address,
		 const char *old_address, int code, int retries, int64_t duration_us);

#endif
