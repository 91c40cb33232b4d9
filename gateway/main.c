/* toolcell: commands and wiring. The only place that prints for the user and
 * decides exit codes: 0 ok, 1 runtime failure, 2 usage or invalid manifest. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uv.h>

#include "gateway/call.h"
#include "gateway/ceiling.h"
#include "gateway/json.h"
#include "gateway/log.h"
#include "gateway/http.h"
#include "gateway/manifest.h"
#include "gateway/mcp.h"
#include "gateway/schema.h"
#include "gateway/stdio.h"
#include "sandbox/cgroup.h"
#include "sandbox/features.h"
#include "sandbox/keeper.h"
#include "sandbox/landlock.h"
#include "sandbox/policy.h"
#include "sandbox/seccomp.h"
#include "sandbox/spawn.h"

#ifndef TOOLCELL_MANIFEST_DIR
#define TOOLCELL_MANIFEST_DIR "manifests"
#endif

static const char usage[] =
    "usage:\n"
    "  toolcell serve   [--manifests DIR] [--workspace DIR] [--audit FILE] [--http [ADDR:]PORT\n"
    "                   [--token-file FILE | --no-auth] [--allow-origin ORIGIN ...]]\n"
    "                   serve the tools over MCP on stdin/stdout, or over Streamable\n"
    "                   HTTP at http://ADDR:PORT/mcp (ADDR defaults to 127.0.0.1)\n"
    "  toolcell check   [--workspace DIR] [FILE|DIR ...]\n"
    "                   validate manifests; errors as FILE:LINE:COL: message\n"
    "  toolcell explain TOOL [--args JSON] [--manifests DIR] [--workspace DIR]\n"
    "                   print the exact sandbox a call would get (nothing runs)\n"
    "  toolcell run     TOOL [--args JSON] [--manifests DIR] [--workspace DIR]\n"
    "                   run one call in its sandbox, stream stdout, exit with its status\n"
    "  toolcell probe   what this kernel supports and what toolcell enforces here\n"
    "  toolcell --version | --help\n"
    "\n"
    "--manifests defaults to the bundled manifests (" TOOLCELL_MANIFEST_DIR "),\n"
    "--workspace to the current directory. Logs go to stderr (TOOLCELL_LOG=debug for more).\n"
    "--ceiling FILE (serve, check, explain, run): refuse every tool whose grants are not\n"
    "within FILE (the operator's ceiling, shaped like a manifest's \"grants\").\n"
    "--http needs a bearer token: from --token-file (mode 600), or generated and printed\n"
    "once on stderr; --no-auth turns that off. Host and Origin must be localhost forms of\n"
    "the port unless --allow-origin adds one (scheme://host[:port]).\n"
    "--audit FILE (serve, run) appends one JSON line per call: tool, arguments, outcome.\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage or invalid manifest\n"
    "(run: the tool's own exit status, or 128+signal).\n";

struct app {
	uv_loop_t loop;
	struct sbx_features features;
	struct sbx_filter filter;
	struct sbx_keeper keeper;
	struct sbx_cgroup_root cgroup;
	bool have_cgroup;
	char processes_why[PATH_MAX + 512]; /* why `processes` is unenforceable, or "" */
	char workspace[PATH_MAX];
	int workspace_fd;
	struct gw_call_env env;
	struct gw_toolset *tools;
	const char *manifests;
	const char *args_json;
	const char *ceiling_file;   /* --ceiling, or NULL */
	const char *http;	    /* --http [ADDR:]PORT, or NULL: stdio */
	const char *audit_file;	    /* --audit, or NULL */
	int audit_fd;
	struct gw_http_opts http_opts;
	const char *origins[16];    /* --allow-origin */
	struct gw_ceiling *ceiling; /* loaded from it (owned), or NULL */
};

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "toolcell: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(toolcell --help shows the usage)\n");
	return 2;
}

/* --http [ADDR:]PORT: "8080", "127.0.0.1:8080", "[::1]:8080" (port 0: any). */
static int parse_http(const char *v, struct gw_http_opts *o)
{
	static char addr[64];
	const char *port = v, *colon = strrchr(v, ':');
	char *end;

	o->addr = NULL;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof(addr))
			return -1;
		memcpy(addr, v + 1, (size_t)(close - v - 1));
		addr[close - v - 1] = '\0';
		o->addr = addr;
		port = close + 2;
	} else if (colon) {
		if ((size_t)(colon - v) >= sizeof(addr) || colon == v)
			return -1;
		memcpy(addr, v, (size_t)(colon - v));
		addr[colon - v] = '\0';
		o->addr = addr;
		port = colon + 1;
	}
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!port[0] || *end || errno || p > 65535 || port[0] == '-' || port[0] == '+')
		return -1;
	o->port = (unsigned)p;
	return 0;
}

