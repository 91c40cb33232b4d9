/* stdio transport. Only MCP messages go to stdout; logs go to stderr. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/jsonrpc.h"
#include "gateway/log.h"
#include "gateway/stdio.h"

#define EOF_GRACE_MS 2000

struct out_req {
	uv_write_t req;
	char *line;
};

struct stdio_srv {
	uv_loop_t *loop;
	struct gw_session *session;
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
	} in;
	bool in_is_stream, in_file;
	uv_fs_t fs_req;
	char fs_buf[64 * 1024];
	int in_fd, out_fd;
	uv_pipe_t out;
	bool out_is_stream;
	size_t writes_pending;
	uv_timer_t poll_timer;
	uv_signal_t sigint, sigterm;
	struct gw_stdio_framer fr;
	bool eof;
	uint64_t eof_at;
	bool killed;
	bool closing;
	int status;
};

static void on_written(uv_write_t *w, int status)
{
	struct out_req *o = (struct out_req *)w;
	struct stdio_srv *srv = w->data;

	if (status < 0 && !srv->eof) {
		gw_log(GW_LOG_ERROR, "writing to stdout: %s", uv_strerror(status));
		srv->status = 1;
	}
	srv->writes_pending--;
	free(o->line);
	free(o);
}

int gw_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* gw_send_fn: takes ownership of line. One stream: the tags are not needed. */
static void send_out(void *ud, char *line, void *stream, bool final)
{
	struct stdio_srv *srv = ud;
	(void)stream;
	(void)final;
	if (!line)
		return;
	size_t n = strlen(line);
	char *l = realloc(line, n + 2);

	if (!l) {
		free(line);
		return;
	}
	l[n] = '\n';
	l[n + 1] = '\0';
	if (srv->out_is_stream) {
		struct out_req *o = malloc(sizeof(*o));
		if (!o) {
			free(l);
			return;
		}
		o->line = l;
		o->req.data = srv;
		uv_buf_t b = uv_buf_init(l, (unsigned)(n + 1));
		if (uv_write(&o->req, (uv_stream_t *)&srv->out, &b, 1, on_written) < 0) {
			free(l);
			free(o);
			srv->status = 1;
			return;
		}
		srv->writes_pending++;
		return;
	}
	/* A file or terminal on stdout: plain blocking writes. */
	if (gw_write_all(srv->out_fd, l, n + 1) < 0)
		srv->status = 1;
	free(l);
}

/* One line: blanks before the message and a CR before the newline are not
 * part of it; a line with nothing else is no message. */
static void frame_line(struct gw_stdio_framer *f, const char *line, size_t len)
{
	size_t k = 0;

	if (len && line[len - 1] == '\r')
		len--;
	while (k < len && (line[k] == ' ' || line[k] == '\t'))
		k++;
	if (k < len)
		f->on_message(f->ud, line + k, len - k);
}

void gw_stdio_frame(struct gw_stdio_framer *f, const char *data, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t take = nl ? (size_t)(nl - (data + i)) : n - i;

		if (!f->discarding) {
			if (f->len + take > f->max) {
				/* Refuse the message, not the session. */
				f->on_overlong(f->ud);
				f->discarding = true;
				f->len = 0;
			} else if (take > 0) {
				/* Nothing to append to an empty line: buf may
				 * still be NULL, and NULL + 0 is undefined. */
				if (f->len + take > f->cap) {
					size_t cap = f->cap ? f->cap : 4096;
					while (cap < f->len + take)
						cap *= 2;
					char *b = realloc(f->buf, cap);
					if (!b) {
						f->discarding = true;
						f->len = 0;
						goto next;
					}
					f->buf = b;
					f->cap = cap;
				}
				memcpy(f->buf + f->len, data + i, take);
				f->len += take;
			}
		}
	next:
		i += take;
		if (!nl)
			break;
		i++; /* the newline */
		if (!f->discarding)
			frame_line(f, f->buf, f->len);
		f->discarding = false;
		f->len = 0;
	}
}

void gw_stdio_frame_end(struct gw_stdio_framer *f)
{
	if (f->len && !f->discarding)
		frame_line(f, f->buf, f->len);
	f->discarding = false;
	f->len = 0;
}

void gw_stdio_framer_free(struct gw_stdio_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
	f->discarding = false;
}

static void on_message(void *ud, const char *msg, size_t len)
{
	struct stdio_srv *srv = ud;

	gw_session_handle(srv->session, msg, len, NULL);
}

static void on_overlong(void *ud)
{
	send_out(ud, gw_rpc_error(NULL, GW_RPC_INVALID_REQUEST, "message longer than 16 MiB", NULL),
		 NULL, true);
}

static void start_shutdown(struct stdio_srv *srv);

static void on_eof(struct stdio_srv *srv)
{
	if (srv->eof)
		return;
	srv->eof = true;
	srv->eof_at = uv_now(srv->loop);
	gw_stdio_frame_end(&srv->fr);
	start_shutdown(srv);
}

