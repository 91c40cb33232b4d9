/* The stdio transport: newline-delimited JSON-RPC on stdin/stdout. */
#ifndef TOOLCELL_GATEWAY_STDIO_H
#define TOOLCELL_GATEWAY_STDIO_H

#include <uv.h>

#include "gateway/mcp.h"

/* Longest message accepted on stdin. */
#define GW_STDIO_MAX_LINE (16 * 1024 * 1024)

/* Serves one client on in_fd/out_fd until EOF on in_fd (then running calls get
 * a short grace before they are killed) or SIGINT/SIGTERM (calls are killed at
 * once). Returns 0 on a clean end, 1 if the transport failed. */
/* Writes all of buf to a blocking fd, retrying on EINTR. Returns 0 or -1. */
int gw_write_all(int fd, const char *buf, size_t len);

int gw_stdio_serve(uv_loop_t *loop, struct gw_mcp *m, int in_fd, int out_fd);

#endif
