/* The operator's ceiling: parsed strictly (every problem at its FILE:LINE:COL)
 * and compared with each tool's grants when manifests load. Comparison is pure
 * apart from realpath(3), which reads the filesystem but changes nothing. */
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

#include "gateway/ceiling.h"
#include "gateway/json.h"

#define CEILING_MAX_BYTES (1 << 20)
#define CEILING_MAX_DEPTH 16

/* One path the ceiling allows, canonical, with what it allows beneath it. */
struct ceiling_path {
	char *path;
	unsigned access; /* SBX_READ | SBX_WRITE | SBX_EXEC */
};

struct gw_ceiling {
	char *workspace; /* canonical */
	struct ceiling_path *paths;
	size_t npaths;
	unsigned system; /* kinds "@system" is listed in (SBX_READ, SBX_EXEC) */
	unsigned tmp;	 /* kinds "{tmp}" is listed in */
	struct sbx_net_entry *net;
	size_t nnet;
	uint16_t *listen;
	size_t nlisten;
	struct sbx_limits limits; /* 0: not named, no bound */
};

/* ---- paths ---- */

/* The canonical form of an absolute path: realpath(3) where the path exists.
 * Where it does not, the realpath of its longest existing prefix followed by
 * the rest with "." and ".." applied lexically: the kernel cannot walk through
 * a missing component, so the rest names no inode a symlink could redirect.
 * Both a tool's grants and the ceiling go through this, so a grant like
 * "{workspace}/../../etc" or a symlink in the workspace pointing at /etc is
 * compared as the place it really reaches, not as the text it was written as.
 * Returns a new string, or NULL (out of memory). */
static char *canonical(const char *path)
{
	char *buf = strdup(path), *real = NULL, *out;
	size_t cut = strlen(path);
	const char *rest;

	if (!buf)
		return NULL;
	for (;;) {
		real = realpath(buf[0] ? buf : "/", NULL);
		if (real || errno == ENOMEM)
			break;
		char *slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = '\0';
		cut = (size_t)(slash - buf);
	}
	free(buf);
	if (!real)
		return NULL;
	rest = path + cut;
	out = malloc(strlen(real) + strlen(rest) + 2);
	if (!out) {
		free(real);
		return NULL;
	}
	strcpy(out, real);
	free(real);
	while (*rest) {
		size_t n;

		while (*rest == '/')
			rest++;
		n = strcspn(rest, "/");
		if (n == 0 || (n == 1 && rest[0] == '.')) {
			rest += n;
			continue;
		}
		if (n == 2 && rest[0] == '.' && rest[1] == '.') {
			char *slash = strrchr(out, '/');
			slash[slash == out ? 1 : 0] = '\0';
		} else {
			size_t len = strlen(out);
			if (out[len - 1] != '/')
				out[len++] = '/';
			memcpy(out + len, rest, n);
			out[len + n] = '\0';
		}
		rest += n;
	}
	return out;
}

/* Whether p equals c or lies beneath it, component by component: /a/bc is not
 * beneath /a/b. Both are canonical (no trailing slash but for "/"). */
