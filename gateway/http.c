/* The Streamable HTTP transport (MCP 2025-11-25, also 2025-06-18/03-26).
 *
 * libmicrohttpd runs on the gateway's own libuv loop, in its "external epoll"
 * mode: MHD keeps its sockets in one epoll descriptor, a uv_poll watches that
 * descriptor and calls MHD_run, and a uv_timer follows MHD_get_timeout. Every
 * callback then runs on the loop thread, beside the calls, the seccomp
 * supervisor and the manifest watcher: no locks, no hand-off between threads,
 * and a call's output goes from its pipe to the client's socket without a
 * queue in between. (MHD's own threads would need every session, stream and
 * call shared across threads, and a thread per connection cannot hold
 * thousands of idle ones.) A request whose answer is not ready is suspended
 * (MHD_suspend_connection) and resumed when its stream has something to send,
 * so no connection is ever polled in a busy loop.
 *
 * Shapes: each POSTed request gets a stream; its response and the progress and
 * log notifications of its call go there. The stream is answered as
 * application/json when the first thing it has is the response, and as
 * text/event-stream (SSE) when a notification comes first and the client
 * accepts SSE. SSE events carry ids "<stream>-<seq>"; a GET with
 * Last-Event-ID replays that one stream from there. A GET without it opens
 * the session's stream for messages that belong to no request
 * (notifications/tools/list_changed).
 *
 * Lifetimes: a client that drops a stream it has an event id of may resume
 * it, so its call runs on; one that drops a request before it got anything
 * resumable (no event id yet) can never get the answer, so its call is
 * cancelled (SPEC §3: the HTTP client going away kills the call). DELETE or an
 * expired session kills the session's calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "gateway/http.h"
#include "gateway/jsonrpc.h"
#include "gateway/log.h"

struct event {
	struct event *next;
	uint64_t seq;
	size_t len;
	char text[]; /* SSE: "id: ...\ndata: ...\n\n"; JSON: the message */
};

struct conn;
struct hsession;

struct stream {
	struct stream *next, *prev; /* in the session */
	struct hsession *hs;
	uint64_t id;
	bool get;	  /* the session's GET stream */
	bool accepts_sse; /* the request's Accept allows text/event-stream */
	bool decided;	  /* sse or JSON chosen (by the first message) */
	bool sse;
	bool done;	 /* nothing more will be added */
	bool resumable;	 /* an event id has gone out: the client may come back */
	bool initialize; /* its response carries the new session id */
	struct event *head, *tail;
	size_t bytes;
	uint64_t next_seq;
	struct conn *conn;    /* attached connection, or NULL */
	struct event *cursor; /* next event for conn; NULL: all sent */
	size_t off;	      /* bytes of cursor already sent */
};

struct conn {
	struct conn *next, *prev; /* in the server */
	struct http_srv *srv;
	struct MHD_Connection *mc;
	struct hsession *hs; /* a reference, or NULL */
	struct stream *st;   /* attached stream, or NULL */
	int refs;	     /* the request, and a callback response */
	int method;	     /* 'P' POST, 'G' GET, 'D' DELETE */
	bool suspended;
	bool wake;	  /* to be resumed from the loop (see wake) */
	bool gone;	  /* the client went away while suspended */
	bool too_large;	  /* the body passed GW_HTTP_MAX_BODY */
	bool queued;	  /* a response has been queued */
	bool accepts_sse; /* text/event-stream acceptable */
	bool read;	    /* the whole request has been received */
	uint64_t started;   /* uv_now at its headers */
	const char *origin; /* an allowed Origin to echo (CORS), or NULL */
	char *body;
	size_t len, cap;
};

/* One TCP connection (MHD's socket context), for the request deadline. */
struct tcp {
	struct tcp *next, *prev;
	struct MHD_Connection *mc;
	uint64_t since; /* uv_now when it was accepted or its last request ended */
	bool busy;	/* a request is being answered (its body is read) */
};

struct hsession {
	struct hsession *next, *prev;
	struct http_srv *srv;
	char id[GW_DOOR_SESSION_ID_LEN + 1];
	struct gw_session *mcp;
	struct stream *streams;
	struct stream *get;
	uint64_t next_stream;
	uint64_t last_active; /* uv_now */
	unsigned refs;	      /* connections holding it */
	unsigned nstreams_done;
	bool ended;
};

struct http_srv {
	uv_loop_t *loop;
	struct gw_mcp *m;
	struct gw_door door;
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;  /* MHD's own timeouts */
	uv_timer_t kick;   /* a run soon after a resume (not reset by run_mhd) */
	uv_timer_t sweep;  /* disconnected clients, idle sessions */
	uv_signal_t sigint, sigterm;
	struct hsession *sessions;
	unsigned nsessions;
	struct conn *conns;
	struct tcp *tcps;
	bool stopping;
	bool dirty; /* served something since the last malloc_trim */
};

