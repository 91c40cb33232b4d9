/* Tests for gateway/json.c: the strict JSON parser with positions.
 *
 * Every input is copied into a heap buffer of exactly its length, with no NUL
 * after it, so AddressSanitizer catches any read past buf[len). */
/* cmocka.h needs these four first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/json.h"

#define DEPTH 64

/* Copies text[0..len) to a heap buffer of exactly len bytes (caller frees). */
static char *exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		abort(); /* nothing sensible to test without memory */
	memcpy(copy, text, len);
	return copy;
}

/* Parses text[0..len) from an exact-size copy; asserts success. */
static void parse_ok_at(struct gw_json_doc *doc, const char *text, size_t len, unsigned depth,
			const char *file, int line)
{
	struct gw_json_error err = {0};
	char *copy = exact_copy(text, len);
	int r;

	memset(doc, 0, sizeof(*doc));
	r = gw_json_parse(copy, len, depth, doc, &err);
	if (r != 0)
		print_error("unexpected error %d at %u:%u: %s\n", r, err.line, err.col, err.msg);
	_assert_int_equal(r, 0, file, line);
	_assert_true(doc->root != NULL, "doc->root", file, line);
	free(copy);
}

/* Parses text[0..len); asserts the exact return code, position and message,
 * and that the output document was not touched. */
static void expect_err_at(const char *text, size_t len, unsigned depth, int rc, unsigned eline,
			  unsigned ecol, const char *emsg, const char *file, int line)
{
	struct gw_json_error err = {0};
	struct gw_json_doc doc, sentinel;
	char *copy = exact_copy(text, len);
	int r;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	doc = sentinel;
	r = gw_json_parse(copy, len, depth, &doc, &err);
	_assert_int_equal(r, rc, file, line);
	_assert_string_equal(err.msg, emsg, file, line);
	_assert_int_equal(err.line, eline, file, line);
	_assert_int_equal(err.col, ecol, file, line);
	_assert_true(memcmp(&doc, &sentinel, sizeof(doc)) == 0, "*out untouched", file, line);
	free(copy);
}

#define parse_ok(doc, lit) parse_ok_at(doc, lit, sizeof(lit) - 1, DEPTH, __FILE__, __LINE__)
#define expect_err(lit, l, c, msg)                                                                 \
	expect_err_at(lit, sizeof(lit) - 1, DEPTH, -EINVAL, l, c, msg, __FILE__, __LINE__)
#define expect_err_depth(lit, depth, l, c, msg)                                                    \
	expect_err_at(lit, sizeof(lit) - 1, depth, -EINVAL, l, c, msg, __FILE__, __LINE__)

/* Asserts every field of a node's position, and that [start, end) of src is
 * exactly the expected raw text. */
static void check_pos_at(const struct gw_json_doc *doc, const cJSON *node, const char *src,
			 unsigned line, unsigned col, unsigned key_line, unsigned key_col,
			 size_t start, size_t end, const char *text, const char *file, int fline)
{
	const struct gw_json_pos *p = gw_json_pos_of(doc, node);

	_assert_true(p != NULL, "gw_json_pos_of", file, fline);
	if (!p)
		return;
	_assert_true(p->node == node, "p->node == node", file, fline);
	_assert_int_equal(p->line, line, file, fline);
	_assert_int_equal(p->col, col, file, fline);
	_assert_int_equal(p->key_line, key_line, file, fline);
	_assert_int_equal(p->key_col, key_col, file, fline);
	_assert_int_equal(p->start, start, file, fline);
	_assert_int_equal(p->end, end, file, fline);
	_assert_int_equal(end - start, strlen(text), file, fline);
	_assert_true(memcmp(src + start, text, end - start) == 0, text, file, fline);
}

#define check_pos(doc, node, src, l, c, kl, kc, s, e, text)                                        \
	check_pos_at(doc, node, src, l, c, kl, kc, s, e, text, __FILE__, __LINE__)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Valid documents */