static bool beneath(const char *p, const char *c)
{
	size_t n = strlen(c);

	if (strcmp(c, "/") == 0)
		return p[0] == '/';
	return strncmp(p, c, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* Ceiling write grants cover read as well: a manifest's write implies read,
 * and the ceiling reads the same way. Exec stands on its own. */
static unsigned covering(unsigned bit)
{
	return bit == SBX_READ ? (SBX_READ | SBX_WRITE) : bit;
}

static bool paths_cover(const struct gw_ceiling *c, const char *canon, unsigned bit)
{
	for (size_t i = 0; i < c->npaths; i++)
		if ((c->paths[i].access & covering(bit)) && beneath(canon, c->paths[i].path))
			return true;
	return false;
}

static const char *kind_name(unsigned bit)
{
	return bit == SBX_READ ? "read" : bit == SBX_WRITE ? "write" : "exec";
}

/* ---- parsing ---- */

static void oom_at(struct gw_jctx *c, const cJSON *node)
{
	c->oom = true;
	gw_err_at(c, node, false, "out of memory");
}

static int push_path(struct gw_ceiling *ce, const char *path, unsigned access)
{
	struct ceiling_path *v = realloc(ce->paths, (ce->npaths + 1) * sizeof(*v));
	char *canon;

	if (!v)
		return -ENOMEM;
	ce->paths = v;
	canon = canonical(path);
	if (!canon)
		return -ENOMEM;
	v[ce->npaths++] = (struct ceiling_path){.path = canon, .access = access};
	return 0;
}

/* Expands "@system" as a manifest does: read gives each entry its own
 * read/write, exec gives exec. */
static int push_system(struct gw_ceiling *ce, unsigned bit)
{
	size_t n;
	const struct sbx_path_grant *sys = sbx_system_paths(&n);

	ce->system |= bit;
	for (size_t k = 0; k < n; k++) {
		unsigned a = bit == SBX_EXEC ? (sys[k].access & SBX_EXEC)
					     : (sys[k].access & ~(unsigned)SBX_EXEC);
		if (a && push_path(ce, sys[k].path, a) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* One entry of read/write/exec. Only what is known at load may appear: an
 * argument's path is only known per call (it lies beneath the workspace, so
 * "{workspace}" is what allows it), and {tmp} is a new directory per call, so
 * it can only be allowed whole. */
static void load_path(struct gw_jctx *c, struct gw_ceiling *ce, const cJSON *e, const char *what,
		      unsigned bit)
{
	struct gw_tpl tpl;
	const char *s = e->valuestring;
	char *path = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(s, "@system") == 0) {
		if (bit == SBX_WRITE)
			gw_err_at(c, e, false,
				  "%s: @system is read-only; it can be listed in \"read\" and "
				  "\"exec\" only",
				  what);
		else if (push_system(ce, bit) < 0)
			oom_at(c, e);
		return;
	}
	if (gw_tpl_parse(s, &tpl) < 0) {
		oom_at(c, e);
		return;
	}
	for (size_t i = 0; i < tpl.n; i++) {
		const struct gw_tpl_part *p = &tpl.parts[i];
		if (p->kind == GW_TPL_ARG) {
			gw_err_at(c, e, false,
				  "%s: \"%s\" names an argument ({%s}); a ceiling knows no "
				  "arguments: an argument's path lies beneath the workspace, so "
				  "list \"{workspace}\" to allow it",
				  what, s, p->text);
			goto out;
		}
		if (p->kind == GW_TPL_TMP && tpl.n != 1) {
			gw_err_at(c, e, false,
				  "%s: \"%s\": {tmp} can only be listed alone, as \"{tmp}\" (each "
				  "call gets a new one)",
				  what, s);
			goto out;
		}
		if (p->kind == GW_TPL_WORKSPACE && i != 0) {
			gw_err_at(c, e, false, "%s: \"%s\": {workspace} may only start a path",
				  what, s);
			goto out;
		}
	}
	if (tpl.parts[0].kind == GW_TPL_TMP) {
		ce->tmp |= bit;
		goto out;
	}
	if (tpl.parts[0].kind == GW_TPL_LIT && tpl.parts[0].text[0] != '/') {
		gw_err_at(c, e, false,
			  "%s: \"%s\" must be an absolute path, @system, start with {workspace}, "
			  "or be {tmp}",
			  what, s);
		goto out;
	}
	f = open_memstream(&path, &len);
	if (!f) {
		oom_at(c, e);
		goto out;
	}
	for (size_t i = 0; i < tpl.n; i++)
		fputs(tpl.parts[i].kind == GW_TPL_WORKSPACE ? ce->workspace : tpl.parts[i].text, f);
	if (fclose(f) != 0 || push_path(ce, path, bit) < 0)
		oom_at(c, e);
	free(path);
out:
	gw_tpl_free(&tpl);
}

static void load_paths(struct gw_jctx *c, struct gw_ceiling *ce, const cJSON *arr, const char *kind,
		       unsigned bit)
{
	const cJSON *e;
	int i = -1;

	if (!cJSON_IsArray(arr)) {
		gw_err_at(c, arr, false, "%s must be an array of paths, not %s", kind,
			  gw_json_type_name(arr));
		return;
	}
	cJSON_ArrayForEach(e, arr)
	{
		char what[48];

		snprintf(what, sizeof(what), "%s[%d]", kind, ++i);
		if (!cJSON_IsString(e))
			gw_err_at(c, e, false, "%s must be a string, not %s", what,
				  gw_json_type_name(e));
		else
			load_path(c, ce, e, what, bit);
	}
}

static void load_limits(struct gw_jctx *c, struct gw_ceiling *ce, const cJSON *obj)
{
	const char *known[SBX_NLIMITS + 1];
	const cJSON *m;

	for (size_t i = 0; i <= SBX_NLIMITS; i++)
		known[i] = sbx_limit_keys[i].key;
	if (!cJSON_IsObject(obj)) {
		gw_err_at(c, obj, false, "limits must be an object, not %s",
			  gw_json_type_name(obj));
		return;
	}
	gw_check_keys(c, obj, "limits: ", known);
	cJSON_ArrayForEach(m, obj)
	{
		for (size_t i = 0; i < SBX_NLIMITS; i++) {
			const struct sbx_limit_key *k = &sbx_limit_keys[i];
			if (strcmp(k->key, m->string) != 0)
				continue;
			double d = cJSON_IsNumber(m) ? m->valuedouble : -1;
			if (!cJSON_IsNumber(m) || d != floor(d) || d < 1 || d > k->max) {
				gw_err_at(c, m, false, "limits.%s must be an integer from 1 to %u",
					  m->string, k->max);
				continue;
			}
			*(unsigned *)((char *)&ce->limits + k->off) = (unsigned)d;
		}
	}
}

int gw_ceiling_parse(const char *file, const char *text, size_t len, const char *workspace,
		     struct gw_ceiling **out, struct gw_diag *diag)
{
	static const char *const known[] = {"read",   "write",	"exec", "net",
					    "listen", "limits", NULL};
	struct gw_json_doc doc = {0};
	struct gw_json_error jerr;
	struct gw_jctx c = {.file = file, .doc = &doc, .diag = diag};
	struct gw_ceiling *ce;
	const cJSON *m;

	if (gw_json_parse(text, len, CEILING_MAX_DEPTH, &doc, &jerr) < 0) {
		gw_diag_add(diag, file, jerr.line, jerr.col, "%s", jerr.msg);
		return -EINVAL;
	}
	if (!cJSON_IsObject(doc.root)) {
		gw_err_at(&c, doc.root, false,
			  "a ceiling must be a JSON object shaped like a manifest's \"grants\" "
			  "(read, write, exec, net, listen, limits), not %s",
			  gw_json_type_name(doc.root));
		gw_json_doc_free(&doc);
		return -EINVAL;
	}
	ce = calloc(1, sizeof(*ce));
	if (!ce || !(ce->workspace = canonical(workspace))) {
		free(ce);
		gw_json_doc_free(&doc);
		return -ENOMEM;
	}
	gw_check_keys(&c, doc.root, "", known);
	cJSON_ArrayForEach(m, doc.root)
	{
		if (strcmp(m->string, "read") == 0)
			load_paths(&c, ce, m, "read", SBX_READ);
		else if (strcmp(m->string, "write") == 0)
			load_paths(&c, ce, m, "write", SBX_WRITE);
		else if (strcmp(m->string, "exec") == 0)
			load_paths(&c, ce, m, "exec", SBX_EXEC);
		else if (strcmp(m->string, "net") == 0)
			gw_parse_net(&c, m, "net", &ce->net, &ce->nnet);
		else if (strcmp(m->string, "listen") == 0)
			gw_parse_listen(&c, m, "listen", &ce->listen, &ce->nlisten);
		else if (strcmp(m->string, "limits") == 0)
			load_limits(&c, ce, m);
	}
	gw_json_doc_free(&doc);
	if (c.errors) {
		gw_ceiling_free(ce);
		return c.oom ? -ENOMEM : -EINVAL;
	}
	*out = ce;
	return 0;
}

int gw_ceiling_load(const char *path, const char *workspace, struct gw_ceiling **out,
		    struct gw_diag *diag)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;
	int r;

	if (fd < 0) {
		r = -errno;
		gw_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		gw_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(-r));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CEILING_MAX_BYTES) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		gw_diag_add(diag, path, 0, 0, "cannot read: %s",
			    r == -EFBIG ? "larger than 1 MiB" : "not a regular file");
		close(fd);
		return r;
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
		if (n < 0) {
			r = -errno;
			gw_diag_add(diag, path, 0, 0, "cannot read: %s", strerror(-r));
			free(buf);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	r = gw_ceiling_parse(path, buf, got, workspace, out, diag);
	free(buf);
	return r;
}

void gw_ceiling_free(struct gw_ceiling *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i].path);
	free(c->paths);
	free(c->net);
	free(c->listen);
	free(c->workspace);
	free(c);
}