/* Parses the options shared by the commands; positional arguments are left
 * in pos[]. */
static int parse_opts(int argc, char **argv, struct app *a, const char *cmd, char **pos, int *npos)
{
	static const struct option opts[] = {
	    {"manifests", required_argument, NULL, 'm'},
	    {"workspace", required_argument, NULL, 'w'},
	    {"args", required_argument, NULL, 'a'},
	    {"http", required_argument, NULL, 'H'},
	    {"token-file", required_argument, NULL, 'T'},
	    {"no-auth", no_argument, NULL, 'N'},
	    {"audit", required_argument, NULL, 'A'},
	    {"ceiling", required_argument, NULL, 'C'},
	    {"allow-origin", required_argument, NULL, 'O'},
	    {NULL, 0, NULL, 0},
	};
	const char *workspace = ".";
	int c;

	*npos = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			a->manifests = optarg;
			break;
		case 'w':
			workspace = optarg;
			break;
		case 'a':
			if (strcmp(cmd, "run") != 0 && strcmp(cmd, "explain") != 0)
				return usage_error("--args is for run and explain");
			a->args_json = optarg;
			break;
		case 'C':
			a->ceiling_file = optarg;
			break;
		case 'H':
		case 'T':
		case 'N':
		case 'O':
			if (strcmp(cmd, "serve") != 0)
				return usage_error("%s is for serve", argv[optind - 1]);
			if (c == 'H')
				a->http = optarg;
			else if (c == 'T')
				a->http_opts.token_file = optarg;
			else if (c == 'N')
				a->http_opts.no_auth = true;
			else if (a->http_opts.nallow_origins == 16)
				return usage_error("at most 16 --allow-origin");
			else
				a->origins[a->http_opts.nallow_origins++] = optarg;
			break;
		case 'A':
			if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "run") != 0)
				return usage_error("--audit is for serve and run");
			a->audit_file = optarg;
			break;
		default:
			return usage_error("unknown or incomplete option %s", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		pos[(*npos)++] = argv[i];
	if (!a->http && (a->http_opts.token_file || a->http_opts.no_auth ||
			 a->http_opts.nallow_origins))
		return usage_error("--token-file, --no-auth and --allow-origin need --http");
	if (a->http_opts.token_file && a->http_opts.no_auth)
		return usage_error("--token-file and --no-auth exclude each other");
	a->http_opts.allow_origins = a->origins;
	if (a->audit_file) {
		/* Append-only, private: it holds every call's arguments. */
		a->audit_fd = open(a->audit_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (a->audit_fd < 0) {
			fprintf(stderr, "toolcell: --audit %s: %s\n", a->audit_file,
				strerror(errno));
			return 2;
		}
	}
	if (a->http && parse_http(a->http, &a->http_opts) < 0)
		return usage_error("--http %s: expected [ADDR:]PORT, e.g. 8080, 127.0.0.1:8080 "
				   "or [::1]:8080", a->http);
	if (!realpath(workspace, a->workspace)) {
		fprintf(stderr, "toolcell: workspace %s: %s\n", workspace, strerror(errno));
		return 2;
	}
	/* Loaded once: a manifest reload is checked against the same ceiling. */
	if (a->ceiling_file) {
		struct gw_diag diag = {0};
		int r = gw_ceiling_load(a->ceiling_file, a->workspace, &a->ceiling, &diag);
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		gw_diag_free(&diag);
		if (r < 0) {
			if (r == -ENOMEM)
				fprintf(stderr, "toolcell: --ceiling %s: out of memory\n",
					a->ceiling_file);
			return 2;
		}
	}
	return 0;
}

/* Does this option take the next argument as its value? */
static bool takes_value(const char *arg)
{
	static const char *const with_value[] = {
	    "--manifests", "--workspace", "--args",	    "--http",
	    "--token-file", "--audit",	   "--ceiling", "--allow-origin", NULL};

	for (const char *const *o = with_value; *o; o++)
		if (strcmp(arg, *o) == 0)
			return true;
	return false;
}

/* Options may come before or after positional arguments: move the options
 * first, keeping order, so getopt with "+" sees them all. */
static void options_first(int argc, char **argv)
{
	char **tmp = calloc((size_t)argc, sizeof(char *));
	int n = 1;

	if (!tmp)
		return;
	tmp[0] = argv[0];
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 1; i < argc; i++) {
			bool opt = argv[i][0] == '-' && argv[i][1];
			bool value = opt && takes_value(argv[i]) && i + 1 < argc;

			if (opt == (pass == 0)) {
				tmp[n++] = argv[i];
				if (value)
					tmp[n++] = argv[i + 1];
			}
			if (value)
				i++;
		}
	}
	memcpy(argv, tmp, (size_t)argc * sizeof(char *));
	free(tmp);
}

static void print_diag(const struct gw_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
}

