/* The operator ceiling: parsing (every problem at its FILE:LINE:COL) and the
 * comparison of a tool's grants with it, kind by kind. Tools are loaded
 * without compiling (no kernel needed); gw_ceiling_check is called directly,
 * as gw_tool_load does after a policy compiles. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/ceiling.h"
#include "gateway/manifest.h"

/* A real workspace, so that realpath has something to resolve:
 * a/, a/x/, ab/, and link -> /etc. */
static char ws[PATH_MAX];

static int setup(void **state)
{
	char tmpl[] = "/tmp/toolcell-ceiling-XXXXXX", p[PATH_MAX + 16];

	(void)state;
	if (!mkdtemp(tmpl) || !realpath(tmpl, ws))
		return -1;
	snprintf(p, sizeof(p), "%s/a", ws);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/a/x", ws);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/ab", ws);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/link", ws);
	return symlink("/etc", p);
}

static int teardown(void **state)
{
	static const char *const sub[] = {"link", "a/x", "a", "ab", NULL};
	char p[PATH_MAX + 16];

	(void)state;
	for (const char *const *s = sub; *s; s++) {
		snprintf(p, sizeof(p), "%s/%s", ws, *s);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(ws);
	return 0;
}

/* A tool with the given "grants" object, loaded without compiling. */
static struct gw_tool *tool(const char *grants)
{
	const struct gw_load_opts o = {.workspace = ws, .compile = false};
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;
	char text[4096];
	int r;

	snprintf(text, sizeof(text),
		 "{\"name\": \"t\", \"description\": \"d\", \"inputSchema\": {\"type\": "
		 "\"object\", \"properties\": {\"path\": {\"type\": \"string\"}}}, \"command\": "
		 "[\"/usr/bin/true\"], \"grants\": %s}",
		 grants);
	r = gw_tool_load("m.json", text, strlen(text), &o, &t, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("  tool: %s\n", d.msgs[i]);
	assert_int_equal(r, 0);
	gw_diag_free(&d);
	return t;
}

static struct gw_ceiling *ceiling(const char *json)
{
	struct gw_diag d = {0};
	struct gw_ceiling *c = NULL;
	int r = gw_ceiling_parse("c.json", json, strlen(json), ws, &c, &d);

	for (size_t i = 0; i < d.n; i++)
		printf("  ceiling: %s\n", d.msgs[i]);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	gw_diag_free(&d);
	return c;
}

static int check(const char *ceil, const char *grants, char *err, size_t errlen)
{
	struct gw_ceiling *c = ceiling(ceil);
	struct gw_tool *t = tool(grants);
	int r;

	err[0] = '\0';
	r = gw_ceiling_check(c, t, err, errlen);
	gw_tool_unref(t);
	gw_ceiling_free(c);
	return r;
}

static void within(const char *ceil, const char *grants)
{
	char err[1024];
	int r = check(ceil, grants, err, sizeof(err));

	if (r != 0)
		printf("  unexpectedly refused: %s\n  ceiling %s\n  grants  %s\n", err, ceil,
		       grants);
	assert_int_equal(r, 0);
}

/* msg is the exact message, with every "%s" in it standing for the workspace. */
static void refused(const char *ceil, const char *grants, const char *msg)
{
	char err[1024], want[PATH_MAX * 4] = "";
	int r = check(ceil, grants, err, sizeof(err));

	for (size_t i = 0, o = 0; msg[i] && o + PATH_MAX + 1 < sizeof(want);) {
		if (msg[i] == '%' && msg[i + 1] == 's') {
			o += (size_t)snprintf(want + o, sizeof(want) - o, "%s", ws);
			i += 2;
		} else {
			want[o++] = msg[i++];
			want[o] = '\0';
		}
	}
	assert_int_equal(r, -EPERM);
	assert_string_equal(err, want);
}

static void test_read(void **state)
{
	(void)state;
	within("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/a\"]}");
	within("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/a/x\"]}");
	within("{\"read\": [\"{workspace}/a/\"]}", "{\"read\": [\"{workspace}/a/x/missing\"]}");
	within("{\"read\": [\"/\"]}", "{\"read\": [\"/etc\", \"{workspace}\"]}");
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/a/x\", \"/etc\"]}",
		"grants.read[1]: /etc is not within the ceiling's read grants");
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}\"]}",
		"grants.read[0]: %s is not within the ceiling's read grants");
	/* Read is not write, nor exec. */
	refused("{\"read\": [\"{workspace}\"], \"exec\": [\"{workspace}\"]}",
		"{\"write\": [\"{workspace}/a\"]}",
		"grants.write[0]: %s/a is not within the ceiling's write grants");
}

