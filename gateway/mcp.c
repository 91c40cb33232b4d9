/* MCP: initialize, ping, tools/list, tools/call, cancellation, logging. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/content.h"
#include "gateway/json.h"
#include "gateway/jsonrpc.h"
#include "gateway/log.h"
#include "gateway/mcp.h"
#include "gateway/schema.h"
#include "gateway/utf8.h"

#define PAGE_SIZE_DEFAULT 100

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
					 "error", "critical", "alert",	"emergency"};

struct inflight {
	struct inflight *next, *prev;
	struct gw_session *s;
	char *id_raw;
	cJSON *id;
	cJSON *progress_token; /* NULL when the client asked for no progress */
	void *stream;	       /* the transport's tag of the request */
	struct gw_call *call;
	struct gw_tool *tool_ref; /* borrowed: the call holds a reference until it is done */
	char *tool;
	char hold[4]; /* an incomplete UTF-8 sequence carried to the next chunk */
	size_t hold_len;
};

struct gw_session {
	struct gw_mcp *m;
	gw_send_fn send;
	void *ud;
	bool initialized;
	int log_level; /* index into log_levels, or -1: the client asked for none */
	struct inflight *calls;
	unsigned ncalls;
	void *stream; /* of the message being handled */
	struct gw_session *next, *prev;
};

struct gw_mcp {
	struct gw_toolset *tools;
	const struct gw_call_env *env;
	struct gw_session *sessions;
	size_t page_size;
};

struct gw_mcp *gw_mcp_new(struct gw_toolset *tools, const struct gw_call_env *env)
{
	struct gw_mcp *m = calloc(1, sizeof(*m));
	const char *ps = getenv("TOOLCELL_PAGE_SIZE");

	if (!m)
		return NULL;
	m->tools = tools;
	m->env = env;
	m->page_size = PAGE_SIZE_DEFAULT;
	/* For tests of pagination with few tools. */
	if (ps && atoi(ps) > 0)
		m->page_size = (size_t)atoi(ps);
	return m;
}

size_t gw_mcp_tool_count(const struct gw_mcp *m)
{
	return m->tools ? m->tools->n : 0;
}

void gw_mcp_free(struct gw_mcp *m)
{
	if (!m)
		return;
	gw_toolset_free(m->tools);
	free(m);
}

static void send_line(struct gw_session *s, char *line, void *stream, bool final)
{
	if (!line) {
		gw_log(GW_LOG_ERROR, "out of memory encoding a message; dropped");
		if (final)
			s->send(s->ud, NULL, stream, true);
		return;
	}
	s->send(s->ud, line, stream, final);
}

void gw_mcp_set_tools(struct gw_mcp *m, struct gw_toolset *tools)
{
	gw_toolset_free(m->tools);
	m->tools = tools;
	for (struct gw_session *s = m->sessions; s; s = s->next)
		if (s->initialized)
			send_line(s, gw_rpc_notification("notifications/tools/list_changed", NULL),
				  NULL, false);
}

struct gw_session *gw_session_new(struct gw_mcp *m, gw_send_fn send, void *ud)
{
	struct gw_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->m = m;
	s->send = send;
	s->ud = ud;
	s->log_level = -1;
	s->next = m->sessions;
	if (m->sessions)
		m->sessions->prev = s;
	m->sessions = s;
	return s;
}

unsigned gw_session_inflight(const struct gw_session *s)
{
	return s->ncalls;
}

static void inflight_free(struct inflight *f)
{
	struct gw_session *s = f->s;

	if (f->prev)
		f->prev->next = f->next;
	else
		s->calls = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->ncalls--;
	free(f->id_raw);
	cJSON_Delete(f->id);
	cJSON_Delete(f->progress_token);
	free(f->tool);
	free(f);
}

void gw_session_cancel_stream(struct gw_session *s, void *stream)
{
	for (struct inflight *f = s->calls, *next; f; f = next) {
		next = f->next;
		if (f->stream != stream)
			continue;
		gw_log(GW_LOG_DEBUG, "the client of call %s of %s went away: cancelling",
		       f->id_raw, f->tool);
		gw_call_cancel(f->call);
		inflight_free(f);
	}
}

void gw_session_cancel_all(struct gw_session *s)
{
	while (s->calls) {
		struct inflight *f = s->calls;
		void *stream = f->stream;
		gw_call_cancel(f->call);
		inflight_free(f);
		s->send(s->ud, NULL, stream, true);
	}
}