/* ---- checking ---- */

/* A per-call grant's path as the manifest wrote it, for messages. */
static void tpl_text(const struct gw_tpl *t, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->n && used < len; i++) {
		bool lit = t->parts[i].kind == GW_TPL_LIT;
		int w = snprintf(buf + used, len - used, "%s%s%s", lit ? "" : "{", t->parts[i].text,
				 lit ? "" : "}");
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The fd the compiled policy bound a static grant's path to, or -1 (not
 * compiled, or an optional path this system lacks). */
static int rule_fd(const struct sbx_policy *p, const char *path)
{
	for (size_t k = 0; p && k < p->nrules; k++)
		if (strcmp(p->rule_paths[k], path) == 0)
			return p->rules[k].fd;
	return -1;
}

static int check_static(const struct gw_ceiling *c, const struct gw_tool *t,
			const struct sbx_path_grant *g, char *err, size_t errlen)
{
	static const unsigned bits[] = {SBX_READ, SBX_WRITE, SBX_EXEC};
	bool sys = strcmp(g->origin, "@system") == 0;
	/* A manifest's "@system" in exec gives exec bits only, in read the rest. */
	unsigned sys_kind = (g->access & SBX_EXEC) ? SBX_EXEC : SBX_READ;
	int fd = rule_fd(t->policy, g->path);
	char what[PATH_MAX * 2 + 64], *canon;
	struct stat st, bound;

	/* "@system" in the ceiling allows exactly what "@system" in a manifest
	 * grants, entry by entry, wherever its paths lead on this system. */
	if (sys && (c->system & sys_kind))
		return 0;
	/* An optional (@system) path this system lacks was skipped when the
	 * policy compiled: it grants nothing, so it exceeds nothing. */
	if (g->optional && (t->policy ? fd < 0 : stat(g->path, &st) < 0 && errno == ENOENT))
		return 0;
	canon = canonical(g->path);
	if (!canon) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (sys)
		snprintf(what, sizeof(what), "grants.%s: @system (%s%s%s)", kind_name(sys_kind),
			 g->path, strcmp(canon, g->path) ? " -> " : "",
			 strcmp(canon, g->path) ? canon : "");
	else
		snprintf(what, sizeof(what), "%s: %s%s%s%s", g->origin, g->path,
			 strcmp(canon, g->path) ? " (resolves to " : "",
			 strcmp(canon, g->path) ? canon : "", strcmp(canon, g->path) ? ")" : "");
	/* The policy opened the path before this check. Had a symlink on it
	 * been swapped in between (a tool writing to the workspace while the
	 * manifests reload), the rule would be bound to another inode than the
	 * path compared here: refuse rather than check one thing and grant
	 * another. */
	if (fd >= 0 && (fstat(fd, &bound) < 0 || stat(canon, &st) < 0 ||
			bound.st_dev != st.st_dev || bound.st_ino != st.st_ino)) {
		snprintf(err, errlen,
			 "%s changed while it was checked against the ceiling; load the "
			 "manifests again",
			 what);
		free(canon);
		return -EPERM;
	}
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(g->access & bits[i]) || paths_cover(c, canon, bits[i]))
			continue;
		snprintf(err, errlen, "%s is not within the ceiling's %s grants", what,
			 kind_name(bits[i]));
		free(canon);
		return -EPERM;
	}
	free(canon);
	return 0;
}