static void test_write_covers_read(void **state)
{
	(void)state;
	within("{\"write\": [\"{workspace}\"]}",
	       "{\"read\": [\"{workspace}/a\"], \"write\": [\"{workspace}/a/x\"]}");
	refused("{\"write\": [\"{workspace}\"]}", "{\"write\": [\"/etc\"]}",
		"grants.write[0]: /etc is not within the ceiling's write grants");
	refused("{\"write\": [\"{workspace}\"]}", "{\"exec\": [\"{workspace}/a\"]}",
		"grants.exec[0]: %s/a is not within the ceiling's exec grants");
}

static void test_exec(void **state)
{
	(void)state;
	within("{\"exec\": [\"/usr/bin\"]}", "{\"exec\": [\"/usr/bin\"]}");
	refused("{\"exec\": [\"/usr/bin\"]}", "{\"exec\": [\"/usr\"]}",
		"grants.exec[0]: /usr is not within the ceiling's exec grants");
	/* Exec does not imply read. */
	refused("{\"exec\": [\"{workspace}\"]}", "{\"read\": [\"{workspace}/a\"]}",
		"grants.read[0]: %s/a is not within the ceiling's read grants");
}

/* Paths are compared component by component, after resolving symlinks and
 * "..": text prefixes and tricks in the manifest do not get through. */
static void test_paths_canonical(void **state)
{
	(void)state;
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/ab\"]}",
		"grants.read[0]: %s/ab is not within the ceiling's read grants");
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/abc\"]}",
		"grants.read[0]: %s/abc is not within the ceiling's read grants");
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/a/../ab\"]}",
		"grants.read[0]: %s/a/../ab (resolves to %s/ab) is not within the ceiling's "
		"read grants");
	refused("{\"read\": [\"{workspace}\"]}", "{\"read\": [\"{workspace}/link/ssl\"]}",
		"grants.read[0]: %s/link/ssl (resolves to /etc/ssl) is not within the ceiling's "
		"read grants");
	refused("{\"read\": [\"{workspace}\"]}", "{\"read\": [\"{workspace}/missing/../..\"]}",
		"grants.read[0]: %s/missing/../.. (resolves to /tmp) is not within the "
		"ceiling's read grants");
	/* The ceiling's own symlinks are resolved too: it means where they lead. */
	within("{\"read\": [\"{workspace}/link\"]}", "{\"read\": [\"/etc/ssl\"]}");
	within("{\"read\": [\"{workspace}/a/x/..\"]}", "{\"read\": [\"{workspace}/a\"]}");
	/* Both sides of a missing path are compared as written, cleaned. */
	within("{\"read\": [\"/nonexistent-toolcell/a\"]}",
	       "{\"read\": [\"/nonexistent-toolcell//a/./b\"]}");
	refused("{\"read\": [\"/nonexistent-toolcell/a\"]}",
		"{\"read\": [\"/nonexistent-toolcell/ab\"]}",
		"grants.read[0]: /nonexistent-toolcell/ab is not within the ceiling's read grants");
}

