/* Gateway logging: stderr only (stdout carries MCP messages on stdio). */
#ifndef TOOLCELL_GATEWAY_LOG_H
#define TOOLCELL_GATEWAY_LOG_H

enum gw_log_level { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR };

/* Messages below this level are dropped. Default GW_LOG_INFO;
 * TOOLCELL_LOG=debug|info|warn|error changes it at start-up. */
void gw_log_init(void);
void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
