/* The HTTP door: what gets past Host, Origin, the token, Accept,
 * Content-Type and MCP-Protocol-Version, and the ids it makes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/door.h"

#define TOKEN "s3cr3t-t0ken-0123456789abcdef"

static struct gw_door *door_at(const char *bind, unsigned port)
{
	static struct gw_door d;
	char err[256] = "";

	assert_int_equal(gw_door_init(&d, bind, port, err, sizeof(err)), 0);
	return &d;
}

static void test_init_refuses(void **state)
{
	struct gw_door d;
	char err[256];

	(void)state;
	assert_int_equal(gw_door_init(&d, "127.0.0.1", 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port 0"));
	assert_int_equal(gw_door_init(&d, "127.0.0.1", 65536, err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_init(&d, "127.0.0.1:80", 8080, err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_init(&d, "no such/host", 8080, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no such/host"));
	assert_int_equal(gw_door_init(&d, "::1::2", 8080, err, sizeof(err)), -EINVAL);
}

static void test_host_local_forms(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);

	(void)state;
	assert_true(gw_door_host_ok(d, "localhost:8080"));
	assert_true(gw_door_host_ok(d, "127.0.0.1:8080"));
	assert_true(gw_door_host_ok(d, "[::1]:8080"));
	/* Case and IPv6 spelling do not matter; the meaning does. */
	assert_true(gw_door_host_ok(d, "LocalHost:8080"));
	assert_true(gw_door_host_ok(d, "[0:0:0:0:0:0:0:1]:8080"));
	assert_true(gw_door_host_ok(d, "[::0001]:8080"));
}

static void test_host_rebinding(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);

	(void)state;
	/* A page on evil.com re-pointed at 127.0.0.1 sends its own name. */
	assert_false(gw_door_host_ok(d, "evil.com:8080"));
	assert_false(gw_door_host_ok(d, "evil.com"));
	assert_false(gw_door_host_ok(d, "localhost.evil.com:8080"));
	assert_false(gw_door_host_ok(d, "127.0.0.1.nip.io:8080"));
	assert_false(gw_door_host_ok(d, NULL));
	assert_false(gw_door_host_ok(d, ""));
}

static void test_host_strict(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char long_host[600];

	(void)state;
	assert_false(gw_door_host_ok(d, "localhost:8081")); /* wrong port */
	assert_false(gw_door_host_ok(d, "localhost:80"));
	assert_false(gw_door_host_ok(d, "localhost"));	     /* no port, not 80 */
	assert_false(gw_door_host_ok(d, "localhost:"));	     /* empty port */
	assert_false(gw_door_host_ok(d, "localhost:08080")); /* leading zero */
	assert_false(gw_door_host_ok(d, "localhost:8080:8080"));
	assert_false(gw_door_host_ok(d, "localhost:+8080"));
	assert_false(gw_door_host_ok(d, "localhost:18080"));
	assert_false(gw_door_host_ok(d, "localhost:4294975376")); /* 8080 + 2^32 */
	assert_false(gw_door_host_ok(d, "localhost.:8080"));	  /* trailing dot */
	assert_false(gw_door_host_ok(d, ".localhost:8080"));
	assert_false(gw_door_host_ok(d, "local..host:8080"));
	assert_false(gw_door_host_ok(d, "user@localhost:8080")); /* userinfo */
	assert_false(gw_door_host_ok(d, "evil.com@localhost:8080"));
	assert_false(gw_door_host_ok(d, "localhost:8080/path"));
	assert_false(gw_door_host_ok(d, "localhost:8080?x"));
	assert_false(gw_door_host_ok(d, "localhost:8080#x"));
	assert_false(gw_door_host_ok(d, " localhost:8080"));
	assert_false(gw_door_host_ok(d, "localhost:8080 "));
	assert_false(gw_door_host_ok(d, "localhost :8080"));
	assert_false(gw_door_host_ok(d, "local%68ost:8080"));
	assert_false(gw_door_host_ok(d, "::1:8080")); /* IPv6 unbracketed */
	assert_false(gw_door_host_ok(d, "[::1]8080"));
	assert_false(gw_door_host_ok(d, "[::1"));
	assert_false(gw_door_host_ok(d, "[]:8080"));
	assert_false(gw_door_host_ok(d, "[::1%25lo]:8080")); /* zone id */
	assert_false(gw_door_host_ok(d, "[127.0.0.1]:8080"));
	assert_false(gw_door_host_ok(d, "127.1:8080")); /* not the canonical form */
	assert_false(gw_door_host_ok(d, "2130706433:8080"));
	assert_false(gw_door_host_ok(d, ":8080"));
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	assert_false(gw_door_host_ok(d, long_host));
}