/* Per-call grants: a {tmp} path is a new private directory, allowed when the
 * ceiling lists "{tmp}" for its kind; every other one names an argument, and
 * is resolved by the kernel beneath the workspace at call time (RESOLVE_BENEATH,
 * gateway/call.c), so it is allowed exactly when the ceiling covers the whole
 * workspace for its kind. Nothing narrower can be checked at load: the
 * argument may name any path in the workspace. */
static int check_dyn(const struct gw_ceiling *c, const struct gw_dyn_grant *d, char *err,
		     size_t errlen)
{
	static const unsigned bits[] = {SBX_READ, SBX_WRITE, SBX_EXEC};
	char text[512];

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		unsigned bit = bits[i];
		if (!(d->access & bit))
			continue;
		if (d->in_tmp ? (c->tmp & covering(bit)) != 0 : paths_cover(c, c->workspace, bit))
			continue;
		tpl_text(&d->path, text, sizeof(text));
		if (d->in_tmp)
			snprintf(err, errlen, "%s: %s is not within the ceiling's %s grants",
				 d->origin, text, kind_name(bit));
		else
			snprintf(err, errlen,
				 "%s: %s (resolved beneath the workspace %s) is not within the "
				 "ceiling's %s grants",
				 d->origin, text, c->workspace, kind_name(bit));
		return -EPERM;
	}
	return 0;
}