/* ---- events and streams ---- */

static void stream_resume(struct stream *st);
static void wake(struct conn *c);
static void on_kick(uv_timer_t *t);
static void run_mhd(struct http_srv *srv);

static void event_drop_head(struct stream *st)
{
	struct event *e = st->head;

	st->head = e->next;
	if (!st->head)
		st->tail = NULL;
	st->bytes -= e->len;
	free(e);
}

/* Appends one message (taking line) to the stream, framed as the stream's
 * mode says. Old events go once the stream keeps more than
 * GW_HTTP_STREAM_KEEP: a client that never reads cannot make the gateway
 * hold its output forever (it loses the oldest progress, not the response). */
static void stream_add(struct stream *st, char *line)
{
	size_t n = strlen(line);
	struct event *e;

	if (st->sse) {
		char id[64];
		int k = snprintf(id, sizeof(id), "id: %" PRIu64 "-%" PRIu64 "\ndata: ", st->id,
				 st->next_seq);
		e = malloc(sizeof(*e) + (size_t)k + n + 3);
		if (!e)
			goto oom;
		memcpy(e->text, id, (size_t)k);
		memcpy(e->text + k, line, n);
		memcpy(e->text + k + n, "\n\n", 3);
		e->len = (size_t)k + n + 2;
	} else {
		e = malloc(sizeof(*e) + n + 1);
		if (!e)
			goto oom;
		memcpy(e->text, line, n + 1);
		e->len = n;
	}
	free(line);
	e->next = NULL;
	e->seq = st->next_seq++;
	if (st->tail)
		st->tail->next = e;
	else
		st->head = e;
	st->tail = e;
	st->bytes += e->len;
	if (st->conn && !st->cursor) {
		st->cursor = e;
		st->off = 0;
	}
	while (st->bytes > GW_HTTP_STREAM_KEEP && st->head != st->tail) {
		/* An event half handed to the socket stays whole (dropping it
		 * would splice two events into one broken line): the one after
		 * it goes instead, unless that is the newest. */
		if (st->cursor == st->head && st->off > 0) {
			struct event *victim = st->head->next;
			if (victim == st->tail)
				break;
			st->head->next = victim->next;
			st->bytes -= victim->len;
			free(victim);
			continue;
		}
		if (st->cursor == st->head) {
			st->cursor = st->head->next;
			st->off = 0;
		}
		event_drop_head(st);
	}
	return;
oom:
	free(line);
	gw_log(GW_LOG_ERROR, "out of memory: a message for an HTTP client was dropped");
}

static struct stream *stream_new(struct hsession *hs, bool get, bool accepts_sse)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->hs = hs;
	st->id = ++hs->next_stream;
	st->get = get;
	st->accepts_sse = accepts_sse;
	if (get) {
		st->decided = st->sse = true;
	}
	st->next = hs->streams;
	if (hs->streams)
		hs->streams->prev = st;
	hs->streams = st;
	return st;
}

static void stream_free(struct stream *st)
{
	struct hsession *hs = st->hs;

	if (st->prev)
		st->prev->next = st->next;
	else
		hs->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	if (hs->get == st)
		hs->get = NULL;
	if (st->done && hs->nstreams_done)
		hs->nstreams_done--;
	while (st->head)
		event_drop_head(st);
	free(st);
}

/* A finished stream nobody reads any more: resumable ones are kept for a
 * client that comes back (the last 16 per session), others go now. */
static void stream_release(struct stream *st)
{
	struct hsession *hs = st->hs;

	if (st->conn || !st->done)
		return;
	if (!st->resumable) {
		stream_free(st);
		return;
	}
	while (hs->nstreams_done > 16) {
		struct stream *old = NULL;
		for (struct stream *s = hs->streams; s; s = s->next)
			if (s->done && !s->conn)
				old = s; /* the list is newest first */
		if (!old || old == st)
			break;
		stream_free(old);
	}
}

static void stream_finish(struct stream *st)
{
	if (st->done)
		return;
	st->done = true;
	st->hs->nstreams_done++;
}

/* ---- sessions ---- */

static void on_line(void *ud, char *line, void *stream, bool final);

static struct hsession *session_new(struct http_srv *srv)
{
	struct hsession *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	if (gw_door_new_session_id(hs->id) < 0) {
		free(hs);
		return NULL;
	}
	hs->srv = srv;
	hs->mcp = gw_session_new(srv->m, on_line, hs);
	if (!hs->mcp) {
		free(hs);
		return NULL;
	}
	hs->last_active = uv_now(srv->loop);
	hs->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = hs;
	srv->sessions = hs;
	srv->nsessions++;
	return hs;
}

