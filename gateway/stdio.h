/* The stdio transport: newline-delimited JSON-RPC on stdin/stdout. */
#ifndef TOOLCELL_GATEWAY_STDIO_H
#define TOOLCELL_GATEWAY_STDIO_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "gateway/mcp.h"

/* Longest message accepted on stdin. */
#define GW_STDIO_MAX_LINE (16 * 1024 * 1024)

/* Writes all of buf to a blocking fd, retrying on EINTR. Returns 0 or -1. */
int gw_write_all(int fd, const char *buf, size_t len);

/* Serves one client on in_fd/out_fd until EOF on in_fd (then running calls get
 * a short grace before they are killed) or SIGINT/SIGTERM (calls are killed at
 * once). Returns 0 on a clean end, 1 if the transport failed. */
int gw_stdio_serve(uv_loop_t *loop, struct gw_mcp *m, int in_fd, int out_fd);

/* The framing of stdin, pure (no I/O) so that it can be tested and fuzzed on
 * its own: a message is a line; a CR before the newline and blanks before the
 * message are dropped, blank lines are skipped, and a line longer than `max`
 * bytes is refused once (on_overlong) and dropped up to its newline. Set max,
 * the callbacks and ud; zero the rest. The message passed to on_message is
 * borrowed for the duration of the call. */
struct gw_stdio_framer {
	size_t max;
	void (*on_message)(void *ud, const char *msg, size_t len);
	void (*on_overlong)(void *ud);
	void *ud;
	char *buf; /* the partial line */
	size_t len, cap;
	bool discarding; /* inside an overlong line: drop until newline */
};

/* Feeds data[0..n), cut anywhere: every complete line is handled once. */
void gw_stdio_frame(struct gw_stdio_framer *f, const char *data, size_t n);

/* End of input: a final line without a newline is still a message. */
void gw_stdio_frame_end(struct gw_stdio_framer *f);

/* Frees the partial line; f may be fed again. */
void gw_stdio_framer_free(struct gw_stdio_framer *f);

#endif
