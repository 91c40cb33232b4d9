#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

static enum gw_log_level threshold = GW_LOG_INFO;

void gw_log_init(void)
{
	const char *v = getenv("TOOLCELL_LOG");

	if (!v)
		return;
	if (strcmp(v, "debug") == 0)
		threshold = GW_LOG_DEBUG;
	else if (strcmp(v, "warn") == 0)
		threshold = GW_LOG_WARN;
	else if (strcmp(v, "error") == 0)
		threshold = GW_LOG_ERROR;
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	char line[2048];
	va_list ap;
	int n;

	if (level < threshold)
		return;
	n = snprintf(line, sizeof(line), "toolcell: %s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line, so concurrent writers to the same stderr do not
	 * interleave inside a line. */
	fprintf(stderr, "%s\n", line);
}