static void session_unref(struct hsession *hs)
{
	if (--hs->refs > 0 || !hs->ended)
		return;
	while (hs->streams)
		stream_free(hs->streams);
	free(hs);
}

/* Ends a session: its calls are killed, its streams end, and its id is
 * unknown from now on (404). The memory goes with the last connection. */
static void session_end(struct hsession *hs)
{
	struct http_srv *srv = hs->srv;

	if (hs->ended)
		return;
	hs->ended = true;
	if (hs->prev)
		hs->prev->next = hs->next;
	else
		srv->sessions = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	srv->nsessions--;
	gw_session_free(hs->mcp);
	hs->mcp = NULL;
	for (struct stream *st = hs->streams, *next; st; st = next) {
		next = st->next;
		stream_finish(st);
		if (st->conn)
			stream_resume(st);
		else
			stream_free(st);
	}
	hs->refs++;
	session_unref(hs);
}

static struct hsession *session_find(struct http_srv *srv, const char *id)
{
	for (struct hsession *hs = srv->sessions; hs; hs = hs->next)
		if (strcmp(hs->id, id) == 0)
			return hs;
	return NULL;
}

/* gw_send_fn: where a message of the session goes. */
static void on_line(void *ud, char *line, void *stream, bool final)
{
	struct hsession *hs = ud;
	struct stream *st = stream;

	if (!st) {
		/* Not part of any request: the GET stream, if the client has
		 * one open (or may resume it); otherwise it cannot be sent. */
		st = hs->get;
		if (!st || !line) {
			free(line);
			return;
		}
		stream_add(st, line);
		stream_resume(st);
		return;
	}
	if (line && !st->decided) {
		if (final) {
			st->decided = true;
		} else if (st->accepts_sse) {
			st->decided = st->sse = true;
		} else {
			/* Progress or a log line for a client that takes only
			 * JSON: there is nowhere to put it. */
			free(line);
			return;
		}
	}
	if (line)
		stream_add(st, line);
	if (final)
		stream_finish(st);
	if (st->conn)
		stream_resume(st);
	else if (st->done)
		stream_release(st);
}

/* ---- connections ---- */

static struct conn *conn_new(struct http_srv *srv, struct MHD_Connection *mc)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = srv;
	c->mc = mc;
	c->refs = 1;
	srv->dirty = true;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	return c;
}

static void conn_detach(struct conn *c)
{
	struct stream *st = c->st;

	if (!st)
		return;
	c->st = NULL;
	st->conn = NULL;
	if (!st->done && !st->resumable && !st->get && st->hs->mcp) {
		/* Nothing resumable went out: the answer can never reach this
		 * client, so its call is killed rather than left to run. */
		gw_session_cancel_stream(st->hs->mcp, st);
		stream_finish(st);
	}
	if (st->done)
		stream_release(st);
}

static void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	conn_detach(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->hs)
		session_unref(c->hs);
	free(c->body);
	free(c);
}

static void conn_attach(struct conn *c, struct stream *st, struct event *from, size_t off)
{
	c->st = st;
	st->conn = c;
	st->cursor = from;
	st->off = off;
}

static void stream_resume(struct stream *st)
{
	struct conn *c = st->conn;

	if (c)
		wake(c);
}

/* Resumes a suspended connection from the loop, outside MHD_run: a
 * connection resumed from inside one of MHD's callbacks (this may be one:
 * a DELETE ends a session, a notifications/cancelled ends a call) is not
 * picked up by MHD 0.9.75 in external epoll mode until some unrelated socket
 * event. */
static void wake(struct conn *c)
{
	if (c->suspended && !c->wake) {
		c->wake = true;
		uv_timer_start(&c->srv->kick, on_kick, 0, 0);
	}
}

static void on_kick(uv_timer_t *t)
{
	struct http_srv *srv = t->data;

	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->wake)
			continue;
		c->wake = false;
		c->suspended = false;
		MHD_resume_connection(c->mc);
	}
	run_mhd(srv);
}

static void suspend(struct conn *c)
{
	if (!c->suspended) {
		c->suspended = true;
		MHD_suspend_connection(c->mc);
	}
}

/* ---- responses ---- */

static enum MHD_Result queue(struct conn *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ok;

	if (!r)
		return MHD_NO;
	if (c && c->origin) {
		/* Only an Origin the door let in is echoed: a browser page from
		 * elsewhere never gets to read an answer. */
		MHD_add_response_header(r, "Access-Control-Allow-Origin", c->origin);
		MHD_add_response_header(r, "Access-Control-Expose-Headers", "Mcp-Session-Id");
		MHD_add_response_header(r, "Vary", "Origin");
	}
	ok = MHD_queue_response(c->mc, status, r);
	MHD_destroy_response(r);
	c->queued = true;
	return ok;
}

