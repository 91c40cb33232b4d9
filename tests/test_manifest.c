/* Manifest validation: every problem reported, each at its FILE:LINE:COL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/manifest.h"

static const struct gw_load_opts pure = {.workspace = "/ws", .compile = false};

/* A valid manifest with one line replaced, to put errors at known places. */
static const char *const base[] = {
    "{",			 /* 1 */
    "  \"name\": \"t\",",	 /* 2 */
    "  \"description\": \"d\",", /* 3 */
    "  \"inputSchema\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\"}, "
    "\"n\": {\"type\": \"integer\"}, \"files\": {\"type\": \"array\", \"items\": {\"type\": "
    "\"string\"}}}},",									 /* 4 */
    "  \"command\": [\"/usr/bin/cat\", \"--\", \"{path}\"],",				 /* 5 */
    "  \"env\": {\"LANG\": \"C\"},",							 /* 6 */
    "  \"grants\": {\"read\": [\"@system\", \"{workspace}\"], \"exec\": [\"@system\"]}", /* 7 */
    "}",										 /* 8 */
};

static int load_with(int line, const char *replacement, struct gw_diag *d, struct gw_tool **t)
{
	char text[4096] = "";

	for (int i = 0; i < 8; i++) {
		strcat(text, i + 1 == line ? replacement : base[i]);
		strcat(text, "\n");
	}
	return gw_tool_load("m.json", text, strlen(text), &pure, t, d);
}

static void expect_errors(int line, const char *replacement, const char *const *want)
{
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;
	size_t n = 0;

	assert_int_equal(load_with(line, replacement, &d, &t), -22);
	assert_null(t);
	while (want[n])
		n++;
	for (size_t i = 0; i < d.n; i++)
		printf("  got: %s\n", d.msgs[i]);
	assert_int_equal(d.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d.msgs[i], want[i]);
	gw_diag_free(&d);
}

static void test_valid(void **state)
{
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;

	(void)state;
	assert_int_equal(load_with(0, "", &d, &t), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(t->name, "t");
	assert_int_equal(t->argc, 3);
	assert_false(t->uses_tmp);
	assert_int_equal(t->limits.timeout_s, 30);
	bool found = false;
	for (size_t i = 0; i < t->nstatic; i++) {
		if (strcmp(t->static_grants[i].origin, "grants.read[1]") != 0)
			continue;
		assert_string_equal(t->static_grants[i].path, "/ws");
		assert_int_equal(t->static_grants[i].access, SBX_READ);
		found = true;
	}
	assert_true(found);
	assert_non_null(t->listing);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(t->listing, "inputSchema"));
	assert_null(cJSON_GetObjectItemCaseSensitive(t->listing, "command"));
	gw_tool_unref(t);
}

static void test_unknown_and_duplicate_keys(void **state)
{
	(void)state;
	expect_errors(
	    2, "  \"name\": \"t\", \"nmae\": 1,",
	    (const char *const[]){
		"m.json:2:16: unknown key \"nmae\" (known keys: name, title, description, "
		"inputSchema, outputSchema, annotations, command, stdin, cwd, env, output, "
		"grants)",
		NULL});
	expect_errors(2, "  \"name\": \"t\", \"name\": \"u\",",
		      (const char *const[]){"m.json:2:16: duplicate key \"name\"", NULL});
	expect_errors(
	    7, "  \"grants\": {\"read\": [], \"Read\": []}",
	    (const char *const[]){"m.json:7:26: grants: unknown key \"Read\" (known keys: "
				  "read, write, exec, net, listen, limits)",
				  NULL});
}

static void test_types_and_names(void **state)
{
	(void)state;
	expect_errors(2, "  \"name\": \"bad name!\",",
		      (const char *const[]){"m.json:2:11: name \"bad name!\" is not a valid tool "
					    "name: 1 to 128 of A-Z a-z 0-9 _ . -",
					    NULL});
	expect_errors(
	    3, "  \"title\": 5,",
	    (const char *const[]){"m.json:3:12: title must be a string, not a number",
				  "m.json:1:1: missing \"description\": the model chooses "
				  "tools by their description",
				  NULL});
	expect_errors(5, "  \"command\": [\"cat\", \"{path}\"],",
		      (const char *const[]){"m.json:5:15: command[0] must be the absolute path of "
					    "the program, without placeholders (toolcell does not "
					    "search PATH)",
					    NULL});
	expect_errors(6, "  \"env\": {\"1X\": \"C\", \"Y\": 2},",
		      (const char *const[]){"m.json:6:11: env: \"1X\" is not a valid variable name",
					    "m.json:6:27: env.Y must be a string, not a number",
					    NULL});
}