static void test_scalars(void **state)
{
	struct gw_json_doc doc;

	parse_ok(&doc, "true");
	assert_true(cJSON_IsTrue(doc.root));
	assert_int_equal(doc.npos, 1);
	check_pos(&doc, doc.root, "true", 1, 1, 1, 1, 0, 4, "true");
	gw_json_doc_free(&doc);

	parse_ok(&doc, " \t\r\n false \n");
	assert_true(cJSON_IsFalse(doc.root));
	check_pos(&doc, doc.root, " \t\r\n false \n", 2, 2, 2, 2, 5, 10, "false");
	gw_json_doc_free(&doc);

	parse_ok(&doc, "null");
	assert_true(cJSON_IsNull(doc.root));
	gw_json_doc_free(&doc);

	parse_ok(&doc, "  1.50 ");
	assert_true(cJSON_IsNumber(doc.root));
	assert_true(doc.root->valuedouble == 1.5);
	check_pos(&doc, doc.root, "  1.50 ", 1, 3, 1, 3, 2, 6, "1.50");
	gw_json_doc_free(&doc);

	parse_ok(&doc, "\"a\\u00e9\"");
	assert_true(cJSON_IsString(doc.root));
	assert_string_equal(doc.root->valuestring, "a\xc3\xa9");
	check_pos(&doc, doc.root, "\"a\\u00e9\"", 1, 1, 1, 1, 0, 9, "\"a\\u00e9\"");
	gw_json_doc_free(&doc);

	parse_ok(&doc, "\"\"");
	assert_string_equal(doc.root->valuestring, "");
	check_pos(&doc, doc.root, "\"\"", 1, 1, 1, 1, 0, 2, "\"\"");
	gw_json_doc_free(&doc);

	parse_ok(&doc, "[]");
	assert_true(cJSON_IsArray(doc.root));
	assert_null(doc.root->child);
	check_pos(&doc, doc.root, "[]", 1, 1, 1, 1, 0, 2, "[]");
	gw_json_doc_free(&doc);

	parse_ok(&doc, "{ }");
	assert_true(cJSON_IsObject(doc.root));
	assert_null(doc.root->child);
	check_pos(&doc, doc.root, "{ }", 1, 1, 1, 1, 0, 3, "{ }");
	gw_json_doc_free(&doc);
}

static void test_numbers(void **state)
{
	static const struct {
		const char *text;
		double value;
	} cases[] = {
	    {"0", 0.0},
	    {"-0", -0.0},
	    {"7", 7.0},
	    {"-12", -12.0},
	    {"0.25", 0.25},
	    {"1E+2", 100.0},
	    {"1e2", 100.0},
	    {"2.5e-1", 0.25},
	    {"-0.0e0", -0.0},
	    {"9007199254740993", 9007199254740992.0},
	    {"123456789012345678901234567890", 123456789012345678901234567890.0},
	    {"1e-400", 0.0}, /* underflow is not an error */
	    {"1.7976931348623157e308", 1.7976931348623157e308},
	};
	struct gw_json_doc doc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok_at(&doc, cases[i].text, strlen(cases[i].text), DEPTH, __FILE__, __LINE__);
		assert_true(cJSON_IsNumber(doc.root));
		assert_true(doc.root->valuedouble == cases[i].value);
		assert_int_equal(!!signbit(doc.root->valuedouble), !!signbit(cases[i].value));
		check_pos(&doc, doc.root, cases[i].text, 1, 1, 1, 1, 0, strlen(cases[i].text),
			  cases[i].text);
		gw_json_doc_free(&doc);
	}
}

static void test_positions_multiline(void **state)
{
	static const char src[] = "{\n"
				  "  \"name\": \"cat\",\n"
				  "  \"n\": 1.50,\n"
				  "  \"list\": [true, null,\n"
				  "    \"a\\u00e9\"],\n"
				  "  \"obj\": {}\n"
				  "}\n";
	struct gw_json_doc doc;
	const cJSON *name, *n, *list, *t, *nul, *s, *obj;

	parse_ok(&doc, src);
	assert_int_equal(doc.npos, 8);
	check_pos(&doc, doc.root, src, 1, 1, 1, 1, 0, 84,
		  "{\n  \"name\": \"cat\",\n  \"n\": 1.50,\n"
		  "  \"list\": [true, null,\n"
		  "    \"a\\u00e9\"],\n  \"obj\": {}\n}");

	name = doc.root->child;
	assert_string_equal(name->string, "name");
	assert_string_equal(name->valuestring, "cat");
	check_pos(&doc, name, src, 2, 11, 2, 3, 12, 17, "\"cat\"");

	n = name->next;
	assert_string_equal(n->string, "n");
	assert_true(n->valuedouble == 1.5);
	check_pos(&doc, n, src, 3, 8, 3, 3, 26, 30, "1.50");

	list = n->next;
	assert_string_equal(list->string, "list");
	assert_true(cJSON_IsArray(list));
	check_pos(&doc, list, src, 4, 11, 4, 3, 42, 69, "[true, null,\n    \"a\\u00e9\"]");

	/* Array elements have no key: key_line/key_col equal line/col. */
	t = list->child;
	assert_true(cJSON_IsTrue(t));
	check_pos(&doc, t, src, 4, 12, 4, 12, 43, 47, "true");
	nul = t->next;
	assert_true(cJSON_IsNull(nul));
	check_pos(&doc, nul, src, 4, 18, 4, 18, 49, 53, "null");
	s = nul->next;
	assert_string_equal(s->valuestring, "a\xc3\xa9");
	check_pos(&doc, s, src, 5, 5, 5, 5, 59, 68, "\"a\\u00e9\"");
	assert_null(s->next);

	obj = list->next;
	assert_string_equal(obj->string, "obj");
	assert_true(cJSON_IsObject(obj));
	check_pos(&doc, obj, src, 6, 10, 6, 3, 80, 82, "{}");
	assert_null(obj->next);

	gw_json_doc_free(&doc);
}