/* What confines a tool beyond its policy, decided once per gateway:
 *  - the keeper, which kills every live call's process group if the gateway
 *    is SIGKILLed (started now, while the gateway is small and has one
 *    thread, because it is a fork);
 *  - a user namespace per call where the kernel allows one, in which the tool
 *    runs as its mapped uid without any capability, and RLIMIT_NPROC counts
 *    the call's processes only;
 *  - for a root gateway, whose processes RLIMIT_NPROC does not bound, a pids
 *    cgroup per call; without one, every tool is refused (fail closed). */
static int app_isolation(struct app *a)
{
	char err[PATH_MAX + 64];
	int r;

	a->keeper = (struct sbx_keeper)SBX_KEEPER_INIT;
	r = sbx_keeper_start(&a->keeper);
	if (r < 0) {
		fprintf(stderr, "toolcell: cannot start the process keeper: %s\n", strerror(-r));
		return 1;
	}
	/* A root gateway never execs: its bounding set can go now, once,
	 * instead of in every call's child (after the keeper's fork, which
	 * needs nothing from it either). */
	if (geteuid() == 0)
		(void)sbx_caps_drop_bounding();
	sbx_features_probe_userns(&a->features);
	if (getenv("TOOLCELL_NO_USERNS") && *getenv("TOOLCELL_NO_USERNS"))
		a->features.user_namespaces = 0; /* test-only: the path without them */
	a->processes_why[0] = '\0';
	if (getuid() == 0) {
		r = sbx_cgroup_init(&a->cgroup, err, sizeof(err));
		if (r < 0)
			snprintf(a->processes_why, sizeof(a->processes_why),
				 "the kernel does not apply RLIMIT_NPROC to a gateway running as "
				 "root, and no pids cgroup is usable (%s); run toolcell as an "
				 "ordinary user or give it a writable pids cgroup",
				 err);
		else
			a->have_cgroup = true;
	}
	return 0;
}

static void app_env(struct app *a)
{
	struct gw_call_env *e = &a->env;
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

	*e = (struct gw_call_env){.loop = &a->loop,
				  .workspace = a->workspace,
				  .workspace_fd = a->workspace_fd,
				  .features = &a->features,
				  .keeper_fd = sbx_keeper_fd(&a->keeper),
				  .cgroup = a->have_cgroup ? &a->cgroup : NULL,
				  .userns = a->features.user_namespaces == 1,
				  /* A mount namespace needs CAP_SYS_ADMIN: the
				   * call's user namespace gives it, or root. */
				  .mounts = a->features.user_namespaces == 1 || uid == 0,
				  .audit_fd = a->audit_fd};
	/* The identity map: the tool keeps the uid it would have had, so file
	 * ownership reads the same inside and out. For a root gateway that is
	 * uid 0 of a namespace the tool holds no capability in (they are all
	 * dropped, bounding set included, with SECBIT_NOROOT locked). */
	e->inside_uid = uid;
	e->inside_gid = gid;
	snprintf(e->uid_map, sizeof(e->uid_map), "%u %u 1", e->inside_uid, uid);
	snprintf(e->gid_map, sizeof(e->gid_map), "%u %u 1", e->inside_gid, gid);
}

/* Probes the kernel, compiles the shared filter and loads the manifests. */
/* What app_load set up before it failed: the filter, the cgroup, the keeper. */
static void app_unwind(struct app *a)
{
	sbx_filter_free(&a->filter);
	if (a->have_cgroup)
		sbx_cgroup_fini(&a->cgroup);
	a->have_cgroup = false;
	sbx_keeper_stop(&a->keeper);
}

static int app_load(struct app *a, char *const *paths, size_t npaths, bool compile)
{
	struct gw_diag diag = {0};
	char *def = (char *)(a->manifests ? a->manifests : TOOLCELL_MANIFEST_DIR);
	struct gw_load_opts lo = {.workspace = a->workspace,
				  .features = &a->features,
				  .filter = &a->filter,
				  .ceiling = a->ceiling,
				  .compile = compile};
	int r;

	sbx_features_probe(&a->features);
	a->keeper = (struct sbx_keeper)SBX_KEEPER_INIT;
	if (compile && (r = app_isolation(a)) != 0) {
		app_unwind(a);
		return r;
	}
	lo.processes_unenforceable = a->processes_why[0] ? a->processes_why : NULL;
	if (compile) {
		r = sbx_filter_compile(&a->filter, 0);
		if (r < 0) {
			fprintf(stderr, "toolcell: cannot compile the seccomp filter: %s\n",
				strerror(-r));
			app_unwind(a);
			return 1;
		}
	}
	if (npaths == 0) {
		paths = &def;
		npaths = 1;
	}
	r = gw_toolset_load(paths, npaths, &lo, &a->tools, &diag);
	print_diag(&diag);
	gw_diag_free(&diag);
	if (r < 0) {
		app_unwind(a);
		return 2;
	}
	a->workspace_fd = open(a->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a->workspace_fd < 0) {
		fprintf(stderr, "toolcell: workspace %s: %s\n", a->workspace, strerror(errno));
		gw_toolset_free(a->tools);
		a->tools = NULL;
		app_unwind(a);
		return 1;
	}
	uv_loop_init(&a->loop);
	app_env(a);
	return 0;
}

