/* argv/stdin templating (gateway/template.c): a template (up to the first
 * newline) and the call's arguments (the rest, a JSON object as tools/call
 * sends it).
 *
 * Properties: parsing never fails; placeholder names are names; writing the
 * parts back as a template (literal braces doubled) parses to the same parts;
 * expansion, with and without a {tmp}, either succeeds or says why, and then
 *  - a whole-element array argument gives one element per item, each the
 *    item as the argument would give it alone;
 *  - anything else gives at most one element, and exactly what the one-string
 *    expansion (stdin, cwd, env) gives;
 *  - when every argument named is a string, the element is the reference
 *    concatenation computed here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/json.h"
#include "gateway/template.h"

#define WORKSPACE "/work/ws"
#define TMP "/tmp/toolcell.fuzz"

static bool name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* The template text that means t, with adjacent literals merged. */
static char *unparse(const struct gw_tpl *t)
{
	size_t cap = 16;
	char *out;
	size_t len = 0;

	for (size_t i = 0; i < t->n; i++)
		cap += strlen(t->parts[i].text) * 2 + 2;
	out = malloc(cap);
	if (!out)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		const struct gw_tpl_part *p = &t->parts[i];
		if (p->kind == GW_TPL_LIT) {
			for (const char *c = p->text; *c; c++) {
				out[len++] = *c;
				if (*c == '{' || *c == '}')
					out[len++] = *c;
			}
		} else {
			len += (size_t)sprintf(out + len, "{%s}", p->text);
		}
	}
	out[len] = '\0';
	return out;
}

/* Same parts, comparing literals after merging neighbours. */
static bool same_parts(const struct gw_tpl *a, const struct gw_tpl *b)
{
	char *ua = unparse(a), *ub = unparse(b);
	bool same = strcmp(ua, ub) == 0;

	free(ua);
	free(ub);
	return same;
}

static const cJSON *arg(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_IsObject(args) ? cJSON_GetObjectItemCaseSensitive(args, name) : NULL;

	return cJSON_IsNull(v) ? NULL : v;
}

/* The expansion when every argument named is a string or missing: NULL when
 * one is missing (the element is dropped), or when the reference does not
 * apply (*applies = false). */
static char *reference(const struct gw_tpl *t, const cJSON *args, const char *tmp, bool *applies)
{
	size_t cap = 1, len = 0;
	char *out;

	*applies = true;
	for (size_t i = 0; i < t->n; i++) {
		const struct gw_tpl_part *p = &t->parts[i];
		if (p->kind == GW_TPL_TMP && !tmp)
			*applies = false;
		if (p->kind == GW_TPL_ARG && arg(args, p->text) &&
		    !cJSON_IsString(arg(args, p->text)))
			*applies = false;
	}
	if (!*applies)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct gw_tpl_part *p = &t->parts[i];
		if (p->kind == GW_TPL_ARG && !arg(args, p->text))
			return NULL;
		cap += strlen(p->text) + strlen(WORKSPACE) + strlen(TMP) +
		       (p->kind == GW_TPL_ARG ? strlen(arg(args, p->text)->valuestring) : 0);
	}
	out = malloc(cap);
	if (!out)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		const struct gw_tpl_part *p = &t->parts[i];
		const char *s = p->kind == GW_TPL_LIT	      ? p->text
				: p->kind == GW_TPL_WORKSPACE ? WORKSPACE
				: p->kind == GW_TPL_TMP	      ? tmp
							      : arg(args, p->text)->valuestring;
		memcpy(out + len, s, strlen(s));
		len += strlen(s);
	}
	out[len] = '\0';
	return out;
}

