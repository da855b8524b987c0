#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void dqlc__log(const struct dqlc_config *cfg, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (cfg == NULL || cfg->log == NULL || level < cfg->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cfg->log(cfg->log_arg, level, msg);
}

void dqlc__event(const struct dqlc_config *cfg, int type, const char *address,
		 const char *old_address, int code, int retries, int64_t duration_us)
{
	dqlc_event_t ev;
	if (cfg == NULL || cfg->event == NULL)
		return;
	ev.type = type;
	ev.address = address ? address : "";
	ev.old_address = old_address ? old_address : "";
	ev.code = code;
	ev.retries = retries;
	ev.duration_us = duration_us;
	cfg->event(cfg->event_arg, &ev);
}
