/* JSON-RPC: classification, the error code of each malformed input, exact id
 * echo, and encoders that keep framing intact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jsonrpc.h"

static int parse(const char *s, struct gw_rpc_msg *m, char **id, char *msg)
{
	return gw_rpc_parse(s, strlen(s), m, id, msg, 256);
}

static void expect_error(const char *in, int code, const char *id, const char *msg_want)
{
	struct gw_rpc_msg m;
	char *raw = NULL, msg[256];

	assert_int_equal(parse(in, &m, &raw, msg), code);
	if (id)
		assert_string_equal(raw, id);
	else
		assert_null(raw);
	assert_string_equal(msg, msg_want);
	free(raw);
}

static void test_kinds(void **state)
{
	struct gw_rpc_msg m;
	char *raw = NULL, msg[256];

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &m, &raw, msg),
			 0);
	assert_int_equal(m.kind, GW_RPC_REQUEST);
	assert_string_equal(m.method, "ping");
	assert_string_equal(m.id_raw, "1");
	assert_null(m.params);
	gw_rpc_msg_free(&m);

	assert_int_equal(
	    parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &raw, msg),
	    0);
	assert_int_equal(m.kind, GW_RPC_NOTIFICATION);
	assert_null(m.id_raw);
	gw_rpc_msg_free(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{}}", &m, &raw, msg),
			 0);
	assert_int_equal(m.kind, GW_RPC_RESPONSE);
	gw_rpc_msg_free(&m);
}

static void test_ids_echoed_exactly(void **state)
{
	static const char *const ids[] = {"3.50",	    "-0",   "1e3",
					  "\"caf\\u00e9\"", "\"\"", "12345678901234567890123"};
	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char in[256], want[256];
		struct gw_rpc_msg m;
		char *raw = NULL, msg[256];

		snprintf(in, sizeof(in), "{\"jsonrpc\":\"2.0\",\"id\": %s ,\"method\":\"x\"}",
			 ids[i]);
		assert_int_equal(parse(in, &m, &raw, msg), 0);
		assert_string_equal(m.id_raw, ids[i]);
		char *out = gw_rpc_result(m.id_raw, cJSON_CreateObject());
		snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}",
			 ids[i]);
		assert_string_equal(out, want);
		free(out);
		gw_rpc_msg_free(&m);
	}
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{", GW_RPC_PARSE_ERROR, NULL, "parse error at 1:2: unexpected end of input");
	expect_error("[]", GW_RPC_INVALID_REQUEST, NULL,
		     "batches are not supported: send one message at a time");
	expect_error("42", GW_RPC_INVALID_REQUEST, NULL, "a JSON-RPC message must be an object");
	expect_error("{\"jsonrpc\":\"1.0\",\"id\":5,\"method\":\"x\"}", GW_RPC_INVALID_REQUEST, "5",
		     "\"jsonrpc\" must be \"2.0\"");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}", GW_RPC_INVALID_REQUEST,
		     NULL, "\"id\" must be a string or a number");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}", GW_RPC_INVALID_REQUEST,
		     NULL, "\"id\" must be a string or a number");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":7}", GW_RPC_INVALID_REQUEST, "7",
		     "not a request, notification or response: \"method\" is missing");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":1}", GW_RPC_INVALID_REQUEST, "7",
		     "\"method\" must be a string");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"m\",\"params\":3}",
		     GW_RPC_INVALID_REQUEST, "7", "\"params\" must be an object");
	/* Duplicate keys are ambiguous (which "method" wins?): refused. */
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"method\":\"b\"}",
		     GW_RPC_PARSE_ERROR, NULL, "parse error at 1:38: duplicate key \"method\"");
	expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", GW_RPC_PARSE_ERROR, NULL,
		     "parse error at 1:35: invalid UTF-8 in string");
}

static void test_deep_nesting(void **state)
{
	size_t n = 100000;
	char *s = malloc(n + 1);
	struct gw_rpc_msg m;
	char *raw = NULL, msg[256];

	(void)state;
	memset(s, '[', n);
	s[n] = '\0';
	assert_int_equal(gw_rpc_parse(s, n, &m, &raw, msg, sizeof(msg)), GW_RPC_PARSE_ERROR);
	assert_string_equal(msg, "parse error at 1:65: nesting deeper than 64 levels");
	free(s);
}

static void test_encoders(void **state)
{
	char *s;
	cJSON *p = cJSON_CreateObject();

	(void)state;
	s = gw_rpc_error(NULL, GW_RPC_METHOD_NOT_FOUND, "method not found: x", NULL);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
			       "\"message\":\"method not found: x\"}}");
	free(s);
	/* Control characters and quotes from tool output stay inside the string. */
	cJSON_AddStringToObject(p, "message", "a\nb\"c\x01");
	s = gw_rpc_notification("notifications/progress", p);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
			       "\"params\":{\"message\":\"a\\nb\\\"c\\u0001\"}}");
	assert_null(strchr(s, '\n'));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),    cmocka_unit_test(test_ids_echoed_exactly),
	    cmocka_unit_test(test_errors),   cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_encoders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
