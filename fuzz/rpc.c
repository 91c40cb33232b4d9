/* JSON-RPC parse, validation and MCP dispatch (gateway/jsonrpc.c,
 * gateway/mcp.c) with a real tool set: the bundled manifests and those in
 * fuzz/manifests. Tools are stubbed at the process boundary only: the link
 * wraps gw_call_start and gw_call_cancel (-Wl,--wrap), and the stub does
 * what the real gw_call_start does before it forks (validate the arguments
 * against inputSchema, expand every template) and then, instead of a process,
 * holds the call until the input says how it ends.
 *
 * Input: lines. A line is a message to gw_session_handle, each tagged with a
 * stream of its own, except:
 *   '#' F X <stdout> [\x01 <stderr>]  the oldest running call ends: F's bits
 *       say how (exit status X, signal, timeout, truncation), whether its
 *       stdout comes in progress chunks of X % 7 + 1 bytes, whether its
 *       stderr lines are logged; \x02 stands for a newline;
 *   '!' K   the transport of message K % n went away (gw_session_cancel_stream);
 *   '%'     the manifests are reloaded (notifications/tools/list_changed);
 *   '$'     the transport ends (gw_session_cancel_all: running calls are
 *           killed, and their streams end without a response).
 * At the end every call still running ends with exit status 0.
 *
 * Properties: every line sent is one line of valid JSON-RPC; every request
 * gets exactly one final answer on its own stream (a response echoing its id,
 * or, for a tools/call the client cancelled, the end of the stream without
 * one), nothing after it; notifications and responses get none; a message
 * that is not valid JSON-RPC gets one error; tool results are valid MCP
 * content (gw_content_validate). The oracle classifies each message with the
 * strict JSON parser (gateway/json.c, fuzzed by the other harnesses) and
 * rules written here from JSON-RPC 2.0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/call.h"
#include "gateway/content.h"
#include "gateway/json.h"
#include "gateway/mcp.h"
#include "gateway/schema.h"

#define WORKSPACE "/work/ws"
#define TMP "/tmp/toolcell.fuzz"
#define MAX_MESSAGES 4096

/* ---- the stub at the process boundary ---- */

struct gw_call {
	struct gw_call *next;
	struct gw_tool *tool;
	const struct gw_call_events *ev;
	void *ud;
};

static struct gw_call *running; /* oldest first */
static unsigned nrunning;

int __wrap_gw_call_start(const struct gw_call_env *env, struct gw_tool *tool, const cJSON *args,
			 const struct gw_call_events *ev, void *ud, struct gw_call **out, char *msg,
			 size_t msglen);
void __wrap_gw_call_cancel(struct gw_call *c);

/* What gw_call_start does before it forks, in its order: arguments, argv,
 * env, cwd, stdin, per-call grant paths. */