static void test_key_on_other_line(void **state)
{
	static const char src[] = "{\"k\"\n\n  :\n\t7}";
	struct gw_json_doc doc;

	parse_ok(&doc, src);
	check_pos(&doc, doc.root->child, src, 4, 2, 1, 2, 11, 12, "7");
	gw_json_doc_free(&doc);
}

static void test_pos_of_foreign_node(void **state)
{
	struct gw_json_doc doc, zero = {0};
	cJSON *other = cJSON_CreateNull();

	parse_ok(&doc, "[1,2]");
	assert_int_equal(doc.npos, 3);
	assert_null(gw_json_pos_of(&doc, other));
	assert_null(gw_json_pos_of(&doc, NULL));
	assert_null(gw_json_pos_of(NULL, doc.root));
	assert_null(gw_json_pos_of(&zero, doc.root));
	assert_non_null(gw_json_pos_of(&doc, doc.root->child->next));
	cJSON_Delete(other);
	gw_json_doc_free(&doc);
}

static void test_keys_in_source_order(void **state)
{
	struct gw_json_doc doc;
	const cJSON *c;

	/* Keys differing only in case are distinct. */
	parse_ok(&doc, "{\"b\":1,\"a\":2,\"B\":3,\"A\":4,\"\":5}");
	c = doc.root->child;
	assert_string_equal(c->string, "b");
	c = c->next;
	assert_string_equal(c->string, "a");
	c = c->next;
	assert_string_equal(c->string, "B");
	c = c->next;
	assert_string_equal(c->string, "A");
	c = c->next;
	assert_string_equal(c->string, "");
	assert_true(c->valuedouble == 5);
	assert_null(c->next);
	assert_true(cJSON_GetObjectItemCaseSensitive(doc.root, "A")->valuedouble == 4);
	gw_json_doc_free(&doc);
}

static void test_escapes(void **state)
{
	struct gw_json_doc doc;

	parse_ok(&doc, "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041\\u00E9\\u20ac\"");
	assert_string_equal(doc.root->valuestring, "\" \\ / \b \f \n \r \t A\xc3\xa9\xe2\x82\xac");
	gw_json_doc_free(&doc);

	/* Escapes in keys are decoded too. */
	parse_ok(&doc, "{\"a\\tb\\u0063\":true}");
	assert_string_equal(doc.root->child->string, "a\tbc");
	gw_json_doc_free(&doc);

	/* DEL (0x7f) is not a control character in the RFC 8259 sense. */
	parse_ok(&doc, "\"\x7f\"");
	assert_string_equal(doc.root->valuestring, "\x7f");
	gw_json_doc_free(&doc);
}

static void test_surrogates(void **state)
{
	static const struct {
		const char *text, *decoded;
	} cases[] = {
	    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
	    {"\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80"},
	    {"\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"},
	    {"\"\\ud800\"", "\xef\xbf\xbd"},
	    {"\"\\udc00\"", "\xef\xbf\xbd"},
	    {"\"x\\ud800y\"", "x\xef\xbf\xbdy"},
	    {"\"\\ud800\\u0041\"", "\xef\xbf\xbd"
				   "A"},
	    {"\"\\ud800\\n\"", "\xef\xbf\xbd\n"},
	    {"\"\\udc00\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\"\\ud800\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80"},
	    {"\"\\ud83d\\ude00\\ude00\"", "\xf0\x9f\x98\x80\xef\xbf\xbd"},
	};
	struct gw_json_doc doc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok_at(&doc, cases[i].text, strlen(cases[i].text), DEPTH, __FILE__, __LINE__);
		assert_string_equal(doc.root->valuestring, cases[i].decoded);
		gw_json_doc_free(&doc);
	}

	/* A high surrogate followed by a malformed escape: the escape is
	 * still an error of its own. */
	expect_err("\"\\ud800\\uzzzz\"", 1, 8, "invalid \\u escape in string");
}