/* A small error answer: a JSON-RPC error object when it helps a client
 * (id null: the request could not be read), plain text otherwise. */
static enum MHD_Result fail(struct conn *c, unsigned status, const char *msg)
{
	char *body = NULL;
	struct MHD_Response *r;
	cJSON *o = cJSON_CreateObject(), *e;

	if (o) {
		cJSON_AddStringToObject(o, "jsonrpc", "2.0");
		cJSON_AddNullToObject(o, "id");
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddNumberToObject(e, "code", status == 400 ? -32600 : -32000);
		cJSON_AddStringToObject(e, "message", msg);
		body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"toolcell\"");
	if (status == 405)
		MHD_add_response_header(r, "Allow", "GET, POST, DELETE");
	gw_log(GW_LOG_DEBUG, "HTTP %u: %s", status, msg);
	return queue(c, status, r);
}

static enum MHD_Result empty(struct conn *c, unsigned status)
{
	return queue(c, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

/* The SSE body: events from the stream's cursor on; suspended while there is
 * nothing to send, ended when the stream is done and sent. */
static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct conn *c = cls;
	struct stream *st = c->st;
	size_t n = 0;

	(void)pos;
	if (c->gone || !st)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	while (st->cursor && n < max) {
		struct event *e = st->cursor;
		size_t k = e->len - st->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, e->text + st->off, k);
		n += k;
		st->off += k;
		if (st->off == e->len) {
			st->cursor = e->next;
			st->off = 0;
			st->resumable = true;
		}
	}
	if (n > 0)
		return (ssize_t)n;
	if (st->done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	suspend(c);
	return 0;
}

static void sse_free(void *cls)
{
	conn_unref(cls);
}

static enum MHD_Result answer_sse(struct conn *c)
{
	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, c, sse_free);

	if (!r)
		return MHD_NO;
	c->refs++;
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache, no-store");
	if (c->st->initialize && c->hs)
		MHD_add_response_header(r, "Mcp-Session-Id", c->hs->id);
	return queue(c, 200, r);
}

/* Answers a POSTed request once its stream has decided what it is. */
static enum MHD_Result answer_stream(struct conn *c)
{
	struct stream *st = c->st;

	if (!st->decided) {
		if (st->done) /* ended with no response: a cancelled call */
			return empty(c, 202);
		suspend(c);
		return MHD_YES;
	}
	if (st->sse)
		return answer_sse(c);
	/* JSON: exactly the response. */
	struct event *e = st->head;
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    e ? e->len : 0, e ? e->text : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (st->initialize && c->hs)
		MHD_add_response_header(r, "Mcp-Session-Id", c->hs->id);
	return queue(c, 200, r);
}

/* ---- requests ---- */