static void app_free(struct app *a)
{
	gw_toolset_free(a->tools);
	a->tools = NULL;
	app_unwind(a);
	if (a->workspace_fd > 0)
		close(a->workspace_fd);
	uv_loop_close(&a->loop);
}

/* ---- serve ---- */

struct watch {
	struct app *a;
	struct gw_mcp *m;
	uv_fs_event_t ev;
	uv_timer_t debounce;
	bool gone; /* the directory was removed: polled until it is back */
};

static void on_manifest_change(uv_fs_event_t *ev, const char *file, int events, int status);

static void reload(uv_timer_t *t)
{
	struct watch *w = t->data;
	struct gw_diag diag = {0};
	struct gw_toolset *ts;
	char *dir = (char *)(w->a->manifests ? w->a->manifests : TOOLCELL_MANIFEST_DIR);
	struct gw_load_opts lo = {.workspace = w->a->workspace,
				  .features = &w->a->features,
				  .filter = &w->a->filter,
				  .ceiling = w->a->ceiling,
				  .processes_unenforceable =
				      w->a->processes_why[0] ? w->a->processes_why : NULL,
				  .compile = true};
	struct stat st;

	/* A directory that is removed takes the kernel's watch with it: say
	 * so once, keep the tools, and look for it every second until it is
	 * back (rm -rf and a fresh checkout, a deploy), then watch it again. */
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (!w->gone) {
			gw_log(GW_LOG_ERROR,
			       "manifest directory %s is gone (%s); keeping the %zu tools loaded, "
			       "and reading it again when it is back",
			       dir, strerror(errno ? errno : ENOTDIR), gw_mcp_tool_count(w->m));
			w->gone = true;
			uv_fs_event_stop(&w->ev);
			uv_timer_start(&w->debounce, reload, 1000, 1000);
		}
		return;
	}
	if (w->gone) {
		w->gone = false;
		uv_timer_stop(&w->debounce);
		int r = uv_fs_event_start(&w->ev, on_manifest_change, dir, 0);
		gw_log(r < 0 ? GW_LOG_WARN : GW_LOG_INFO, "manifest directory %s is back%s%s", dir,
		       r < 0 ? "; not watching it: " : "", r < 0 ? uv_strerror(r) : "");
	}
	if (gw_toolset_load(&dir, 1, &lo, &ts, &diag) < 0) {
		gw_log(GW_LOG_ERROR,
		       "manifests changed but do not load; keeping the previous tools:");
		for (size_t i = 0; i < diag.n; i++)
			gw_log(GW_LOG_ERROR, "%s", diag.msgs[i]);
	} else {
		gw_log(GW_LOG_INFO, "manifests changed: %zu tools loaded", ts->n);
		gw_mcp_set_tools(w->m, ts);
	}
	gw_diag_free(&diag);
}

static void on_manifest_change(uv_fs_event_t *ev, const char *file, int events, int status)
{
	struct watch *w = ev->data;

	(void)file;
	(void)events;
	(void)status;
	/* Editors write in several steps: reload once things are quiet. */
	uv_timer_start(&w->debounce, reload, 200, 0);
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int cmd_serve(struct app *a, int npos)
{
	struct gw_mcp *m;
	struct watch w = {.a = a};
	const char *dir = a->manifests ? a->manifests : TOOLCELL_MANIFEST_DIR;
	struct stat st;
	char err[512];
	int r;

	if (npos > 0)
		return usage_error("serve takes no positional arguments");
	r = app_load(a, NULL, 0, true);
	if (r != 0)
		return r;
	if (sbx_policy_supported(&a->features, err, sizeof(err)) < 0) {
		fprintf(stderr, "toolcell: %s\n", err);
		return 1;
	}
	gw_log(GW_LOG_INFO, "serving %zu tools over %s; workspace %s", a->tools->n,
	       a->http ? "HTTP" : "stdio", a->workspace);
	m = gw_mcp_new(a->tools, &a->env);
	if (!m)
		return 1;
	a->tools = NULL; /* the server owns them now */
	w.m = m;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		uv_timer_init(&a->loop, &w.debounce);
		w.debounce.data = &w;
		uv_fs_event_init(&a->loop, &w.ev);
		w.ev.data = &w;
		r = uv_fs_event_start(&w.ev, on_manifest_change, dir, 0);
		if (r < 0)
			gw_log(GW_LOG_WARN, "not watching %s for changes: %s", dir, uv_strerror(r));
	}
	if (a->http)
		r = gw_http_serve(&a->loop, m, &a->http_opts);
	else
		r = gw_stdio_serve(&a->loop, m, STDIN_FILENO, STDOUT_FILENO);
	/* A transport that could not start left the watcher open. */
	uv_walk(&a->loop, close_handle, NULL);
	uv_run(&a->loop, UV_RUN_DEFAULT);
	gw_mcp_free(m);
	return r;
}