static void test_placeholders(void **state)
{
	(void)state;
	expect_errors(5, "  \"command\": [\"/usr/bin/cat\", \"{pth}\"],",
		      (const char *const[]){"m.json:5:31: command[1]: unknown placeholder {pth}: "
					    "it is not {workspace}, {tmp} or a property of "
					    "inputSchema",
					    NULL});
	expect_errors(
	    5, "  \"command\": [\"/usr/bin/cat\", \"-f{files}\"],",
	    (const char *const[]){"m.json:5:31: command[1]: placeholder {files} may be an "
				  "array or object; only a whole command element can take "
				  "an array (declare a scalar \"type\")",
				  NULL});
	expect_errors(7, "  \"grants\": {\"write\": [\"{n}\"]}",
		      (const char *const[]){"m.json:7:24: grants.write[0]: placeholder {n} in a "
					    "grant path needs \"type\": \"string\" in inputSchema",
					    NULL});
	expect_errors(
	    7, "  \"grants\": {\"write\": [\"@system\", \"rel/dir\"]}",
	    (const char *const[]){
		"m.json:7:24: grants.write[0]: @system is read-only; it can be granted in "
		"\"read\" and \"exec\" only",
		"m.json:7:35: grants.write[1]: \"rel/dir\" must be an absolute path, "
		"@system, or start with {workspace}, {tmp} or an argument placeholder",
		NULL});
}

static void test_grants(void **state)
{
	(void)state;
	expect_errors(7, "  \"grants\": {\"limits\": {\"timeout_s\": 0, \"cpu\": 1}}",
		      (const char *const[]){
			  "m.json:7:41: grants.limits: unknown key \"cpu\" (known keys: timeout_s, "
			  "cpu_s, memory_mb, processes, open_files, file_size_mb, output_kb, tmp_mb)",
			  "m.json:7:38: grants.limits.timeout_s must be an integer from 1 to 86400",
			  NULL});
}