static const char *header(struct MHD_Connection *mc, const char *name)
{
	return MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* The door: everything here runs on headers alone, before a byte of the
 * body is read or parsed. Returns true when the request may go on, else a
 * response has been queued. */
static bool door(struct conn *c, const char *url, const char *method, enum MHD_Result *res)
{
	struct http_srv *srv = c->srv;
	struct MHD_Connection *mc = c->mc;
	const char *origin = header(mc, "Origin");

	/* DNS rebinding: a page on evil.example whose name now resolves to
	 * 127.0.0.1 reaches this port, but its requests still say
	 * "Host: evil.example". Only this server's own names get in. */
	if (!gw_door_host_ok(&srv->door, header(mc, "Host"))) {
		*res = fail(c, 403, "Host not allowed: this server answers to localhost only "
				    "(see --allow-origin)");
		return false;
	}
	/* Cross-site requests: a browser page from another origin may send
	 * a "simple" POST without asking first; the Origin gives it away. */
	if (!gw_door_origin_ok(&srv->door, origin)) {
		*res = fail(c, 403, "Origin not allowed (see --allow-origin)");
		return false;
	}
	c->origin = origin;
	/* MHD keeps headers in the connection's pool; near its end it fails
	 * to build even an error answer and just closes. The limit is checked
	 * here, well below the pool, so a client always gets its 431. */
	size_t hbytes = strlen(url);
	MHD_get_connection_values(mc, MHD_HEADER_KIND, add_header_size, &hbytes);
	if (hbytes > GW_HTTP_MAX_HEADERS) {
		*res = fail(c, 431, "request headers too large (limit 16 KiB)");
		return false;
	}
	if (strcmp(method, "OPTIONS") == 0) {
		/* A CORS preflight from an allowed origin (other origins were
		 * refused above). It carries no credentials, so it is answered
		 * before the token check. */
		struct MHD_Response *r =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (r) {
			MHD_add_response_header(r, "Access-Control-Allow-Methods",
						"GET, POST, DELETE");
			MHD_add_response_header(r, "Access-Control-Allow-Headers",
						"Authorization, Content-Type, Accept, "
						"Mcp-Session-Id, MCP-Protocol-Version, "
						"Last-Event-ID");
			MHD_add_response_header(r, "Access-Control-Max-Age", "600");
		}
		*res = queue(c, 204, r);
		return false;
	}
	if (!gw_door_token_ok(&srv->door, header(mc, "Authorization"))) {
		*res = fail(c, 401, "missing or wrong bearer token (Authorization: Bearer ...)");
		return false;
	}
	if (strcmp(url, "/mcp") != 0) {
		*res = fail(c, 404, "not found: the MCP endpoint is /mcp");
		return false;
	}
	if (strcmp(method, "POST") == 0)
		c->method = 'P';
	else if (strcmp(method, "GET") == 0)
		c->method = 'G';
	else if (strcmp(method, "DELETE") == 0)
		c->method = 'D';
	else {
		*res = fail(c, 405, "method not allowed: use POST, GET or DELETE");
		return false;
	}
	if (!gw_door_protocol_version(header(mc, "MCP-Protocol-Version"))) {
		*res = fail(c, 400,
			    "unsupported MCP-Protocol-Version (supported: 2025-11-25, "
			    "2025-06-18, 2025-03-26)");
		return false;
	}
	const char *accept = header(mc, "Accept");
	c->accepts_sse = gw_door_accepts(accept, "text/event-stream");
	if (c->method == 'P') {
		const char *cl = header(mc, "Content-Length");
		if (!gw_door_is_json(header(mc, "Content-Type"))) {
			*res = fail(c, 415, "Content-Type must be application/json");
			return false;
		}
		if (!gw_door_accepts(accept, "application/json")) {
			*res = fail(c, 406, "Accept must allow application/json (and "
					    "text/event-stream for streamed answers)");
			return false;
		}
		if (cl && strtoull(cl, NULL, 10) > GW_HTTP_MAX_BODY) {
			*res = fail(c, 413, "request body too large (limit 4 MiB)");
			return false;
		}
	} else if (c->method == 'G' && !c->accepts_sse) {
		*res = fail(c, 406, "Accept must allow text/event-stream");
		return false;
	}
	const char *sid = header(mc, "Mcp-Session-Id");
	if (sid) {
		struct hsession *hs = session_find(srv, sid);
		if (!hs) {
			*res = fail(c, 404, "unknown or ended session: initialize a new one");
			return false;
		}
		if (hs->refs >= GW_HTTP_MAX_SESSION_CONNECTIONS) {
			*res = fail(c, 429, "too many open requests in this session");
			return false;
		}
		c->hs = hs;
		hs->refs++;
		hs->last_active = uv_now(srv->loop);
	} else if (c->method != 'P') {
		*res = fail(c, 400, "Mcp-Session-Id header required");
		return false;
	}
	return true;
}

/* What a POSTed body is, as far as the transport cares. */
enum kind { K_INVALID, K_REQUEST, K_INITIALIZE, K_OTHER };

/* Classified by the same parser the session uses, so the two can never
 * disagree about a message (cJSON and the gateway's parser differ on lone
 * surrogates, duplicate keys, nesting). An invalid message gets its
 * JSON-RPC error in *error (malloc'd) and never reaches the session. */
static enum kind classify(const char *body, size_t len, char **error)
{
	struct gw_rpc_msg m;
	char msg[512], *id_raw = NULL;
	int code = gw_rpc_parse(body, len, &m, &id_raw, msg, sizeof(msg));
	enum kind k;

	*error = NULL;
	if (code != 0) {
		*error = gw_rpc_error(id_raw, code, msg, NULL);
		free(id_raw);
		return K_INVALID;
	}
	if (m.kind != GW_RPC_REQUEST)
		k = K_OTHER;
	else
		k = strcmp(m.method, "initialize") == 0 ? K_INITIALIZE : K_REQUEST;
	gw_rpc_msg_free(&m);
	return k;
}

/* At the session limit a new client may take the place of the session idle
 * longest, if one has no connection and no call: clients that never send
 * DELETE (most do not) must not lock everyone out until they expire. */
static bool evict_idle(struct http_srv *srv)
{
	struct hsession *old = NULL;

	for (struct hsession *hs = srv->sessions; hs; hs = hs->next)
		if (hs->refs == 0 && gw_session_inflight(hs->mcp) == 0 &&
		    (!old || hs->last_active < old->last_active))
			old = hs;
	if (!old)
		return false;
	gw_log(GW_LOG_INFO, "HTTP session %.8s... ended to make room for a new one", old->id);
	session_end(old);
	return true;
}

static enum MHD_Result handle_post(struct conn *c)
{
	struct http_srv *srv = c->srv;
	char *error;
	enum kind k = classify(c->body ? c->body : "", c->len, &error);
	struct stream *st;

	if (k == K_INVALID) {
		/* Parse error or invalid request: answered here, with 400. */
		struct MHD_Response *r =
		    error ? MHD_create_response_from_buffer(strlen(error), error,
							    MHD_RESPMEM_MUST_FREE)
			  : NULL;
		if (!r) {
			free(error);
			return fail(c, 400, "invalid JSON-RPC message");
		}
		MHD_add_response_header(r, "Content-Type", "application/json");
		return queue(c, 400, r);
	}
	if (!c->hs) {
		if (k != K_INITIALIZE)
			return fail(c, 400, "Mcp-Session-Id header required (send initialize "
					    "first)");
		if (srv->nsessions >= GW_HTTP_MAX_SESSIONS && !evict_idle(srv))
			return fail(c, 503, "too many sessions; try again later");
		c->hs = session_new(srv);
		if (!c->hs)
			return fail(c, 500, "cannot create a session");
		c->hs->refs++;
		gw_log(GW_LOG_INFO, "HTTP session %.8s... started", c->hs->id);
	} else if (k == K_INITIALIZE) {
		return fail(c, 400, "this session is initialized already");
	}
	if (k == K_OTHER) {
		/* Notifications and responses: accepted, nothing to answer. */
		gw_session_handle(c->hs->mcp, c->body, c->len, NULL);
		return empty(c, 202);
	}
	st = stream_new(c->hs, false, c->accepts_sse);
	if (!st)
		return fail(c, 500, "out of memory");
	st->initialize = k == K_INITIALIZE;
	conn_attach(c, st, NULL, 0);
	gw_session_handle(c->hs->mcp, c->body, c->len, st);
	/* The line is cJSON's: a bare ,"error":{ can only be the member of
	 * the response object (quotes inside strings are escaped). */
	if (c->st && c->st->initialize && c->st->head &&
	    strstr(c->st->head->text, ",\"error\":{")) {
		/* A refused initialize leaves no session behind. */
		struct hsession *hs = c->hs;
		enum MHD_Result res = answer_stream(c);
		session_end(hs);
		return res;
	}
	return answer_stream(c);
}

static enum MHD_Result handle_get(struct conn *c)
{
	struct hsession *hs = c->hs;
	const char *last = header(c->mc, "Last-Event-ID");

	if (last) {
		/* Resume: that one stream, from the event after the last one
		 * the client has. */
		uint64_t sid, seq;
		char tail;
		if (sscanf(last, "%" SCNu64 "-%" SCNu64 "%c", &sid, &seq, &tail) != 2)
			return fail(c, 400, "Last-Event-ID is not an event id of this server");
		struct stream *st = hs->streams;
		while (st && st->id != sid)
			st = st->next;
		if (!st)
			return fail(c, 404, "that stream is gone; it cannot be resumed");
		if (st->conn) {
			/* A client usually comes back before the sweep has noticed
			 * that its old connection broke: the new one takes over,
			 * and the old one ends. */
			struct conn *old = st->conn;
			old->st = NULL;
			old->gone = true;
			st->conn = NULL;
			wake(old);
		}
		struct event *e = st->head;
		while (e && e->seq <= seq)
			e = e->next;
		conn_attach(c, st, e, 0);
		return answer_sse(c);
	}
	if (hs->get && hs->get->conn)
		return fail(c, 409, "this session has a GET stream open already");
	if (!hs->get) {
		hs->get = stream_new(hs, true, true);
		if (!hs->get)
			return fail(c, 500, "out of memory");
	}
	conn_attach(c, hs->get, NULL, 0);
	/* Only what comes from now on: earlier session messages were for a
	 * stream the client closed without a Last-Event-ID. */
	return answer_sse(c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct http_srv *srv = cls;
	struct conn *c = *req_cls;
	enum MHD_Result res = MHD_YES;

	(void)version;
	if (!c) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci && ci->socket_context)
			((struct tcp *)ci->socket_context)->busy = true;
		c = conn_new(srv, mc);
		if (!c)
			return MHD_NO;
		c->started = uv_now(srv->loop);
		*req_cls = c;
		if (srv->stopping)
			return fail(c, 503, "shutting down");
		door(c, url, method, &res);
		return res;
	}
	if (c->queued)
		return MHD_YES; /* an early answer went out; the body is discarded */
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (c->too_large || c->len + n > GW_HTTP_MAX_BODY) {
			c->too_large = true;
			return MHD_YES;
		}
		if (c->len + n + 1 > c->cap) {
			size_t cap = c->cap ? c->cap : 4096;
			while (cap < c->len + n + 1)
				cap *= 2;
			char *b = realloc(c->body, cap);
			if (!b)
				return MHD_NO;
			c->body = b;
			c->cap = cap;
		}
		memcpy(c->body + c->len, upload_data, n);
		c->len += n;
		c->body[c->len] = '\0';
		return MHD_YES;
	}
	if (c->gone)
		return MHD_NO;
	c->read = true; /* the whole request is in */
	if (c->st) /* resumed: the stream has something now */
		return answer_stream(c);
	if (c->too_large)
		return fail(c, 413, "request body too large (limit 4 MiB)");
	switch (c->method) {
	case 'P':
		return handle_post(c);
	case 'G':
		return handle_get(c);
	default:
		gw_log(GW_LOG_INFO, "HTTP session %.8s... ended by the client", c->hs->id);
		session_end(c->hs);
		return empty(c, 200);
	}
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_srv *srv = cls;
	struct conn *c = *req_cls;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	(void)toe;
	if (ci && ci->socket_context) {
		struct tcp *t = ci->socket_context;
		t->busy = false;
		t->since = uv_now(srv->loop);
	}
	if (!c)
		return;
	*req_cls = NULL;
	conn_detach(c);
	conn_unref(c);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_srv *srv = cls;
	struct tcp *t = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return; /* no deadline for this one; MHD's idle timeout stays */
		t->mc = mc;
		t->since = uv_now(srv->loop);
		t->next = srv->tcps;
		if (srv->tcps)
			srv->tcps->prev = t;
		srv->tcps = t;
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		srv->tcps = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
	*socket_context = NULL;
}