static void test_host_port_80(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 80);

	(void)state;
	/* A client omits the default port; both spellings name the server. */
	assert_true(gw_door_host_ok(d, "localhost"));
	assert_true(gw_door_host_ok(d, "localhost:80"));
	assert_true(gw_door_host_ok(d, "[::1]"));
	assert_true(gw_door_host_ok(d, "127.0.0.1"));
	assert_false(gw_door_host_ok(d, "localhost:8080"));
	assert_true(gw_door_origin_ok(d, "http://localhost"));
	assert_true(gw_door_origin_ok(d, "http://localhost:80"));
	assert_false(gw_door_origin_ok(d, "https://localhost"));
}

static void test_host_bind(void **state)
{
	struct gw_door *d;

	(void)state;
	d = door_at("192.168.1.5", 8080);
	assert_true(gw_door_host_ok(d, "192.168.1.5:8080"));
	assert_true(gw_door_host_ok(d, "localhost:8080"));
	assert_true(gw_door_origin_ok(d, "http://192.168.1.5:8080"));
	d = door_at("::1", 8080);
	assert_true(gw_door_host_ok(d, "[::1]:8080"));
	assert_int_equal(d->n_host, 3);
	d = door_at("[FE80::1]", 8080);
	assert_true(gw_door_host_ok(d, "[fe80::1]:8080"));
	d = door_at("fe80:0::1", 8080);
	assert_true(gw_door_host_ok(d, "[fe80::1]:8080"));
	/* A wildcard is no name: the addresses behind it are not guessed. */
	d = door_at("0.0.0.0", 8080);
	assert_int_equal(d->n_host, 3);
	assert_int_equal(d->n_origin, 3);
	assert_false(gw_door_host_ok(d, "0.0.0.0:8080"));
	d = door_at("::", 8080);
	assert_int_equal(d->n_host, 3);
	assert_false(gw_door_host_ok(d, "[::]:8080"));
	d = door_at(NULL, 8080);
	assert_int_equal(d->n_host, 3);
	assert_true(gw_door_host_ok(d, "127.0.0.1:8080"));
	d = door_at("localhost", 8080);
	assert_int_equal(d->n_host, 3);
	assert_string_equal(d->host_allow[0], "localhost:8080");
	assert_string_equal(d->origin_allow[2], "http://[::1]:8080");
}