static int cmd_check(struct app *a, char **pos, int npos)
{
	int r = app_load(a, pos, (size_t)npos, true);

	if (r == 0)
		printf("%zu tool%s OK\n", a->tools->n, a->tools->n == 1 ? "" : "s");
	return r;
}

/* Parses --args into an object; prints the problem and returns NULL if bad. */
static cJSON *parse_args(const struct app *a, int *rc)
{
	struct gw_json_doc doc = {0};
	struct gw_json_error err;
	cJSON *args;

	*rc = 0;
	if (!a->args_json)
		return cJSON_CreateObject();
	if (gw_json_parse(a->args_json, strlen(a->args_json), 64, &doc, &err) < 0) {
		fprintf(stderr, "toolcell: --args:%u:%u: %s\n", err.line, err.col, err.msg);
		*rc = 2;
		return NULL;
	}
	args = doc.root;
	doc.root = NULL;
	gw_json_doc_free(&doc);
	return args;
}

static struct gw_tool *find_tool(const struct app *a, const char *name)
{
	struct gw_tool *t = gw_toolset_find(a->tools, name);

	if (!t) {
		fprintf(stderr, "toolcell: no tool named \"%s\"; the tools are:", name);
		for (size_t i = 0; i < a->tools->n; i++)
			fprintf(stderr, " %s", a->tools->tools[i]->name);
		fprintf(stderr, "\n");
	}
	return t;
}

/* The common start of explain and run: load the tools, find TOOL, parse
 * --args. Returns 0 with *t (borrowed) and *args (owned), or an exit code. */
static int load_call(struct app *a, const char *cmd, char **pos, int npos, struct gw_tool **t,
		     cJSON **args)
{
	int r;

	if (npos != 1)
		return usage_error("%s takes exactly one TOOL", cmd);
	r = app_load(a, NULL, 0, true);
	if (r != 0)
		return r;
	*t = find_tool(a, pos[0]);
	if (!*t)
		return 2;
	*args = parse_args(a, &r);
	return *args ? 0 : r;
}

