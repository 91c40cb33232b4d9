/* The Streamable HTTP transport: MCP on one endpoint, /mcp, served by
 * libmicrohttpd on the gateway's libuv loop. */
#ifndef TOOLCELL_GATEWAY_HTTP_H
#define TOOLCELL_GATEWAY_HTTP_H

#include <stdbool.h>

#include <uv.h>

#include "gateway/door.h"
#include "gateway/mcp.h"

#define GW_HTTP_MAX_BODY (4 * 1024 * 1024)  /* one JSON-RPC message; 413 above */
#define GW_HTTP_MAX_HEADERS (16 * 1024)	    /* request line and headers; 431 above */
#define GW_HTTP_CONNECTION_MEMORY (32 * 1024) /* MHD's pool per connection */
#define GW_HTTP_MAX_CONNECTIONS 2500	    /* in total; more are refused at accept */
#define GW_HTTP_REQUEST_TIMEOUT_S 10	    /* to send a request's headers and body */
#define GW_HTTP_MAX_SESSION_CONNECTIONS 32  /* open requests of one session; 429 above */
#define GW_HTTP_MAX_SESSIONS 256	    /* live sessions; 503 for a new one above */
#define GW_HTTP_IDLE_TIMEOUT_S 30	    /* a connection with no traffic is closed */
#define GW_HTTP_SESSION_IDLE_S (30 * 60)    /* an idle session ends (404 afterwards) */
#define GW_HTTP_STREAM_KEEP (1024 * 1024)   /* bytes of one stream kept for a resume */

struct gw_http_opts {
	const char *addr; /* IPv4 or IPv6 literal to bind; NULL: 127.0.0.1 */
	unsigned port;	  /* 0: any free port (printed) */
	const char *token_file; /* NULL: a token is generated and printed once */
	bool no_auth;		/* --no-auth: no token at all (warned about) */
	const char *const *allow_origins; /* --allow-origin values */
	size_t nallow_origins;
};

/* Serves until SIGINT or SIGTERM (every running call is then killed). Prints
 * "toolcell: serving MCP at http://ADDR:PORT/mcp" on stderr once listening.
 * Returns 0 on a clean end, 1 if it could not serve, 2 on a bad option. */
int gw_http_serve(uv_loop_t *loop, struct gw_mcp *m, const struct gw_http_opts *o);

#endif