static void test_system(void **state)
{
	(void)state;
	within("{\"read\": [\"@system\"], \"exec\": [\"@system\"]}",
	       "{\"read\": [\"@system\"], \"exec\": [\"@system\"]}");
	/* Read and exec are separate kinds of @system. */
	refused("{\"read\": [\"@system\"]}", "{\"read\": [\"@system\"], \"exec\": [\"@system\"]}",
		"grants.exec: @system (/usr) is not within the ceiling's exec grants");
	refused("{\"exec\": [\"@system\"]}", "{\"read\": [\"@system\"], \"exec\": [\"@system\"]}",
		"grants.read: @system (/usr) is not within the ceiling's read grants");
	/* The ceiling's @system covers the paths it stands for... */
	within("{\"read\": [\"@system\"], \"exec\": [\"@system\"]}",
	       "{\"read\": [\"/usr/share\", \"/etc/passwd\"], \"exec\": [\"/usr/bin\"]}");
	/* ...and nothing more. */
	refused("{\"read\": [\"@system\"]}", "{\"read\": [\"/etc/hostname\"]}",
		"grants.read[0]: /etc/hostname is not within the ceiling's read grants");
	/* Paths may cover a tool's @system instead; in read, @system makes the
	 * harmless devices writable, which then needs write. */
	within("{\"exec\": [\"/\"]}", "{\"exec\": [\"@system\"]}");
	refused("{\"read\": [\"/\"]}", "{\"read\": [\"@system\"]}",
		"grants.read: @system (/dev/null) is not within the ceiling's write grants");
	within("{\"read\": [\"/\"], \"write\": [\"/dev\"]}", "{\"read\": [\"@system\"]}");
}

static void test_tmp(void **state)
{
	(void)state;
	within("{\"write\": [\"{tmp}\"]}", "{\"read\": [\"{tmp}/x\"], \"write\": [\"{tmp}\"]}");
	within("{\"read\": [\"{tmp}\"]}", "{\"read\": [\"{tmp}\"]}");
	refused("{\"read\": [\"{tmp}\"]}", "{\"write\": [\"{tmp}\"]}",
		"grants.write[0]: {tmp} is not within the ceiling's write grants");
	refused("{\"write\": [\"{tmp}\"]}", "{\"exec\": [\"{tmp}/bin\"]}",
		"grants.exec[0]: {tmp}/bin is not within the ceiling's exec grants");
	/* {tmp} is not beneath the workspace, nor the other way round. */
	refused("{\"write\": [\"{workspace}\", \"/tmp\"]}", "{\"write\": [\"{tmp}\"]}",
		"grants.write[0]: {tmp} is not within the ceiling's write grants");
}

/* An argument's path is only known per call, and then lies anywhere beneath
 * the workspace: allowed only by a ceiling that covers the whole workspace. */
static void test_argument_grants(void **state)
{
	(void)state;
	within("{\"read\": [\"{workspace}\"]}", "{\"read\": [\"{path}\"]}");
	within("{\"write\": [\"{workspace}\"]}", "{\"write\": [\"{workspace}/{path}\"]}");
	within("{\"read\": [\"/tmp\"]}", "{\"read\": [\"{path}\"]}");
	refused("{\"read\": [\"{workspace}/a\"]}", "{\"read\": [\"{workspace}/a/{path}\"]}",
		"grants.read[0]: {workspace}/a/{path} (resolved beneath the workspace %s) is not "
		"within the ceiling's read grants");
	refused("{\"read\": [\"{workspace}\"]}", "{\"write\": [\"{path}\"]}",
		"grants.write[0]: {path} (resolved beneath the workspace %s) is not within the "
		"ceiling's write grants");
}