static void print_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int cmd_explain(struct app *a, char **pos, int npos)
{
	struct gw_tool *t;
	cJSON *args;
	char msg[1024], rights[256];
	struct gw_strv argv = {0};
	int r;

	r = load_call(a, "explain", pos, npos, &t, &args);
	if (r != 0)
		return r;
	if (gw_schema_validate(t->input_schema, args, "arguments", msg, sizeof(msg)) < 0) {
		fprintf(stderr, "toolcell: %s: %s\n", t->name, msg);
		cJSON_Delete(args);
		return 2;
	}
	const char *tmp =
	    t->uses_tmp ? "<a new private directory, e.g. /tmp/toolcell.XXXXXX>" : NULL;
	struct gw_tpl_ctx tc = {.args = args, .workspace = a->workspace, .tmp = tmp};
	printf("tool      %s (%s)\n", t->name, t->file);
	if (a->ceiling_file)
		printf("ceiling   %s (every grant below is within it)\n", a->ceiling_file);
	printf("argv      ");
	for (size_t i = 0; i < t->argc; i++) {
		if (gw_tpl_expand(&t->argv[i], &tc, &argv, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "toolcell: %s: %s\n", t->name, msg);
			cJSON_Delete(args);
			gw_strv_free(&argv);
			return 2;
		}
	}
	for (size_t i = 0; i < argv.n; i++) {
		print_quoted(argv.v[i]);
		putchar(i + 1 < argv.n ? ' ' : '\n');
	}
	gw_strv_free(&argv);
	char *s = NULL;
	gw_tpl_expand_one(&t->cwd, &tc, &s, msg, sizeof(msg));
	printf("cwd       %s\n", s ? s : a->workspace);
	free(s);
	printf("env       ");
	if (t->nenv == 0)
		printf("(empty: nothing is inherited from the gateway)");
	for (size_t i = 0; i < t->nenv; i++) {
		s = NULL;
		gw_tpl_expand_one(&t->env_vals[i], &tc, &s, msg, sizeof(msg));
		if (s)
			printf("%s%s=%s", i ? " " : "", t->env_names[i], s);
		free(s);
	}
	printf("\n");
	s = NULL;
	if (t->stdin_tpl)
		gw_tpl_expand_one(t->stdin_tpl, &tc, &s, msg, sizeof(msg));
	if (s)
		printf("stdin     %zu bytes from the arguments\n", strlen(s));
	else
		printf("stdin     /dev/null\n");
	free(s);
	printf("fds       only 0, 1, 2 (everything else is closed before exec)\n");
	if (!t->uses_tmp)
		printf("tmp       none (the manifest does not use {tmp})\n");
	else if (a->env.mounts)
		printf("tmp       a fresh 0700 directory, removed after the call; where granted, a "
		       "tmpfs of %u MiB\n          (tmp_mb) in the call's own mount namespace\n",
		       t->limits.tmp_mb);
	else
		printf("tmp       a fresh 0700 directory, removed after the call; bounded per file "
		       "only (file_size_mb):\n          no mount namespace without user "
		       "namespaces or root\n");

	const struct sbx_policy *p = t->policy;
	sbx_landlock_describe(sbx_landlock_fs_rights(p->abi), rights, sizeof(rights));
	printf(
	    "\nlandlock  ABI %d; every filesystem right this ABI knows is handled:\n          %s\n",
	    p->abi, rights);
	printf("          TCP bind and connect: %s\n",
	       p->abi >= 4 ? "handled, no port allowed" : "not handled by this ABI");
	printf("          scopes: %s\n", p->abi >= 6 ? "signals and abstract unix sockets confined "
						       "to the call"
						     : "none on this ABI");
	printf("  allowed beneath these paths (everything else is denied):\n");
	for (size_t i = 0; i < p->nrules; i++) {
		sbx_landlock_describe(p->rules[i].access & sbx_landlock_fs_rights(p->abi), rights,
				      sizeof(rights));
		printf("    %-28s %s\n", p->rule_paths[i], rights);
	}
	for (size_t i = 0; i < t->ndyn; i++) {
		s = NULL;
		gw_tpl_expand_one(&t->dyn[i].path, &tc, &s, msg, sizeof(msg));
		sbx_landlock_describe(sbx_access_rights(t->dyn[i].access, true), rights,
				      sizeof(rights));
		printf("    %-28s %s (%s, resolved per call beneath %s; no symlink escape)\n",
		       s ? s : "(argument not given: no rule)", rights, t->dyn[i].origin,
		       t->dyn[i].in_tmp ? "{tmp}" : "the workspace");
		free(s);
	}
	if (!p->net && p->nlisten == 0) {
		printf("\nnetwork   none: seccomp refuses socket() for every family, unix included "
		       "(socketpair works); Landlock denies TCP\n");
	} else {
		printf("\nnetwork   TCP over IPv4/IPv6 only (no UDP, raw, unix, netlink, MPTCP, "
		       "SCTP, ...)\n");
		if (p->net) {
			printf("          connect(2) is checked by the gateway; reachable, "
			       "exactly:\n");
			for (size_t i = 0; i < p->net->nrules; i++) {
				const struct sbx_net_rule *nr = &p->net->rules[i];
				char addr[INET6_ADDRSTRLEN] = "?";
				inet_ntop(nr->family, nr->addr, addr, sizeof(addr));
				char port[8] = "any";
				if (nr->port)
					snprintf(port, sizeof(port), "%u", (unsigned)nr->port);
				printf("            %s/%u port %s\n", addr, nr->prefix, port);
			}
			printf(
			    "          link-local and cloud metadata addresses only where listed "
			    "literally above\n");
			if (p->hosts_file)
				printf("          granted names resolve from %s%s\n", p->hosts_file,
				       a->env.mounts
					   ? " (bound over /etc/hosts in the call's mount namespace)"
					   : " (not bound: no mount namespace without user "
					     "namespaces or root; names do not resolve inside the "
					     "tool)");
		} else {
			printf("          no outgoing connection (Landlock denies every TCP "
			       "connect)\n");
		}
		for (size_t i = 0; i < p->nlisten; i++)
			printf("          may listen on TCP port %u (Landlock bind rule)\n",
			       (unsigned)p->listen[i]);
	}
	printf("\nseccomp   native architecture only; default allow, then:\n");
	for (const char *const *d = sbx_filter_describe(p->profile); *d; d++)
		printf("  - %s\n", *d);
	const struct sbx_limits *l = &t->limits;
	printf("\nlimits    wall %u s (then the whole process group is SIGKILLed), cpu %u s,\n"
	       "          address space %u MiB, processes %u (%s),\n"
	       "          open files %u, file size %u MiB, stdout %u KiB (then killed), stderr "
	       "kept up to %u KiB,\n          core dumps 0, locked memory 0\n",
	       l->timeout_s, l->cpu_s, l->memory_mb, l->processes,
	       getuid() == 0   ? "a pids cgroup per call; RLIMIT_NPROC does not bind root"
	       : a->env.userns ? "RLIMIT_NPROC in the call's own user namespace"
			       : "RLIMIT_NPROC over the uid's processes",
	       l->open_files, l->file_size_mb, l->output_kb, GW_STDERR_MAX / 1024);
	printf("\nprivilege no_new_privs; %s\n",
	       getuid() == 0 || geteuid() == 0
		   ? "running as root: every capability set and the bounding set are emptied, "
		     "SECBIT_NOROOT locked"
		   : "not root: no capabilities to drop");
	printf("identity  %s\n",
	       a->env.userns ? "a new user namespace per call; the tool keeps its uid there with "
			       "no capability"
			     : "no user namespace (unavailable or TOOLCELL_NO_USERNS): the same "
			       "guarantees hold through the steps above");
	printf("process   new session and process group (setsid/setpgid then denied), "
	       "parent-death SIGKILL;\n          at the end of the call the whole group is "
	       "killed%s; if the gateway\n          is SIGKILLed, the keeper process kills "
	       "every call's group\n",
	       a->features.pidfd_group_signal ? " (through the pidfd)" : "");
	cJSON_Delete(args);
	return 0;
}

