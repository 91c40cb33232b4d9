/* The manifest loader and the position finder (gateway/manifest.c,
 * gateway/json.c), and the operator's ceiling (gateway/ceiling.c), which is
 * the same kind of file: any bytes as a file give either a tool (a ceiling)
 * or diagnostics, never both and never neither, and every diagnostic is
 * "FILE:LINE:COL: message" with LINE and COL inside the input (a column may
 * be one past the end of its line: the end of the input is a position too).
 *
 * A tool that loads is also checked against a fixed ceiling, and a ceiling
 * that parses against a fixed tool (gw_ceiling_check), and its tools/list
 * entry must print as JSON that reads back to the same value. Loading is pure
 * (compile = false): no policy is compiled, which needs the kernel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/ceiling.h"
#include "gateway/json.h"
#include "gateway/manifest.h"

#define FILE_NAME "fuzz.json"
#define WORKSPACE "/work/ws"

static struct gw_ceiling *fixed_ceiling;
static struct gw_tool *fixed_tool;

static const char ceiling_text[] =
    "{\"read\": [\"@system\", \"{workspace}\", \"{tmp}\"], \"write\": [\"{workspace}\"],"
    " \"exec\": [\"@system\"], \"net\": [\"localhost:8080\", \"10.0.0.0/8:*\"],"
    " \"listen\": [8080], \"limits\": {\"timeout_s\": 60, \"memory_mb\": 1024}}";

static const char tool_text[] =
    "{\"name\": \"t\", \"description\": \"d\", \"inputSchema\": {\"type\": \"object\","
    " \"properties\": {\"p\": {\"type\": \"string\"}}}, \"command\": [\"/bin/cat\", \"{p}\"],"
    " \"grants\": {\"read\": [\"@system\", \"{workspace}/{p}\"], \"write\": [\"{tmp}\"],"
    " \"exec\": [\"@system\"], \"net\": [\"localhost:8080\"], \"listen\": [8080]}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gw_load_opts opts = {.workspace = WORKSPACE, .compile = false};
	struct gw_diag diag = {0};

	(void)argc;
	(void)argv;
	if (gw_ceiling_parse("ceiling", ceiling_text, strlen(ceiling_text), WORKSPACE,
			     &fixed_ceiling, &diag) < 0 ||
	    gw_tool_load("tool", tool_text, strlen(tool_text), &opts, &fixed_tool, &diag) < 0) {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		abort();
	}
	return 0;
}

/* Length of each line of data, for the position checks. */
struct lines {
	size_t *len;
	size_t n;
};

static void count_lines(const uint8_t *data, size_t size, struct lines *l)
{
	size_t start = 0;

	l->n = 0;
	l->len = malloc((size + 1) * sizeof(*l->len));
	if (!l->len)
		abort();
	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n') {
			l->len[l->n++] = i - start;
			start = i + 1;
		}
	l->len[l->n++] = size - start;
}

/* "FILE:LINE:COL: message" with LINE:COL inside the input. */
static void check_diag(const char *msg, const struct lines *l)
{
	const size_t flen = strlen(FILE_NAME);
	unsigned long line, col;
	char *end;

	CHECK(strncmp(msg, FILE_NAME ":", flen + 1) == 0, "not FILE:...: %s", msg);
	line = strtoul(msg + flen + 1, &end, 10);
	CHECK(*end == ':', "no LINE: %s", msg);
	col = strtoul(end + 1, &end, 10);
	CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0', "no COL or message: %s", msg);
	CHECK(line >= 1 && line <= l->n, "line %lu of %zu: %s", line, l->n, msg);
	CHECK(col >= 1 && col <= l->len[line - 1] + 1, "column %lu of a %zu-byte line: %s", col,
	      l->len[line - 1], msg);
}

static void check_listing(const struct gw_tool *t)
{
	char *text = cJSON_PrintUnformatted(t->listing);
	struct gw_json_doc doc = {0};
	struct gw_json_error err;

	CHECK(text != NULL, "the listing does not print");
	CHECK(fuzz_utf8_ok(text, strlen(text)), "the listing is not UTF-8");
	CHECK(gw_json_parse(text, strlen(text), 1000, &doc, &err) == 0,
	      "the listing does not read back: %s", err.msg);
	CHECK(cJSON_Compare(doc.root, t->listing, 1), "the listing reads back different");
	gw_json_doc_free(&doc);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_load_opts opts = {.workspace = WORKSPACE, .compile = false};
	struct gw_diag diag = {0};
	struct gw_tool *t = NULL;
	struct gw_ceiling *c = NULL;
	struct lines l;
	char err[1024];
	int r;

	count_lines(data, size, &l);

	r = gw_tool_load(FILE_NAME, (const char *)data, size, &opts, &t, &diag);
	if (r == 0) {
		CHECK(diag.n == 0, "a tool loaded with %zu diagnostics: %s", diag.n, diag.msgs[0]);
		CHECK(t && t->name && t->listing && t->input_schema && t->argc >= 1,
		      "a loaded tool is incomplete");
		CHECK(t->argv[0].n == 1 && t->argv[0].parts[0].kind == GW_TPL_LIT &&
			  t->argv[0].parts[0].text[0] == '/',
		      "command[0] is not an absolute path");
		check_listing(t);
		gw_ceiling_check(fixed_ceiling, t, err, sizeof(err));
		gw_tool_unref(t);
	} else {
		CHECK(r == -EINVAL, "gw_tool_load returned %d", r);
		CHECK(diag.n > 0, "a manifest was refused without a diagnostic");
	}
	for (size_t i = 0; i < diag.n; i++)
		check_diag(diag.msgs[i], &l);
	gw_diag_free(&diag);

	r = gw_ceiling_parse(FILE_NAME, (const char *)data, size, WORKSPACE, &c, &diag);
	if (r == 0) {
		CHECK(diag.n == 0, "a ceiling parsed with diagnostics: %s", diag.msgs[0]);
		gw_ceiling_check(c, fixed_tool, err, sizeof(err));
		gw_ceiling_free(c);
	} else {
		CHECK(r == -EINVAL, "gw_ceiling_parse returned %d", r);
		CHECK(diag.n > 0, "a ceiling was refused without a diagnostic");
	}
	for (size_t i = 0; i < diag.n; i++)
		check_diag(diag.msgs[i], &l);
	gw_diag_free(&diag);
	free(l.len);
	return 0;
}