static void test_net(void **state)
{
	const char *ce = "{\"net\": [\"example.com:443\", \"10.0.0.0/8:*\", \"[fd00::/8]:443\", "
			 "\"0.0.0.0/0:80\"]}";

	(void)state;
	within(ce, "{\"net\": [\"example.com:443\"]}");
	within(ce, "{\"net\": [\"EXAMPLE.COM:443\"]}");
	within(ce, "{\"net\": [\"10.1.2.3:22\", \"10.1.0.0/16:*\", \"10.0.0.0/8:5432\"]}");
	within(ce, "{\"net\": [\"[fd00::1]:443\", \"[fd12::/16]:443\", \"192.0.2.1:80\"]}");
	refused(ce, "{\"net\": [\"example.com:443\", \"evil.com:443\"]}",
		"grants.net[1]: \"evil.com:443\" is not within the ceiling's net grants");
	/* A name is covered only by the same name, not by the addresses. */
	refused(ce, "{\"net\": [\"www.example.com:443\"]}",
		"grants.net[0]: \"www.example.com:443\" is not within the ceiling's net grants");
	/* Ports: "*" in the ceiling covers any; a tool's "*" needs a ceiling "*". */
	refused(ce, "{\"net\": [\"example.com:80\"]}",
		"grants.net[0]: \"example.com:80\" is not within the ceiling's net grants");
	refused(ce, "{\"net\": [\"example.com:*\"]}",
		"grants.net[0]: \"example.com:*\" is not within the ceiling's net grants");
	refused(ce, "{\"net\": [\"[fd00::1]:80\"]}",
		"grants.net[0]: \"[fd00::1]:80\" is not within the ceiling's net grants");
	/* CIDR containment: a wider range is not within a narrower one. */
	refused(ce, "{\"net\": [\"10.0.0.0/7:22\"]}",
		"grants.net[0]: \"10.0.0.0/7:22\" is not within the ceiling's net grants");
	refused(ce, "{\"net\": [\"11.0.0.1:22\"]}",
		"grants.net[0]: \"11.0.0.1:22\" is not within the ceiling's net grants");
	/* "0.0.0.0/0" does not cover the metadata service. */
	refused(ce, "{\"net\": [\"169.254.169.254:80\"]}",
		"grants.net[0]: \"169.254.169.254:80\" is not within the ceiling's net grants");
	/* No net in the ceiling: no network at all. */
	refused("{\"read\": [\"/\"]}", "{\"net\": [\"10.0.0.1:80\"]}",
		"grants.net[0]: \"10.0.0.1:80\" is not within the ceiling's net grants");
	within("{}", "{\"net\": []}");
}

static void test_listen(void **state)
{
	(void)state;
	within("{\"listen\": [8080, 9090]}", "{\"listen\": [9090]}");
	refused("{\"listen\": [8080]}", "{\"listen\": [8080, 9090]}",
		"grants.listen[1]: port 9090 is not within the ceiling's listen grants");
	refused("{}", "{\"listen\": [8080]}",
		"grants.listen[0]: port 8080 is not within the ceiling's listen grants");
}

static void test_limits(void **state)
{
	static const char *const keys[] = {"timeout_s",	 "cpu_s",	 "memory_mb", "processes",
					   "open_files", "file_size_mb", "output_kb", NULL};
	char ce[256], gr[256], want[256];

	(void)state;
	for (const char *const *k = keys; *k; k++) {
		snprintf(ce, sizeof(ce), "{\"limits\": {\"%s\": 100}}", *k);
		snprintf(gr, sizeof(gr), "{\"limits\": {\"%s\": 100}}", *k);
		within(ce, gr);
		snprintf(gr, sizeof(gr), "{\"limits\": {\"%s\": 101}}", *k);
		snprintf(want, sizeof(want), "grants.limits.%s: 101 is above the ceiling's 100",
			 *k);
		refused(ce, gr, want);
	}
	/* A limit the manifest leaves out has its default, which counts. */
	refused("{\"limits\": {\"timeout_s\": 10}}", "{}",
		"grants.limits.timeout_s: 30 is above the ceiling's 10");
	/* A limit the ceiling leaves out has no bound. */
	within("{\"limits\": {\"cpu_s\": 10}}",
	       "{\"limits\": {\"cpu_s\": 10, \"timeout_s\": 86400, \"memory_mb\": 1048576}}");
	within("{}", "{\"limits\": {\"memory_mb\": 1048576}}");
}

/* An empty ceiling allows no path, network or port, and bounds no limit. */
static void test_missing_keys(void **state)
{
	(void)state;
	within("{}", "{}");
	refused("{}", "{\"read\": [\"@system\"]}",
		"grants.read: @system (/usr) is not within the ceiling's read grants");
	refused("{\"read\": []}", "{\"read\": [\"{path}\"]}",
		"grants.read[0]: {path} (resolved beneath the workspace %s) is not within the "
		"ceiling's read grants");
}

/* With a compiled policy, the check holds the path to the inode the policy
 * bound it to: a symlink swapped between the two (a tool writing to the
 * workspace while manifests reload) is refused, not checked as one thing and
 * granted as another. A fake policy stands in for the compiled one. */
