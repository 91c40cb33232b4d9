/* Manifest loading. Validation is pure and reports every problem it finds, not
 * just the first, each at the position of the key or value at fault. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/json.h"
#include "gateway/manifest.h"
#include "gateway/schema.h"

#define MANIFEST_MAX_BYTES (1 << 20)
#define MANIFEST_MAX_DEPTH 64

void gw_diag_add(struct gw_diag *d, const char *file, unsigned line, unsigned col, const char *fmt,
		 ...)
{
	char msg[1024];
	char *s = NULL;
	va_list ap;
	char **v;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&s, "%s:%u:%u: %s", file, line, col, msg) < 0)
		return;
	v = realloc(d->msgs, (d->n + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return;
	}
	d->msgs = v;
	d->msgs[d->n++] = s;
}

void gw_diag_free(struct gw_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	*d = (struct gw_diag){0};
}

/* Everything one load needs to report a problem. */
struct ctx {
	struct gw_jctx j;
	const cJSON *props; /* inputSchema.properties, or NULL */
};

void gw_err_at(struct gw_jctx *c, const cJSON *node, bool at_key, const char *fmt, ...)
{
	const struct gw_json_pos *p = gw_json_pos_of(c->doc, node);
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gw_diag_add(c->diag, c->file, p ? (at_key ? p->key_line : p->line) : 1,
		    p ? (at_key ? p->key_col : p->col) : 1, "%s", msg);
	c->errors++;
}

static bool want_string(struct ctx *c, const cJSON *v, const char *what)
{
	if (cJSON_IsString(v))
		return true;
	gw_err_at(&c->j, v, false, "%s must be a string, not %s", what, gw_json_type_name(v));
	return false;
}

static bool valid_tool_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static bool valid_env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Does the property's declared type allow an array or an object? */
static bool may_be_container(const cJSON *prop)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(prop, "type");
	const cJSON *t;

	if (!type)
		return true; /* undeclared: anything */
	if (cJSON_IsString(type))
		return strcmp(type->valuestring, "array") == 0 ||
		       strcmp(type->valuestring, "object") == 0;
	cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) &&
					(strcmp(t->valuestring, "array") == 0 ||
					 strcmp(t->valuestring, "object") == 0)) return true;
	return false;
}

static bool is_string_only(const cJSON *prop)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(prop, "type");

	return cJSON_IsString(type) && strcmp(type->valuestring, "string") == 0;
}

enum tpl_use {
	USE_ARGV,  /* whole-element arrays allowed */
	USE_ONE,   /* one string: no arrays or objects */
	USE_GRANT, /* a path: string arguments only */
};

/* Parses and checks a template's placeholders against inputSchema. */
static bool check_tpl(struct ctx *c, const cJSON *node, const char *what, enum tpl_use use,
		      struct gw_tpl *out)
{
	bool ok = true;

	if (gw_tpl_parse(node->valuestring, out) < 0) {
		gw_err_at(&c->j, node, false, "out of memory");
		return false;
	}
	for (size_t i = 0; i < out->n; i++) {
		const struct gw_tpl_part *p = &out->parts[i];
		const cJSON *prop;

		if (p->kind != GW_TPL_ARG)
			continue;
		prop = c->props ? cJSON_GetObjectItemCaseSensitive(c->props, p->text) : NULL;
		if (!prop) {
			gw_err_at(&c->j, node, false,
				  "%s: unknown placeholder {%s}: it is not {workspace}, {tmp} or a "
				  "property of inputSchema",
				  what, p->text);
			ok = false;
		} else if (use == USE_GRANT && !is_string_only(prop)) {
			gw_err_at(
			    &c->j, node, false,
			    "%s: placeholder {%s} in a grant path needs \"type\": \"string\" in "
			    "inputSchema",
			    what, p->text);
			ok = false;
		} else if ((use != USE_ARGV || !gw_tpl_is_whole(out)) && may_be_container(prop)) {
			gw_err_at(&c->j, node, false,
				  "%s: placeholder {%s} may be an array or object; only a whole "
				  "command element can take an array (declare a scalar \"type\")",
				  what, p->text);
			ok = false;
		}
	}
	if (!ok)
		gw_tpl_free(out);
	return ok;
}