static int prepare(const struct gw_tool *tool, const cJSON *args, char *msg, size_t msglen)
{
	struct gw_strv argv = {0};
	struct gw_tpl_ctx tc = {
	    .args = args, .workspace = WORKSPACE, .tmp = tool->uses_tmp ? TMP : NULL};
	char *s;
	int r;

	if (gw_schema_validate(tool->input_schema, args, "arguments", msg, msglen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < tool->argc; i++) {
		r = gw_tpl_expand(&tool->argv[i], &tc, &argv, msg, msglen);
		if (r < 0)
			goto out;
	}
	/* The real call execs argv[0]: it must be there and absolute. */
	CHECK(argv.n >= 1 && argv.v[0][0] == '/', "tool %s: argv[0] is %s", tool->name,
	      argv.n ? argv.v[0] : "missing");
	for (size_t i = 0; i < argv.n; i++)
		CHECK(argv.v[i] != NULL, "tool %s: argv[%zu] is NULL", tool->name, i);
	for (size_t i = 0; i < tool->nenv; i++) {
		r = gw_tpl_expand_one(&tool->env_vals[i], &tc, &s, msg, msglen);
		if (r < 0)
			goto out;
		free(s);
	}
	r = gw_tpl_expand_one(&tool->cwd, &tc, &s, msg, msglen);
	if (r < 0)
		goto out;
	free(s);
	if (tool->stdin_tpl) {
		r = gw_tpl_expand_one(tool->stdin_tpl, &tc, &s, msg, msglen);
		if (r < 0)
			goto out;
		free(s);
	}
	for (size_t i = 0; i < tool->ndyn; i++) {
		r = gw_tpl_expand_one(&tool->dyn[i].path, &tc, &s, msg, msglen);
		if (r < 0)
			goto out;
		free(s);
	}
	r = 0;
out:
	gw_strv_free(&argv);
	return r;
}

int __wrap_gw_call_start(const struct gw_call_env *env, struct gw_tool *tool, const cJSON *args,
			 const struct gw_call_events *ev, void *ud, struct gw_call **out, char *msg,
			 size_t msglen)
{
	cJSON *empty = NULL;
	struct gw_call *c, **tail;
	int r;

	(void)env;
	msg[0] = '\0';
	if (!args)
		args = empty = cJSON_CreateObject();
	r = prepare(tool, args, msg, msglen);
	cJSON_Delete(empty);
	if (r < 0) {
		CHECK(msg[0] != '\0', "a refused call has no message (%d)", r);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->tool = gw_tool_ref(tool);
	c->ev = ev;
	c->ud = ud;
	for (tail = &running; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	nrunning++;
	*out = c;
	return 0;
}

static void unlink_call(struct gw_call *c)
{
	struct gw_call **p;

	for (p = &running; *p && *p != c; p = &(*p)->next)
		;
	CHECK(*p == c, "a call that is not running was cancelled or finished");
	*p = c->next;
	nrunning--;
	gw_tool_unref(c->tool);
	free(c);
}

/* Freed at once: a second cancel, or any later use, is a use after free that
 * ASan reports. */
void __wrap_gw_call_cancel(struct gw_call *c)
{
	unlink_call(c);
}

/* Ends the oldest call as spec[0..n) says. */
static void finish_oldest(const uint8_t *spec_in, size_t n)
{
	struct gw_call *c = running;
	/* A line cannot hold a newline: \x02 stands for one in the output. */
	uint8_t *spec = malloc(n + 1);
	if (!spec)
		abort();
	for (size_t i = 0; i < n; i++)
		spec[i] = spec_in[i] == 0x02 ? '\n' : spec_in[i];
	uint8_t f = n > 0 ? spec[0] : 0, x = n > 1 ? spec[1] : 0;
	const uint8_t *out = n > 2 ? spec + 2 : spec, *err = NULL;
	size_t out_len = n > 2 ? n - 2 : 0, err_len = 0;
	struct gw_call_result res = {.timeout_s = c->tool->limits.timeout_s,
				     .output_kb = c->tool->limits.output_kb,
				     .duration_ms = 1.5};

	fuzz_split(out, out_len, 0x01, &out, &out_len, &err, &err_len);
	switch (f & 3) {
	case 0:
		break;
	case 1:
		res.exit_code = x;
		break;
	case 2:
		res.exit_code = -1;
		res.signal = x % 31 + 1;
		break;
	default:
		res.exit_code = -1;
		res.signal = 9;
		res.timed_out = true;
	}
	res.truncated = (f & 4) != 0;
	res.err_truncated = (f & 8) != 0;
	res.out = (const char *)out;
	res.out_len = out_len;
	res.err = err ? (const char *)err : "";
	res.err_len = err_len;
	if (f & 16) {
		size_t step = x % 7 + 1;
		for (size_t off = 0; off < out_len; off += step)
			c->ev->on_stdout(c->ud, (const char *)out + off,
					 out_len - off < step ? out_len - off : step,
					 off + step < out_len ? off + step : out_len);
	}
	if (f & 32) {
		const uint8_t *line = err, *rest;
		size_t len = err_len, rest_len;
		while (line) {
			fuzz_split(line, len, '\n', &line, &len, &rest, &rest_len);
			c->ev->on_stderr_line(c->ud, (const char *)line, len);
			line = rest;
			len = rest_len;
		}
	}
	/* The real call reports, then closes its handles and lets go of the
	 * tool. A spawn that failed in the child reports its reason instead. */
	if (f & 64)
		c->ev->on_failed(c->ud, "cannot start /bin/true: changing to the working "
					"directory failed: No such file or directory");
	else
		c->ev->on_done(c->ud, &res);
	unlink_call(c);
	free(spec);
}

/* ---- the client's side: what was sent, per stream ---- */

enum kind { K_INVALID, K_REQUEST, K_NOTIFICATION, K_RESPONSE };

struct stream {
	enum kind kind;
	bool is_call;	    /* a tools/call request */
	cJSON *id;	    /* the request's id (K_REQUEST), or NULL */
	unsigned finals;    /* final lines, a response or the NULL end */
	bool ended_without; /* the final was NULL: no response */
	bool gone;	    /* the transport went away (gw_session_cancel_stream) */
};

static struct stream streams[MAX_MESSAGES];
static size_t nstreams;
static struct gw_mcp *mcp;
static bool trace;
static char *manifest_dirs[2];

static struct gw_toolset *load_tools(void)
{
	struct gw_load_opts opts = {.workspace = WORKSPACE, .compile = false};
	struct gw_toolset *ts;
	struct gw_diag diag = {0};

	if (gw_toolset_load(manifest_dirs, 2, &opts, &ts, &diag) < 0) {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		abort();
	}
	gw_diag_free(&diag);
	return ts;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct gw_call_env env;

	(void)argc;
	(void)argv;
	manifest_dirs[0] = TOOLCELL_SOURCE_DIR "/manifests";
	manifest_dirs[1] = TOOLCELL_SOURCE_DIR "/fuzz/manifests";
	/* Small pages, so cursors are used. */
	setenv("TOOLCELL_PAGE_SIZE", "4", 1);
	trace = getenv("FUZZ_TRACE") != NULL;
	mcp = gw_mcp_new(load_tools(), &env);
	if (!mcp)
		abort();
	return 0;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Is v a JSON-RPC id value (string or number)? */
static bool is_id(const cJSON *v)
{
	return cJSON_IsString(v) || cJSON_IsNumber(v);
}

/* The same id: same type, same value. */
static bool same_id(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	return false;
}

/* The kind of a message, from JSON-RPC 2.0 and the gateway's stated rules
 * (no batches; params an object or an array, and an array is refused later
 * as invalid params). */
static enum kind classify(const char *buf, size_t len, cJSON **id, bool *is_call)
{
	struct gw_json_doc doc = {0};
	struct gw_json_error err;
	const cJSON *root, *v, *method, *params;
	enum kind k = K_INVALID;

	*id = NULL;
	*is_call = false;
	if (gw_json_parse(buf, len, 64, &doc, &err) < 0)
		return K_INVALID;
	root = doc.root;
	if (!cJSON_IsObject(root))
		goto out;
	v = member(root, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0)
		goto out;
	v = member(root, "id");
	if (v && !is_id(v))
		goto out;
	method = member(root, "method");
	params = member(root, "params");
	if (method) {
		if (!cJSON_IsString(method))
			goto out;
		if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params))
			goto out;
		k = v ? K_REQUEST : K_NOTIFICATION;
		*is_call = v && strcmp(method->valuestring, "tools/call") == 0;
	} else if (v && (member(root, "result") != NULL) != (member(root, "error") != NULL)) {
		k = K_RESPONSE;
	}
	if (k == K_REQUEST)
		*id = cJSON_Duplicate(v, 1);
out:
	gw_json_doc_free(&doc);
	return k;
}

/* A tools/call result: MCP's CallToolResult as the gateway builds it. */
static void check_call_result(const cJSON *r)
{
	const cJSON *content = member(r, "content"), *is_error = member(r, "isError");
	const cJSON *sc = member(r, "structuredContent");
	char msg[512];

	CHECK(cJSON_IsArray(content), "a tools/call result without a content array");
	CHECK(gw_content_validate(content, msg, sizeof(msg)) == 0,
	      "a tools/call result whose content is not valid MCP: %s", msg);
	CHECK(cJSON_IsBool(is_error), "a tools/call result without isError");
	CHECK(!sc || cJSON_IsObject(sc), "structuredContent that is not an object");
	CHECK(!(sc && cJSON_IsTrue(is_error)), "structuredContent on an error result");
}

static void check_response(struct stream *st, const cJSON *root)
{
	const cJSON *id = member(root, "id"), *result = member(root, "result");
	const cJSON *error = member(root, "error");

	CHECK(id != NULL, "a response without an id");
	CHECK((result != NULL) != (error != NULL), "a response needs exactly one of result, error");
	if (error) {
		const cJSON *code = member(error, "code"), *message = member(error, "message");
		CHECK(cJSON_IsNumber(code) && code->valuedouble == (double)code->valueint,
		      "error.code is not an integer");
		CHECK(cJSON_IsString(message) && message->valuestring[0],
		      "error.message is not a string");
		CHECK(code->valueint <= -32600 || code->valueint == -32700,
		      "error code %d is not a JSON-RPC one", code->valueint);
	} else {
		CHECK(cJSON_IsObject(result), "result is not an object");
	}
	if (st->kind == K_REQUEST) {
		CHECK(same_id(id, st->id), "the response's id is not the request's");
		if (result && st->is_call)
			check_call_result(result);
	} else {
		/* Not a request: the error cannot name one, unless the id was
		 * readable (a string or a number) in an invalid message. */
		CHECK(error != NULL, "a message that is not a request got a result");
		CHECK(cJSON_IsNull(id) || is_id(id), "an error's id is neither null nor an id");
	}
}

static void on_send(void *ud, char *line, void *tag, bool final)
{
	struct gw_json_doc doc = {0};
	struct gw_json_error err;
	const cJSON *root;
	struct stream *st = NULL;

	(void)ud;
	/* FUZZ_TRACE=1 shows the conversation, to read a reproducer. */
	if (trace)
		fprintf(stderr, "<- [%zu%s] %s\n", (size_t)(uintptr_t)tag, final ? ", final" : "",
			line ? line : "(end of stream, no response)");
	if (tag) {
		size_t k = (size_t)(uintptr_t)tag - 1;
		CHECK(k < nstreams, "a line for a stream that does not exist");
		st = &streams[k];
		CHECK(!st->gone, "a line for message %zu after its transport went away", k);
		CHECK(st->finals == 0, "a line for message %zu after its final one", k);
	}
	if (!line) {
		CHECK(final && st, "a NULL line that is not the end of a request's stream");
		CHECK(st->kind == K_REQUEST && st->is_call,
		      "a stream ended without a response, but it is not a tools/call");
		st->finals++;
		st->ended_without = true;
		return;
	}
	size_t len = strlen(line);
	CHECK(memchr(line, '\n', len) == NULL, "a message of more than one line: %s", line);
	CHECK(fuzz_utf8_ok(line, len), "a line that is not UTF-8");
	CHECK(gw_json_parse(line, len, 1000, &doc, &err) == 0, "a line that is not JSON (%s): %s",
	      err.msg, line);
	root = doc.root;
	CHECK(cJSON_IsObject(root), "a line that is not an object: %s", line);
	const cJSON *v = member(root, "jsonrpc");
	CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "2.0") == 0, "jsonrpc is not 2.0");
	if (member(root, "method")) {
		/* A notification: progress and log lines of a request, or the
		 * session's own list_changed. */
		CHECK(!member(root, "id"), "a request from the server: %s", line);
		CHECK(!final, "a notification marked final: %s", line);
		CHECK(cJSON_IsString(member(root, "method")), "a method that is not a string");
		if (!st)
			CHECK(strcmp(member(root, "method")->valuestring,
				     "notifications/tools/list_changed") == 0,
			      "a session notification that is not list_changed: %s", line);
		else
			CHECK(st->kind == K_REQUEST && st->is_call,
			      "a notification on the stream of something other than a call");
	} else {
		CHECK(st != NULL, "a response not tied to a message: %s", line);
		CHECK(final, "a response that is not final: %s", line);
		check_response(st, root);
		st->finals++;
	}
	gw_json_doc_free(&doc);
	free(line);
}