void gw_session_free(struct gw_session *s)
{
	if (!s)
		return;
	gw_session_cancel_all(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		s->m->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

/* ---- replies ---- */

/* The response to the message being handled, or (from a call) to `stream`. */
static void reply_to(struct gw_session *s, void *stream, const char *id_raw, cJSON *result)
{
	send_line(s, gw_rpc_result(id_raw, result), stream, true);
}

static void reply(struct gw_session *s, const char *id_raw, cJSON *result)
{
	reply_to(s, s->stream, id_raw, result);
}

static void reply_error_to(struct gw_session *s, void *stream, const char *id_raw, int code,
			   const char *msg)
{
	send_line(s, gw_rpc_error(id_raw, code, msg, NULL), stream, true);
}

static void reply_error(struct gw_session *s, const char *id_raw, int code, const char *msg)
{
	reply_error_to(s, s->stream, id_raw, code, msg);
}

/* ---- initialize ---- */

static void do_initialize(struct gw_session *s, const struct gw_rpc_msg *m)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->params, "protocolVersion");
	const char *version = GW_MCP_LATEST_VERSION;
	cJSON *r, *caps, *tools, *info;

	if (!cJSON_IsString(v)) {
		reply_error(s, m->id_raw, GW_RPC_INVALID_PARAMS,
			    "initialize: params.protocolVersion (a string) is required");
		return;
	}
	/* The client's version if we speak it, else our latest: the client then
	 * decides whether it can go on (MCP lifecycle, version negotiation). */
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(v->valuestring, versions[i]) == 0)
			version = versions[i];
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "protocolVersion", version);
	caps = cJSON_AddObjectToObject(r, "capabilities");
	tools = cJSON_AddObjectToObject(caps, "tools");
	cJSON_AddBoolToObject(tools, "listChanged", true);
	cJSON_AddObjectToObject(caps, "logging");
	info = cJSON_AddObjectToObject(r, "serverInfo");
	cJSON_AddStringToObject(info, "name", "toolcell");
	cJSON_AddStringToObject(info, "title", "toolcell: every tool call in its own sandbox");
	cJSON_AddStringToObject(info, "version", TOOLCELL_VERSION);
	cJSON_AddStringToObject(
	    r, "instructions",
	    "Each tool runs in a fresh sandbox that can touch only what its manifest grants. "
	    "A result with isError explains what failed (arguments, exit status, timeout, "
	    "limits, or a permission the sandbox denied).");
	reply(s, m->id_raw, r);
}

/* ---- tools/list ---- */

static void do_tools_list(struct gw_session *s, const struct gw_rpc_msg *m)
{
	const struct gw_toolset *ts = s->m->tools;
	const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(m->params, "cursor");
	size_t start = 0, end;
	cJSON *r, *arr;

	if (cursor) {
		char *e;
		unsigned long long v =
		    cJSON_IsString(cursor) ? strtoull(cursor->valuestring, &e, 10) : 0;
		if (!cJSON_IsString(cursor) || !cursor->valuestring[0] || *e || v > ts->n) {
			reply_error(
			    s, m->id_raw, GW_RPC_INVALID_PARAMS,
			    "tools/list: invalid cursor; use the nextCursor of the previous "
			    "page");
			return;
		}
		start = (size_t)v;
	}
	end = start + s->m->page_size < ts->n ? start + s->m->page_size : ts->n;
	r = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(r, "tools");
	for (size_t i = start; i < end; i++)
		cJSON_AddItemToArray(arr, cJSON_Duplicate(ts->tools[i]->listing, 1));
	if (end < ts->n) {
		char next[32];
		snprintf(next, sizeof(next), "%zu", end);
		cJSON_AddStringToObject(r, "nextCursor", next);
	}
	reply(s, m->id_raw, r);
}

/* ---- tools/call ---- */

static cJSON *text_block(const char *text)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "type", "text");
	cJSON_AddStringToObject(b, "text", text);
	return b;
}

static cJSON *error_result(const char *text)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *content = cJSON_AddArrayToObject(r, "content");

	cJSON_AddItemToArray(content, text_block(text));
	cJSON_AddBoolToObject(r, "isError", true);
	return r;
}