/* Cuts a connection MHD owns: shutdown, not close, so MHD sees the end and
 * closes its descriptor itself. */
static void cut(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci)
		shutdown(ci->connect_fd, SHUT_RDWR);
}

/* ---- the loop ---- */

static void run_mhd(struct http_srv *srv);

static void on_mhd_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_mhd_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	run_mhd(p->data);
}

static void run_mhd(struct http_srv *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!srv->d)
		return;
	MHD_run(srv->d);
	if (MHD_get_timeout(srv->d, &ms) == MHD_YES)
		uv_timer_start(&srv->timer, on_mhd_timer, ms > 60000 ? 60000 : ms, 0);
	else
		uv_timer_stop(&srv->timer);
}

/* Once a second: a client that hung up while its request was suspended is
 * noticed (MHD does not watch suspended sockets), and idle sessions end. */
static void on_sweep(uv_timer_t *t)
{
	struct http_srv *srv = t->data;
	uint64_t now = uv_now(srv->loop);

	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->suspended)
			continue;
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		char b;
		if (!ci)
			continue;
		ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			c->gone = true;
			conn_detach(c);
			wake(c);
			gw_log(GW_LOG_DEBUG, "an HTTP client went away during a suspended request");
		}
	}
	/* Slowloris: MHD's idle timeout restarts at every byte, so a client
	 * sending one byte at a time could hold a connection forever. A
	 * request gets GW_HTTP_REQUEST_TIMEOUT_S from its first byte (or from
	 * the end of the previous one) to arrive whole: headers, then body. */
	uint64_t limit = (uint64_t)GW_HTTP_REQUEST_TIMEOUT_S * 1000;
	for (struct tcp *k = srv->tcps; k; k = k->next) {
		if (!k->busy && now - k->since > limit) {
			cut(k->mc);
		}
	}
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->read && !c->queued && now - c->started > limit) {
			cut(c->mc);
		}
	}
	/* After a burst, give the allocator's free memory back once the
	 * gateway is idle: its resident size returns near where it started. */
	if (srv->dirty && !srv->conns && gw_call_active() == 0) {
		srv->dirty = false;
		malloc_trim(0);
	}
	for (struct hsession *hs = srv->sessions, *next; hs; hs = next) {
		next = hs->next;
		if (hs->refs == 0 && gw_session_inflight(hs->mcp) == 0 &&
		    now - hs->last_active > (uint64_t)GW_HTTP_SESSION_IDLE_S * 1000) {
			gw_log(GW_LOG_INFO, "HTTP session %.8s... expired", hs->id);
			session_end(hs);
		}
	}
	/* Every second, whatever happened: MHD that stopped accepting at
	 * EMFILE starts again only inside a run, and once the descriptors
	 * are free there may be no socket event or MHD timeout left to cause
	 * one. */
	run_mhd(srv);
}

