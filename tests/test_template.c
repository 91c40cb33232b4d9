/* Templates: parsing, whole-element and embedded placeholders, arrays, missing
 * optional arguments, escapes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "gateway/template.h"

/* Expands `tpl` with `args_json` and returns the elements joined by '|'. */
static void expand(const char *tpl, const char *args_json, const char *tmp, int want_n,
		   const char *want)
{
	struct gw_tpl t;
	struct gw_strv out = {0};
	char err[256] = "", joined[1024] = "";
	cJSON *args = cJSON_Parse(args_json);
	struct gw_tpl_ctx ctx = {.args = args, .workspace = "/ws", .tmp = tmp};

	assert_int_equal(gw_tpl_parse(tpl, &t), 0);
	int n = gw_tpl_expand(&t, &ctx, &out, err, sizeof(err));
	if (n < 0) {
		assert_string_equal(err, want);
		assert_int_equal(n, want_n);
	} else {
		for (size_t i = 0; i < out.n; i++) {
			if (i)
				strcat(joined, "|");
			strcat(joined, out.v[i]);
		}
		assert_int_equal(n, want_n);
		assert_string_equal(joined, want);
	}
	gw_strv_free(&out);
	gw_tpl_free(&t);
	cJSON_Delete(args);
}

static void test_literal(void **state)
{
	(void)state;
	expand("--", "{}", NULL, 1, "--");
	expand("", "{}", NULL, 1, "");
	expand("a{{b}}c", "{}", NULL, 1, "a{b}c");
	/* Not placeholders: stay literal, so shell and awk code needs no escaping. */
	expand("awk '{print $1}'", "{}", NULL, 1, "awk '{print $1}'");
	expand("{9x}", "{}", NULL, 1, "{9x}");
	expand("{", "{}", NULL, 1, "{");
}

static void test_whole(void **state)
{
	(void)state;
	expand("{path}", "{\"path\":\"a b; rm -rf ~\"}", NULL, 1, "a b; rm -rf ~");
	expand("{n}", "{\"n\":42}", NULL, 1, "42");
	expand("{n}", "{\"n\":-1.5}", NULL, 1, "-1.5");
	expand("{n}", "{\"n\":0.1}", NULL, 1, "0.1");
	expand("{b}", "{\"b\":true}", NULL, 1, "true");
	expand("{files}", "{\"files\":[\"a\",\"-b\",3]}", NULL, 3, "a|-b|3");
	expand("{files}", "{\"files\":[]}", NULL, 0, "");
	/* Missing and null optional arguments drop the element. */
	expand("{path}", "{}", NULL, 0, "");
	expand("{path}", "{\"path\":null}", NULL, 0, "");
}

static void test_embedded(void **state)
{
	(void)state;
	expand("--max-count={n}", "{\"n\":5}", NULL, 1, "--max-count=5");
	expand("--max-count={n}", "{}", NULL, 0, "");
	expand("{workspace}/src/{name}.c", "{\"name\":\"x\"}", NULL, 1, "/ws/src/x.c");
	expand("{tmp}/out", "{}", "/tmp/t.1", 1, "/tmp/t.1/out");
	expand("x{files}", "{\"files\":[\"a\"]}", NULL, -22,
	       "argument 'files': an array inside a longer string cannot be placed in a command");
	expand("{o}", "{\"o\":{\"k\":1}}", NULL, -22,
	       "argument 'o': an object cannot be placed in a command");
	expand("{files}", "{\"files\":[[1]]}", NULL, -22,
	       "argument 'files': items must be strings, numbers or booleans");
	expand("{tmp}", "{}", NULL, -22, "{tmp} is not available here");
}

static void test_uses(void **state)
{
	struct gw_tpl t;

	(void)state;
	assert_int_equal(gw_tpl_parse("{tmp}/x", &t), 0);
	assert_true(gw_tpl_uses(&t, GW_TPL_TMP));
	assert_false(gw_tpl_uses(&t, GW_TPL_ARG));
	assert_false(gw_tpl_is_whole(&t));
	gw_tpl_free(&t);
	assert_int_equal(gw_tpl_parse("{path}", &t), 0);
	assert_true(gw_tpl_is_whole(&t));
	assert_int_equal(t.parts[0].kind, GW_TPL_ARG);
	assert_string_equal(t.parts[0].text, "path");
	gw_tpl_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literal),
	    cmocka_unit_test(test_whole),
	    cmocka_unit_test(test_embedded),
	    cmocka_unit_test(test_uses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
