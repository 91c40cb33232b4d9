/* Placeholders in argv, stdin, cwd, env and grant paths: "{name}" is an
 * argument, "{workspace}" the gateway's workspace root, "{tmp}" the call's
 * private directory; "{{" and "}}" are literal braces. A "{" not followed by a
 * valid name and "}" is literal too (so "awk '{print $1}'" needs no escaping).
 * Parsed once at load; expanded per call. Pure. */
#ifndef TOOLCELL_GATEWAY_TEMPLATE_H
#define TOOLCELL_GATEWAY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

enum gw_tpl_kind { GW_TPL_LIT, GW_TPL_ARG, GW_TPL_WORKSPACE, GW_TPL_TMP };

struct gw_tpl_part {
	enum gw_tpl_kind kind;
	char *text; /* the literal, or the argument's name */
};

struct gw_tpl {
	struct gw_tpl_part *parts;
	size_t n;
};

/* A growable NULL-terminated string vector (argv, envp). */
struct gw_strv {
	char **v;
	size_t n, cap;
};

/* Parses s. Returns 0 and fills *out (caller frees with gw_tpl_free), or -ENOMEM. */
int gw_tpl_parse(const char *s, struct gw_tpl *out);
void gw_tpl_free(struct gw_tpl *t);

/* True when the template is exactly one placeholder, nothing else. */
bool gw_tpl_is_whole(const struct gw_tpl *t);

/* True when some part is a placeholder of `kind` (for GW_TPL_ARG: any argument). */
bool gw_tpl_uses(const struct gw_tpl *t, enum gw_tpl_kind kind);

struct gw_tpl_ctx {
	const cJSON *args;     /* the call's arguments object (borrowed) */
	const char *workspace; /* absolute */
	const char *tmp;       /* absolute, or NULL when the call has none */
};

/* Expands t and appends the result to *out:
 *  - a whole-element placeholder of an array argument appends one element per
 *    item; of a missing or null argument appends nothing;
 *  - otherwise one element, or none when any argument it names is missing.
 * Strings go in as they are, integers in decimal, other numbers in the
 * shortest form that reads back the same, booleans as true/false. Objects, and
 * arrays embedded in a longer element, are errors (err names the argument).
 * Returns the number of elements appended, or -EINVAL/-ENOMEM. */
int gw_tpl_expand(const struct gw_tpl *t, const struct gw_tpl_ctx *ctx, struct gw_strv *out,
		  char *err, size_t errlen);

/* Like gw_tpl_expand for places that take exactly one string (stdin, cwd, env
 * values, grant paths). *out is NULL (nothing) when a named argument is
 * missing. Returns 0 or -errno; caller frees *out. */
int gw_tpl_expand_one(const struct gw_tpl *t, const struct gw_tpl_ctx *ctx, char **out, char *err,
		      size_t errlen);

int gw_strv_push(struct gw_strv *sv, char *s); /* takes ownership of s */
void gw_strv_free(struct gw_strv *sv);

#endif