/* grants.net and grants.listen are parsed (names are not resolved) and kept. */
static void test_net_grants(void **state)
{
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;
	char buf[SBX_NET_FORMAT_MAX];

	(void)state;
	assert_int_equal(load_with(7,
				   "  \"grants\": {\"exec\": [\"@system\"], \"net\": "
				   "[\"Example.com:443\", \"10.0.0.0/8:*\", \"[fd00::]/8:22\", "
				   "\"name.invalid:1\"], \"listen\": [8080, 65535, 1, 1e3]}",
				   &d, &t),
			 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(t->nnet, 4);
	sbx_net_format(&t->net[0], buf, sizeof(buf));
	assert_string_equal(buf, "example.com:443");
	sbx_net_format(&t->net[1], buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8:*");
	sbx_net_format(&t->net[2], buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::/8]:22");
	sbx_net_format(&t->net[3], buf, sizeof(buf));
	assert_string_equal(buf, "name.invalid:1");
	assert_int_equal(t->nlisten, 4);
	assert_int_equal(t->listen[0], 8080);
	assert_int_equal(t->listen[1], 65535);
	assert_int_equal(t->listen[2], 1);
	assert_int_equal(t->listen[3], 1000);
	gw_tool_unref(t);
	gw_diag_free(&d);

	t = NULL;
	assert_int_equal(load_with(7, "  \"grants\": {\"net\": [], \"listen\": []}", &d, &t), 0);
	assert_int_equal(t->nnet, 0);
	assert_null(t->net);
	assert_int_equal(t->nlisten, 0);
	assert_null(t->listen);
	gw_tool_unref(t);
	gw_diag_free(&d);
}

static void test_net_grant_errors(void **state)
{
	(void)state;
	expect_errors(
	    7,
	    "  \"grants\": {\"net\": [\"example.com:443\", \"x:99999\", 5, \"EXAMPLE.com:443\", "
	    "\"[fd00::1/8]:1\", \"[::ffff:10.0.0.1]:80\", \"10.0.0.1:80\"]}",
	    (const char *const[]){
		"m.json:7:41: grants.net[1]: \"x:99999\": port 99999 is out of range (1..65535)",
		"m.json:7:52: grants.net[2] must be a string, not a number",
		"m.json:7:55: grants.net[3]: \"EXAMPLE.com:443\" duplicates grants.net[0]",
		"m.json:7:74: grants.net[4]: \"[fd00::1/8]:1\": [fd00::1/8] has bits set beyond "
		"the prefix; the network is [fd00::/8]",
		"m.json:7:115: grants.net[6]: \"10.0.0.1:80\" duplicates grants.net[5]", NULL});
	expect_errors(
	    7, "  \"grants\": {\"net\": [\"::1:80\", \"*:443\", \"a_b:1\"]}",
	    (const char *const[]){
		"m.json:7:22: grants.net[0]: \"::1:80\": an IPv6 address must be "
		"written in brackets, as in [2001:db8::1]:443",
		"m.json:7:32: grants.net[1]: \"*:443\": * is not a host; for any host "
		"write 0.0.0.0/0:PORT and [::]/0:PORT",
		"m.json:7:41: grants.net[2]: \"a_b:1\": '_' is not allowed in a host name "
		"(letters, digits, '-' and '.' only)",
		NULL});
	expect_errors(7, "  \"grants\": {\"net\": \"example.com:443\"}",
		      (const char *const[]){"m.json:7:21: grants.net must be an array of "
					    "\"host:port\" strings, not a string",
					    NULL});
	expect_errors(
	    7, "  \"grants\": {\"listen\": [8080, 0, 65536, 80.5, \"81\", 8080, -1, true, 1e3]}",
	    (const char *const[]){
		"m.json:7:31: grants.listen[1] must be an integer from 1 to 65535, not 0",
		"m.json:7:34: grants.listen[2] must be an integer from 1 to 65535, not 65536",
		"m.json:7:41: grants.listen[3] must be an integer from 1 to 65535, not 80.5",
		"m.json:7:47: grants.listen[4] must be an integer from 1 to 65535, not a string",
		"m.json:7:53: grants.listen[5]: port 8080 duplicates grants.listen[0]",
		"m.json:7:59: grants.listen[6] must be an integer from 1 to 65535, not -1",
		"m.json:7:63: grants.listen[7] must be an integer from 1 to 65535, not a boolean",
		NULL});
	expect_errors(7, "  \"grants\": {\"listen\": 8080}",
		      (const char *const[]){"m.json:7:24: grants.listen must be an array of TCP "
					    "port numbers, not a number",
					    NULL});
}

static void test_json_errors(void **state)
{
	(void)state;
	expect_errors(3, "  \"description\": \"d\",,",
		      (const char *const[]){"m.json:3:22: expected string key in object", NULL});
	expect_errors(8, "", (const char *const[]){"m.json:9:1: unexpected end of input", NULL});
}

static void test_dynamic_grants_and_tmp(void **state)
{
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;

	(void)state;
	assert_int_equal(load_with(7,
				   "  \"grants\": {\"write\": [\"{path}\", \"{tmp}\"], \"read\": "
				   "[\"{workspace}/docs\"]}",
				   &d, &t),
			 0);
	assert_int_equal(t->ndyn, 2);
	assert_string_equal(t->dyn[0].origin, "grants.write[0]");
	assert_false(t->dyn[0].in_tmp);
	assert_true(t->dyn[1].in_tmp);
	assert_true(t->uses_tmp);
	assert_int_equal(t->nstatic, 1);
	assert_string_equal(t->static_grants[0].path, "/ws/docs");
	gw_tool_unref(t);
	gw_diag_free(&d);
}

/* "output": text (the default), json (with an optional outputSchema) or
 * content (MCP content blocks; no outputSchema: nothing would check it). */
static void test_output_modes(void **state)
{
	static const struct {
		const char *line;
		enum gw_output want;
		bool schema;
	} ok[] = {
	    {"  \"env\": {},", GW_OUTPUT_TEXT, false},
	    {"  \"output\": \"text\",", GW_OUTPUT_TEXT, false},
	    {"  \"output\": \"json\",", GW_OUTPUT_JSON, false},
	    {"  \"output\": \"json\", \"outputSchema\": {\"type\": \"object\"},", GW_OUTPUT_JSON,
	     true},
	    {"  \"output\": \"content\",", GW_OUTPUT_CONTENT, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct gw_diag d = {0};
		struct gw_tool *t = NULL;

		assert_int_equal(load_with(6, ok[i].line, &d, &t), 0);
		assert_int_equal(d.n, 0);
		assert_int_equal(t->output, ok[i].want);
		assert_int_equal(t->output_schema != NULL, ok[i].schema);
		assert_int_equal(cJSON_HasObjectItem(t->listing, "outputSchema"), ok[i].schema);
		gw_tool_unref(t);
	}
	expect_errors(6, "  \"output\": \"content\", \"outputSchema\": {\"type\": \"object\"},",
		      (const char *const[]){"m.json:6:24: outputSchema needs \"output\": \"json\"; "
					    "an \"output\": \"content\" tool returns content "
					    "blocks, which no schema checks",
					    NULL});
	/* The same wherever the keys are. */
	expect_errors(
	    2,
	    "  \"outputSchema\": {\"type\": \"object\"}, \"name\": \"t\", \"output\": \"content\",",
	    (const char *const[]){"m.json:2:3: outputSchema needs \"output\": \"json\"; "
				  "an \"output\": \"content\" tool returns content "
				  "blocks, which no schema checks",
				  NULL});
	expect_errors(
	    6, "  \"outputSchema\": {\"type\": \"object\"},",
	    (const char *const[]){"m.json:6:3: outputSchema needs \"output\": \"json\"", NULL});
	expect_errors(6, "  \"output\": \"xml\",",
		      (const char *const[]){"m.json:6:13: output must be \"text\", \"json\" or "
					    "\"content\", not \"xml\"",
					    NULL});
	/* Modes are case-sensitive, like every other manifest value. */
	expect_errors(6, "  \"output\": \"Content\",",
		      (const char *const[]){"m.json:6:13: output must be \"text\", \"json\" or "
					    "\"content\", not \"Content\"",
					    NULL});
	expect_errors(
	    6, "  \"output\": [\"content\"],",
	    (const char *const[]){"m.json:6:13: output must be a string, not an array", NULL});
}

/* The bundled manifests validate, and a toolset rejects duplicate names. */
static void test_bundled_and_duplicates(void **state)
{
	char *dir = TOOLCELL_SOURCE_DIR "/manifests";
	char *twice[] = {dir, dir};
	struct gw_toolset *ts = NULL;
	struct gw_diag d = {0};

	(void)state;
	assert_int_equal(gw_toolset_load(&dir, 1, &pure, &ts, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ts->n, 8);
	assert_non_null(gw_toolset_find(ts, "read_file"));
	assert_non_null(gw_toolset_find(ts, "git_log"));
	assert_null(gw_toolset_find(ts, "read"));
	gw_toolset_free(ts);
	assert_int_equal(gw_toolset_load(twice, 2, &pure, &ts, &d), -22);
	assert_int_equal(d.n, 8);
	assert_non_null(strstr(d.msgs[0], "duplicate tool name \"git_diff\""));
	gw_diag_free(&d);
}

/* Fail closed: an older Landlock ABI refuses the tool, naming what is missing. */
static void test_fail_closed(void **state)
{
	struct sbx_features f = {.landlock_abi = 5, .seccomp_filter = true};
	struct gw_load_opts opts = {.workspace = "/tmp", .features = &f, .compile = true};
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;
	const char *text = "{\"name\":\"t\",\"description\":\"d\",\"inputSchema\":{\"type\":"
			   "\"object\"},\"command\":[\"/bin/true\"],\"grants\":{}}";

	(void)state;
	assert_int_equal(gw_tool_load("f.json", text, strlen(text), &opts, &t, &d), -22);
	assert_int_equal(d.n, 1);
	printf("  got: %s\n", d.msgs[0]);
	assert_string_equal(
	    d.msgs[0], "f.json:1:87: tool 't' refused: this kernel has Landlock ABI 5; toolcell "
		       "needs ABI 6: " SBX_LANDLOCK_ABI_MIN_WHY);
	gw_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_unknown_and_duplicate_keys),
	    cmocka_unit_test(test_types_and_names),
	    cmocka_unit_test(test_placeholders),
	    cmocka_unit_test(test_grants),
	    cmocka_unit_test(test_net_grants),
	    cmocka_unit_test(test_net_grant_errors),
	    cmocka_unit_test(test_json_errors),
	    cmocka_unit_test(test_dynamic_grants_and_tmp),
	    cmocka_unit_test(test_output_modes),
	    cmocka_unit_test(test_bundled_and_duplicates),
	    cmocka_unit_test(test_fail_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