static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct stdio_srv *srv = h->data;

	(void)suggested;
	*buf = uv_buf_init(srv->fs_buf, sizeof(srv->fs_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct stdio_srv *srv = s->data;

	if (n < 0) {
		if (n != UV_EOF)
			gw_log(GW_LOG_WARN, "reading stdin: %s", uv_strerror((int)n));
		uv_read_stop(s);
		on_eof(srv);
		return;
	}
	gw_stdio_frame(&srv->fr, buf->base, (size_t)n);
}

static void on_fs_read(uv_fs_t *req)
{
	struct stdio_srv *srv = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	if (n <= 0) {
		on_eof(srv);
		return;
	}
	gw_stdio_frame(&srv->fr, srv->fs_buf, (size_t)n);
	if (srv->eof)
		return;
	uv_buf_t b = uv_buf_init(srv->fs_buf, sizeof(srv->fs_buf));
	uv_fs_read(srv->loop, &srv->fs_req, srv->in_fd, &b, 1, -1, on_fs_read);
}

static void close_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The session is over: close every handle on the loop (ours, and the
 * gateway's others such as the manifest watcher) so uv_run returns. No call
 * is left at this point. */
static void close_all(struct stdio_srv *srv)
{
	if (srv->closing)
		return;
	srv->closing = true;
	uv_walk(srv->loop, close_one, NULL);
}

/* After EOF or a signal: wait for calls (up to the grace), then for their
 * handles and for stdout to drain, then let the loop end. */
static void on_poll(uv_timer_t *t)
{
	struct stdio_srv *srv = t->data;

	if (gw_session_inflight(srv->session) > 0 &&
	    (srv->killed || uv_now(srv->loop) - srv->eof_at >= EOF_GRACE_MS)) {
		gw_log(GW_LOG_INFO, "stdin closed: killing %u running call(s)",
		       gw_session_inflight(srv->session));
		gw_session_cancel_all(srv->session);
	}
	if (gw_session_inflight(srv->session) == 0 && gw_call_active() == 0 &&
	    srv->writes_pending == 0)
		close_all(srv);
}

static void start_shutdown(struct stdio_srv *srv)
{
	uv_timer_start(&srv->poll_timer, on_poll, 0, 20);
}

static void on_signal(uv_signal_t *s, int sig)
{
	struct stdio_srv *srv = s->data;

	gw_log(GW_LOG_INFO, "signal %d: stopping", sig);
	srv->killed = true;
	if (srv->in_is_stream && !uv_is_closing((uv_handle_t *)&srv->in))
		uv_read_stop((uv_stream_t *)&srv->in);
	if (!srv->eof) {
		srv->eof = true;
		srv->eof_at = uv_now(srv->loop);
	}
	gw_session_cancel_all(srv->session);
	start_shutdown(srv);
}

int gw_stdio_serve(uv_loop_t *loop, struct gw_mcp *m, int in_fd, int out_fd)
{
	struct stdio_srv *srv = calloc(1, sizeof(*srv));
	uv_handle_type it = uv_guess_handle(in_fd), ot = uv_guess_handle(out_fd);
	int r, status;

	if (!srv)
		return 1;
	srv->loop = loop;
	srv->in_fd = in_fd;
	srv->out_fd = out_fd;
	srv->fr = (struct gw_stdio_framer){.max = GW_STDIO_MAX_LINE,
					   .on_message = on_message,
					   .on_overlong = on_overlong,
					   .ud = srv};
	srv->session = gw_session_new(m, send_out, srv);
	if (!srv->session) {
		free(srv);
		return 1;
	}
	if (ot == UV_NAMED_PIPE || ot == UV_TCP) {
		uv_pipe_init(loop, &srv->out, 0);
		if (uv_pipe_open(&srv->out, out_fd) == 0)
			srv->out_is_stream = true;
		else
			uv_close((uv_handle_t *)&srv->out, NULL);
	}
	uv_timer_init(loop, &srv->poll_timer);
	srv->poll_timer.data = srv;
	uv_signal_init(loop, &srv->sigint);
	uv_signal_init(loop, &srv->sigterm);
	srv->sigint.data = srv->sigterm.data = srv;
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);

	srv->in.pipe.data = srv;
	if (it == UV_NAMED_PIPE || it == UV_TCP) {
		uv_pipe_init(loop, &srv->in.pipe, 0);
		r = uv_pipe_open(&srv->in.pipe, in_fd);
		srv->in_is_stream = true;
	} else if (it == UV_TTY) {
		r = uv_tty_init(loop, &srv->in.tty, in_fd, 1);
		srv->in_is_stream = true;
	} else {
		r = 0;
	}
	srv->in.pipe.data = srv;
	if (r < 0) {
		gw_log(GW_LOG_ERROR, "cannot read stdin: %s", uv_strerror(r));
		srv->status = 1;
		on_eof(srv);
	} else if (srv->in_is_stream) {
		uv_read_start((uv_stream_t *)&srv->in, alloc_in, on_read);
	} else {
		/* A regular file (or /dev/null) cannot be polled: read it through
		 * libuv's thread pool instead. */
		srv->fs_req.data = srv;
		uv_buf_t b = uv_buf_init(srv->fs_buf, sizeof(srv->fs_buf));
		uv_fs_read(loop, &srv->fs_req, in_fd, &b, 1, -1, on_fs_read);
	}
	uv_run(loop, UV_RUN_DEFAULT);
	status = srv->status;
	gw_session_free(srv->session);
	gw_stdio_framer_free(&srv->fr);
	free(srv);
	return status;
}