static void test_bound_inode(void **state)
{
	struct gw_ceiling *c = ceiling("{\"read\": [\"{workspace}\"]}");
	struct gw_tool *t = tool("{\"read\": [\"{workspace}/a\"]}");
	struct sbx_ll_rule rule = {.fd = -1};
	char *rule_path = (char *)t->static_grants[0].path;
	struct sbx_policy p = {.rules = &rule, .rule_paths = &rule_path, .nrules = 1};
	char err[1024], want[PATH_MAX + 128];

	(void)state;
	t->policy = &p;
	rule.fd = open(rule_path, O_PATH | O_CLOEXEC);
	assert_true(rule.fd >= 0);
	assert_int_equal(gw_ceiling_check(c, t, err, sizeof(err)), 0);
	close(rule.fd);
	rule.fd = open("/etc", O_PATH | O_CLOEXEC);
	assert_true(rule.fd >= 0);
	assert_int_equal(gw_ceiling_check(c, t, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "grants.read[0]: %s/a changed while it was checked against the ceiling; load "
		 "the manifests again",
		 ws);
	assert_string_equal(err, want);
	close(rule.fd);
	t->policy = NULL;
	gw_tool_unref(t);

	/* @system paths the policy skipped (this system lacks them) grant
	 * nothing, so they exceed nothing. */
	t = tool("{\"read\": [\"@system\"]}");
	p.nrules = 0;
	t->policy = &p;
	assert_int_equal(gw_ceiling_check(c, t, err, sizeof(err)), 0);
	t->policy = NULL;
	gw_tool_unref(t);
	gw_ceiling_free(c);
}

static void expect_parse(const char *json, const char *const *want)
{
	struct gw_diag d = {0};
	struct gw_ceiling *c = NULL;
	size_t n = 0;

	assert_int_equal(gw_ceiling_parse("c.json", json, strlen(json), ws, &c, &d), -EINVAL);
	assert_null(c);
	while (want[n])
		n++;
	for (size_t i = 0; i < d.n; i++)
		printf("  got: %s\n", d.msgs[i]);
	assert_int_equal(d.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d.msgs[i], want[i]);
	gw_diag_free(&d);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse("{\n  \"read\": [\"@system\"],\n  \"Write\": [],\n  \"read\": []\n}\n",
		     (const char *const[]){"c.json:4:3: duplicate key \"read\"", NULL});
	expect_parse("[]", (const char *const[]){"c.json:1:1: a ceiling must be a JSON object "
						 "shaped like a manifest's \"grants\" (read, "
						 "write, exec, net, listen, limits), not an array",
						 NULL});
	expect_parse("{\"read\": ",
		     (const char *const[]){"c.json:1:10: unexpected end of input", NULL});
	expect_parse(
	    "{\n"
	    "  \"read\": [\"@system\", 5, \"etc\", \"{path}\", \"{tmp}/x\", \"/a/{workspace}\"],\n"
	    "  \"Write\": [],\n"
	    "  \"write\": [\"@system\"],\n"
	    "  \"exec\": {},\n"
	    "  \"net\": [\"x:0\", 3, \"a.com:*\", \"A.com:*\"],\n"
	    "  \"listen\": [80, 80, 0, \"1\"],\n"
	    "  \"limits\": {\"memory_mb\": 0, \"x\": 1, \"cpu_s\": \"1\"}\n"
	    "}\n",
	    (const char *const[]){
		"c.json:3:3: unknown key \"Write\" (known keys: read, write, exec, net, listen, "
		"limits)",
		"c.json:2:23: read[1] must be a string, not a number",
		"c.json:2:26: read[2]: \"etc\" must be an absolute path, @system, start with "
		"{workspace}, or be {tmp}",
		"c.json:2:33: read[3]: \"{path}\" names an argument ({path}); a ceiling knows no "
		"arguments: an argument's path lies beneath the workspace, so list "
		"\"{workspace}\" to allow it",
		"c.json:2:43: read[4]: \"{tmp}/x\": {tmp} can only be listed alone, as \"{tmp}\" "
		"(each call gets a new one)",
		"c.json:2:54: read[5]: \"/a/{workspace}\": {workspace} may only start a path",
		"c.json:4:13: write[0]: @system is read-only; it can be listed in \"read\" and "
		"\"exec\" only",
		"c.json:5:11: exec must be an array of paths, not an object",
		"c.json:6:11: net[0]: \"x:0\": port 0 is not a port (use 1..65535, or * for any "
		"port)",
		"c.json:6:18: net[1] must be a string, not a number",
		"c.json:6:32: net[3]: \"A.com:*\" duplicates net[2]",
		"c.json:7:18: listen[1]: port 80 duplicates listen[0]",
		"c.json:7:22: listen[2] must be an integer from 1 to 65535, not 0",
		"c.json:7:25: listen[3] must be an integer from 1 to 65535, not a string",
		"c.json:8:30: limits: unknown key \"x\" (known keys: timeout_s, cpu_s, memory_mb, "
		"processes, open_files, file_size_mb, output_kb, tmp_mb)",
		"c.json:8:27: limits.memory_mb must be an integer from 1 to 1048576",
		"c.json:8:47: limits.cpu_s must be an integer from 1 to 86400", NULL});
	expect_parse("{\"read\": \"/usr\", \"net\": \"a:1\", \"listen\": 80, \"limits\": []}",
		     (const char *const[]){
			 "c.json:1:10: read must be an array of paths, not a string",
			 "c.json:1:25: net must be an array of \"host:port\" strings, not a string",
			 "c.json:1:42: listen must be an array of TCP port numbers, not a number",
			 "c.json:1:56: limits must be an object, not an array", NULL});
}

static void test_load_file(void **state)
{
	struct gw_diag d = {0};
	struct gw_ceiling *c = NULL;
	char path[PATH_MAX + 16], want[PATH_MAX + 128];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.json", ws);
	assert_int_equal(gw_ceiling_load(path, ws, &c, &d), -ENOENT);
	assert_null(c);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want), "%s:0:0: cannot read: No such file or directory", path);
	assert_string_equal(d.msgs[0], want);
	gw_diag_free(&d);

	assert_int_equal(gw_ceiling_load(ws, ws, &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want), "%s:0:0: cannot read: not a regular file", ws);
	assert_string_equal(d.msgs[0], want);
	gw_diag_free(&d);

	snprintf(path, sizeof(path), "%s/ceiling.json", ws);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\n  \"read\": [\"{workspace}\"],\n  \"listen\": [70000]\n}\n", f);
	fclose(f);
	assert_int_equal(gw_ceiling_load(path, ws, &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "%s:3:14: listen[0] must be an integer from 1 to 65535, not 70000", path);
	assert_string_equal(d.msgs[0], want);
	gw_diag_free(&d);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"read\": [\"{workspace}\"]}", f);
	fclose(f);
	assert_int_equal(gw_ceiling_load(path, ws, &c, &d), 0);
	assert_int_equal(d.n, 0);
	struct gw_tool *t = tool("{\"read\": [\"{workspace}/a\"]}");
	char err[256];
	assert_int_equal(gw_ceiling_check(c, t, err, sizeof(err)), 0);
	gw_tool_unref(t);
	gw_ceiling_free(c);
	gw_ceiling_free(NULL);
	unlink(path);
}