/* ---- run ---- */

struct run_state {
	const char *tool;
	int status;
	bool done;
};

static void run_stdout(void *ud, const char *chunk, size_t len, size_t total)
{
	(void)ud;
	(void)total;
	gw_write_all(STDOUT_FILENO, chunk, len);
}

static void run_stderr(void *ud, const char *line, size_t len)
{
	(void)ud;
	gw_write_all(STDERR_FILENO, line, len);
	gw_write_all(STDERR_FILENO, "\n", 1);
}

static void run_done(void *ud, const struct gw_call_result *res)
{
	struct run_state *st = ud;

	st->done = true;
	/* A plain exit status speaks for itself as ours; a kill needs words. */
	if (res->timed_out || res->truncated || res->signal) {
		char *why = gw_call_failure(res);
		fprintf(stderr, "toolcell: %s\n", why ? why : "killed");
		free(why);
	}
	st->status = res->signal ? 128 + res->signal : res->exit_code;
}

static void run_failed(void *ud, const char *msg)
{
	struct run_state *st = ud;

	st->done = true;
	fprintf(stderr, "toolcell: %s: %s\n", st->tool, msg);
	st->status = 1;
}

static int cmd_run(struct app *a, char **pos, int npos)
{
	static const struct gw_call_events ev = {.on_stdout = run_stdout,
						 .on_stderr_line = run_stderr,
						 .on_done = run_done,
						 .on_failed = run_failed};
	struct run_state st = {0};
	struct gw_call *call;
	struct gw_tool *t;
	cJSON *args;
	char msg[1024];
	int r;

	r = load_call(a, "run", pos, npos, &t, &args);
	if (r != 0)
		return r;
	st.tool = t->name;
	r = gw_call_start(&a->env, t, args, &ev, &st, &call, msg, sizeof(msg));
	cJSON_Delete(args);
	if (r < 0) {
		run_failed(&st, msg);
		return r == -EINVAL ? 2 : 1;
	}
	uv_run(&a->loop, UV_RUN_DEFAULT);
	return st.done ? st.status : 1;
}

/* ---- probe ---- */