void gw_check_keys(struct gw_jctx *c, const cJSON *obj, const char *where, const char *const *known)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj)
	{
		bool found = false;
		char list[512] = "";
		size_t used = 0;

		for (const char *const *k = known; *k; k++) {
			if (strcmp(*k, m->string) == 0)
				found = true;
			int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
					 *k);
			if (w > 0 && (size_t)w < sizeof(list) - used)
				used += (size_t)w;
		}
		if (!found)
			gw_err_at(c, m, true, "%sunknown key \"%s\" (known keys: %s)", where,
				  m->string, list);
	}
}

static void load_limits(struct ctx *c, const cJSON *obj, struct sbx_limits *lim)
{
	const char *known[SBX_NLIMITS + 1];
	const cJSON *m;

	for (size_t i = 0; i <= SBX_NLIMITS; i++)
		known[i] = sbx_limit_keys[i].key;
	if (!cJSON_IsObject(obj)) {
		gw_err_at(&c->j, obj, false, "grants.limits must be an object, not %s",
			  gw_json_type_name(obj));
		return;
	}
	gw_check_keys(&c->j, obj, "grants.limits: ", known);
	cJSON_ArrayForEach(m, obj)
	{
		for (size_t i = 0; i < SBX_NLIMITS; i++) {
			const struct sbx_limit_key *k = &sbx_limit_keys[i];
			if (strcmp(k->key, m->string) != 0)
				continue;
			double d = cJSON_IsNumber(m) ? m->valuedouble : -1;
			if (!cJSON_IsNumber(m) || d != floor(d) || d < 1 || d > k->max) {
				gw_err_at(&c->j, m, false,
					  "grants.limits.%s must be an integer from 1 to %u",
					  m->string, k->max);
				continue;
			}
			*(unsigned *)((char *)lim + k->off) = (unsigned)d;
		}
	}
}