static void test_utf8_valid(void **state)
{
	static const char *const cases[] = {
	    "\xc2\x80",		/* U+0080 */
	    "\xc3\xa9",		/* U+00E9 */
	    "\xdf\xbf",		/* U+07FF */
	    "\xe0\xa0\x80",	/* U+0800 */
	    "\xe2\x82\xac",	/* U+20AC */
	    "\xed\x9f\xbf",	/* U+D7FF, just below the surrogates */
	    "\xee\x80\x80",	/* U+E000, just above them */
	    "\xef\xbf\xbf",	/* U+FFFF */
	    "\xf0\x90\x80\x80", /* U+10000 */
	    "\xf0\x9f\x98\x80", /* U+1F600 */
	    "\xf4\x8f\xbf\xbf", /* U+10FFFF */
	};
	struct gw_json_doc doc;
	char text[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(text, sizeof(text), "\"%s\"", cases[i]);

		parse_ok_at(&doc, text, (size_t)n, DEPTH, __FILE__, __LINE__);
		assert_string_equal(doc.root->valuestring, cases[i]);
		gw_json_doc_free(&doc);
	}
}

static void test_utf8_invalid(void **state)
{
	/* The error points at the first byte of the bad sequence. */
	expect_err("\"ab\x80\"", 1, 4, "invalid UTF-8 in string");	     /* lone continuation */
	expect_err("\"\xc0\x80\"", 1, 2, "invalid UTF-8 in string");	     /* overlong NUL */
	expect_err("\"\xc1\xbf\"", 1, 2, "invalid UTF-8 in string");	     /* overlong 2-byte */
	expect_err("\"\xe0\x80\x80\"", 1, 2, "invalid UTF-8 in string");     /* overlong 3-byte */
	expect_err("\"\xe0\x9f\xbf\"", 1, 2, "invalid UTF-8 in string");     /* overlong 3-byte */
	expect_err("\"\xf0\x8f\xbf\xbf\"", 1, 2, "invalid UTF-8 in string"); /* overlong 4-byte */
	expect_err("\"\xed\xa0\x80\"", 1, 2, "invalid UTF-8 in string");     /* U+D800 */
	expect_err("\"\xed\xbf\xbf\"", 1, 2, "invalid UTF-8 in string");     /* U+DFFF */
	expect_err("\"\xf4\x90\x80\x80\"", 1, 2, "invalid UTF-8 in string"); /* U+110000 */
	expect_err("\"\xf5\x80\x80\x80\"", 1, 2, "invalid UTF-8 in string");
	expect_err("\"\xf8\x88\x80\x80\x80\"", 1, 2, "invalid UTF-8 in string");
	expect_err("\"\xfe\"", 1, 2, "invalid UTF-8 in string");
	expect_err("\"\xff\"", 1, 2, "invalid UTF-8 in string");
	expect_err("\"x\xc3\"", 1, 3, "invalid UTF-8 in string");    /* cut by the quote */
	expect_err("\"\xe2\x82\"", 1, 2, "invalid UTF-8 in string"); /* cut by the quote */
	expect_err("\"\xc3\x41\"", 1, 2, "invalid UTF-8 in string"); /* ASCII continuation */
	expect_err("\"\xe2\x82\xac\xe2\"", 1, 5, "invalid UTF-8 in string"); /* after a good one */
	expect_err("{\"k\xff\":1}", 1, 4, "invalid UTF-8 in string");	     /* in a key */
	expect_err("\"\xe2\x82", 1, 4, "unexpected end of input");	     /* cut by the end */

	/* Outside strings a non-ASCII byte is just a syntax error. */
	expect_err("\xc3\xa9", 1, 1, "unexpected character '\\xc3'");
	expect_err("\xef\xbb\xbf{}", 1, 1, "unexpected character '\\xef'"); /* BOM */
	expect_err("[1,\xe2\x82\xac]", 1, 4, "unexpected character '\\xe2'");
}

static void test_u0000(void **state)
{
	expect_err("\"a\\u0000b\"", 1, 3, "string contains U+0000, which toolcell does not accept");
	expect_err("{\n \"\\u0000\": 1}", 2, 3,
		   "string contains U+0000, which toolcell does not accept");
}

static void test_control_characters(void **state)
{
	expect_err("\"a\nb\"", 1, 3, "unescaped control character \\x0a in string");
	expect_err("\"\t\"", 1, 2, "unescaped control character \\x09 in string");
	expect_err("\"\x1f\"", 1, 2, "unescaped control character \\x1f in string");
	/* A raw NUL inside a string is a control character too. */
	expect_err("[\"ab\0c\"]", 1, 5, "unescaped control character \\x00 in string");
}