static void step(struct gw_session *s, const uint8_t *line, size_t len)
{
	if (len > 0 && line[0] == '#') {
		if (running)
			finish_oldest(line + 1, len - 1);
		return;
	}
	if (len > 0 && line[0] == '!') {
		if (nstreams > 0) {
			size_t k = (len > 1 ? line[1] : 0) % nstreams;
			gw_session_cancel_stream(s, (void *)(uintptr_t)(k + 1));
			streams[k].gone = true;
		}
		return;
	}
	if (len == 1 && line[0] == '%') {
		gw_mcp_set_tools(mcp, load_tools());
		return;
	}
	if (len == 1 && line[0] == '$') {
		gw_session_cancel_all(s);
		CHECK(gw_session_inflight(s) == 0, "calls in flight after cancel_all");
		return;
	}
	if (nstreams == MAX_MESSAGES)
		return;
	struct stream *st = &streams[nstreams];
	if (trace)
		fprintf(stderr, "-> [%zu] %.*s\n", nstreams + 1, (int)len, (const char *)line);
	*st = (struct stream){0};
	st->kind = classify((const char *)line, len, &st->id, &st->is_call);
	nstreams++;
	gw_session_handle(s, (const char *)line, len, (void *)(uintptr_t)nstreams);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_session *s = gw_session_new(mcp, on_send, NULL);
	const uint8_t *line = data, *rest;
	size_t len = size, rest_len;

	if (!s)
		abort();
	nstreams = 0;
	while (line) {
		fuzz_split(line, len, '\n', &line, &len, &rest, &rest_len);
		step(s, line, len);
		line = rest;
		len = rest_len;
	}
	while (running)
		finish_oldest(NULL, 0);
	CHECK(gw_session_inflight(s) == 0, "%u calls in flight after every call ended",
	      gw_session_inflight(s));
	gw_session_free(s);

	for (size_t k = 0; k < nstreams; k++) {
		struct stream *st = &streams[k];
		if (st->kind == K_NOTIFICATION || st->kind == K_RESPONSE)
			CHECK(st->finals == 0, "message %zu (no request) was answered", k);
		else if (st->gone)
			CHECK(st->finals <= 1, "message %zu: %u answers", k, st->finals);
		else
			CHECK(st->finals == 1, "message %zu (%s) got %u answers", k,
			      st->kind == K_REQUEST ? "a request" : "invalid", st->finals);
		cJSON_Delete(st->id);
	}
	return 0;
}
