/* Tests for gateway/schema.c: keyword checks at load, argument validation and
 * the messages a model sees, and the ECMA-262 to POSIX pattern translation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gateway/schema.h"

/* Parses JSON written with ' for " so the tests stay readable. */
static cJSON *parse(const char *text)
{
	char *s = strdup(text);
	cJSON *j;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = cJSON_Parse(s);
	free(s);
	if (!j)
		fail_msg("test JSON does not parse: %s", text);
	return j;
}

/* Appends to a test buffer, which must have room. */
static void cat(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);

	assert_true(len + strlen(s) < size);
	memcpy(buf + len, s, strlen(s) + 1);
}

/* The node at a '/'-separated path of keys and array indexes ("" is root). */
static const cJSON *node_at(const cJSON *root, const char *path)
{
	char buf[256], *save = NULL, *part;
	const cJSON *n = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (cJSON_IsArray(n))
			n = cJSON_GetArrayItem(n, atoi(part));
		else
			n = cJSON_GetObjectItemCaseSensitive(n, part);
		assert_non_null(n);
	}
	return n;
}

static void check_ok(const char *schema)
{
	cJSON *s = parse(schema);
	const cJSON *bad = NULL;
	char msg[256] = "";
	int rc = gw_schema_check(s, &bad, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("schema %s refused: %s", schema, msg);
	cJSON_Delete(s);
}

/* Asserts that the check refuses schema, pointing at the node at `where`. */
static void check_bad(const char *schema, const char *where, const char *want)
{
	cJSON *s = parse(schema);
	const cJSON *bad = NULL;
	char msg[256] = "";

	assert_int_equal(gw_schema_check(s, &bad, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, want);
	assert_ptr_equal(bad, node_at(s, where));
	cJSON_Delete(s);
}

static int run(const char *schema, const char *value, const char *root, char *msg, size_t len)
{
	cJSON *s = parse(schema), *v = parse(value);
	int rc;

	check_ok(schema);
	rc = gw_schema_validate(s, v, root, msg, len);
	cJSON_Delete(s);
	cJSON_Delete(v);
	return rc;
}

static void valid(const char *schema, const char *value)
{
	char msg[256] = "";

	if (run(schema, value, "arguments", msg, sizeof(msg)) != 0)
		fail_msg("%s against %s: %s", value, schema, msg);
}

static void invalid(const char *schema, const char *value, const char *want)
{
	char msg[256] = "";

	assert_int_equal(run(schema, value, "arguments", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, want);
}

/* ------------------------------------------------------------------------ */
/* Types */

static void test_type_string(void **state)
{
	const char *s = "{'type':'object','properties':{'path':{'type':'string'}}}";

	valid(s, "{'path':'/tmp'}");
	invalid(s, "{'path':3}", "argument 'path': must be a string (got number)");
	invalid(s, "{'path':null}", "argument 'path': must be a string (got null)");
}

static void test_type_integer_vs_number(void **state)
{
	const char *i = "{'properties':{'n':{'type':'integer'}}}";
	const char *n = "{'properties':{'n':{'type':'number'}}}";

	valid(i, "{'n':3}");
	valid(i, "{'n':-7}");
	valid(i, "{'n':1.0}"); /* JSON Schema: 1.0 is an integer */
	valid(i, "{'n':1e3}");
	invalid(i, "{'n':1.5}", "argument 'n': must be an integer (got 1.5)");
	invalid(i, "{'n':0.1}", "argument 'n': must be an integer (got 0.1)");
	invalid(i, "{'n':'3'}", "argument 'n': must be an integer (got string)");
	valid(n, "{'n':3}");
	valid(n, "{'n':1.5}");
	invalid(n, "{'n':true}", "argument 'n': must be a number (got boolean)");
}

static void test_type_others(void **state)
{
	valid("{'properties':{'b':{'type':'boolean'}}}", "{'b':false}");
	invalid("{'properties':{'b':{'type':'boolean'}}}", "{'b':'true'}",
		"argument 'b': must be a boolean (got string)");
	valid("{'properties':{'z':{'type':'null'}}}", "{'z':null}");
	invalid("{'properties':{'z':{'type':'null'}}}", "{'z':0}",
		"argument 'z': must be null (got number)");
	valid("{'properties':{'a':{'type':'array'}}}", "{'a':[]}");
	invalid("{'properties':{'a':{'type':'array'}}}", "{'a':{}}",
		"argument 'a': must be an array (got object)");
	valid("{'properties':{'o':{'type':'object'}}}", "{'o':{}}");
	invalid("{'properties':{'o':{'type':'object'}}}", "{'o':[]}",
		"argument 'o': must be an object (got array)");
}

static void test_type_list(void **state)
{
	const char *s2 = "{'properties':{'x':{'type':['string','null']}}}";
	const char *s3 = "{'properties':{'x':{'type':['null','integer','string']}}}";

	valid(s2, "{'x':'a'}");
	valid(s2, "{'x':null}");
	invalid(s2, "{'x':false}", "argument 'x': must be a string or null (got boolean)");
	valid(s3, "{'x':2}");
	invalid(s3, "{'x':[1]}", "argument 'x': must be a string, an integer or null (got array)");
	invalid(s3, "{'x':2.5}", "argument 'x': must be a string, an integer or null (got 2.5)");
}

static void test_top_level(void **state)
{
	invalid("{'type':'object'}", "[]", "arguments: must be an object (got array)");
	invalid("{'type':'object'}", "'x'", "arguments: must be an object (got string)");
	valid("{'type':'object'}", "{}");
	valid("{}", "{'anything':[1,2]}");
}

/* ------------------------------------------------------------------------ */
/* Objects */

static void test_required(void **state)
{
	const char *s = "{'type':'object','properties':{'path':{'type':'string'}},"
			"'required':['path']}";

	valid(s, "{'path':'a'}");
	invalid(s, "{}", "argument 'path' is required");
	/* Lookups are case-sensitive: 'Path' is not 'path'. */
	invalid(s, "{'Path':'a'}", "argument 'path' is required");
}

static void test_required_before_properties(void **state)
{
	const char *s = "{'properties':{'a':{'type':'string'},'b':{'type':'string'}},"
			"'required':['b']}";

	invalid(s, "{'a':1}", "argument 'b' is required");
	invalid(s, "{'a':1,'b':'x'}", "argument 'a': must be a string (got number)");
}

static void test_additional_properties(void **state)
{
	const char *f = "{'type':'object','properties':{'path':{},'limit':{}},"
			"'additionalProperties':false}";
	const char *sch = "{'properties':{'path':{}},'additionalProperties':{'type':'string'}}";

	valid(f, "{'path':1,'limit':2}");
	invalid(f, "{'path':1,'bogus':2}",
		"argument 'bogus' is not allowed (additionalProperties is false); allowed: path, "
		"limit");
	invalid("{'additionalProperties':false}", "{'x':1}",
		"argument 'x' is not allowed (additionalProperties is false); allowed: none");
	valid(sch, "{'path':1,'other':'s'}");
	invalid(sch, "{'path':1,'other':2}", "argument 'other': must be a string (got number)");
	valid("{'properties':{'a':{}}}", "{'b':1}"); /* absent: allowed */
	valid("{'additionalProperties':true}", "{'b':1}");
}

static void test_additional_properties_list_truncated(void **state)
{
	char schema[2048] = "{'properties':{";
	char msg[512];
	size_t len;
	int i;

	for (i = 0; i < 40; i++) {
		len = strlen(schema);
		snprintf(schema + len, sizeof(schema) - len, "%s'option_number_%02d':{}",
			 i ? "," : "", i);
	}
	cat(schema, sizeof(schema), "},'additionalProperties':false}");
	assert_int_equal(run(schema, "{'nope':1}", "arguments", msg, sizeof(msg)), -EINVAL);
	/* The list stops after a whole name and says there is more. */
	assert_non_null(strstr(msg, "allowed: option_number_00, option_number_01, "));
	len = strlen(msg);
	assert_true(len > 5);
	assert_string_equal(msg + len - 5, ", ...");
	assert_true(strstr(msg, "option_number_39") == NULL);
}

static void test_properties_without_type(void **state)
{
	/* Object keywords apply only to objects. */
	const char *s = "{'properties':{'a':{'type':'string'}},'required':['a']}";

	valid(s, "'a string'");
	valid(s, "[1]");
	invalid(s, "{}", "argument 'a' is required");
}

static void test_min_max_properties(void **state)
{
	const char *s = "{'minProperties':1,'maxProperties':2}";

	valid(s, "{'a':1}");
	valid(s, "{'a':1,'b':2}");
	invalid(s, "{}", "arguments: fewer than 1 property (minProperties)");
	invalid(s, "{'a':1,'b':2,'c':3}", "arguments: more than 2 properties (maxProperties)");
	invalid("{'minProperties':2}", "{'a':1}",
		"arguments: fewer than 2 properties (minProperties)");
}

static void test_nested_paths(void **state)
{
	const char *s = "{'properties':{'opts':{'type':'object','properties':{"
			"'depth':{'type':'integer','minimum':0}},'required':['depth']},"
			"'list':{'items':{'properties':{'name':{'type':'string'}}}}}}";

	valid(s, "{'opts':{'depth':2},'list':[{'name':'a'}]}");
	invalid(s, "{'opts':{}}", "argument 'opts.depth' is required");
	invalid(s, "{'opts':{'depth':-1}}", "argument 'opts.depth': must be >= 0 (minimum)");
	invalid(s, "{'opts':{'depth':1},'list':[{'name':'a'},{'name':5}]}",
		"argument 'list[1].name': must be a string (got number)");
}

static void test_boolean_schemas(void **state)
{
	const char *s = "{'properties':{'gone':false,'any':true},'items':false}";

	valid(s, "{'any':[1,{}]}");
	invalid(s, "{'gone':1}", "argument 'gone' is not allowed");
	valid(s, "[]");
	invalid(s, "[1]", "argument '[0]' is not allowed");
}

/* ------------------------------------------------------------------------ */
/* enum and const */

static void test_enum(void **state)
{
	const char *s = "{'properties':{'mode':{'enum':['fast','slow']}}}";

	valid(s, "{'mode':'fast'}");
	invalid(s, "{'mode':'Fast'}", "argument 'mode': must be one of \"fast\", \"slow\" (enum)");
	invalid(s, "{'mode':1}", "argument 'mode': must be one of \"fast\", \"slow\" (enum)");
	invalid("{'properties':{'m':{'enum':['only']}}}", "{'m':'x'}",
		"argument 'm': must be \"only\" (enum)");
}

static void test_enum_deep_equality(void **state)
{
	const char *s = "{'properties':{'v':{'enum':[1,null,{'a':[1,2],'b':true},[1,'x']]}}}";

	valid(s, "{'v':1.0}"); /* numbers compare by value */
	valid(s, "{'v':null}");
	valid(s, "{'v':{'b':true,'a':[1,2]}}"); /* member order does not matter */
	valid(s, "{'v':[1,'x']}");
	invalid(s, "{'v':{'a':[2,1],'b':true}}",
		"argument 'v': must be one of 1, null, {\"a\":[1,2],\"b\":true}, [1,\"x\"] (enum)");
	invalid(s, "{'v':{'a':[1,2],'b':true,'c':0}}",
		"argument 'v': must be one of 1, null, {\"a\":[1,2],\"b\":true}, [1,\"x\"] (enum)");
	invalid(s, "{'v':1.0000001}",
		"argument 'v': must be one of 1, null, {\"a\":[1,2],\"b\":true}, [1,\"x\"] (enum)");
}

static void test_enum_list_truncated(void **state)
{
	char schema[4096] = "{'properties':{'e':{'enum':[";
	char msg[512];
	size_t len;

	for (int i = 0; i < 60; i++) {
		len = strlen(schema);
		snprintf(schema + len, sizeof(schema) - len, "%s'value%02d'", i ? "," : "", i);
	}
	cat(schema, sizeof(schema), "]}}}");
	assert_int_equal(run(schema, "{'e':'x'}", "arguments", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "must be one of \"value00\", \"value01\", "));
	assert_non_null(strstr(msg, "\", ... (enum)"));
}

static void test_const(void **state)
{
	const char *s = "{'properties':{'c':{'const':'yes'},'o':{'const':{'k':[1]}}}}";

	valid(s, "{'c':'yes','o':{'k':[1.0]}}");
	invalid(s, "{'c':'no'}", "argument 'c': must be \"yes\" (const)");
	invalid(s, "{'o':{'k':[]}}", "argument 'o': must be {\"k\":[1]} (const)");
}

/* ------------------------------------------------------------------------ */
/* Strings */

static void test_min_max_length(void **state)
{
	const char *s = "{'properties':{'name':{'type':'string','minLength':1,'maxLength':64}}}";
	char value[128] = "{'name':'";

	valid(s, "{'name':'a'}");
	invalid(s, "{'name':''}", "argument 'name': shorter than 1 character (minLength)");
	for (int i = 0; i < 65; i++)
		cat(value, sizeof(value), "x");
	cat(value, sizeof(value), "'}");
	invalid(s, value, "argument 'name': longer than 64 characters (maxLength)");
	invalid("{'minLength':3}", "'ab'", "arguments: shorter than 3 characters (minLength)");
	valid("{'minLength':3}", "7"); /* string keywords ignore other types */
}

static void test_length_counts_code_points(void **state)
{
	const char *s2 = "{'properties':{'s':{'maxLength':2}}}";
	const char *s5 = "{'properties':{'s':{'minLength':5,'maxLength':5}}}";

	valid(s5, "{'s':'h\u00e9llo'}");	   /* 5 characters, 6 bytes */
	valid(s2, "{'s':'\u65e5\u672c'}");	   /* 2 characters, 6 bytes */
	valid(s2, "{'s':'\U0001F600\U0001F600'}"); /* 2 characters, 8 bytes */
	invalid(s2, "{'s':'\u65e5\u672c\u8a9e'}",
		"argument 's': longer than 2 characters (maxLength)");
	valid("{'minLength':2}", "'\u00e9\u00e9'");
	invalid("{'minLength':3}", "'\u00e9\u00e9'",
		"arguments: shorter than 3 characters (minLength)");
}

static void test_pattern_basic(void **state)
{
	const char *s = "{'properties':{'name':{'pattern':'^[a-z]+$'}}}";

	valid(s, "{'name':'abc'}");
	invalid(s, "{'name':'abC'}", "argument 'name': does not match pattern ^[a-z]+$");
	invalid(s, "{'name':''}", "argument 'name': does not match pattern ^[a-z]+$");
	valid(s, "{'name':5}"); /* not a string: pattern does not apply */
}

/* Matches subject against an ECMA pattern through the public interface. */
static int matches(const char *pattern, const char *subject)
{
	cJSON *s = cJSON_CreateObject(), *v = cJSON_CreateString(subject);
	const cJSON *bad = NULL;
	char msg[256];
	int rc;

	assert_non_null(cJSON_AddStringToObject(s, "pattern", pattern));
	rc = gw_schema_check(s, &bad, msg, sizeof(msg));
	if (rc != 0)
		fail_msg("pattern %s refused: %s", pattern, msg);
	rc = gw_schema_validate(s, v, "arguments", msg, sizeof(msg));
	cJSON_Delete(s);
	cJSON_Delete(v);
	assert_true(rc == 0 || rc == -EINVAL);
	return rc == 0;
}

static void test_pattern_search_and_anchors(void **state)
{
	/* ECMA test() semantics: unanchored search. */
	assert_true(matches("b", "abc"));
	assert_false(matches("^b", "abc"));
	assert_true(matches("^a", "abc"));
	assert_false(matches("b$", "abc"));
	assert_true(matches("c$", "abc"));
	assert_true(matches("^$", ""));
	assert_true(matches("", "anything"));
	assert_true(matches("^(foo|bar)$", "bar"));
	assert_false(matches("^(foo|bar)$", "foobar"));
}

static void test_pattern_class_escapes(void **state)
{
	assert_true(matches("^\\d+$", "0123456789"));
	assert_false(matches("^\\d+$", "12a"));
	assert_false(matches("\\d", "\u0663")); /* ECMA \d is ASCII only */
	assert_true(matches("^\\D+$", "ab-"));
	assert_false(matches("\\D", "123"));
	assert_true(matches("^\\w+$", "Az_09"));
	assert_false(matches("^\\w+$", "a-b"));
	assert_false(matches("\\w", "\u00e9"));
	assert_true(matches("^\\W$", "-"));
	assert_true(matches("^\\W$", "\u00e9"));
	assert_true(matches("^a\\sb$", "a b"));
	assert_true(matches("^a\\sb$", "a\tb"));
	assert_true(matches("^a\\sb$", "a\u00a0b")); /* no-break space is ECMA whitespace */
	assert_true(matches("^a\\sb$", "a\u3000b"));
	assert_false(matches("\\s", "ab"));
	assert_true(matches("^\\S+$", "a\u00e9"));
	assert_false(matches("\\S", " \t\n"));
}

static void test_pattern_classes(void **state)
{
	/* \w and \d inside brackets, with '.' and '-'. */
	assert_true(matches("^[\\w.-]+$", "my-file.v2_x"));
	assert_false(matches("^[\\w.-]+$", "a/b"));
	assert_true(matches("^[\\d,]+$", "1,2,3"));
	assert_false(matches("^[\\d,]+$", "1;2"));
	assert_true(matches("^[^\\d]+$", "abc"));
	assert_false(matches("^[^\\d]+$", "a1"));
	assert_true(matches("^[\\s\\d]+$", "1 2\t3"));
	/* Characters special to POSIX brackets are plain in ECMA classes. */
	assert_true(matches("^[\\]]$", "]"));
	assert_true(matches("^[\\[\\]]+$", "[]]["));
	assert_true(matches("^[a^]+$", "^a^"));
	assert_true(matches("^[\\^]$", "^"));
	assert_true(matches("^[-^]+$", "-^"));
	assert_true(matches("^[a-]+$", "a-a"));
	assert_false(matches("^[a-]+$", "b"));
	assert_true(matches("^[\\\\]$", "\\"));
	assert_true(matches("^[.]$", "."));
	assert_false(matches("^[.]$", "x"));
	assert_true(matches("^[\\d-z]+$", "1-z")); /* Annex B: '-' after \d is literal */
	assert_false(matches("^[\\d-z]+$", "y"));
	assert_false(matches("[]", "a"));    /* ECMA: the empty class */
	assert_true(matches("^[^]$", "\n")); /* ECMA: any character */
	assert_true(matches("^[\\b]$", "\b"));
}

static void test_pattern_escapes(void **state)
{
	assert_true(matches("^a\\.b$", "a.b"));
	assert_false(matches("^a\\.b$", "axb"));
	assert_true(matches("^a.b$", "axb"));
	assert_true(matches("^\\/\\-\\(\\)\\{\\}\\*\\+\\?\\|\\^\\$\\\\$", "/-(){}*+?|^$\\"));
	assert_true(matches("^\\[x\\]$", "[x]"));
	assert_true(matches("^a\\tb$", "a\tb"));
	assert_true(matches("^\\x41\\u0042\\u{43}$", "ABC"));
	assert_true(matches("^\\u00e9$", "\u00e9"));
	assert_true(matches("^\\uD83D\\uDE00$", "\U0001F600")); /* a surrogate pair */
	assert_true(matches("^\\cJ$", "\n"));
	/* Annex B: a '{' that is no quantifier is a literal. */
	assert_true(matches("^x{,5}$", "x{,5}"));
	assert_true(matches("^{a}$", "{a}"));
	assert_true(matches("^a}$", "a}"));
}

static void test_pattern_unicode(void **state)
{
	/* ECMA "." matches one whole character, but no line terminator. */
	assert_true(matches("^.$", "\u00e9"));
	assert_true(matches("^.$", "\U0001F600"));
	assert_true(matches("^...$", "\u65e5\u672c\u8a9e"));
	assert_false(matches("^.$", "\n"));
	assert_false(matches("^.$", "\r"));
	assert_false(matches("^.$", "\u2028"));
	/* A quantifier repeats a whole multi-byte character. */
	assert_true(matches("^\u00e9+$", "\u00e9\u00e9\u00e9"));
	assert_false(matches("^\u00e9+$", "\u00e9\u00e8"));
	assert_true(matches("^(\u00e9){2}$", "\u00e9\u00e9"));
	assert_true(matches("^[^a]$", "\u00e9"));
	assert_true(matches("^[\u00e0-\u00ff]+$", "\u00e9\u00e0\u00ff"));
	assert_false(matches("^[\u00e0-\u00ff]$", "\u0100"));
	assert_true(matches("^[\\u4e00-\\u9fff]+$", "\u65e5\u672c"));
	assert_false(matches("^[\\u4e00-\\u9fff]$", "a"));
	assert_true(matches("^[\U0001F600-\U0001F64F]$", "\U0001F610"));
	assert_false(matches("^[\U0001F600-\U0001F64F]$", "\U0001F650"));
	assert_true(matches("^[^\u00e9]$", "\u00e8"));
	assert_false(matches("^[^\u00e9]$", "\u00e9"));
}

static void test_pattern_groups_and_quantifiers(void **state)
{
	assert_true(matches("^(?:ab)+$", "abab"));
	assert_false(matches("^(?:ab)+$", "aba"));
	assert_true(matches("^(?<word>[a-z]+)-\\d$", "abc-1"));
	assert_true(matches("^a{2}$", "aa"));
	assert_false(matches("^a{2}$", "aaa"));
	assert_true(matches("^a{2,}$", "aaaa"));
	assert_true(matches("^a{1,3}$", "aaa"));
	assert_false(matches("^a{1,3}$", "aaaa"));
	/* Lazy quantifiers change which match is found, never whether one is. */
	assert_true(matches("^a+?$", "aaa"));
	assert_true(matches("^a*?b$", "aab"));
	assert_true(matches("^a??b$", "ab"));
	assert_true(matches("^a{1,2}?$", "aa"));
	assert_false(matches("^a+?$", "aab"));
}

static void test_pattern_ignores_process_locale(void **state)
{
	/* The translation emits UTF-8 bytes for the C locale; a UTF-8 process
	 * locale must not change what a pattern means. */
	if (!setlocale(LC_ALL, "C.UTF-8"))
		skip();
	assert_true(matches("^.$", "\u00e9"));
	assert_true(matches("^[\u00e0-\u00ff]$", "\u00e9"));
	assert_false(matches("^[^\u00e9]$", "\u00e9"));
	assert_true(matches("^\u00e9{2}$", "\u00e9\u00e9"));
	setlocale(LC_ALL, "C");
}

/* ------------------------------------------------------------------------ */
/* Numbers */

static void test_minimum_maximum(void **state)
{
	const char *s = "{'properties':{'n':{'minimum':1,'maximum':10}}}";

	valid(s, "{'n':1}");
	valid(s, "{'n':10}");
	invalid(s, "{'n':0}", "argument 'n': must be >= 1 (minimum)");
	invalid(s, "{'n':10.5}", "argument 'n': must be <= 10 (maximum)");
	invalid("{'properties':{'n':{'minimum':0.5}}}", "{'n':0.25}",
		"argument 'n': must be >= 0.5 (minimum)");
	valid(s, "{'n':'0'}"); /* number keywords ignore strings */
}

static void test_exclusive(void **state)
{
	const char *s = "{'properties':{'n':{'exclusiveMinimum':0,'exclusiveMaximum':1}}}";

	valid(s, "{'n':0.5}");
	invalid(s, "{'n':0}", "argument 'n': must be > 0 (exclusiveMinimum)");
	invalid(s, "{'n':1}", "argument 'n': must be < 1 (exclusiveMaximum)");
}

static void test_multiple_of(void **state)
{
	const char *i = "{'properties':{'n':{'multipleOf':5}}}";
	const char *f = "{'properties':{'n':{'multipleOf':0.01}}}";

	valid(i, "{'n':10}");
	valid(i, "{'n':-15}");
	valid(i, "{'n':0}");
	invalid(i, "{'n':12}", "argument 'n': must be a multiple of 5 (multipleOf)");
	invalid(i, "{'n':10.5}", "argument 'n': must be a multiple of 5 (multipleOf)");
	/* Decimal steps have no exact binary form; 19.99 must still pass. */
	valid(f, "{'n':19.99}");
	valid(f, "{'n':0.07}");
	invalid(f, "{'n':0.005}", "argument 'n': must be a multiple of 0.01 (multipleOf)");
	valid("{'multipleOf':0.1}", "0.3");
	invalid("{'multipleOf':0.1}", "0.35", "arguments: must be a multiple of 0.1 (multipleOf)");
}

/* ------------------------------------------------------------------------ */
/* Arrays */

static void test_items(void **state)
{
	const char *s = "{'properties':{'files':{'type':'array','items':{'type':'string'}}}}";

	valid(s, "{'files':['a','b']}");
	invalid(s, "{'files':['a','b','c',true]}",
		"argument 'files[3]': must be a string (got boolean)");
	invalid("{'items':{'items':{'type':'integer'}}}", "[[1],[2,2.5]]",
		"argument '[1][1]': must be an integer (got 2.5)");
}

static void test_min_max_items(void **state)
{
	const char *s = "{'properties':{'files':{'minItems':1,'maxItems':10}}}";

	valid(s, "{'files':[1]}");
	invalid(s, "{'files':[]}", "argument 'files': fewer than 1 item (minItems)");
	invalid(s, "{'files':[1,2,3,4,5,6,7,8,9,10,11]}",
		"argument 'files': more than 10 items (maxItems)");
	invalid("{'minItems':2}", "[1]", "arguments: fewer than 2 items (minItems)");
}

static void test_unique_items(void **state)
{
	const char *s = "{'properties':{'t':{'uniqueItems':true}}}";

	valid(s, "{'t':[1,2,'1',[1],{'a':1},{'a':2},null,true,false]}");
	valid(s, "{'t':[]}");
	invalid(s, "{'t':['a','b','a','b']}",
		"argument 't': items [0] and [2] are equal (uniqueItems)");
	invalid(s, "{'t':[3,1,2,1.0,3]}",
		"argument 't': items [1] and [3] are equal (uniqueItems)");
	invalid(s, "{'t':[{'a':1,'b':[2]},{'b':[2],'a':1}]}",
		"argument 't': items [0] and [1] are equal (uniqueItems)");
	valid("{'properties':{'t':{'uniqueItems':false}}}", "{'t':[1,1]}");
}

static void test_unique_items_long(void **state)
{
	/* Many distinct items, then one duplicate at the end. */
	cJSON *s = parse("{'uniqueItems':true}"), *v = cJSON_CreateArray();
	char msg[256];

	for (int i = 0; i < 20000; i++)
		cJSON_AddItemToArray(v, cJSON_CreateNumber(i));
	assert_int_equal(gw_schema_validate(s, v, "arguments", msg, sizeof(msg)), 0);
	cJSON_AddItemToArray(v, cJSON_CreateNumber(17));
	assert_int_equal(gw_schema_validate(s, v, "arguments", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "arguments: items [17] and [20000] are equal (uniqueItems)");
	cJSON_Delete(s);
	cJSON_Delete(v);
}

/* ------------------------------------------------------------------------ */
/* Messages */

static void test_root_name(void **state)
{
	char msg[256];

	assert_int_equal(run("{'properties':{'count':{'type':'integer'}}}", "{'count':1.5}",
			     "output", msg, sizeof(msg)),
			 -EINVAL);
	assert_string_equal(msg, "output 'count': must be an integer (got 1.5)");
	assert_int_equal(run("{'type':'object'}", "3", "output", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "output: must be an object (got number)");
}

static void test_message_truncation(void **state)
{
	const char *s = "{'properties':{'\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9':{'type':'string'}}}";
	const char *v = "{'\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9':1}";
	char msg[64];

	/* "argument '" is 10 bytes and each 'é' 2. A 17-byte buffer has room
	 * for 13 bytes and "...", but 13 bytes would end inside the second 'é',
	 * so the whole character goes. */
	memset(msg, 'X', sizeof(msg));
	assert_int_equal(run(s, v, "arguments", msg, 17), -EINVAL);
	assert_string_equal(msg, "argument '\u00e9...");
	assert_int_equal(msg[63], 'X');
	assert_int_equal(run(s, v, "arguments", msg, 1), -EINVAL);
	assert_string_equal(msg, "");
	assert_int_equal(run(s, v, "arguments", msg, 4), -EINVAL);
	assert_string_equal(msg, "arg");
}

static void test_message_truncation_short_buffer(void **state)
{
	char msg[8];

	/* Too short for "...": the cut still never splits a character. */
	assert_int_equal(run("{'type':'object'}", "1", "\u00e9\u00e9\u00e9", msg, 4), -EINVAL);
	assert_string_equal(msg, "\u00e9");
}

static void test_long_path_truncated(void **state)
{
	/* A 300-character name overflows the path; it is cut between
	 * characters and marked. */
	char value[1024] = "{'", want[1024] = "argument '", msg[1024];
	int i;

	for (i = 0; i < 300; i++)
		cat(value, sizeof(value), "\u00e9");
	cat(value, sizeof(value), "':1}");
	for (i = 0; i < 127; i++)
		cat(want, sizeof(want), "\u00e9");
	cat(want, sizeof(want),
	    "...' is not allowed (additionalProperties is false); allowed: none");
	assert_int_equal(
	    run("{'additionalProperties':false}", value, "arguments", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, want);
}

static void test_control_characters_in_names(void **state)
{
	invalid("{'additionalProperties':false}", "{'a\\nb':1}",
		"argument 'a?b' is not allowed (additionalProperties is false); allowed: none");
}

/* ------------------------------------------------------------------------ */
/* gw_schema_check */

static void test_check_accepts(void **state)
{
	check_ok("{'$schema':'https://json-schema.org/draft/2020-12/schema','$id':'x',"
		 "'title':'t','description':'d','$comment':'c','default':{'a':1},"
		 "'examples':[1],'deprecated':false,'readOnly':true,'writeOnly':false,"
		 "'type':'object','properties':{'p':{'type':'string','format':'uri',"
		 "'minLength':0,'maxLength':10,'pattern':'^x'},'n':{'type':['number','null'],"
		 "'minimum':-1.5,'maximum':2,'exclusiveMinimum':-2,'exclusiveMaximum':3,"
		 "'multipleOf':0.5},'a':{'items':{'enum':[1,'a',null]},'minItems':0,"
		 "'maxItems':3,'uniqueItems':true},'b':true,'c':false,'k':{'const':[1]}},"
		 "'required':['p'],'additionalProperties':{'type':'string'},"
		 "'minProperties':0,'maxProperties':5}");
	check_ok("{}");
	check_ok("{'additionalProperties':false,'items':true}");
}

static void test_check_unknown_keyword(void **state)
{
	check_bad("{'type':'object','anyOf':[]}", "anyOf", "unsupported schema keyword \"anyOf\"");
	check_bad("{'properties':{'a':{'type':'string','Pattern':'x'}}}", "properties/a/Pattern",
		  "unsupported schema keyword \"Pattern\"");
	check_bad("{'items':{'$ref':'#'}}", "items/$ref", "unsupported schema keyword \"$ref\"");
	check_bad("{'prefixItems':[]}", "prefixItems",
		  "unsupported schema keyword \"prefixItems\"");
}

static void test_check_schema_shape(void **state)
{
	check_bad("true", "", "schema must be an object (got boolean)");
	check_bad("[]", "", "schema must be an object (got array)");
	check_bad("{'properties':{'a':'string'}}", "properties/a",
		  "a schema must be an object or a boolean (got string)");
	check_bad("{'properties':[]}", "properties", "properties must be an object of schemas");
	check_bad("{'additionalProperties':'no'}", "additionalProperties",
		  "additionalProperties must be a schema (an object or a boolean)");
	check_bad("{'items':[{}]}", "items",
		  "items must be a single schema; tuple arrays are not supported");
	check_bad("{'items':3}", "items", "items must be a schema (an object or a boolean)");
}

static void test_check_keyword_types(void **state)
{
	check_bad("{'minLength':'3'}", "minLength", "minLength must be a non-negative integer");
	check_bad("{'properties':{'x':{'maxLength':-1}}}", "properties/x/maxLength",
		  "maxLength must be a non-negative integer");
	check_bad("{'minItems':1.5}", "minItems", "minItems must be a non-negative integer");
	check_bad("{'maxProperties':null}", "maxProperties",
		  "maxProperties must be a non-negative integer");
	check_bad("{'minimum':'1'}", "minimum", "minimum must be a number");
	check_bad("{'exclusiveMaximum':true}", "exclusiveMaximum",
		  "exclusiveMaximum must be a number");
	check_bad("{'maximum':1e999}", "maximum", "maximum must be a number");
	check_bad("{'multipleOf':0}", "multipleOf", "multipleOf must be a number greater than 0");
	check_bad("{'multipleOf':-2}", "multipleOf", "multipleOf must be a number greater than 0");
	check_bad("{'uniqueItems':1}", "uniqueItems", "uniqueItems must be a boolean");
	check_bad("{'enum':[]}", "enum", "enum must be a non-empty array");
	check_bad("{'enum':'a'}", "enum", "enum must be a non-empty array");
	check_bad("{'description':1}", "description", "description must be a string");
	check_bad("{'format':{}}", "format", "format must be a string");
	check_bad("{'deprecated':'yes'}", "deprecated", "deprecated must be a boolean");
	check_bad("{'examples':1}", "examples", "examples must be an array");
	check_bad("{'pattern':1}", "pattern", "pattern must be a string");
}

static void test_check_type_and_required(void **state)
{
	check_bad("{'type':'strng'}", "type",
		  "unknown type \"strng\" (expected object, string, integer, number, boolean, "
		  "array or null)");
	check_bad("{'type':['string','Null']}", "type/1",
		  "unknown type \"Null\" (expected object, string, integer, number, boolean, "
		  "array or null)");
	check_bad("{'type':[]}", "type", "type must be a type name or a non-empty array of them");
	check_bad("{'type':3}", "type", "type must be a type name or a non-empty array of them");
	check_bad("{'type':['string',1]}", "type/1", "type must list type names as strings");
	check_bad("{'type':['string','null','string']}", "type/2", "type lists \"string\" twice");
	check_bad("{'required':'a'}", "required", "required must be an array of property names");
	check_bad("{'required':['a',2]}", "required/1",
		  "required must list property names as strings");
	check_bad("{'required':['a','b','a']}", "required/2", "required lists \"a\" twice");
}

static void test_check_depth(void **state)
{
	char schema[1024] = "";
	int i;

	for (i = 0; i < 64; i++)
		cat(schema, sizeof(schema), "{'items':");
	cat(schema, sizeof(schema), "{}");
	for (i = 0; i < 64; i++)
		cat(schema, sizeof(schema), "}");
	check_ok(schema);

	schema[0] = '\0';
	for (i = 0; i < 65; i++)
		cat(schema, sizeof(schema), "{'items':");
	cat(schema, sizeof(schema), "{}");
	for (i = 0; i < 65; i++)
		cat(schema, sizeof(schema), "}");
	{
		cJSON *s = parse(schema);
		const cJSON *bad = NULL, *want = s;
		char msg[256];

		for (i = 0; i < 65; i++)
			want = cJSON_GetObjectItemCaseSensitive(want, "items");
		assert_int_equal(gw_schema_check(s, &bad, msg, sizeof(msg)), -EINVAL);
		assert_string_equal(msg, "schema nests more than 64 levels deep");
		assert_ptr_equal(bad, want);
		cJSON_Delete(s);
	}
}

static void test_check_bad_regex(void **state)
{
	check_bad("{'properties':{'p':{'pattern':'(ab'}}}", "properties/p/pattern",
		  "pattern is not a valid regular expression: unterminated group");
	check_bad("{'pattern':'ab)'}", "pattern",
		  "pattern is not a valid regular expression: unmatched ')'");
	check_bad("{'pattern':'[ab'}", "pattern",
		  "pattern is not a valid regular expression: unterminated character class");
	check_bad("{'pattern':'*a'}", "pattern",
		  "pattern is not a valid regular expression: a quantifier has nothing to repeat");
	check_bad("{'pattern':'a**'}", "pattern",
		  "pattern is not a valid regular expression: a quantifier has nothing to repeat");
	check_bad("{'pattern':'^*'}", "pattern",
		  "pattern is not a valid regular expression: a quantifier has nothing to repeat");
	check_bad("{'pattern':'[z-a]'}", "pattern",
		  "pattern is not a valid regular expression: range out of order in character "
		  "class");
	check_bad("{'pattern':'a{3,2}'}", "pattern",
		  "pattern is not a valid regular expression: numbers out of order in {} "
		  "quantifier");
	check_bad("{'pattern':'a\\\\'}", "pattern",
		  "pattern is not a valid regular expression: it ends with a lone backslash");
	check_bad("{'pattern':'\\\\x4'}", "pattern",
		  "pattern is not a valid regular expression: \\x needs two hex digits");
	check_bad("{'pattern':'[[:alpha:]]'}", "pattern",
		  "pattern uses POSIX class syntax \"[:\" inside [...], which JSON Schema "
		  "(ECMA-262) patterns do not have; write e.g. [a-z] or \\d");
}

static void test_check_untranslatable_regex(void **state)
{
	static const struct {
		const char *pattern, *msg;
	} cases[] = {
	    {"a(?=b)", "pattern uses a lookahead \"(?=\", which toolcell cannot enforce"},
	    {"a(?!b)", "pattern uses a lookahead \"(?!\", which toolcell cannot enforce"},
	    {"(?<=a)b", "pattern uses a lookbehind \"(?<=\", which toolcell cannot enforce"},
	    {"(?<!a)b", "pattern uses a lookbehind \"(?<!\", which toolcell cannot enforce"},
	    {"(?i)a", "pattern uses the group modifier \"(?i\", which toolcell cannot enforce"},
	    {"(a)\\1", "pattern uses a backreference \"\\1\", which toolcell cannot enforce"},
	    {"(?<n>a)\\k<n>",
	     "pattern uses a named backreference \"\\k\", which toolcell cannot enforce"},
	    {"\\bword\\b", "pattern uses a word boundary \"\\b\", which toolcell cannot enforce"},
	    {"\\B", "pattern uses a word boundary \"\\B\", which toolcell cannot enforce"},
	    {"\\p{L}",
	     "pattern uses a Unicode property escape \"\\p\", which toolcell cannot enforce"},
	    {"\\uD800", "pattern uses a lone surrogate \"\\uD800\", which toolcell cannot enforce"},
	    {"\\Aabc", "pattern uses the escape \"\\A\", which toolcell cannot enforce"},
	    {"a\\z", "pattern uses the escape \"\\z\", which toolcell cannot enforce"},
	    {"\\0", "pattern uses a NUL escape \"\\0\", which toolcell cannot enforce"},
	    {"\\u{}", "pattern is not a valid regular expression: malformed \\u{...} escape"},
	    {"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
	     "pattern uses groups nested more than 32 deep, which toolcell cannot enforce"},
	    {"a{1001}", "pattern repeats up to 1001 times; toolcell allows at most 1000 (use "
			"minLength/maxLength for lengths)"},
	    {"^.{0,1000}$", "pattern is too complex for toolcell (over 20000 bytes once repeats "
			    "are expanded); use minLength/maxLength for lengths"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *s = cJSON_CreateObject();
		cJSON *p = cJSON_AddStringToObject(s, "pattern", cases[i].pattern);
		const cJSON *bad = NULL;
		char msg[256];

		assert_int_equal(gw_schema_check(s, &bad, msg, sizeof(msg)), -EINVAL);
		assert_string_equal(msg, cases[i].msg);
		assert_ptr_equal(bad, p);
		cJSON_Delete(s);
	}
}

static void test_pattern_too_long_subject(void **state)
{
	/* Matching time grows with string length times pattern size; past the
	 * bound the string is refused rather than matched for seconds. */
	cJSON *s = parse("{'pattern':'(\\\\w{1,10}){1,100}x'}");
	size_t n = 1 << 20;
	char *big = malloc(n + 1), msg[256];
	cJSON *v;

	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	v = cJSON_CreateString(big);
	assert_int_equal(gw_schema_validate(s, v, "arguments", msg, sizeof(msg)), -EINVAL);
	assert_true(strncmp(msg,
			    "arguments: is too long to check against pattern (\\w{1,10}){1,100}x"
			    " (1048576 bytes; at most ",
			    strlen("arguments: is too long to check against pattern "
				   "(\\w{1,10}){1,100}x (1048576 bytes; at most ")) == 0);
	cJSON_Delete(v);
	free(big);
	cJSON_Delete(s);
	/* A small pattern still takes a long string. */
	big = malloc(n + 2);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = 'b';
	big[n + 1] = '\0';
	assert_true(matches("ab$", big));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_type_string),
	    cmocka_unit_test(test_type_integer_vs_number),
	    cmocka_unit_test(test_type_others),
	    cmocka_unit_test(test_type_list),
	    cmocka_unit_test(test_top_level),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_required_before_properties),
	    cmocka_unit_test(test_additional_properties),
	    cmocka_unit_test(test_additional_properties_list_truncated),
	    cmocka_unit_test(test_properties_without_type),
	    cmocka_unit_test(test_min_max_properties),
	    cmocka_unit_test(test_nested_paths),
	    cmocka_unit_test(test_boolean_schemas),
	    cmocka_unit_test(test_enum),
	    cmocka_unit_test(test_enum_deep_equality),
	    cmocka_unit_test(test_enum_list_truncated),
	    cmocka_unit_test(test_const),
	    cmocka_unit_test(test_min_max_length),
	    cmocka_unit_test(test_length_counts_code_points),
	    cmocka_unit_test(test_pattern_basic),
	    cmocka_unit_test(test_pattern_search_and_anchors),
	    cmocka_unit_test(test_pattern_class_escapes),
	    cmocka_unit_test(test_pattern_classes),
	    cmocka_unit_test(test_pattern_escapes),
	    cmocka_unit_test(test_pattern_unicode),
	    cmocka_unit_test(test_pattern_groups_and_quantifiers),
	    cmocka_unit_test(test_pattern_ignores_process_locale),
	    cmocka_unit_test(test_minimum_maximum),
	    cmocka_unit_test(test_exclusive),
	    cmocka_unit_test(test_multiple_of),
	    cmocka_unit_test(test_items),
	    cmocka_unit_test(test_min_max_items),
	    cmocka_unit_test(test_unique_items),
	    cmocka_unit_test(test_unique_items_long),
	    cmocka_unit_test(test_root_name),
	    cmocka_unit_test(test_message_truncation),
	    cmocka_unit_test(test_message_truncation_short_buffer),
	    cmocka_unit_test(test_long_path_truncated),
	    cmocka_unit_test(test_control_characters_in_names),
	    cmocka_unit_test(test_check_accepts),
	    cmocka_unit_test(test_check_unknown_keyword),
	    cmocka_unit_test(test_check_schema_shape),
	    cmocka_unit_test(test_check_keyword_types),
	    cmocka_unit_test(test_check_type_and_required),
	    cmocka_unit_test(test_check_depth),
	    cmocka_unit_test(test_check_bad_regex),
	    cmocka_unit_test(test_check_untranslatable_regex),
	    cmocka_unit_test(test_pattern_too_long_subject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