static void call_stdout(void *ud, const char *chunk, size_t len, size_t total)
{
	struct inflight *f = ud;
	cJSON *p;
	char *buf, *text;
	size_t hold;

	if (!f->progress_token)
		return;
	/* Chunks can end inside a UTF-8 sequence; the tail waits for the next
	 * chunk so a multi-byte character is not turned into U+FFFD twice. */
	buf = malloc(f->hold_len + len);
	if (!buf)
		return;
	memcpy(buf, f->hold, f->hold_len);
	memcpy(buf + f->hold_len, chunk, len);
	text = gw_utf8_sanitize(buf, f->hold_len + len, &hold);
	if (text) {
		memcpy(f->hold, buf + f->hold_len + len - hold, hold);
		f->hold_len = hold;
	}
	free(buf);
	if (!text || !text[0]) {
		free(text);
		return;
	}
	p = cJSON_CreateObject();
	cJSON_AddItemToObject(p, "progressToken", cJSON_Duplicate(f->progress_token, 1));
	cJSON_AddNumberToObject(p, "progress", (double)total);
	cJSON_AddStringToObject(p, "message", text);
	free(text);
	send_line(f->s, gw_rpc_notification("notifications/progress", p), f->stream, false);
}

static void call_stderr_line(void *ud, const char *line, size_t len)
{
	struct inflight *f = ud;
	cJSON *p;
	char *text;

	/* Tool stderr is "info": shown when the client asked for info or more. */
	if (f->s->log_level < 0 || f->s->log_level > 1)
		return;
	text = gw_utf8_sanitize(line, len, NULL);
	if (!text)
		return;
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "level", "info");
	cJSON_AddStringToObject(p, "logger", f->tool);
	cJSON_AddStringToObject(p, "data", text);
	free(text);
	send_line(f->s, gw_rpc_notification("notifications/message", p), f->stream, false);
}

/* The content blocks an "output": "content" tool printed (out is its whole
 * stdout, valid UTF-8). Returns 0 and *blocks (the caller owns it), or
 * -EINVAL with *failure saying what is wrong (malloc'd; NULL on ENOMEM). The
 * blocks are checked strictly: a client validates them too, and one it
 * cannot read would cost the whole result instead of naming the mistake. */
static int content_output(const char *out, cJSON **blocks, char **failure)
{
	struct gw_json_doc doc = {0};
	struct gw_json_error jerr;
	char msg[512];
	int r = -EINVAL;

	*failure = NULL;
	if (gw_json_parse(out, strlen(out), 64, &doc, &jerr) < 0) {
		if (asprintf(failure, "the tool's output is not valid JSON (%u:%u: %s)", jerr.line,
			     jerr.col, jerr.msg) < 0)
			*failure = NULL;
		return -EINVAL;
	}
	if (!cJSON_IsArray(doc.root)) {
		if (asprintf(failure,
			     "the tool's output must be a JSON array of content blocks, not %s",
			     gw_json_type_name(doc.root)) < 0)
			*failure = NULL;
	} else if (gw_content_validate(doc.root, msg, sizeof(msg)) < 0) {
		if (asprintf(failure, "the tool's output is not valid content: %s", msg) < 0)
			*failure = NULL;
	} else {
		*blocks = doc.root;
		doc.root = NULL;
		r = 0;
	}
	gw_json_doc_free(&doc);
	return r;
}