static void test_nul_outside_strings(void **state)
{
	expect_err("\0", 1, 1, "unexpected character '\\x00'");
	expect_err("1\0", 1, 2, "unexpected data after JSON value");
	expect_err("{}\0", 1, 3, "unexpected data after JSON value");
	expect_err("[\0]", 1, 2, "unexpected character '\\x00'");
	expect_err("[1\0]", 1, 3, "expected ',' or ']' in array");
	expect_err("{\"a\"\0:1}", 1, 5, "expected ':' after object key");
	expect_err("{\0}", 1, 2, "expected string key in object");
	expect_err("tr\0e", 1, 3, "unexpected character '\\x00'");
}

static void test_syntax_errors(void **state)
{
	expect_err("", 1, 1, "empty input");
	expect_err("  \n ", 2, 2, "empty input");
	expect_err("{", 1, 2, "unexpected end of input");
	expect_err("[", 1, 2, "unexpected end of input");
	expect_err("[1,\n", 2, 1, "unexpected end of input");
	expect_err("{\"a\"", 1, 5, "unexpected end of input");
	expect_err("{\"a\":", 1, 6, "unexpected end of input");
	expect_err("{\"a\":1", 1, 7, "unexpected end of input");
	expect_err("\"abc", 1, 5, "unexpected end of input");
	expect_err("\"abc\\", 1, 6, "unexpected end of input");
	expect_err("\"\\u12", 1, 6, "unexpected end of input");
	expect_err("{\"a\" 1}", 1, 6, "expected ':' after object key");
	expect_err("{\"a\":1 \"b\":2}", 1, 8, "expected ',' or '}' in object");
	expect_err("{\"a\":1]", 1, 7, "expected ',' or '}' in object");
	expect_err("[1 2]", 1, 4, "expected ',' or ']' in array");
	expect_err("[1}", 1, 3, "expected ',' or ']' in array");
	expect_err("{\n  \"a\": [1,\n    2 3]\n}", 3, 7, "expected ',' or ']' in array");
	expect_err("[1,]", 1, 3, "trailing comma in array");
	expect_err("[1,\n  2,\n  ]", 2, 4, "trailing comma in array");
	expect_err("{\"a\":1,}", 1, 7, "trailing comma in object");
	expect_err("{\"a\":1 ,\n}", 1, 8, "trailing comma in object");
	expect_err("{1:2}", 1, 2, "expected string key in object");
	expect_err("{,}", 1, 2, "expected string key in object");
	expect_err("{\"a\":1,,}", 1, 8, "expected string key in object");
	expect_err("{'a':1}", 1, 2, "expected string key in object");
	expect_err("{a:1}", 1, 2, "expected string key in object");
	expect_err("[,1]", 1, 2, "unexpected character ','");
	expect_err("[1,,2]", 1, 4, "unexpected character ','");
	expect_err("]", 1, 1, "unexpected character ']'");
	expect_err("'a'", 1, 1, "unexpected character '''");
	expect_err("\x01", 1, 1, "unexpected character '\\x01'");
	expect_err("// c\n1", 1, 1, "unexpected character '/'");
	expect_err("[1 /* c */]", 1, 4, "expected ',' or ']' in array");
	expect_err("\"\\q\"", 1, 2, "invalid escape \\q in string");
	expect_err("\"ab\\x41\"", 1, 4, "invalid escape \\x in string");
	expect_err("\"\\'\"", 1, 2, "invalid escape \\' in string");
	expect_err("\"\\\x01\"", 1, 2, "invalid escape \\\\x01 in string");
	expect_err("\"\\U0041\"", 1, 2, "invalid escape \\U in string");
	expect_err("\"\\u12G4\"", 1, 2, "invalid \\u escape in string");
	expect_err("\"\\u\"", 1, 2, "invalid \\u escape in string");
	expect_err("tru", 1, 4, "unexpected end of input");
	expect_err("trUe", 1, 3, "unexpected character 'U'");
	expect_err("True", 1, 1, "unexpected character 'T'");
	expect_err("nul", 1, 4, "unexpected end of input");
	expect_err("fals e", 1, 5, "unexpected character ' '");
	expect_err("{\n  \"a\": tru\n}", 2, 11, "unexpected character '\\x0a'");
	expect_err("1 2", 1, 3, "unexpected data after JSON value");
	expect_err("{} x", 1, 4, "unexpected data after JSON value");
	expect_err("[]]", 1, 3, "unexpected data after JSON value");
	expect_err("truex", 1, 5, "unexpected data after JSON value");
	expect_err("\"a\"\"b\"", 1, 4, "unexpected data after JSON value");
	expect_err("{}\n\n  {}", 3, 3, "unexpected data after JSON value");
}