static void test_allow_host(void **state)
{
	struct gw_door *d = door_at("0.0.0.0", 8080);
	char err[256];

	(void)state;
	assert_int_equal(gw_door_allow_host(d, "Box.LAN:8080", err, sizeof(err)), 0);
	assert_true(gw_door_host_ok(d, "box.lan:8080"));
	assert_false(gw_door_host_ok(d, "box.lan"));
	assert_int_equal(gw_door_allow_host(d, "box.lan:8080", err, sizeof(err)), 0);
	assert_int_equal(d->n_host, 4);
	assert_int_equal(gw_door_allow_host(d, "a@b", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a@b"));
	assert_int_equal(gw_door_allow_host(d, NULL, err, sizeof(err)), -EINVAL);
	for (int i = 0; d->n_host < GW_DOOR_MAX_HOSTS; i++) {
		char h[32];

		snprintf(h, sizeof(h), "h%d:1", i);
		assert_int_equal(gw_door_allow_host(d, h, err, sizeof(err)), 0);
	}
	assert_int_equal(gw_door_allow_host(d, "one.more:1", err, sizeof(err)), -ENOSPC);
}

static void test_origin(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);

	(void)state;
	/* Not a browser: no cross-site request to stop. */
	assert_true(gw_door_origin_ok(d, NULL));
	assert_true(gw_door_origin_ok(d, "http://localhost:8080"));
	assert_true(gw_door_origin_ok(d, "http://127.0.0.1:8080"));
	assert_true(gw_door_origin_ok(d, "http://[::1]:8080"));
	assert_true(gw_door_origin_ok(d, "HTTP://LOCALHOST:8080"));
	/* Sandboxed iframes and file: pages of any site send "null". */
	assert_false(gw_door_origin_ok(d, "null"));
	assert_false(gw_door_origin_ok(d, "NULL"));
	assert_false(gw_door_origin_ok(d, ""));
	assert_false(gw_door_origin_ok(d, "https://evil.com"));
	assert_false(gw_door_origin_ok(d, "http://evil.com:8080"));
	assert_false(gw_door_origin_ok(d, "http://localhost:6274"));
	assert_false(gw_door_origin_ok(d, "https://localhost:8080"));
	assert_false(gw_door_origin_ok(d, "http://localhost"));
	assert_false(gw_door_origin_ok(d, "http://localhost:8080/"));
	assert_false(gw_door_origin_ok(d, "http://localhost:8080 http://evil.com"));
	assert_false(gw_door_origin_ok(d, "http://evil.com@localhost:8080"));
	assert_false(gw_door_origin_ok(d, "ws://localhost:8080"));
	assert_false(gw_door_origin_ok(d, "localhost:8080"));
	assert_false(gw_door_origin_ok(d, "http:/localhost:8080"));
	assert_false(gw_door_origin_ok(d, "http://"));
	assert_false(gw_door_origin_ok(d, "http:"));
	assert_false(gw_door_origin_ok(d, "://localhost:8080"));
}

static void test_allow_origin(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char err[256];

	(void)state;
	assert_false(gw_door_origin_ok(d, "http://localhost:6274"));
	assert_int_equal(gw_door_allow_origin(d, "http://LocalHost:6274", err, sizeof(err)), 0);
	assert_true(gw_door_origin_ok(d, "http://localhost:6274"));
	assert_true(gw_door_host_ok(d, "localhost:6274"));
	assert_false(gw_door_origin_ok(d, "https://localhost:6274"));
	assert_false(gw_door_origin_ok(d, "http://localhost:6275"));

	/* Behind a reverse proxy: the default port is serialized away, and the
	 * proxy's Host comes with or without it. */
	assert_int_equal(gw_door_allow_origin(d, "https://mcp.example.com:443", err, sizeof(err)),
			 0);
	assert_string_equal(d->origin_allow[d->n_origin - 1], "https://mcp.example.com");
	assert_true(gw_door_origin_ok(d, "https://mcp.example.com"));
	assert_true(gw_door_host_ok(d, "mcp.example.com"));
	assert_true(gw_door_host_ok(d, "mcp.example.com:443"));
	assert_false(gw_door_host_ok(d, "mcp.example.com:8080"));
	assert_false(gw_door_origin_ok(d, "http://mcp.example.com"));

	size_t no = d->n_origin, nh = d->n_host;
	assert_int_equal(gw_door_allow_origin(d, "https://mcp.example.com", err, sizeof(err)), 0);
	assert_int_equal(d->n_origin, no);
	assert_int_equal(d->n_host, nh);
	assert_int_equal(gw_door_allow_origin(d, "http://[::1]:6274", err, sizeof(err)), 0);
	assert_true(gw_door_origin_ok(d, "http://[0::1]:6274"));

	assert_int_equal(gw_door_allow_origin(d, "null", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sandboxed"));
	assert_int_equal(gw_door_allow_origin(d, "*", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://a.com/", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no path"));
	assert_int_equal(gw_door_allow_origin(d, "http://a.com/x?y", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://u@a.com", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "user"));
	assert_int_equal(gw_door_allow_origin(d, "a.com", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected http://"));
	assert_int_equal(gw_door_allow_origin(d, "ftp://a.com", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://a.com:0", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://a.com:65536", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://a.com.", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "http://::1", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_allow_origin(d, NULL, err, sizeof(err)), -EINVAL);
	assert_false(gw_door_origin_ok(d, "http://a.com"));

	for (int i = 0; d->n_origin < GW_DOOR_MAX_ORIGINS; i++) {
		char o[32];

		snprintf(o, sizeof(o), "http://o%d.example:1", i);
		assert_int_equal(gw_door_allow_origin(d, o, err, sizeof(err)), 0);
	}
	assert_int_equal(gw_door_allow_origin(d, "http://last.example", err, sizeof(err)), -ENOSPC);
}

static void test_token(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char err[256];

	(void)state;
	/* Auth is on from init: no token set means nobody gets in. */
	assert_true(d->auth);
	assert_false(gw_door_token_ok(d, "Bearer "));
	assert_false(gw_door_token_ok(d, "Bearer x"));
	assert_int_equal(gw_door_set_token(d, TOKEN, strlen(TOKEN), err, sizeof(err)), 0);
	assert_true(gw_door_token_ok(d, "Bearer " TOKEN));
	assert_true(gw_door_token_ok(d, "bearer " TOKEN));
	assert_true(gw_door_token_ok(d, "BEARER   " TOKEN));
	assert_true(gw_door_token_ok(d, " Bearer " TOKEN " \t"));
	assert_false(gw_door_token_ok(d, NULL));
	assert_false(gw_door_token_ok(d, ""));
	assert_false(gw_door_token_ok(d, "Bearer"));
	assert_false(gw_door_token_ok(d, "Bearer "));
	assert_false(gw_door_token_ok(d, TOKEN));
	assert_false(gw_door_token_ok(d, "Basic " TOKEN));
	assert_false(gw_door_token_ok(d, "Bearer\t" TOKEN));
	assert_false(gw_door_token_ok(d, "Bearer:" TOKEN));
	assert_false(gw_door_token_ok(d, "Bearers " TOKEN));
	assert_false(gw_door_token_ok(d, "Bearer " TOKEN "x"));			   /* too long */
	assert_false(gw_door_token_ok(d, "Bearer s3cr3t-t0ken-0123456789abcde"));  /* too short */
	assert_false(gw_door_token_ok(d, "Bearer S3cr3t-t0ken-0123456789abcdef")); /* case */
	assert_false(gw_door_token_ok(d, "Bearer s3cr3t-t0ken-0123456789abcdeF"));
	assert_false(gw_door_token_ok(d, "Bearer " TOKEN " " TOKEN));
	assert_false(gw_door_token_ok(d, "Bearer " TOKEN ",x"));

	char big[GW_DOOR_TOKEN_MAX + 64];
	snprintf(big, sizeof(big), "Bearer %s", TOKEN);
	memset(big + strlen(big), 'a', sizeof(big) - strlen(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(gw_door_token_ok(d, big));

	/* The longest token works, one byte more is refused. */
	char tok[GW_DOOR_TOKEN_MAX + 2], hdr[GW_DOOR_TOKEN_MAX + 16];
	memset(tok, 'k', sizeof(tok));
	assert_int_equal(gw_door_set_token(d, tok, GW_DOOR_TOKEN_MAX, err, sizeof(err)), 0);
	snprintf(hdr, sizeof(hdr), "Bearer %.*s", GW_DOOR_TOKEN_MAX, tok);
	assert_true(gw_door_token_ok(d, hdr));
	snprintf(hdr, sizeof(hdr), "Bearer %.*s", GW_DOOR_TOKEN_MAX + 1, tok);
	assert_false(gw_door_token_ok(d, hdr));

	/* --no-auth lets everyone in, with or without a header. */
	d->auth = false;
	assert_true(gw_door_token_ok(d, NULL));
	assert_true(gw_door_token_ok(d, "Bearer wrong"));
}

static void test_set_token(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char err[256];
	char tok[GW_DOOR_TOKEN_MAX + 1];

	(void)state;
	memset(tok, 'k', sizeof(tok));
	assert_int_equal(gw_door_set_token(d, tok, 15, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "15 bytes"));
	assert_int_equal(gw_door_set_token(d, tok, GW_DOOR_TOKEN_MAX + 1, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(gw_door_set_token(d, "0123456789 abcdef", 17, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "byte 11"));
	assert_null(strstr(err, "0123"));
	assert_int_equal(gw_door_set_token(d, "0123456789\nabcdef", 17, err, sizeof(err)), -EINVAL);
	assert_int_equal(gw_door_set_token(d,
					   "0123456789\xc3\xa9"
					   "abcdef",
					   18, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(gw_door_set_token(d, "0123456789\0abcdef", 17, err, sizeof(err)), -EINVAL);
	assert_int_equal(d->token_len, 0);
	assert_int_equal(gw_door_set_token(d, tok, 16, err, sizeof(err)), 0);
	assert_true(gw_door_token_ok(d, "Bearer kkkkkkkkkkkkkkkk"));
	/* A shorter token replaces a longer one completely. */
	assert_int_equal(gw_door_set_token(d, tok, 20, err, sizeof(err)), 0);
	assert_int_equal(gw_door_set_token(d, "!~\"#$%&'()*+,-./0", 17, err, sizeof(err)), 0);
	assert_true(gw_door_token_ok(d, "Bearer !~\"#$%&'()*+,-./0"));
	assert_false(gw_door_token_ok(d, "Bearer kkkkkkkkkkkkkkkk"));
}

static void test_accepts(void **state)
{
	(void)state;
	assert_true(gw_door_accepts(NULL, "application/json"));
	assert_true(gw_door_accepts("", "application/json"));
	assert_true(gw_door_accepts(" , ", "application/json"));
	assert_true(gw_door_accepts("application/json", "application/json"));
	assert_true(gw_door_accepts("Application/JSON", "application/json"));
	assert_true(gw_door_accepts("text/event-stream, application/json", "application/json"));
	assert_true(gw_door_accepts("text/event-stream, application/json", "text/event-stream"));
	assert_true(gw_door_accepts("text/event-stream,application/json", "text/event-stream"));
	assert_true(gw_door_accepts("  application/json  ;  q=0.5  ,x/y", "application/json"));
	assert_true(gw_door_accepts("application/json;charset=utf-8", "application/json"));
	assert_true(gw_door_accepts("application/json;;", "application/json"));
	assert_true(gw_door_accepts("*/*", "application/json"));
	assert_true(gw_door_accepts("application/*", "application/json"));
	assert_false(gw_door_accepts("text/*", "application/json"));
	assert_false(gw_door_accepts("text/event-stream", "application/json"));
	assert_false(gw_door_accepts("application/json", "text/event-stream"));
	assert_false(gw_door_accepts("application/jsonx", "application/json"));
	assert_false(gw_door_accepts("application/json-seq", "application/json"));
	assert_false(gw_door_accepts("application", "application/json"));

	/* q=0 is a refusal, and the most specific range decides. */
	assert_false(gw_door_accepts("application/json;q=0", "application/json"));
	assert_false(gw_door_accepts("application/json; Q=0.000", "application/json"));
	assert_false(gw_door_accepts("application/json;q=0.", "application/json"));
	assert_true(gw_door_accepts("application/json;q=0.001", "application/json"));
	assert_true(gw_door_accepts("application/json;q=1.000", "application/json"));
	assert_false(gw_door_accepts("*/*, application/json;q=0", "application/json"));
	assert_false(gw_door_accepts("application/json;q=0, */*", "application/json"));
	assert_false(gw_door_accepts("application/*;q=0, */*", "application/json"));
	assert_true(gw_door_accepts("application/*;q=0, application/json", "application/json"));
	assert_true(gw_door_accepts("*/*;q=0, application/json;q=0.1", "application/json"));
	assert_false(gw_door_accepts("*/*;q=0", "application/json"));
	assert_true(gw_door_accepts("*/*;q=0, text/event-stream", "text/event-stream"));

	/* Malformed elements are skipped, never half-read. */
	assert_false(gw_door_accepts("application/json;q=2", "application/json"));
	assert_false(gw_door_accepts("application/json;q=1.5", "application/json"));
	assert_false(gw_door_accepts("application/json;q=0.0001", "application/json"));
	assert_false(gw_door_accepts("application/json;q=\"1\"", "application/json"));
	assert_false(gw_door_accepts("application/json;q", "application/json"));
	assert_false(gw_door_accepts("application/json;q=", "application/json"));
	assert_false(gw_door_accepts("application/json;q = 1", "application/json"));
	assert_false(gw_door_accepts("application /json", "application/json"));
	assert_false(gw_door_accepts("*/json", "application/json"));
	assert_false(gw_door_accepts("application/json x", "application/json"));
	assert_true(gw_door_accepts("bogus, application/json", "application/json"));
	assert_true(gw_door_accepts("application/json;q=x, */*", "application/json"));

	/* A comma inside a quoted parameter does not split the list. */
	assert_true(gw_door_accepts("text/html;a=\"x,application/json;q=0\", application/json",
				    "application/json"));
	assert_false(gw_door_accepts("text/html;a=\"x, application/json\"", "application/json"));
	assert_true(gw_door_accepts("text/html;a=\"\\\"\", application/json", "application/json"));
	assert_false(
	    gw_door_accepts("text/html;a=\"unterminated, application/json", "application/json"));
	assert_false(gw_door_accepts("a/b;x=\"\\", "application/json"));
	assert_false(gw_door_accepts("a/b;x=\\", "application/json"));
	assert_false(gw_door_accepts("application/json", "nonsense"));
	assert_false(gw_door_accepts("application/json", NULL));
}

static void test_is_json(void **state)
{
	(void)state;
	assert_true(gw_door_is_json("application/json"));
	assert_true(gw_door_is_json("Application/JSON"));
	assert_true(gw_door_is_json("application/json; charset=utf-8"));
	assert_true(gw_door_is_json("application/json;charset=UTF-8"));
	assert_true(gw_door_is_json("application/json; charset=\"utf-8\""));
	assert_true(gw_door_is_json("application/json;charset=\"u\\tf-8\""));
	assert_true(gw_door_is_json("application/json ; foo=bar"));
	assert_true(gw_door_is_json(" application/json "));
	assert_false(gw_door_is_json(NULL));
	assert_false(gw_door_is_json(""));
	assert_false(gw_door_is_json("application/json; charset=latin1"));
	assert_false(gw_door_is_json("application/json; charset=utf-16"));
	assert_false(gw_door_is_json("application/json; charset=\"utf-8x\""));
	assert_false(gw_door_is_json("application/json; charset=utf-8; charset=iso-8859-1"));
	assert_false(gw_door_is_json("application/json; charset="));
	assert_false(gw_door_is_json("application/json; charset"));
	assert_false(gw_door_is_json("text/json"));
	assert_false(gw_door_is_json("text/plain"));
	assert_false(gw_door_is_json("application/jsonp"));
	assert_false(gw_door_is_json("application/json-seq"));
	assert_false(gw_door_is_json("application/vnd.api+json"));
	assert_false(gw_door_is_json("application/json, text/plain"));
	assert_false(gw_door_is_json("application/x-www-form-urlencoded"));
	assert_false(gw_door_is_json("application/"));
	assert_false(gw_door_is_json("application"));
}

static void test_protocol_version(void **state)
{
	(void)state;
	assert_string_equal(gw_door_protocol_version(NULL), "2025-03-26");
	assert_string_equal(gw_door_protocol_version("2025-11-25"), "2025-11-25");
	assert_string_equal(gw_door_protocol_version("2025-06-18"), "2025-06-18");
	assert_string_equal(gw_door_protocol_version("2025-03-26"), "2025-03-26");
	assert_ptr_equal(gw_door_protocol_version("2025-06-18"),
			 gw_door_protocol_version("2025-06-18"));
	assert_null(gw_door_protocol_version(""));
	assert_null(gw_door_protocol_version("2024-11-05"));
	assert_null(gw_door_protocol_version("2025-06-18 "));
	assert_null(gw_door_protocol_version("2025-06-1"));
	assert_null(gw_door_protocol_version("2099-01-01"));
}

static void test_session_id(void **state)
{
	char ids[64][GW_DOOR_SESSION_ID_LEN + 1];

	(void)state;
	assert_true(GW_DOOR_SESSION_ID_LEN * 4 >= 128);
	for (int i = 0; i < 64; i++) {
		memset(ids[i], 'X', sizeof(ids[i]));
		assert_int_equal(gw_door_new_session_id(ids[i]), 0);
		assert_int_equal(strlen(ids[i]), GW_DOOR_SESSION_ID_LEN);
		assert_int_equal(strspn(ids[i], "0123456789abcdef"), GW_DOOR_SESSION_ID_LEN);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
}

static void test_new_token(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char a[GW_DOOR_NEW_TOKEN_LEN + 1], b[GW_DOOR_NEW_TOKEN_LEN + 1], hdr[128], err[256];

	(void)state;
	assert_int_equal(gw_door_new_token(a, sizeof(a) - 1), -ENOSPC);
	assert_int_equal(gw_door_new_token(a, sizeof(a)), 0);
	assert_int_equal(gw_door_new_token(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), GW_DOOR_NEW_TOKEN_LEN);
	assert_int_equal(
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	    GW_DOOR_NEW_TOKEN_LEN);
	assert_string_not_equal(a, b);
	/* What it makes, the door takes. */
	assert_int_equal(gw_door_set_token(d, a, strlen(a), err, sizeof(err)), 0);
	snprintf(hdr, sizeof(hdr), "Bearer %s", a);
	assert_true(gw_door_token_ok(d, hdr));
	snprintf(hdr, sizeof(hdr), "Bearer %s", b);
	assert_false(gw_door_token_ok(d, hdr));
}

/* Writes content to a new file in dir with the given mode; returns its path. */
static char *write_file(const char *dir, const char *name, const char *content, size_t len,
			mode_t mode)
{
	static char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	/* fchmod, not the umask, decides the mode under test. */
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void test_token_file(void **state)
{
	struct gw_door *d = door_at("127.0.0.1", 8080);
	char dir[] = "/tmp/test_door.XXXXXX";
	char err[1024], big[GW_DOOR_TOKEN_MAX + 100], path[4200];
	char *p;

	(void)state;
	assert_non_null(mkdtemp(dir));

	p = write_file(dir, "ok", TOKEN "\n", strlen(TOKEN) + 1, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), 0);
	assert_true(gw_door_token_ok(d, "Bearer " TOKEN));
	p = write_file(dir, "crlf", TOKEN "\r\n", strlen(TOKEN) + 2, 0400);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), 0);
	assert_int_equal(d->token_len, strlen(TOKEN));
	p = write_file(dir, "bare", TOKEN, strlen(TOKEN), 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), 0);

	/* Readable by others: refused, with the file and the fix named. */
	p = write_file(dir, "open", TOKEN "\n", strlen(TOKEN) + 1, 0644);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "chmod 600"));
	assert_non_null(strstr(err, "0644"));
	assert_null(strstr(err, TOKEN));
	p = write_file(dir, "group", TOKEN, strlen(TOKEN), 0640);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EPERM);
	p = write_file(dir, "gwrite", TOKEN, strlen(TOKEN), 0620);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EPERM);
	p = write_file(dir, "oexec", TOKEN, strlen(TOKEN), 0601);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EPERM);

	p = write_file(dir, "empty", "", 0, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	p = write_file(dir, "blank", " \n\n", 3, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	p = write_file(dir, "short", "short\n", 6, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "5 bytes"));
	p = write_file(dir, "inner", "0123456789 abcdef\n", 18, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	p = write_file(dir, "lead", " 0123456789abcdef\n", 18, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	p = write_file(dir, "two", "0123456789abcdef\n0123456789abcdef\n", 34, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	p = write_file(dir, "nul", "0123456789\0abcdef", 17, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	memset(big, 'k', sizeof(big));
	p = write_file(dir, "big", big, sizeof(big), 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
	p = write_file(dir, "max", big, GW_DOOR_TOKEN_MAX, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), 0);
	assert_int_equal(d->token_len, GW_DOOR_TOKEN_MAX);
	p = write_file(dir, "max1", big, GW_DOOR_TOKEN_MAX + 1, 0600);
	assert_int_equal(gw_door_read_token_file(d, p, err, sizeof(err)), -EINVAL);
	/* A failed read leaves the token that was set before. */
	assert_int_equal(d->token_len, GW_DOOR_TOKEN_MAX);

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(gw_door_read_token_file(d, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(gw_door_read_token_file(d, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "regular"));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(gw_door_read_token_file(d, path, err, sizeof(err)), -EINVAL);

	const char *names[] = {"ok",	"crlf",	 "bare",  "open",  "group", "gwrite",
			       "oexec", "empty", "blank", "short", "inner", "lead",
			       "two",	"nul",	 "big",	  "max",   "max1",  "fifo"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_refuses),   cmocka_unit_test(test_host_local_forms),
	    cmocka_unit_test(test_host_rebinding), cmocka_unit_test(test_host_strict),
	    cmocka_unit_test(test_host_port_80),   cmocka_unit_test(test_host_bind),
	    cmocka_unit_test(test_allow_host),	   cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_allow_origin),   cmocka_unit_test(test_token),
	    cmocka_unit_test(test_set_token),	   cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_is_json),	   cmocka_unit_test(test_protocol_version),
	    cmocka_unit_test(test_session_id),	   cmocka_unit_test(test_new_token),
	    cmocka_unit_test(test_token_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