static void close_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* After a signal: once the killed calls have closed their handles, close
 * everything else so uv_run returns. */
static void on_stop_poll(uv_timer_t *t)
{
	struct http_srv *srv = t->data;

	if (gw_call_active() == 0)
		uv_walk(srv->loop, close_one, NULL);
}

static void on_signal(uv_signal_t *s, int sig)
{
	struct http_srv *srv = s->data;

	if (srv->stopping)
		return;
	gw_log(GW_LOG_INFO, "signal %d: stopping", sig);
	srv->stopping = true;
	while (srv->sessions)
		session_end(srv->sessions);
	/* MHD refuses to stop with suspended connections: resume them all
	 * now (this is a signal callback, not inside MHD_run); they end. */
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (c->suspended) {
			c->gone = true;
			c->wake = false;
			c->suspended = false;
			MHD_resume_connection(c->mc);
		}
	}
	/* Closed, not stopped: the handle must let go of the epoll
	 * descriptor's number before MHD closes it (see on_exit_readable in
	 * call.c). */
	uv_close((uv_handle_t *)&srv->poll, NULL);
	uv_timer_stop(&srv->timer);
	uv_timer_stop(&srv->kick);
	/* MHD closes every connection (completion callbacks run now). */
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
	uv_timer_start(&srv->sweep, on_stop_poll, 0, 20);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	gw_log(GW_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

static int setup_door(struct http_srv *srv, const struct gw_http_opts *o, const char *addr,
		      unsigned port)
{
	char err[512];

	if (gw_door_init(&srv->door, addr, port, err, sizeof(err)) < 0) {
		fprintf(stderr, "toolcell: --http: %s\n", err);
		return 2;
	}
	for (size_t i = 0; i < o->nallow_origins; i++) {
		if (gw_door_allow_origin(&srv->door, o->allow_origins[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "toolcell: --allow-origin %s: %s\n", o->allow_origins[i],
				err);
			return 2;
		}
	}
	if (o->no_auth) {
		srv->door.auth = false;
		fprintf(stderr, "toolcell: WARNING: --no-auth: any local program or user that "
				"can reach this port can run every tool\n");
	} else if (o->token_file) {
		if (gw_door_read_token_file(&srv->door, o->token_file, err, sizeof(err)) < 0) {
			fprintf(stderr, "toolcell: --token-file: %s\n", err);
			return 2;
		}
	} else {
		char tok[GW_DOOR_NEW_TOKEN_LEN + 1];
		if (gw_door_new_token(tok, sizeof(tok)) < 0 ||
		    gw_door_set_token(&srv->door, tok, strlen(tok), err, sizeof(err)) < 0) {
			fprintf(stderr, "toolcell: cannot make a token\n");
			return 1;
		}
		/* Printed once, here: it is not stored anywhere. */
		fprintf(stderr, "toolcell: bearer token (send \"Authorization: Bearer %s\"): %s\n",
			tok, tok);
		explicit_bzero(tok, sizeof(tok));
	}
	return 0;
}

int gw_http_serve(uv_loop_t *loop, struct gw_mcp *m, const struct gw_http_opts *o)
{
	struct http_srv *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss = {0};
	const char *addr = o->addr && o->addr[0] ? o->addr : "127.0.0.1";
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct rlimit rl;
	int r;

	if (!srv)
		return 1;
	srv->loop = loop;
	srv->m = m;
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->port);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)o->port);
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(stderr, "toolcell: --http %s: not an IPv4 or IPv6 address\n", addr);
		free(srv);
		return 2;
	}
	/* Connections are descriptors: let the gateway use all it may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srv->d = MHD_start_daemon(
	    flags, (uint16_t)o->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, srv, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)GW_HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)GW_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)GW_HTTP_CONNECTION_MEMORY, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_END);
	if (!srv->d) {
		fprintf(stderr, "toolcell: cannot listen on %s port %u: %s\n", addr, o->port,
			strerror(errno));
		free(srv);
		return 1;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : o->port;
	r = setup_door(srv, o, addr, port);
	if (r != 0) {
		MHD_stop_daemon(srv->d);
		free(srv);
		return r;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(loop, &srv->poll, info->epoll_fd);
	srv->poll.data = srv;
	uv_poll_start(&srv->poll, UV_READABLE, on_mhd_poll);
	uv_timer_init(loop, &srv->timer);
	srv->timer.data = srv;
	uv_timer_init(loop, &srv->kick);
	srv->kick.data = srv;
	uv_timer_init(loop, &srv->sweep);
	srv->sweep.data = srv;
	uv_timer_start(&srv->sweep, on_sweep, 1000, 1000);
	uv_signal_init(loop, &srv->sigint);
	uv_signal_init(loop, &srv->sigterm);
	srv->sigint.data = srv->sigterm.data = srv;
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	fprintf(stderr, "toolcell: serving MCP at http://%s%s%s:%u/mcp\n",
		ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "",
		port);
	run_mhd(srv);
	uv_run(loop, UV_RUN_DEFAULT);
	if (srv->d)
		MHD_stop_daemon(srv->d);
	free(srv);
	return 0;
}
