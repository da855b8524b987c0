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
