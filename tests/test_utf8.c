/* Arbitrary bytes in, valid UTF-8 without NUL out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gateway/utf8.h"

#define FFFD "\xEF\xBF\xBD"

static void check(const char *in, size_t len, const char *want)
{
	char *out = gw_utf8_sanitize(in, len, NULL);

	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(gw_utf8_valid_prefix(out, strlen(out)), strlen(out));
	free(out);
}

static void test_sanitize(void **state)
{
	(void)state;
	check("plain", 5, "plain");
	check("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14,
	      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
	check("\xFF", 1, FFFD);
	check("a\0b", 3, "a" FFFD "b");
	check("\xC0\xAF", 2, FFFD FFFD);		   /* overlong '/' */
	check("\xED\xA0\x80", 3, FFFD FFFD FFFD);	   /* UTF-16 surrogate */
	check("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD); /* above U+10FFFF */
	check("\xE2\x82", 2, FFFD FFFD);		   /* cut short, no hold */
}

static void test_hold(void **state)
{
	size_t hold;
	char *out;

	(void)state;
	/* A chunk ending inside the euro sign keeps its two bytes back. */
	out = gw_utf8_sanitize("x\xE2\x82", 3, &hold);
	assert_string_equal(out, "x");
	assert_int_equal(hold, 2);
	free(out);
	out = gw_utf8_sanitize("x\xFF", 2, &hold);
	assert_string_equal(out, "x" FFFD);
	assert_int_equal(hold, 0);
	free(out);
}

static void test_every_byte(void **state)
{
	char in[256];

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	char *out = gw_utf8_sanitize(in, sizeof(in), NULL);
	assert_non_null(out);
	assert_int_equal(gw_utf8_valid_prefix(out, strlen(out)), strlen(out));
	/* 127 ASCII bytes survive, NUL and the 128 high bytes become U+FFFD. */
	assert_int_equal(strlen(out), 127 + 129 * 3);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_hold),
	    cmocka_unit_test(test_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