static void expand(const struct gw_tpl *t, const cJSON *args, const char *tmp)
{
	struct gw_tpl_ctx ctx = {.args = args, .workspace = WORKSPACE, .tmp = tmp};
	struct gw_strv sv = {0};
	char err[256] = "", err1[256] = "", *one = NULL, *ref;
	bool applies;
	int n, r;

	n = gw_tpl_expand(t, &ctx, &sv, err, sizeof(err));
	r = gw_tpl_expand_one(t, &ctx, &one, err1, sizeof(err1));
	CHECK(n >= -EINVAL, "gw_tpl_expand returned %d", n);
	CHECK(n < 0 || (size_t)n == sv.n, "%d elements reported, %zu appended", n, sv.n);
	if (n < 0)
		CHECK(n == -EINVAL && err[0], "a refusal without a message");
	for (size_t i = 0; i < sv.n; i++)
		CHECK(sv.v[i] != NULL, "element %zu is NULL", i);

	const cJSON *whole = gw_tpl_is_whole(t) && t->parts[0].kind == GW_TPL_ARG
				 ? arg(args, t->parts[0].text)
				 : NULL;
	if (cJSON_IsArray(whole)) {
		const cJSON *item;
		size_t i = 0;
		if (n < 0)
			goto out;
		CHECK((size_t)cJSON_GetArraySize(whole) == sv.n, "%zu items gave %zu elements",
		      (size_t)cJSON_GetArraySize(whole), sv.n);
		/* Each item alone: the same text as the argument {"x": item}. */
		cJSON_ArrayForEach(item, whole)
		{
			cJSON *alone = cJSON_CreateObject();
			struct gw_tpl_ctx c1 = {.args = alone, .workspace = WORKSPACE};
			char *s = NULL;
			cJSON_AddItemReferenceToObject(alone, t->parts[0].text, (cJSON *)item);
			CHECK(gw_tpl_expand_one(t, &c1, &s, err1, sizeof(err1)) == 0 && s &&
				  strcmp(s, sv.v[i]) == 0,
			      "item %zu gives '%s' in the array, '%s' alone", i, sv.v[i],
			      s ? s : "(nothing)");
			free(s);
			cJSON_Delete(alone);
			i++;
		}
		goto out;
	}
	CHECK((n < 0) == (r < 0), "expand says %d, expand_one %d", n, r);
	if (n < 0)
		goto out;
	CHECK(n <= 1, "%d elements from a template that is not a whole array", n);
	CHECK((n == 1) == (one != NULL), "expand gives %d elements, expand_one %s", n,
	      one ? one : "nothing");
	if (one)
		CHECK(strcmp(one, sv.v[0]) == 0, "'%s' and '%s'", one, sv.v[0]);
	ref = reference(t, args, tmp, &applies);
	if (applies)
		CHECK(ref ? one && strcmp(ref, one) == 0 : !one, "'%s', the reference says '%s'",
		      one ? one : "(nothing)", ref ? ref : "(nothing)");
	free(ref);
out:
	free(one);
	gw_strv_free(&sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *tdata, *adata;
	size_t tlen, alen;
	struct gw_tpl t, again;
	struct gw_json_doc doc = {0};
	struct gw_json_error jerr;
	char *text, *back;

	fuzz_split(data, size, '\n', &tdata, &tlen, &adata, &alen);
	text = fuzz_strndup(tdata, tlen);
	CHECK(gw_tpl_parse(text, &t) == 0, "gw_tpl_parse failed");
	CHECK(t.n >= 1, "no parts");
	for (size_t i = 0; i < t.n; i++) {
		const struct gw_tpl_part *p = &t.parts[i];
		if (p->kind == GW_TPL_ARG)
			CHECK(name_ok(p->text), "placeholder name '%s'", p->text);
		else if (p->kind == GW_TPL_WORKSPACE)
			CHECK(strcmp(p->text, "workspace") == 0, "{workspace} as '%s'", p->text);
		else if (p->kind == GW_TPL_TMP)
			CHECK(strcmp(p->text, "tmp") == 0, "{tmp} as '%s'", p->text);
		else
			CHECK(t.n == 1 || p->text[0], "an empty literal among %zu parts", t.n);
	}
	CHECK(gw_tpl_is_whole(&t) == (t.n == 1 && t.parts[0].kind != GW_TPL_LIT),
	      "gw_tpl_is_whole");
	back = unparse(&t);
	CHECK(gw_tpl_parse(back, &again) == 0 && same_parts(&t, &again),
	      "'%s' written back as '%s' parses differently", text, back);
	gw_tpl_free(&again);
	free(back);

	if (adata && gw_json_parse((const char *)adata, alen, 64, &doc, &jerr) == 0) {
		expand(&t, doc.root, TMP);
		expand(&t, doc.root, NULL);
	} else {
		expand(&t, NULL, TMP);
	}
	gw_json_doc_free(&doc);
	gw_tpl_free(&t);
	free(text);
	return 0;
}