static int cmd_probe(void)
{
	struct sbx_features f;
	char err[512];
	int ok;

	sbx_features_probe(&f);
	sbx_features_probe_userns(&f);
	ok = sbx_policy_supported(&f, err, sizeof(err)) == 0;
	printf("kernel             ");
	fflush(stdout);
	{
		char rel[128] = "?";
		FILE *fp = fopen("/proc/sys/kernel/osrelease", "re");
		if (fp) {
			if (fgets(rel, sizeof(rel), fp))
				rel[strcspn(rel, "\n")] = '\0';
			fclose(fp);
		}
		printf("Linux %s\n", rel);
	}
	if (f.landlock_abi > 0)
		printf("landlock           ABI %d%s\n", f.landlock_abi,
		       f.landlock_abi != f.landlock_abi_real ? " (pretended by "
							       "TOOLCELL_PRETEND_LANDLOCK_ABI)"
							     : "");
	else
		printf("landlock           unavailable (%s)\n", strerror(f.landlock_errno));
	printf("  files            %s\n", f.landlock_abi >= 3	? "read, write, execute, truncate, "
								  "rename/link (refer) confined"
					  : f.landlock_abi >= 1 ? "partly (no truncate control)"
								: "NOT enforced");
	printf("  device ioctls    %s\n", f.landlock_abi >= 5 ? "confined" : "NOT enforced");
	printf("  TCP              %s\n",
	       f.landlock_abi >= 4 ? "denied unless granted" : "not covered by Landlock");
	printf("  signals, abstract unix sockets  %s\n",
	       f.landlock_abi >= 6 ? "confined to the call" : "NOT confined");
	printf("seccomp filters    %s\n", f.seccomp_filter
					      ? "yes: namespaces, mount, ptrace, bpf, "
						"io_uring, ... denied; socket() of every "
						"family refused; 32-bit/x32 ABIs kill"
					      : "NOT available");
	printf("user namespaces    %s\n",
	       f.user_namespaces > 0
		   ? "available: each call runs in its own, without capabilities, and "
		     "RLIMIT_NPROC counts that call only"
		   : "unavailable: the same guarantees hold without them (capabilities "
		     "dropped, seccomp, Landlock scopes); `processes` then counts the uid's "
		     "processes plus the calls in flight");
	printf("seccomp supervisor %s\n", f.seccomp_notify
					      ? "yes: connect(2) checked by host for net grants; "
						"chmod/chown/utimensat only beneath write grants"
					      : "NO: tools with net or write grants are refused");
	printf("mount namespace    %s\n",
	       f.user_namespaces > 0 || getuid() == 0
		   ? "per call where needed: {tmp} is a tmpfs of tmp_mb MiB, granted host names "
		     "resolve from the call's own /etc/hosts"
		   : "unavailable (no user namespaces, not root): {tmp} is bounded per file only "
		     "(file_size_mb) and granted host names do not resolve inside tools");
	printf("pidfd group kill   %s\n",
	       f.pidfd_group_signal ? "yes" : "no (kill(-pgid) is used)");
	printf("running as         uid %d%s\n", (int)getuid(),
	       getuid() == 0 ? ": tools get no capabilities (all sets and the bounding set "
			       "emptied)"
			     : "");
	if (getuid() == 0) {
		struct sbx_cgroup_root cg;
		char cgerr[PATH_MAX + 64];
		if (sbx_cgroup_init(&cg, cgerr, sizeof(cgerr)) == 0) {
			printf("processes (root)   %s, one cgroup per call\n",
			       sbx_cgroup_describe(&cg));
			sbx_cgroup_fini(&cg);
			/* Moving a process into a cgroup waits for an RCU grace
			 * period unless another move was just made: the cost of a
			 * call that comes alone (docs/PERFORMANCE.md, item 4). */
			char exp = '?';
			FILE *fp = fopen("/sys/kernel/rcu_expedited", "re");
			if (fp) {
				exp = (char)fgetc(fp);
				fclose(fp);
			}
			if (exp == '0')
				printf("  cost             joining it waits for an RCU grace period, "
				       "about 10 ms for a call that\n"
				       "                   comes alone; `echo 1 > "
				       "/sys/kernel/rcu_expedited` (system-wide) removes\n"
				       "                   most of that, or run toolcell as an "
				       "ordinary user\n");
		} else {
			printf("processes (root)   NOT enforceable (%s): every tool is refused\n",
			       cgerr);
			ok = 0;
			snprintf(err, sizeof(err), "no pids cgroup for a root gateway");
		}
	}
	printf("gateway SIGKILL    a keeper process kills every call's process group\n");
	if (ok)
		printf("\nverdict            toolcell can run tools here with every guarantee it "
		       "documents\n");
	else
		printf("\nverdict            toolcell refuses to run tools here: %s\n", err);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct app a = {.workspace_fd = -1, .audit_fd = -1};
	char **pos;
	int npos = 0, r;
	const char *cmd;

	/* fds 0-2 must exist: otherwise the first pipe or file we open would
	 * become "stdout" and receive MCP messages or a tool's stdin. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return 1;
	/* A client that goes away must show up as EPIPE, not kill the gateway. */
	signal(SIGPIPE, SIG_IGN);
	gw_log_init();

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("toolcell %s\n", TOOLCELL_VERSION);
		return 0;
	}
	if (strcmp(cmd, "probe") == 0)
		return argc == 2 ? cmd_probe() : usage_error("probe takes no arguments");
	pos = calloc((size_t)argc, sizeof(char *));
	if (!pos)
		return 1;
	options_first(argc - 1, argv + 1);
	r = parse_opts(argc - 1, argv + 1, &a, cmd, pos, &npos);
	if (r == 0) {
		if (strcmp(cmd, "serve") == 0)
			r = cmd_serve(&a, npos);
		else if (strcmp(cmd, "check") == 0)
			r = cmd_check(&a, pos, npos);
		else if (strcmp(cmd, "explain") == 0)
			r = cmd_explain(&a, pos, npos);
		else if (strcmp(cmd, "run") == 0)
			r = cmd_run(&a, pos, npos);
		else
			r = usage_error("unknown command \"%s\"", cmd);
	}
	free(pos);
	if (a.tools || a.workspace_fd >= 0)
		app_free(&a);
	gw_ceiling_free(a.ceiling);
	if (a.audit_fd >= 0)
		close(a.audit_fd);
	return r;
}