/* gw_tool_load applies the ceiling only when it compiles a policy: a pure
 * load (toolcell's own tests, validation without a kernel) ignores it. */
static void test_load_without_compile_ignores_ceiling(void **state)
{
	static const char text[] =
	    "{\"name\": \"t\", \"description\": \"d\", \"inputSchema\": {\"type\": \"object\"}, "
	    "\"command\": [\"/usr/bin/true\"], \"grants\": {\"write\": [\"/etc\"]}}";
	struct gw_ceiling *c = ceiling("{}");
	const struct gw_load_opts o = {.workspace = ws, .compile = false, .ceiling = c};
	struct gw_diag d = {0};
	struct gw_tool *t = NULL;

	(void)state;
	assert_int_equal(gw_tool_load("m.json", text, strlen(text), &o, &t, &d), 0);
	assert_int_equal(d.n, 0);
	gw_tool_unref(t);
	gw_ceiling_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read),
	    cmocka_unit_test(test_write_covers_read),
	    cmocka_unit_test(test_exec),
	    cmocka_unit_test(test_paths_canonical),
	    cmocka_unit_test(test_system),
	    cmocka_unit_test(test_tmp),
	    cmocka_unit_test(test_argument_grants),
	    cmocka_unit_test(test_net),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_missing_keys),
	    cmocka_unit_test(test_bound_inode),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_load_without_compile_ignores_ceiling),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