static void call_done(void *ud, const struct gw_call_result *res)
{
	struct inflight *f = ud;
	struct gw_session *s = f->s;
	const struct gw_tool *tool = f->tool_ref;
	char *out = gw_utf8_sanitize(res->out, res->out_len, NULL);
	char *err = gw_utf8_sanitize(res->err, res->err_len, NULL);
	char *failure = gw_call_failure(res);
	cJSON *r = cJSON_CreateObject(), *content, *meta, *info;
	bool is_error = failure != NULL;

	if (!out || !err || !r) {
		free(out);
		free(err);
		free(failure);
		cJSON_Delete(r);
		reply_error_to(s, f->stream, f->id_raw, GW_RPC_INTERNAL_ERROR, "out of memory");
		inflight_free(f);
		return;
	}
	content = cJSON_AddArrayToObject(r, "content");
	if (!is_error && tool && tool->output == GW_OUTPUT_JSON) {
		struct gw_json_doc doc = {0};
		struct gw_json_error jerr;
		char msg[512];

		if (gw_json_parse(out, strlen(out), 64, &doc, &jerr) < 0) {
			is_error = true;
			if (asprintf(&failure, "the tool's output is not valid JSON (%u:%u: %s)",
				     jerr.line, jerr.col, jerr.msg) < 0)
				failure = NULL;
		} else if (!cJSON_IsObject(doc.root)) {
			is_error = true;
			failure = strdup("the tool's output must be a JSON object");
		} else if (tool->output_schema &&
			   gw_schema_validate(tool->output_schema, doc.root, "output", msg,
					      sizeof(msg)) < 0) {
			is_error = true;
			if (asprintf(&failure,
				     "the tool's output does not match its outputSchema: %s",
				     msg) < 0)
				failure = NULL;
		} else {
			char *txt = cJSON_PrintUnformatted(doc.root);
			cJSON_AddItemToArray(content, text_block(txt ? txt : out));
			free(txt);
			cJSON_AddItemToObject(r, "structuredContent", doc.root);
			doc.root = NULL;
		}
		gw_json_doc_free(&doc);
	} else if (!is_error && tool && tool->output == GW_OUTPUT_CONTENT) {
		cJSON *blocks;

		if (content_output(out, &blocks, &failure) < 0)
			is_error = true;
		else if (cJSON_ReplaceItemInObjectCaseSensitive(r, "content", blocks))
			content = blocks;
		else
			cJSON_Delete(blocks); /* out of memory: content stays [] */
	} else if (out[0] || !is_error) {
		cJSON_AddItemToArray(content, text_block(out));
	}
	if (is_error) {
		char *text = NULL;
		if (asprintf(&text, "%s%s%s%s", failure ? failure : "failed",
			     err[0] ? "\nstderr:\n" : "", err,
			     res->err_truncated ? "\n[stderr truncated]" : "") < 0)
			text = NULL;
		cJSON_AddItemToArray(content, text_block(text ? text : "failed"));
		free(text);
	}
	cJSON_AddBoolToObject(r, "isError", is_error);
	/* Everything about the run, for clients and people who want it. */
	meta = cJSON_AddObjectToObject(r, "_meta");
	info = cJSON_AddObjectToObject(meta, "toolcell/call");
	if (res->signal)
		cJSON_AddNullToObject(info, "exitCode");
	else
		cJSON_AddNumberToObject(info, "exitCode", res->exit_code);
	if (res->signal)
		cJSON_AddStringToObject(info, "signal", sigabbrev_np(res->signal));
	else
		cJSON_AddNullToObject(info, "signal");
	cJSON_AddNumberToObject(info, "durationMs",
				(double)(long long)(res->duration_ms * 1000) / 1000);
	cJSON_AddBoolToObject(info, "timedOut", res->timed_out);
	cJSON_AddBoolToObject(info, "truncated", res->truncated);
	cJSON_AddNumberToObject(info, "stdoutBytes", (double)res->out_len);
	cJSON_AddStringToObject(info, "stderr", err);
	cJSON_AddBoolToObject(info, "stderrTruncated", res->err_truncated);
	reply_to(s, f->stream, f->id_raw, r);
	free(out);
	free(err);
	free(failure);
	inflight_free(f);
}

/* Bad arguments and tools that cannot start, at once or once the spawn has
 * completed, are tool results, so the model reads the reason and can
 * correct itself. */
static void call_failed(void *ud, const char *msg)
{
	struct inflight *f = ud;

	reply_to(f->s, f->stream, f->id_raw, error_result(msg));
	inflight_free(f);
}

static const struct gw_call_events call_events = {
    .on_stdout = call_stdout,
    .on_stderr_line = call_stderr_line,
    .on_done = call_done,
    .on_failed = call_failed,
};