int gw_ceiling_check(const struct gw_ceiling *c, const struct gw_tool *t, char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; i < t->nstatic; i++)
		if ((r = check_static(c, t, &t->static_grants[i], err, errlen)) < 0)
			return r;
	for (size_t i = 0; i < t->ndyn; i++)
		if ((r = check_dyn(c, &t->dyn[i], err, errlen)) < 0)
			return r;
	/* t->net holds grants.net in order: a repeated entry is a load error,
	 * so index i is the manifest's own index. */
	for (size_t i = 0; i < t->nnet; i++) {
		bool ok = false;
		for (size_t k = 0; k < c->nnet && !ok; k++)
			ok = sbx_net_entry_covers(&c->net[k], &t->net[i]);
		if (ok)
			continue;
		char text[SBX_NET_FORMAT_MAX];
		sbx_net_format(&t->net[i], text, sizeof(text));
		snprintf(err, errlen,
			 "grants.net[%zu]: \"%s\" is not within the ceiling's net grants", i, text);
		return -EPERM;
	}
	for (size_t i = 0; i < t->nlisten; i++) {
		bool ok = false;
		for (size_t k = 0; k < c->nlisten && !ok; k++)
			ok = c->listen[k] == t->listen[i];
		if (ok)
			continue;
		snprintf(err, errlen,
			 "grants.listen[%zu]: port %u is not within the ceiling's listen grants", i,
			 (unsigned)t->listen[i]);
		return -EPERM;
	}
	for (size_t i = 0; i < SBX_NLIMITS; i++) {
		unsigned max = sbx_limit_get(&c->limits, i), have = sbx_limit_get(&t->limits, i);
		if (max == 0 || have <= max)
			continue;
		snprintf(err, errlen, "grants.limits.%s: %u is above the ceiling's %u",
			 sbx_limit_keys[i].key, have, max);
		return -EPERM;
	}
	return 0;
}