static int push_static(struct gw_tool *t, const char *path, unsigned access, const char *origin,
		       bool optional)
{
	struct sbx_path_grant *g = realloc(t->static_grants, (t->nstatic + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	t->static_grants = g;
	g[t->nstatic] = (struct sbx_path_grant){
	    .path = strdup(path), .access = access, .origin = strdup(origin), .optional = optional};
	if (!g[t->nstatic].path || !g[t->nstatic].origin)
		return -ENOMEM;
	t->nstatic++;
	return 0;
}

static void load_paths(struct ctx *c, const cJSON *arr, const char *kind, unsigned access,
		       const char *workspace, struct gw_tool *t)
{
	const cJSON *e;
	int i = 0;

	if (!cJSON_IsArray(arr)) {
		gw_err_at(&c->j, arr, false, "grants.%s must be an array of paths, not %s", kind,
			  gw_json_type_name(arr));
		return;
	}
	cJSON_ArrayForEach(e, arr)
	{
		char origin[64], what[80];
		struct gw_tpl tpl;

		snprintf(origin, sizeof(origin), "grants.%s[%d]", kind, i++);
		snprintf(what, sizeof(what), "%s", origin);
		if (!want_string(c, e, what))
			continue;
		if (strcmp(e->valuestring, "@system") == 0) {
			size_t n;
			const struct sbx_path_grant *sys = sbx_system_paths(&n);
			if (access & SBX_WRITE) {
				gw_err_at(
				    &c->j, e, false,
				    "%s: @system is read-only; it can be granted in \"read\" and "
				    "\"exec\" only",
				    origin);
				continue;
			}
			for (size_t k = 0; k < n; k++) {
				/* read gives each entry its own read/write (only the
				 * harmless devices are writable); exec gives exec. */
				unsigned a = (access & SBX_EXEC) ? (sys[k].access & SBX_EXEC)
								 : (sys[k].access & ~SBX_EXEC);
				if (a && push_static(t, sys[k].path, a, "@system", true) < 0)
					gw_err_at(&c->j, e, false, "out of memory");
			}
			continue;
		}
		if (!check_tpl(c, e, what, USE_GRANT, &tpl))
			continue;
		const struct gw_tpl_part *first = &tpl.parts[0];
		if (first->kind == GW_TPL_LIT && first->text[0] != '/') {
			gw_err_at(&c->j, e, false,
				  "%s: \"%s\" must be an absolute path, @system, or start with "
				  "{workspace}, {tmp} or an argument placeholder",
				  origin, e->valuestring);
			gw_tpl_free(&tpl);
			continue;
		}
		if (gw_tpl_uses(&tpl, GW_TPL_TMP) || gw_tpl_uses(&tpl, GW_TPL_ARG)) {
			if (gw_tpl_uses(&tpl, GW_TPL_TMP) && first->kind != GW_TPL_TMP) {
				gw_err_at(&c->j, e, false, "%s: {tmp} may only start a grant path",
					  origin);
				gw_tpl_free(&tpl);
				continue;
			}
			struct gw_dyn_grant *d = realloc(t->dyn, (t->ndyn + 1) * sizeof(*d));
			if (!d) {
				gw_tpl_free(&tpl);
				gw_err_at(&c->j, e, false, "out of memory");
				continue;
			}
			t->dyn = d;
			d[t->ndyn] = (struct gw_dyn_grant){.path = tpl,
							   .access = access,
							   .origin = strdup(origin),
							   .in_tmp = first->kind == GW_TPL_TMP};
			t->ndyn++;
			if (gw_tpl_uses(&tpl, GW_TPL_TMP))
				t->uses_tmp = true;
			continue;
		}
		/* Static: only literals and {workspace}, known now. */
		struct gw_tpl_ctx tc = {.workspace = workspace};
		char *path = NULL, err[256];
		if (gw_tpl_expand_one(&tpl, &tc, &path, err, sizeof(err)) < 0 || !path)
			gw_err_at(&c->j, e, false, "%s: %s", origin, err);
		else if (push_static(t, path, access, origin, false) < 0)
			gw_err_at(&c->j, e, false, "out of memory");
		free(path);
		gw_tpl_free(&tpl);
	}
}

/* The same lists in a manifest's grants and in the ceiling (`name` is
 * "grants.net" or "net"). Every entry is checked; a repeat is harmless to
 * enforce but is almost always a mistake for another entry (a different
 * port or host), and parsers here fail loudly rather than guess. Net entries
 * are compared by what they grant, so "[fd00::]/8:1" repeats "[fd00::/8]:1"
 * and "[::ffff:10.0.0.1]:1" repeats "10.0.0.1:1". Names are only checked
 * here, never resolved: loading stays pure, and resolution happens once when
 * the policy is compiled. */
void gw_parse_net(struct gw_jctx *c, const cJSON *arr, const char *name, struct sbx_net_entry **out,
		  size_t *nout)
{
	const cJSON *e;
	int i = -1, *index;
	size_t n = (size_t)cJSON_GetArraySize(arr);
	struct sbx_net_entry *v;

	if (!cJSON_IsArray(arr)) {
		gw_err_at(c, arr, false, "%s must be an array of \"host:port\" strings, not %s",
			  name, gw_json_type_name(arr));
		return;
	}
	if (n == 0)
		return;
	v = *out = calloc(n, sizeof(*v));
	/* Where each parsed entry came from, to name the first of a pair. */
	index = calloc(n, sizeof(*index));
	if (!v || !index) {
		free(index);
		c->oom = true;
		gw_err_at(c, arr, false, "out of memory");
		return;
	}
	cJSON_ArrayForEach(e, arr)
	{
		struct sbx_net_entry entry;
		char err[512];
		bool dup = false;

		i++;
		if (!cJSON_IsString(e)) {
			gw_err_at(c, e, false, "%s[%d] must be a string, not %s", name, i,
				  gw_json_type_name(e));
			continue;
		}
		if (sbx_net_parse(e->valuestring, &entry, err, sizeof(err)) < 0) {
			gw_err_at(c, e, false, "%s[%d]: %s", name, i, err);
			continue;
		}
		for (size_t k = 0; k < *nout && !dup; k++) {
			if (!sbx_net_entry_covers(&v[k], &entry) ||
			    !sbx_net_entry_covers(&entry, &v[k]))
				continue;
			gw_err_at(c, e, false, "%s[%d]: \"%s\" duplicates %s[%d]", name, i,
				  e->valuestring, name, index[k]);
			dup = true;
		}
		if (dup)
			continue;
		index[*nout] = i;
		v[(*nout)++] = entry;
	}
	free(index);
}

void gw_parse_listen(struct gw_jctx *c, const cJSON *arr, const char *name, uint16_t **out,
		     size_t *nout)
{
	const cJSON *e;
	int i = -1, *index;
	size_t n = (size_t)cJSON_GetArraySize(arr);
	uint16_t *v;

	if (!cJSON_IsArray(arr)) {
		gw_err_at(c, arr, false, "%s must be an array of TCP port numbers, not %s", name,
			  gw_json_type_name(arr));
		return;
	}
	if (n == 0)
		return;
	v = *out = calloc(n, sizeof(*v));
	index = calloc(n, sizeof(*index));
	if (!v || !index) {
		free(index);
		c->oom = true;
		gw_err_at(c, arr, false, "out of memory");
		return;
	}
	cJSON_ArrayForEach(e, arr)
	{
		double d = cJSON_IsNumber(e) ? e->valuedouble : 0;
		bool dup = false;

		i++;
		if (!cJSON_IsNumber(e)) {
			gw_err_at(c, e, false, "%s[%d] must be an integer from 1 to 65535, not %s",
				  name, i, gw_json_type_name(e));
			continue;
		}
		if (d != floor(d) || d < 1 || d > 65535) {
			gw_err_at(c, e, false,
				  "%s[%d] must be an integer from 1 to 65535, not %.17g", name, i,
				  d);
			continue;
		}
		for (size_t k = 0; k < *nout && !dup; k++) {
			if (v[k] != (uint16_t)d)
				continue;
			gw_err_at(c, e, false, "%s[%d]: port %u duplicates %s[%d]", name, i,
				  (unsigned)d, name, index[k]);
			dup = true;
		}
		if (dup)
			continue;
		index[*nout] = i;
		v[(*nout)++] = (uint16_t)d;
	}
	free(index);
}

static void load_grants(struct ctx *c, const cJSON *g, const char *workspace, struct gw_tool *t)
{
	static const char *const known[] = {"read",   "write",	"exec", "net",
					    "listen", "limits", NULL};
	const cJSON *m;

	if (!cJSON_IsObject(g)) {
		gw_err_at(&c->j, g, false, "grants must be an object, not %s",
			  gw_json_type_name(g));
		return;
	}
	gw_check_keys(&c->j, g, "grants: ", known);
	cJSON_ArrayForEach(m, g)
	{
		if (strcmp(m->string, "read") == 0)
			load_paths(c, m, "read", SBX_READ, workspace, t);
		else if (strcmp(m->string, "write") == 0)
			load_paths(c, m, "write", SBX_WRITE, workspace, t);
		else if (strcmp(m->string, "exec") == 0)
			load_paths(c, m, "exec", SBX_EXEC, workspace, t);
		else if (strcmp(m->string, "limits") == 0)
			load_limits(c, m, &t->limits);
		else if (strcmp(m->string, "net") == 0)
			gw_parse_net(&c->j, m, "grants.net", &t->net, &t->nnet);
		else if (strcmp(m->string, "listen") == 0)
			gw_parse_listen(&c->j, m, "grants.listen", &t->listen, &t->nlisten);
	}
}

static void load_env(struct ctx *c, const cJSON *env, struct gw_tool *t)
{
	const cJSON *m;
	size_t n = (size_t)cJSON_GetArraySize(env);

	if (!cJSON_IsObject(env)) {
		gw_err_at(&c->j, env, false, "env must be an object of NAME: value strings, not %s",
			  gw_json_type_name(env));
		return;
	}
	t->env_names = calloc(n + 1, sizeof(*t->env_names));
	t->env_vals = calloc(n + 1, sizeof(*t->env_vals));
	if (!t->env_names || !t->env_vals) {
		gw_err_at(&c->j, env, false, "out of memory");
		return;
	}
	cJSON_ArrayForEach(m, env)
	{
		char what[160];

		snprintf(what, sizeof(what), "env.%s", m->string);
		if (!valid_env_name(m->string)) {
			gw_err_at(&c->j, m, true, "env: \"%s\" is not a valid variable name",
				  m->string);
			continue;
		}
		if (!want_string(c, m, what))
			continue;
		if (!check_tpl(c, m, what, USE_ONE, &t->env_vals[t->nenv]))
			continue;
		t->env_names[t->nenv] = strdup(m->string);
		t->nenv++;
	}
}

static void load_command(struct ctx *c, const cJSON *cmd, struct gw_tool *t, bool compile)
{
	const cJSON *e;
	int i = 0;
	size_t n = (size_t)cJSON_GetArraySize(cmd);

	if (!cJSON_IsArray(cmd) || n == 0) {
		gw_err_at(&c->j, cmd, false,
			  "command must be a non-empty array of strings (an argv, run without a "
			  "shell)");
		return;
	}
	t->argv = calloc(n, sizeof(*t->argv));
	if (!t->argv)
		return;
	cJSON_ArrayForEach(e, cmd)
	{
		char what[32];

		snprintf(what, sizeof(what), "command[%d]", i);
		if (!want_string(c, e, what)) {
			i++;
			continue;
		}
		if (i == 0) {
			if (e->valuestring[0] != '/' || strchr(e->valuestring, '{')) {
				gw_err_at(
				    &c->j, e, false,
				    "command[0] must be the absolute path of the program, without "
				    "placeholders (toolcell does not search PATH)");
				i++;
				continue;
			}
			if (compile && access(e->valuestring, X_OK) < 0)
				gw_err_at(&c->j, e, false, "command[0]: %s: %s", e->valuestring,
					  strerror(errno));
		}
		if (check_tpl(c, e, what, USE_ARGV, &t->argv[t->argc]))
			t->argc++;
		i++;
	}
}

static void load_annotations(struct ctx *c, const cJSON *a)
{
	static const char *const known[] = {"title",	      "readOnlyHint",  "destructiveHint",
					    "idempotentHint", "openWorldHint", NULL};
	const cJSON *m;

	if (!cJSON_IsObject(a)) {
		gw_err_at(&c->j, a, false, "annotations must be an object, not %s",
			  gw_json_type_name(a));
		return;
	}
	gw_check_keys(&c->j, a, "annotations: ", known);
	cJSON_ArrayForEach(m, a)
	{
		if (strcmp(m->string, "title") == 0)
			want_string(c, m, "annotations.title");
		else if (!cJSON_IsBool(m) && strcmp(m->string, "title") != 0)
			gw_err_at(&c->j, m, false, "annotations.%s must be true or false",
				  m->string);
	}
}

static void check_schema(struct ctx *c, const cJSON *s, const char *key)
{
	const cJSON *bad = NULL, *type;
	char msg[512];

	if (!cJSON_IsObject(s)) {
		gw_err_at(&c->j, s, false, "%s must be a JSON Schema object, not %s", key,
			  gw_json_type_name(s));
		return;
	}
	type = cJSON_GetObjectItemCaseSensitive(s, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0)
		gw_err_at(&c->j, type ? type : s, false,
			  "%s must have \"type\": \"object\" (MCP requires it)", key);
	if (gw_schema_check(s, &bad, msg, sizeof(msg)) < 0)
		gw_err_at(&c->j, bad ? bad : s, false, "%s: %s", key, msg);
}

void gw_tool_unref(struct gw_tool *t)
{
	if (!t || --t->refs > 0)
		return;
	free(t->name);
	free(t->file);
	cJSON_Delete(t->listing);
	for (size_t i = 0; i < t->argc; i++)
		gw_tpl_free(&t->argv[i]);
	free(t->argv);
	if (t->stdin_tpl)
		gw_tpl_free(t->stdin_tpl);
	free(t->stdin_tpl);
	gw_tpl_free(&t->cwd);
	for (size_t i = 0; i < t->nenv; i++) {
		free(t->env_names[i]);
		gw_tpl_free(&t->env_vals[i]);
	}
	free(t->env_names);
	free(t->env_vals);
	for (size_t i = 0; i < t->ndyn; i++) {
		gw_tpl_free(&t->dyn[i].path);
		free(t->dyn[i].origin);
	}
	free(t->dyn);
	for (size_t i = 0; i < t->nstatic; i++) {
		free((char *)t->static_grants[i].path);
		free((char *)t->static_grants[i].origin);
	}
	free(t->static_grants);
	free(t->net);
	free(t->listen);
	sbx_policy_free(t->policy);
	free(t);
}

struct gw_tool *gw_tool_ref(struct gw_tool *t)
{
	t->refs++;
	return t;
}

static cJSON *build_listing(const cJSON *root)
{
	static const char *const listed[] = {
	    "name", "title", "description", "inputSchema", "outputSchema", "annotations", NULL};
	cJSON *l = cJSON_CreateObject();

	for (const char *const *k = listed; l && *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, *k);
		if (v && !cJSON_AddItemToObject(l, *k, cJSON_Duplicate(v, 1))) {
			cJSON_Delete(l);
			return NULL;
		}
	}
	return l;
}

int gw_tool_load(const char *file, const char *text, size_t len, const struct gw_load_opts *opts,
		 struct gw_tool **out, struct gw_diag *diag)
{
	static const char *const known[] = {
	    "name",	   "title",   "description", "inputSchema", "outputSchema",
	    "annotations", "command", "stdin",	     "cwd",	    "env",
	    "output",	   "grants",  NULL};
	struct gw_json_doc doc = {0};
	struct gw_json_error jerr;
	struct ctx c = {.j = {.file = file, .doc = &doc, .diag = diag}};
	struct gw_tool *t;
	const cJSON *root, *v, *cwd_node = NULL, *grants = NULL;

	if (gw_json_parse(text, len, MANIFEST_MAX_DEPTH, &doc, &jerr) < 0) {
		gw_diag_add(diag, file, jerr.line, jerr.col, "%s", jerr.msg);
		return -EINVAL;
	}
	root = doc.root;
	if (!cJSON_IsObject(root)) {
		gw_err_at(&c.j, root, false, "a manifest must be a JSON object, not %s",
			  gw_json_type_name(root));
		gw_json_doc_free(&doc);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		gw_json_doc_free(&doc);
		return -ENOMEM;
	}
	t->refs = 1;
	t->limits = sbx_limits_default;
	t->file = strdup(file);
	gw_check_keys(&c.j, root, "", known);

	v = cJSON_GetObjectItemCaseSensitive(root, "name");
	if (!v)
		gw_err_at(&c.j, root, false, "missing \"name\"");
	else if (want_string(&c, v, "name")) {
		if (!valid_tool_name(v->valuestring))
			gw_err_at(
			    &c.j, v, false,
			    "name \"%s\" is not a valid tool name: 1 to 128 of A-Z a-z 0-9 _ . -",
			    v->valuestring);
		t->name = strdup(v->valuestring);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "title");
	if (v)
		want_string(&c, v, "title");
	v = cJSON_GetObjectItemCaseSensitive(root, "description");
	if (!v)
		gw_err_at(&c.j, root, false,
			  "missing \"description\": the model chooses tools by their description");
	else if (want_string(&c, v, "description") && !v->valuestring[0])
		gw_err_at(&c.j, v, false, "description must not be empty");

	v = cJSON_GetObjectItemCaseSensitive(root, "inputSchema");
	if (!v)
		gw_err_at(&c.j, root, false,
			  "missing \"inputSchema\" (for a tool without arguments: {\"type\": "
			  "\"object\", \"additionalProperties\": false})");
	else {
		check_schema(&c, v, "inputSchema");
		c.props = cJSON_GetObjectItemCaseSensitive(v, "properties");
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "output");
	if (v && want_string(&c, v, "output")) {
		if (strcmp(v->valuestring, "json") == 0)
			t->output = GW_OUTPUT_JSON;
		else if (strcmp(v->valuestring, "content") == 0)
			t->output = GW_OUTPUT_CONTENT;
		else if (strcmp(v->valuestring, "text") != 0)
			gw_err_at(&c.j, v, false,
				  "output must be \"text\", \"json\" or \"content\", not \"%s\"",
				  v->valuestring);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "outputSchema");
	if (v) {
		check_schema(&c, v, "outputSchema");
		/* A content tool's blocks are not structuredContent: a schema
		 * there would promise a check that never runs. */
		if (t->output == GW_OUTPUT_CONTENT)
			gw_err_at(
			    &c.j, v, true,
			    "outputSchema needs \"output\": \"json\"; an \"output\": "
			    "\"content\" tool returns content blocks, which no schema checks");
		else if (t->output != GW_OUTPUT_JSON)
			gw_err_at(&c.j, v, true, "outputSchema needs \"output\": \"json\"");
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "annotations");
	if (v)
		load_annotations(&c, v);

	v = cJSON_GetObjectItemCaseSensitive(root, "command");
	if (!v)
		gw_err_at(&c.j, root, false, "missing \"command\" (an argv array)");
	else
		load_command(&c, v, t, opts->compile);
	v = cJSON_GetObjectItemCaseSensitive(root, "stdin");
	if (v && !cJSON_IsNull(v) && want_string(&c, v, "stdin")) {
		t->stdin_tpl = calloc(1, sizeof(*t->stdin_tpl));
		if (t->stdin_tpl && !check_tpl(&c, v, "stdin", USE_ONE, t->stdin_tpl)) {
			free(t->stdin_tpl);
			t->stdin_tpl = NULL;
		}
	}
	cwd_node = cJSON_GetObjectItemCaseSensitive(root, "cwd");
	if (cwd_node && want_string(&c, cwd_node, "cwd")) {
		if (check_tpl(&c, cwd_node, "cwd", USE_ONE, &t->cwd) &&
		    t->cwd.parts[0].kind == GW_TPL_LIT && t->cwd.parts[0].text[0] != '/')
			gw_err_at(&c.j, cwd_node, false,
				  "cwd must be absolute or start with {workspace} or {tmp}");
	}
	if (!t->cwd.parts)
		gw_tpl_parse("{workspace}", &t->cwd);
	v = cJSON_GetObjectItemCaseSensitive(root, "env");
	if (v)
		load_env(&c, v, t);

	grants = cJSON_GetObjectItemCaseSensitive(root, "grants");
	if (!grants)
		gw_err_at(&c.j, root, false,
			  "missing \"grants\": grants are deny-by-default and a tool with none "
			  "cannot even start its program");
	else
		load_grants(&c, grants, opts->workspace, t);

	/* {tmp} anywhere means the call needs its own directory. */
	for (size_t i = 0; i < t->argc; i++)
		t->uses_tmp |= gw_tpl_uses(&t->argv[i], GW_TPL_TMP);
	for (size_t i = 0; i < t->nenv; i++)
		t->uses_tmp |= gw_tpl_uses(&t->env_vals[i], GW_TPL_TMP);
	t->uses_tmp |= gw_tpl_uses(&t->cwd, GW_TPL_TMP);
	if (t->stdin_tpl)
		t->uses_tmp |= gw_tpl_uses(t->stdin_tpl, GW_TPL_TMP);

	if (c.j.errors == 0) {
		t->listing = build_listing(root);
		if (!t->listing) {
			gw_err_at(&c.j, root, false, "out of memory");
		} else {
			t->input_schema =
			    cJSON_GetObjectItemCaseSensitive(t->listing, "inputSchema");
			t->output_schema =
			    cJSON_GetObjectItemCaseSensitive(t->listing, "outputSchema");
		}
	}
	if (c.j.errors == 0 && opts->compile) {
		char err[1024];
		bool dyn_write = false;
		for (size_t i = 0; i < t->ndyn; i++)
			dyn_write |= (t->dyn[i].access & SBX_WRITE) != 0;
		struct sbx_policy_extra x = {.net = t->net,
					     .nnet = t->nnet,
					     .listen = t->listen,
					     .nlisten = t->nlisten,
					     .resolve = opts->resolve,
					     .dyn_write = dyn_write};
		int r = -EOPNOTSUPP;
		if (opts->processes_unenforceable)
			snprintf(err, sizeof(err), "grants.limits.processes: %s",
				 opts->processes_unenforceable);
		else
			r = sbx_policy_new(opts->features, t->static_grants, t->nstatic, &x,
					   &t->limits, opts->filter, &t->policy, err, sizeof(err));
		if (r == 0 && opts->ceiling)
			r = gw_ceiling_check(opts->ceiling, t, err, sizeof(err));
		if (r < 0)
			gw_err_at(&c.j, grants, true, "tool '%s' refused: %s", t->name, err);
	}
	gw_json_doc_free(&doc);
	if (c.j.errors) {
		gw_tool_unref(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

static int read_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_MAX_BYTES) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_tool(const void *a, const void *b)
{
	return strcmp((*(struct gw_tool *const *)a)->name, (*(struct gw_tool *const *)b)->name);
}

/* Appends the manifest files a path names: itself, or its *.json entries. */
static int list_files(const char *path, struct gw_strv *files, struct gw_diag *diag)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	size_t first = files->n;

	if (stat(path, &st) < 0) {
		gw_diag_add(diag, path, 0, 0, "%s", strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return gw_strv_push(files, strdup(path));
	d = opendir(path);
	if (!d) {
		gw_diag_add(diag, path, 0, 0, "%s", strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *p;
		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		if (asprintf(&p, "%s/%s", path, de->d_name) < 0 || gw_strv_push(files, p) < 0) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	qsort(files->v + first, files->n - first, sizeof(char *), cmp_str);
	return 0;
}

int gw_toolset_load(char *const *paths, size_t npaths, const struct gw_load_opts *opts,
		    struct gw_toolset **out, struct gw_diag *diag)
{
	struct gw_strv files = {0};
	struct gw_toolset *ts = calloc(1, sizeof(*ts));
	int failed = 0;

	if (!ts)
		return -ENOMEM;
	for (size_t i = 0; i < npaths; i++)
		if (list_files(paths[i], &files, diag) < 0)
			failed = 1;
	ts->tools = calloc(files.n + 1, sizeof(*ts->tools));
	if (!ts->tools) {
		gw_strv_free(&files);
		free(ts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < files.n; i++) {
		char *text = NULL;
		size_t len = 0;
		struct gw_tool *t;
		int r = read_file(files.v[i], &text, &len);

		if (r < 0) {
			gw_diag_add(diag, files.v[i], 0, 0, "cannot read: %s",
				    r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
			failed = 1;
			continue;
		}
		r = gw_tool_load(files.v[i], text, len, opts, &t, diag);
		free(text);
		if (r < 0) {
			failed = 1;
			continue;
		}
		ts->tools[ts->n++] = t;
	}
	gw_strv_free(&files);
	qsort(ts->tools, ts->n, sizeof(*ts->tools), cmp_tool);
	for (size_t i = 1; i < ts->n; i++) {
		if (strcmp(ts->tools[i - 1]->name, ts->tools[i]->name) == 0) {
			gw_diag_add(diag, ts->tools[i]->file, 1, 1,
				    "duplicate tool name \"%s\" (also in %s)", ts->tools[i]->name,
				    ts->tools[i - 1]->file);
			failed = 1;
		}
	}
	if (failed) {
		gw_toolset_free(ts);
		return -EINVAL;
	}
	*out = ts;
	return 0;
}

void gw_toolset_free(struct gw_toolset *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		gw_tool_unref(ts->tools[i]);
	free(ts->tools);
	free(ts);
}

struct gw_tool *gw_toolset_find(const struct gw_toolset *ts, const char *name)
{
	size_t lo = 0, hi = ts->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, ts->tools[mid]->name);
		if (c == 0)
			return ts->tools[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