static void do_tools_call(struct gw_session *s, const struct gw_rpc_msg *m)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(m->params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(m->params, "arguments");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(m->params, "_meta");
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");
	struct gw_tool *tool;
	struct inflight *f;
	char msg[1024];
	int r;

	if (!cJSON_IsString(name)) {
		reply_error(s, m->id_raw, GW_RPC_INVALID_PARAMS,
			    "tools/call: params.name (a string) is required");
		return;
	}
	tool = gw_toolset_find(s->m->tools, name->valuestring);
	if (!tool) {
		snprintf(msg, sizeof(msg), "unknown tool \"%.200s\"; tools/list shows the tools",
			 name->valuestring);
		reply_error(s, m->id_raw, GW_RPC_INVALID_PARAMS, msg);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		reply_error(s, m->id_raw, GW_RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	f->s = s;
	f->id_raw = strdup(m->id_raw);
	f->id = cJSON_Duplicate(m->id, 1);
	f->tool = strdup(tool->name);
	f->tool_ref = tool;
	f->stream = s->stream;
	if (cJSON_IsString(token) || cJSON_IsNumber(token))
		f->progress_token = cJSON_Duplicate(token, 1);
	f->next = s->calls;
	if (s->calls)
		s->calls->prev = f;
	s->calls = f;
	s->ncalls++;
	r = gw_call_start(s->m->env, tool, args, &call_events, f, &f->call, msg, sizeof(msg));
	if (r < 0)
		call_failed(f, msg);
}

/* ---- notifications ---- */

static void do_cancelled(struct gw_session *s, const struct gw_rpc_msg *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->params, "requestId");

	if (!id)
		return;
	for (struct inflight *f = s->calls; f; f = f->next) {
		if (cJSON_IsString(id) != cJSON_IsString(f->id) || !cJSON_Compare(id, f->id, 1))
			continue;
		gw_log(GW_LOG_DEBUG, "cancelling call %s of %s", f->id_raw, f->tool);
		/* Kills the process tree; the call sends no result (MCP: a
		 * cancelled request gets no response). */
		void *stream = f->stream;
		gw_call_cancel(f->call);
		inflight_free(f);
		s->send(s->ud, NULL, stream, true);
		return;
	}
}

static void do_set_level(struct gw_session *s, const struct gw_rpc_msg *m)
{
	const cJSON *level = cJSON_GetObjectItemCaseSensitive(m->params, "level");

	for (int i = 0; cJSON_IsString(level) && i < 8; i++) {
		if (strcmp(level->valuestring, log_levels[i]) == 0) {
			s->log_level = i;
			reply(s, m->id_raw, cJSON_CreateObject());
			return;
		}
	}
	reply_error(s, m->id_raw, GW_RPC_INVALID_PARAMS,
		    "logging/setLevel: level must be one of debug, info, notice, warning, error, "
		    "critical, alert, emergency");
}

void gw_session_handle(struct gw_session *s, const char *buf, size_t len, void *stream)
{
	struct gw_rpc_msg m;
	char msg[512], *id_raw = NULL;
	int code;

	s->stream = stream;
	code = gw_rpc_parse(buf, len, &m, &id_raw, msg, sizeof(msg));

	if (code != 0) {
		reply_error(s, id_raw, code, msg);
		free(id_raw);
		return;
	}
	if (m.kind == GW_RPC_RESPONSE) {
		/* toolcell sends no requests, so there is nothing to match. */
		gw_log(GW_LOG_DEBUG, "ignoring a response with id %s", m.id_raw);
	} else if (m.kind == GW_RPC_NOTIFICATION) {
		if (strcmp(m.method, "notifications/initialized") == 0)
			s->initialized = true;
		else if (strcmp(m.method, "notifications/cancelled") == 0)
			do_cancelled(s, &m);
		else
			gw_log(GW_LOG_DEBUG, "ignoring notification %s", m.method);
	} else if (m.params && !cJSON_IsObject(m.params)) {
		reply_error(s, m.id_raw, GW_RPC_INVALID_PARAMS, "params must be an object");
	} else if (strcmp(m.method, "initialize") == 0) {
		do_initialize(s, &m);
	} else if (strcmp(m.method, "ping") == 0) {
		reply(s, m.id_raw, cJSON_CreateObject());
	} else if (strcmp(m.method, "tools/list") == 0) {
		do_tools_list(s, &m);
	} else if (strcmp(m.method, "tools/call") == 0) {
		do_tools_call(s, &m);
	} else if (strcmp(m.method, "logging/setLevel") == 0) {
		do_set_level(s, &m);
	} else {
		snprintf(msg, sizeof(msg), "method not found: %.200s", m.method);
		reply_error(s, m.id_raw, GW_RPC_METHOD_NOT_FOUND, msg);
	}
	gw_rpc_msg_free(&m);
}
