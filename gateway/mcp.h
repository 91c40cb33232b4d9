/* MCP methods over JSON-RPC, for any transport. A session is one client: it
 * gets messages from its transport and hands back lines to send. */
#ifndef TOOLCELL_GATEWAY_MCP_H
#define TOOLCELL_GATEWAY_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/call.h"
#include "gateway/manifest.h"

#define GW_MCP_LATEST_VERSION "2025-11-25"

struct gw_mcp;
struct gw_session;

/* The server: tools and what calls need. `tools` is borrowed and may be
 * replaced with gw_mcp_set_tools. */
struct gw_mcp *gw_mcp_new(struct gw_toolset *tools, const struct gw_call_env *env);
void gw_mcp_free(struct gw_mcp *m);

/* Replaces the tool set (takes ownership, frees the old one; calls in flight
 * keep their tool) and tells every initialized session the list changed. */
void gw_mcp_set_tools(struct gw_mcp *m, struct gw_toolset *tools);

/* How many tools are served now. */
size_t gw_mcp_tool_count(const struct gw_mcp *m);

/* send(ud, line, stream, final) takes ownership of a malloc'd line (no
 * trailing newline). `stream` is what gw_session_handle was given with the
 * request this line belongs to (its response, its progress and log
 * notifications), or NULL for messages of the session as a whole
 * (notifications/tools/list_changed). `final` marks the last line of a
 * request's stream: its response, or line == NULL when the request ends with
 * no response (a cancelled call). Transports with one stream (stdio) ignore
 * both. */
typedef void (*gw_send_fn)(void *ud, char *line, void *stream, bool final);

struct gw_session *gw_session_new(struct gw_mcp *m, gw_send_fn send, void *ud);

/* Handles one framed message; `stream` tags every line it causes. */
void gw_session_handle(struct gw_session *s, const char *buf, size_t len, void *stream);

/* Number of tool calls still running for this session. */
unsigned gw_session_inflight(const struct gw_session *s);

/* Cancels the calls whose requests came with `stream` (their transport
 * stream is gone): nothing more is sent to it, not even the final NULL. */
void gw_session_cancel_stream(struct gw_session *s, void *stream);

/* Cancels every running call (no results are sent). */
void gw_session_cancel_all(struct gw_session *s);

/* Frees the session. Calls still running are cancelled first and finish on
 * their own. */
void gw_session_free(struct gw_session *s);

#endif
