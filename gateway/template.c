#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/template.h"

int gw_strv_push(struct gw_strv *sv, char *s)
{
	if (!s)
		return -ENOMEM;
	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 8;
		char **v = realloc(sv->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

void gw_strv_free(struct gw_strv *sv)
{
	if (!sv)
		return;
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct gw_strv){0};
}

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

/* Length of "{name}" at s, or 0 if s does not start a placeholder. */
static size_t placeholder_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '{' || !name_char(s[1], true))
		return 0;
	while (name_char(s[i], i == 1))
		i++;
	return s[i] == '}' ? i + 1 : 0;
}

static int add_part(struct gw_tpl *t, enum gw_tpl_kind kind, const char *s, size_t len)
{
	struct gw_tpl_part *p = realloc(t->parts, (t->n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	t->parts = p;
	p[t->n].kind = kind;
	p[t->n].text = strndup(s, len);
	if (!p[t->n].text)
		return -ENOMEM;
	t->n++;
	return 0;
}

int gw_tpl_parse(const char *s, struct gw_tpl *out)
{
	struct gw_tpl t = {0};
	char *lit = malloc(strlen(s) + 1);
	size_t nlit = 0;
	int r = 0;

	if (!lit)
		return -ENOMEM;
	for (const char *p = s; *p && r == 0;) {
		size_t ph = placeholder_len(p);

		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			lit[nlit++] = p[0];
			p += 2;
		} else if (ph) {
			if (nlit)
				r = add_part(&t, GW_TPL_LIT, lit, nlit);
			nlit = 0;
			enum gw_tpl_kind kind = GW_TPL_ARG;
			if (ph == 11 && strncmp(p, "{workspace}", 11) == 0)
				kind = GW_TPL_WORKSPACE;
			else if (ph == 5 && strncmp(p, "{tmp}", 5) == 0)
				kind = GW_TPL_TMP;
			if (r == 0)
				r = add_part(&t, kind, p + 1, ph - 2);
			p += ph;
		} else {
			lit[nlit++] = *p++;
		}
	}
	if (r == 0 && (nlit || t.n == 0))
		r = add_part(&t, GW_TPL_LIT, lit, nlit);
	free(lit);
	if (r < 0) {
		gw_tpl_free(&t);
		return r;
	}
	*out = t;
	return 0;
}

void gw_tpl_free(struct gw_tpl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->parts[i].text);
	free(t->parts);
	*t = (struct gw_tpl){0};
}

bool gw_tpl_is_whole(const struct gw_tpl *t)
{
	return t->n == 1 && t->parts[0].kind != GW_TPL_LIT;
}

bool gw_tpl_uses(const struct gw_tpl *t, enum gw_tpl_kind kind)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->parts[i].kind == kind)
			return true;
	return false;
}

/* Renders a scalar argument; NULL with err set for what cannot be one string. */
static char *render(const cJSON *v, const char *name, char *err, size_t errlen)
{
	char buf[64];

	if (cJSON_IsString(v))
		return strdup(v->valuestring);
	if (cJSON_IsBool(v))
		return strdup(cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(buf, sizeof(buf), "%.0f", d);
		else {
			/* The shortest %g form that reads back to the same double. */
			for (int prec = 1; prec <= 17; prec++) {
				snprintf(buf, sizeof(buf), "%.*g", prec, d);
				if (strtod(buf, NULL) == d)
					break;
			}
		}
		return strdup(buf);
	}
	snprintf(err, errlen, "argument '%s': %s cannot be placed in a command", name,
		 cJSON_IsArray(v) ? "an array inside a longer string" : "an object");
	errno = EINVAL;
	return NULL;
}

static const cJSON *lookup(const struct gw_tpl_ctx *ctx, const char *name)
{
	const cJSON *v = ctx->args ? cJSON_GetObjectItemCaseSensitive(ctx->args, name) : NULL;

	return cJSON_IsNull(v) ? NULL : v;
}

int gw_tpl_expand_one(const struct gw_tpl *t, const struct gw_tpl_ctx *ctx, char **out, char *err,
		      size_t errlen)
{
	size_t len = 0, cap = 64;
	char *s = malloc(cap);

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		const struct gw_tpl_part *p = &t->parts[i];
		char *piece = NULL;
		const char *text = p->text;

		if (p->kind == GW_TPL_WORKSPACE)
			text = ctx->workspace;
		else if (p->kind == GW_TPL_TMP) {
			if (!ctx->tmp) {
				free(s);
				snprintf(err, errlen, "{tmp} is not available here");
				return -EINVAL;
			}
			text = ctx->tmp;
		} else if (p->kind == GW_TPL_ARG) {
			const cJSON *v = lookup(ctx, p->text);
			if (!v) {
				free(s);
				*out = NULL;
				return 0;
			}
			piece = render(v, p->text, err, errlen);
			if (!piece) {
				int e = errno == EINVAL ? -EINVAL : -ENOMEM;
				free(s);
				return e;
			}
			text = piece;
		}
		size_t tl = strlen(text);
		if (len + tl + 1 > cap) {
			while (len + tl + 1 > cap)
				cap *= 2;
			char *ns = realloc(s, cap);
			if (!ns) {
				free(piece);
				free(s);
				return -ENOMEM;
			}
			s = ns;
		}
		memcpy(s + len, text, tl);
		len += tl;
		free(piece);
	}
	s[len] = '\0';
	*out = s;
	return 0;
}

int gw_tpl_expand(const struct gw_tpl *t, const struct gw_tpl_ctx *ctx, struct gw_strv *out,
		  char *err, size_t errlen)
{
	char *s;
	int r;

	if (gw_tpl_is_whole(t) && t->parts[0].kind == GW_TPL_ARG) {
		const cJSON *v = lookup(ctx, t->parts[0].text);
		if (!v)
			return 0;
		if (cJSON_IsArray(v)) {
			int count = 0;
			const cJSON *item;
			cJSON_ArrayForEach(item, v)
			{
				if (cJSON_IsArray(item) || cJSON_IsObject(item) ||
				    cJSON_IsNull(item)) {
					snprintf(err, errlen,
						 "argument '%s': items must be strings, numbers or "
						 "booleans",
						 t->parts[0].text);
					return -EINVAL;
				}
				s = render(item, t->parts[0].text, err, errlen);
				r = gw_strv_push(out, s);
				if (r < 0)
					return r;
				count++;
			}
			return count;
		}
	}
	r = gw_tpl_expand_one(t, ctx, &s, err, errlen);
	if (r < 0)
		return r;
	if (!s)
		return 0;
	r = gw_strv_push(out, s);
	return r < 0 ? r : 1;
}