static void test_number_errors(void **state)
{
	expect_err("01", 1, 2, "invalid number");
	expect_err("-01", 1, 3, "invalid number");
	expect_err("00", 1, 2, "invalid number");
	expect_err("[1, 007]", 1, 6, "invalid number");
	expect_err("-", 1, 2, "unexpected end of input");
	expect_err("-a", 1, 2, "invalid number");
	expect_err("- 1", 1, 2, "invalid number");
	expect_err("1.", 1, 3, "unexpected end of input");
	expect_err("[1.]", 1, 4, "invalid number");
	expect_err("1.e5", 1, 3, "invalid number");
	expect_err("1e", 1, 3, "unexpected end of input");
	expect_err("1e+", 1, 4, "unexpected end of input");
	expect_err("1ex", 1, 3, "invalid number");
	expect_err("1e+-1", 1, 4, "invalid number");
	expect_err(".5", 1, 1, "unexpected character '.'");
	expect_err("+1", 1, 1, "unexpected character '+'");
	expect_err("NaN", 1, 1, "unexpected character 'N'");
	expect_err("Infinity", 1, 1, "unexpected character 'I'");
	expect_err("-Infinity", 1, 2, "invalid number");
	expect_err("0x10", 1, 2, "unexpected data after JSON value");
	expect_err("1.5.3", 1, 4, "unexpected data after JSON value");
	expect_err("1e999", 1, 1, "number out of range");
	expect_err("[0, -1e400]", 1, 5, "number out of range");
	expect_err("{\"a\":\n  17976931348623159e292}", 2, 3, "number out of range");
}

static void test_duplicate_keys(void **state)
{
	struct gw_json_doc doc;

	expect_err("{\"a\":1,\"a\":2}", 1, 8, "duplicate key \"a\"");
	expect_err("{\"a\":1,\"b\":2,\"a\":3}", 1, 14, "duplicate key \"a\"");
	expect_err("{\n  \"x\": 1,\n  \"x\": 2\n}", 3, 3, "duplicate key \"x\"");
	/* Nested objects are checked too, at the inner key. */
	expect_err("{\"o\":{\"x\":1,\"x\":2}}", 1, 13, "duplicate key \"x\"");
	expect_err("[{}, {\"p\": [{\"q\":1, \"q\":2}]}]", 1, 21, "duplicate key \"q\"");
	/* Keys are compared after decoding, byte-exactly. */
	expect_err("{\"\xc3\xa9\":1,\"\\u00e9\":2}", 1, 9, "duplicate key \"\xc3\xa9\"");
	expect_err("{\"a/b\":1,\"a\\/b\":2}", 1, 10, "duplicate key \"a/b\"");
	/* Detected at the key, before its value is read. */
	expect_err("{\"a\":1,\"a\":", 1, 8, "duplicate key \"a\"");
	/* The key is shown escaped... */
	expect_err("{\"q\\\"\\\\\\n\":1,\"q\\\"\\\\\\n\":2}", 1, 14,
		   "duplicate key \"q\\\"\\\\\\x0a\"");

	/* Same key in different objects, and keys differing in case, are fine. */
	parse_ok(&doc, "{\"a\":{\"a\":1},\"b\":{\"a\":{\"a\":2}},\"A\":3}");
	assert_true(cJSON_GetObjectItemCaseSensitive(doc.root, "A")->valuedouble == 3);
	gw_json_doc_free(&doc);
	parse_ok(&doc, "[{\"a\":1},{\"a\":1}]");
	gw_json_doc_free(&doc);
}

static void test_duplicate_key_shown_truncated(void **state)
{
	char src[512], msg[192];
	char key[101];
	int n;

	memset(key, 'k', 100);
	key[100] = '\0';
	n = snprintf(src, sizeof(src), "{\"%s\":1,\"%s\":2}", key, key);
	snprintf(msg, sizeof(msg), "duplicate key \"%.64s...\"", key);
	expect_err_at(src, (size_t)n, DEPTH, -EINVAL, 1, 107, msg, __FILE__, __LINE__);

	/* A multi-byte character is never cut in half: 63 ASCII bytes and then
	 * a 2-byte character that would end past byte 64. */
	memset(key, 'k', 63);
	memcpy(key + 63, "\xc3\xa9\xc3\xa9", 5);
	n = snprintf(src, sizeof(src), "{\"%s\":1,\"%s\":2}", key, key);
	snprintf(msg, sizeof(msg), "duplicate key \"%.63s...\"", key);
	expect_err_at(src, (size_t)n, DEPTH, -EINVAL, 1, 74, msg, __FILE__, __LINE__);
}

/* Builds {"k0":0,"k1":1,...} with n members; if dup_of is not (size_t)-1, a
 * last member named "k<dup_of>" is added and its quote's offset stored in
 * *dup_off. Returns the length; the caller frees *out. */
static size_t build_object(size_t n, size_t dup_of, char **out, size_t *dup_off)
{
	size_t cap = 32 + n * 24, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	s[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	if (dup_of != (size_t)-1) {
		s[len++] = ',';
		*dup_off = len;
		len += (size_t)snprintf(s + len, cap - len, "\"k%zu\":0", dup_of);
	}
	s[len++] = '}';
	*out = s;
	return len;
}

static void test_duplicate_keys_around_tree_switch(void **state)
{
	/* Objects switch from linear scans to a tree past 32 members; a
	 * duplicate must be caught on either side of the switch and against
	 * either end of the object. */
	static const size_t sizes[] = {1, 2, 31, 32, 33, 34, 40, 100};
	char msg[64];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		size_t dups[] = {0, n / 2, n - 1};

		for (size_t j = 0; j < 3; j++) {
			size_t len, off = 0;
			char *s;

			len = build_object(n, dups[j], &s, &off);
			snprintf(msg, sizeof(msg), "duplicate key \"k%zu\"", dups[j]);
			expect_err_at(s, len, DEPTH, -EINVAL, 1, (unsigned)off + 1, msg, __FILE__,
				      __LINE__);
			free(s);
		}
	}
}

static void test_large_object(void **state)
{
	const size_t n = 100000;
	struct gw_json_doc doc;
	const cJSON *last = NULL;
	size_t len, off = 0, count = 0;
	double t;
	char *s;

	len = build_object(n, (size_t)-1, &s, &off);
	t = now();
	parse_ok_at(&doc, s, len, DEPTH, __FILE__, __LINE__);
	t = now() - t;
	/* Quadratic duplicate detection takes many seconds here. */
	assert_true(t < 1.0);
	assert_int_equal(doc.npos, n + 1);
	for (const cJSON *c = doc.root->child; c; c = c->next) {
		char key[32];

		snprintf(key, sizeof(key), "k%zu", count);
		assert_string_equal(c->string, key);
		assert_true(c->valuedouble == (double)count);
		assert_ptr_equal(gw_json_pos_of(&doc, c)->node, c);
		count++;
		last = c;
	}
	assert_int_equal(count, n);
	/* The last member is "k99999":99999 just before the closing brace. */
	check_pos(&doc, last, s, 1, (unsigned)(len - 5), 1, (unsigned)(len - 14), len - 6, len - 1,
		  "99999");
	gw_json_doc_free(&doc);
	free(s);

	len = build_object(n, 0, &s, &off);
	t = now();
	expect_err_at(s, len, DEPTH, -EINVAL, 1, (unsigned)off + 1, "duplicate key \"k0\"",
		      __FILE__, __LINE__);
	assert_true(now() - t < 1.0);
	free(s);
}

static void test_large_array(void **state)
{
	const size_t n = 100000;
	struct gw_json_doc doc;
	char *s = malloc(2 * n + 1);
	size_t len = 0, count = 0;
	double t;

	assert_non_null(s);
	s[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		s[len++] = '7';
		s[len++] = i + 1 < n ? ',' : ']';
	}
	t = now();
	parse_ok_at(&doc, s, len, DEPTH, __FILE__, __LINE__);
	assert_true(now() - t < 1.0);
	for (const cJSON *c = doc.root->child; c; c = c->next)
		count++;
	assert_int_equal(count, n);
	check_pos(&doc, doc.root->child->next, s, 1, 4, 1, 4, 3, 4, "7");
	gw_json_doc_free(&doc);
	free(s);
}

/* Depth */

static void test_depth_limit(void **state)
{
	struct gw_json_doc doc;

	parse_ok_at(&doc, "[[[]]]", 6, 3, __FILE__, __LINE__);
	gw_json_doc_free(&doc);
	expect_err_depth("[[[[]]]]", 3, 1, 4, "nesting deeper than 3 levels");

	/* Arrays and objects count alike. */
	parse_ok_at(&doc, "{\"a\":[{\"b\":1}]}", 15, 3, __FILE__, __LINE__);
	check_pos(&doc, doc.root->child->child, "{\"a\":[{\"b\":1}]}", 1, 7, 1, 7, 6, 13,
		  "{\"b\":1}");
	gw_json_doc_free(&doc);
	expect_err_depth("{\"a\":[{\"b\":1}]}", 2, 1, 7, "nesting deeper than 2 levels");
	expect_err_depth("{\"a\":\n [1, [2]]}", 2, 2, 6, "nesting deeper than 2 levels");

	/* Scalars do not count; with a limit of 0 only they are accepted. */
	parse_ok_at(&doc, "\"s\"", 3, 0, __FILE__, __LINE__);
	gw_json_doc_free(&doc);
	expect_err_depth("[]", 0, 1, 1, "nesting deeper than 0 levels");

	/* Siblings do not add up. */
	parse_ok_at(&doc, "[[1],[2],{\"a\":3}]", 17, 2, __FILE__, __LINE__);
	gw_json_doc_free(&doc);
}

static void test_depth_exact_n(void **state)
{
	const unsigned n = 1000;
	struct gw_json_doc doc;
	const size_t len = 2 * ((size_t)n + 1);
	char *s = malloc(len);
	const cJSON *c;
	unsigned depth = 0;

	assert_non_null(s);
	memset(s, '[', n + 1);
	memset(s + n + 1, ']', n + 1);

	/* n + 1 levels with a limit of n: the error is at the last '['. */
	expect_err_at(s, len, n, -EINVAL, 1, n + 1, "nesting deeper than 1000 levels", __FILE__,
		      __LINE__);

	/* Exactly n levels are fine. */
	parse_ok_at(&doc, s + 1, len - 2, n, __FILE__, __LINE__);
	for (c = doc.root; c; c = c->child)
		depth++;
	assert_int_equal(depth, n);
	assert_int_equal(doc.npos, n);
	gw_json_doc_free(&doc);
	free(s);
}

static void test_deep_flood(void **state)
{
	const size_t n = 100000;
	char *s = malloc(n);
	double t;

	assert_non_null(s);
	memset(s, '[', n);
	t = now();
	expect_err_at(s, n, DEPTH, -EINVAL, 1, DEPTH + 1, "nesting deeper than 64 levels", __FILE__,
		      __LINE__);
	assert_true(now() - t < 0.1);

	/* The parser keeps open containers on the heap, so even an unlimited
	 * depth does not recurse on the C stack and the input simply ends.
	 * (cJSON_Delete does recurse, which is one reason callers keep
	 * max_depth modest; 20000 levels stay well within any stack.) */
	expect_err_at(s, 20000, UINT_MAX, -EINVAL, 1, 20001, "unexpected end of input", __FILE__,
		      __LINE__);
	free(s);
}

/* Input framing */

static void test_not_nul_terminated(void **state)
{
	struct gw_json_doc doc;

	/* Only buf[0..len) is read: a number cut by len ends there. */
	parse_ok_at(&doc, "12345", 2, DEPTH, __FILE__, __LINE__);
	assert_true(doc.root->valuedouble == 12);
	check_pos(&doc, doc.root, "12", 1, 1, 1, 1, 0, 2, "12");
	gw_json_doc_free(&doc);

	parse_ok_at(&doc, "[1]xyz", 3, DEPTH, __FILE__, __LINE__);
	assert_true(cJSON_IsArray(doc.root));
	gw_json_doc_free(&doc);

	expect_err_at("\"abc\"", 4, DEPTH, -EINVAL, 1, 5, "unexpected end of input", __FILE__,
		      __LINE__);
	expect_err_at("true", 3, DEPTH, -EINVAL, 1, 4, "unexpected end of input", __FILE__,
		      __LINE__);
}

static void test_api_edges(void **state)
{
	struct gw_json_doc doc, zero = {0};
	struct gw_json_error err;

	/* Freeing a zeroed document (twice) and NULL is harmless. */
	gw_json_doc_free(&zero);
	gw_json_doc_free(&zero);
	gw_json_doc_free(NULL);

	parse_ok(&doc, "{\"a\":[1]}");
	gw_json_doc_free(&doc);
	assert_null(doc.root);
	assert_null(doc.pos);
	assert_int_equal(doc.npos, 0);

	/* The error report is optional. */
	assert_int_equal(gw_json_parse("[", 1, DEPTH, &doc, NULL), -EINVAL);
	assert_int_equal(gw_json_parse(NULL, 0, DEPTH, &doc, &err), -EINVAL);
	assert_string_equal(err.msg, "empty input");
	assert_int_equal(gw_json_parse(NULL, 1, DEPTH, &doc, &err), -EINVAL);
	assert_int_equal(gw_json_parse("1", 1, DEPTH, NULL, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_positions_multiline),
	    cmocka_unit_test(test_key_on_other_line),
	    cmocka_unit_test(test_pos_of_foreign_node),
	    cmocka_unit_test(test_keys_in_source_order),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_surrogates),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_invalid),
	    cmocka_unit_test(test_u0000),
	    cmocka_unit_test(test_control_characters),
	    cmocka_unit_test(test_nul_outside_strings),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_number_errors),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_duplicate_key_shown_truncated),
	    cmocka_unit_test(test_duplicate_keys_around_tree_switch),
	    cmocka_unit_test(test_large_object),
	    cmocka_unit_test(test_large_array),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_depth_exact_n),
	    cmocka_unit_test(test_deep_flood),
	    cmocka_unit_test(test_not_nul_terminated),
	    cmocka_unit_test(test_api_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
