/* Network grants: every accepted entry form and its canonical text, every
 * rejection with its exact message, name resolution through a fake resolver
 * (no DNS here), and the matcher against metadata, link-local, unspecified and
 * IPv4-mapped tricks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "sandbox/netaddr.h"

static void entry_equal(const struct sbx_net_entry *a, const struct sbx_net_entry *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->family, b->family);
	assert_memory_equal(a->addr, b->addr, sizeof(a->addr));
	assert_int_equal(a->prefix, b->prefix);
	assert_int_equal(a->port, b->port);
}

/* Parses s, checks its canonical text, and that the text parses back to the
 * very same entry. */
static struct sbx_net_entry ok(const char *s, const char *canonical)
{
	struct sbx_net_entry e, again;
	char err[512] = "", buf[SBX_NET_FORMAT_MAX];

	if (sbx_net_parse(s, &e, err, sizeof(err)) != 0)
		fail_msg("%s: %s", s, err);
	sbx_net_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, canonical);
	assert_int_equal(sbx_net_parse(buf, &again, err, sizeof(err)), 0);
	entry_equal(&e, &again);
	return e;
}

static void bad(const char *s, const char *want)
{
	struct sbx_net_entry e, untouched;
	char err[512] = "";

	memset(&e, 0x5a, sizeof(e));
	memcpy(&untouched, &e, sizeof(e));
	assert_int_equal(sbx_net_parse(s, &e, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	/* Out-parameters are written only on success. */
	assert_memory_equal(&e, &untouched, sizeof(e));
}

static void test_parse_names(void **state)
{
	char label63[64], name253[254], s[300];
	struct sbx_net_entry e;

	(void)state;
	e = ok("example.com:443", "example.com:443");
	assert_string_equal(e.name, "example.com");
	assert_int_equal(e.family, 0);
	assert_int_equal(e.port, 443);
	e = ok("Example.COM:443", "example.com:443");
	assert_string_equal(e.name, "example.com");
	e = ok("localhost:*", "localhost:*");
	assert_int_equal(e.port, 0);
	ok("a-b.c0.d9:1", "a-b.c0.d9:1");
	ok("1password.com:65535", "1password.com:65535");
	ok("db:5432", "db:5432");

	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(s, sizeof(s), "%s.com:80", label63);
	ok(s, s);
	/* 253 bytes: four labels of 62 and one of 1, with dots between. */
	memset(name253, 'b', 253);
	for (int i = 62; i < 253; i += 63)
		name253[i] = '.';
	name253[253] = '\0';
	snprintf(s, sizeof(s), "%s:80", name253);
	e = ok(s, s);
	assert_int_equal(strlen(e.name), 253);
}

static void test_parse_addresses(void **state)
{
	struct sbx_net_entry e;
	static const unsigned char fd00[16] = {0xfd};
	static const unsigned char v6one[16] = {[15] = 1};

	(void)state;
	e = ok("10.0.0.1:80", "10.0.0.1:80");
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.prefix, 32);
	assert_memory_equal(e.addr, ((unsigned char[]){10, 0, 0, 1}), 4);
	assert_string_equal(e.name, "");
	e = ok("10.0.0.0/8:*", "10.0.0.0/8:*");
	assert_int_equal(e.prefix, 8);
	assert_int_equal(e.port, 0);
	e = ok("10.0.0.1/32:80", "10.0.0.1:80");
	assert_int_equal(e.prefix, 32);
	e = ok("0.0.0.0/0:*", "0.0.0.0/0:*");
	assert_int_equal(e.prefix, 0);
	ok("255.255.255.255:1", "255.255.255.255:1");

	e = ok("[::1]:443", "[::1]:443");
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefix, 128);
	assert_memory_equal(e.addr, v6one, 16);
	ok("[2001:DB8:0:0::1]:443", "[2001:db8::1]:443");
	e = ok("[fd00::/8]:443", "[fd00::/8]:443");
	assert_int_equal(e.prefix, 8);
	assert_memory_equal(e.addr, fd00, 16);
	/* Both places for an IPv6 prefix give the same entry. */
	e = ok("[fd00::]/8:443", "[fd00::/8]:443");
	assert_memory_equal(e.addr, fd00, 16);
	assert_int_equal(e.prefix, 8);
	ok("[::]/0:*", "[::/0]:*");
	ok("[::/0]:*", "[::/0]:*");
	ok("[::1/128]:22", "[::1]:22");
	ok("[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80");
	ok("[fd00:ec2::254]:80", "[fd00:ec2::254]:80");
}

static void test_parse_rejections(void **state)
{
	(void)state;
	bad("", "\"\": expected host:port (a name, an IPv4 address, an IPv6 address in brackets "
		"or a CIDR, then a port or *)");
	bad("example.com", "\"example.com\": expected host:port (the port is 1..65535 or *)");
	bad(":80", "\":80\": missing host before ':'");
	bad("example.com:", "\"example.com:\": missing port after ':' (a number from 1 to 65535, "
			    "or * for any port)");
	bad("example.com:0",
	    "\"example.com:0\": port 0 is not a port (use 1..65535, or * for any port)");
	bad("x:00", "\"x:00\": port 00 is not a port (use 1..65535, or * for any port)");
	bad("x:99999", "\"x:99999\": port 99999 is out of range (1..65535)");
	bad("x:65536", "\"x:65536\": port 65536 is out of range (1..65535)");
	bad("x:99999999999999999999999",
	    "\"x:99999999999999999999999\": port 99999999999999999999 is out of range "
	    "(1..65535)");
	bad("x:080", "\"x:080\": port 080 has a leading zero (write 80)");
	bad("x:+80", "\"x:+80\": the port must be a number from 1 to 65535, or * for any port");
	bad("x:-1", "\"x:-1\": the port must be a number from 1 to 65535, or * for any port");
	bad("x: 80", "\"x: 80\": the port must be a number from 1 to 65535, or * for any port");
	bad("x:http", "\"x:http\": the port must be a number from 1 to 65535, or * for any port");
	bad("x:**", "\"x:**\": the port must be a number from 1 to 65535, or * for any port");

	bad("::1:80", "\"::1:80\": an IPv6 address must be written in brackets, as in "
		      "[2001:db8::1]:443");
	bad("a:80:90", "\"a:80:90\": an IPv6 address must be written in brackets, as in "
		       "[2001:db8::1]:443");
	bad("[::1]", "\"[::1]\": expected :PORT after the bracketed IPv6 address");
	bad("[::1]x:80", "\"[::1]x:80\": expected :PORT after the bracketed IPv6 address");
	bad("[::1:80", "\"[::1:80\": missing ']' after the IPv6 address");
	bad("[]:80", "\"[]:80\": empty brackets: expected an IPv6 address");
	bad("[1.2.3.4]:80",
	    "\"[1.2.3.4]:80\": \"1.2.3.4\" is not an IPv6 address (brackets are for IPv6 only)");
	bad("[fe80::1%eth0]:80", "\"[fe80::1%eth0]:80\": \"fe80::1%eth0\" is not an IPv6 address "
				 "(brackets are for IPv6 only)");
	bad("[example.com]:80", "\"[example.com]:80\": \"example.com\" is not an IPv6 address "
				"(brackets are for IPv6 only)");
	bad("[fd00::/8]/8:443", "\"[fd00::/8]/8:443\": two prefix lengths (write [ADDR/N]:PORT)");

	bad("10.0.0.1/33:80", "\"10.0.0.1/33:80\": prefix length 33 is more than 32");
	bad("[::/129]:80", "\"[::/129]:80\": prefix length 129 is more than 128");
	bad("[::]/129:80", "\"[::]/129:80\": prefix length 129 is more than 128");
	bad("10.0.0.0/:80", "\"10.0.0.0/:80\": missing prefix length after '/'");
	bad("[::]/:80", "\"[::]/:80\": missing prefix length after '/'");
	bad("10.0.0.0/x:80",
	    "\"10.0.0.0/x:80\": the prefix length after '/' must be a number from 0 to 32");
	bad("10.0.0.0/-8:80",
	    "\"10.0.0.0/-8:80\": the prefix length after '/' must be a number from 0 to 32");
	bad("10.0.0.0/08:80", "\"10.0.0.0/08:80\": prefix length 08 has a leading zero (write 8)");
	bad("10.1.2.3/8:80", "\"10.1.2.3/8:80\": 10.1.2.3/8 has bits set beyond the prefix; the "
			     "network is 10.0.0.0/8");
	bad("10.0.0.129/25:80", "\"10.0.0.129/25:80\": 10.0.0.129/25 has bits set beyond the "
				"prefix; the network is 10.0.0.128/25");
	ok("10.0.0.128/25:80", "10.0.0.128/25:80");
}

static void test_parse_rejections_hosts(void **state)
{
	char s[400], want[600], label64[65], name254[255];

	(void)state;
	bad("[fd00::1/8]:443", "\"[fd00::1/8]:443\": [fd00::1/8] has bits set beyond the prefix; "
			       "the network is [fd00::/8]");
	bad("[fd00::1]/8:443", "\"[fd00::1]/8:443\": [fd00::1/8] has bits set beyond the prefix; "
			       "the network is [fd00::/8]");
	bad("010.0.0.1:80", "\"010.0.0.1:80\": 010.0.0.1 is not an IPv4 address (a.b.c.d, each "
			    "0..255 without leading zeros)");
	bad("1.2.3:80", "\"1.2.3:80\": 1.2.3 is not an IPv4 address (a.b.c.d, each 0..255 "
			"without leading zeros)");
	bad("127.1:80", "\"127.1:80\": 127.1 is not an IPv4 address (a.b.c.d, each 0..255 "
			"without leading zeros)");
	bad("256.1.1.1:80", "\"256.1.1.1:80\": 256.1.1.1 is not an IPv4 address (a.b.c.d, each "
			    "0..255 without leading zeros)");
	bad("2130706433:80", "\"2130706433:80\": 2130706433 is not an IPv4 address (a.b.c.d, "
			     "each 0..255 without leading zeros)");
	bad("1.2.3.4/x/8:80", "\"1.2.3.4/x/8:80\": the prefix length after '/' must be a number "
			      "from 0 to 32");
	bad("0x7f.1:80", "\"0x7f.1:80\": 0x7f.1 is a number, not a host name; write an IPv4 "
			 "address as a dotted quad (a.b.c.d)");
	bad("0xA9FEA9FE:80", "\"0xA9FEA9FE:80\": 0xa9fea9fe is a number, not a host name; write "
			     "an IPv4 address as a dotted quad (a.b.c.d)");
	bad("example.com/24:80",
	    "\"example.com/24:80\": a prefix length needs an IP address, not a host name");
	bad("*:443", "\"*:443\": * is not a host; for any host write 0.0.0.0/0:PORT and "
		     "[::]/0:PORT");
	bad("ex_ample.com:80", "\"ex_ample.com:80\": '_' is not allowed in a host name (letters, "
			       "digits, '-' and '.' only)");
	bad("exa mple.com:80", "\"exa mple.com:80\": byte 0x20 is not allowed in a host name "
			       "(letters, digits, '-' and '.' only)");
	/* Control bytes never reach a message raw: they could forge log lines. */
	bad("exa\nmple:80", "\"exa\\x0ample:80\": byte 0x0a is not allowed in a host name "
			    "(letters, digits, '-' and '.' only)");
	bad("caf\xc3\xa9.fr:80", "\"caf\\xc3\\xa9.fr:80\": byte 0xc3 is not allowed in a host name "
				 "(letters, digits, '-' and '.' only)");
	bad("a\"b:80", "\"a\\\"b:80\": '\"' is not allowed in a host name (letters, digits, '-' "
		       "and '.' only)");
	bad("a..b:80", "\"a..b:80\": the host name has an empty label (a leading, trailing or "
		       "doubled '.')");
	bad(".a:80", "\".a:80\": the host name has an empty label (a leading, trailing or "
		     "doubled '.')");
	bad("a.:80", "\"a.:80\": the host name has an empty label (a leading, trailing or "
		     "doubled '.')");
	bad("-a.com:80", "\"-a.com:80\": the label \"-a\" starts or ends with '-'");
	bad("a.b-.com:80", "\"a.b-.com:80\": the label \"b-\" starts or ends with '-'");

	memset(label64, 'c', 64);
	label64[64] = '\0';
	snprintf(s, sizeof(s), "x.%s:80", label64);
	snprintf(want, sizeof(want),
		 "\"%s\": the label \"cccccccccccccccccccc...\" is longer than 63 characters", s);
	bad(s, want);
	memset(name254, 'b', 254);
	for (int i = 62; i < 254; i += 63)
		name254[i] = '.';
	name254[254] = '\0';
	snprintf(s, sizeof(s), "%s:80", name254);
	snprintf(want, sizeof(want), "\"%.80s...\": the host name is longer than 253 characters",
		 s);
	bad(s, want);
	memset(s, 'a', 301);
	s[301] = '\0';
	snprintf(want, sizeof(want), "\"%.80s...\": longer than 300 characters", s);
	bad(s, want);
}

/* The fake resolver: a fixed table, so compile is tested without DNS. */
static const struct {
	const char *name;
	int ret;	      /* < 0: returned as is */
	const char *addrs[8]; /* NULL-terminated */
} fake_zone[] = {
    {"example.com", 0, {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", NULL}},
    {"api.example.com", 0, {"93.184.216.34", "192.0.2.10", NULL}},
    {"meta.evil",
     0,
     {"169.254.169.254", "fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "::ffff:169.254.169.254",
      "0.1.2.3", NULL}},
    {"mixed.example", 0, {"169.254.169.254", "::ffff:203.0.113.7", "198.51.100.1", NULL}},
    {"nx.invalid", -EHOSTUNREACH, {NULL}},
    {"empty.example", 0, {NULL}},
    {"broken.example", -EIO, {NULL}},
};

static int fake_calls;

static int fake_resolve(const char *name, struct sockaddr_storage *out, size_t max)
{
	fake_calls++;
	for (size_t i = 0; i < sizeof(fake_zone) / sizeof(fake_zone[0]); i++) {
		size_t n = 0;

		if (strcmp(fake_zone[i].name, name) != 0)
			continue;
		if (fake_zone[i].ret < 0)
			return fake_zone[i].ret;
		for (; n < max && fake_zone[i].addrs[n]; n++) {
			const char *a = fake_zone[i].addrs[n];
			memset(&out[n], 0, sizeof(out[n]));
			if (strchr(a, ':')) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out[n];
				s6->sin6_family = AF_INET6;
				assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
			} else {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&out[n];
				s4->sin_family = AF_INET;
				assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
			}
		}
		return (int)n;
	}
	fail_msg("the fake resolver was asked for %s", name);
	return -EHOSTUNREACH;
}

/* Parses the NULL-terminated entries and compiles them with the fake
 * resolver. Returns compile's result; err holds its message. */
static int compile(const char *const *texts, struct sbx_net **out, char *err, size_t errlen)
{
	struct sbx_net_entry e[16];
	size_t n = 0;
	char perr[512];

	for (; texts[n]; n++)
		if (sbx_net_parse(texts[n], &e[n], perr, sizeof(perr)) != 0)
			fail_msg("%s", perr);
	return sbx_net_compile(e, n, fake_resolve, out, err, errlen);
}

static struct sbx_net *compile_ok(const char *const *texts)
{
	struct sbx_net *net = NULL;
	char err[512] = "";

	if (compile(texts, &net, err, sizeof(err)) != 0)
		fail_msg("compile: %s", err);
	return net;
}

static void compile_bad(const char *const *texts, int want_r, const char *want)
{
	struct sbx_net *net = (struct sbx_net *)0x1;
	char err[512] = "";

	assert_int_equal(compile(texts, &net, err, sizeof(err)), want_r);
	assert_string_equal(err, want);
	assert_ptr_equal(net, (struct sbx_net *)0x1);
}

static void rule_is(const struct sbx_net_rule *r, int family, const char *addr, unsigned prefix,
		    uint16_t port, bool literal)
{
	unsigned char want[16] = {0};

	assert_int_equal(r->family, family);
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_memory_equal(r->addr, want, 16);
	assert_int_equal(r->prefix, prefix);
	assert_int_equal(r->port, port);
	assert_int_equal(r->literal, literal);
}

#define LOCALHOST_LINES "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"

static void test_compile(void **state)
{
	struct sbx_net *net;

	(void)state;
	fake_calls = 0;
	net = compile_ok((const char *const[]){"10.0.0.0/8:443", "example.com:80", "[fd00::]/8:*",
					       "api.example.com:443", "[::ffff:10.9.8.7]:22",
					       "example.com:80", NULL});
	/* Literals are never resolved; each name is asked once per entry. */
	assert_int_equal(fake_calls, 3);
	assert_int_equal(net->nrules, 7);
	rule_is(&net->rules[0], AF_INET, "10.0.0.0", 8, 443, true);
	rule_is(&net->rules[1], AF_INET, "93.184.216.34", 32, 80, false);
	rule_is(&net->rules[2], AF_INET6, "2606:2800:220:1:248:1893:25c8:1946", 128, 80, false);
	rule_is(&net->rules[3], AF_INET6, "fd00::", 8, 0, true);
	rule_is(&net->rules[4], AF_INET, "93.184.216.34", 32, 443, false);
	rule_is(&net->rules[5], AF_INET, "192.0.2.10", 32, 443, false);
	/* An IPv4-mapped literal is the IPv4 address it reaches. */
	rule_is(&net->rules[6], AF_INET, "10.9.8.7", 32, 22, true);
	assert_string_equal(net->hosts, LOCALHOST_LINES "93.184.216.34 example.com\n"
							"2606:2800:220:1:248:1893:25c8:1946 "
							"example.com\n"
							"93.184.216.34 api.example.com\n"
							"192.0.2.10 api.example.com\n");
	sbx_net_free(net);

	net = compile_ok((const char *const[]){NULL});
	assert_int_equal(net->nrules, 0);
	assert_string_equal(net->hosts, LOCALHOST_LINES);
	sbx_net_free(net);
	sbx_net_free(NULL);
}

/* What a name resolves to is the DNS server's word: link-local, metadata and
 * unspecified answers are dropped, mapped ones become IPv4. */
static void test_compile_drops_special(void **state)
{
	struct sbx_net *net;

	(void)state;
	net = compile_ok((const char *const[]){"mixed.example:443", NULL});
	assert_int_equal(net->nrules, 2);
	rule_is(&net->rules[0], AF_INET, "203.0.113.7", 32, 443, false);
	rule_is(&net->rules[1], AF_INET, "198.51.100.1", 32, 443, false);
	assert_string_equal(net->hosts, LOCALHOST_LINES "203.0.113.7 mixed.example\n"
							"198.51.100.1 mixed.example\n");
	sbx_net_free(net);

	compile_bad((const char *const[]){"example.com:80", "meta.evil:80", NULL}, -EHOSTUNREACH,
		    "meta.evil: resolves only to link-local, metadata or unspecified addresses, "
		    "which only a literal address entry can grant");
	compile_bad((const char *const[]){"nx.invalid:443", NULL}, -EHOSTUNREACH,
		    "nx.invalid: does not resolve");
	compile_bad((const char *const[]){"empty.example:443", NULL}, -EHOSTUNREACH,
		    "empty.example: does not resolve");
	compile_bad((const char *const[]){"broken.example:443", NULL}, -EIO,
		    "broken.example: cannot be resolved: Input/output error");
}

static bool allows4(const struct sbx_net *net, const char *addr, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	return sbx_net_allows(net, (struct sockaddr *)&sa, sizeof(sa));
}

static bool allows6(const struct sbx_net *net, const char *addr, uint16_t port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	assert_int_equal(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
	return sbx_net_allows(net, (struct sockaddr *)&sa, sizeof(sa));
}

static void test_allows(void **state)
{
	struct sbx_net *net;

	(void)state;
	net = compile_ok(
	    (const char *const[]){"10.0.0.0/8:443", "example.com:80", "[2001:db8::/32]:*", NULL});
	assert_true(allows4(net, "10.1.2.3", 443));
	assert_true(allows4(net, "10.255.255.255", 443));
	assert_false(allows4(net, "10.1.2.3", 80));
	assert_false(allows4(net, "11.0.0.1", 443));
	assert_false(allows4(net, "9.255.255.255", 443));
	assert_true(allows4(net, "93.184.216.34", 80));
	assert_false(allows4(net, "93.184.216.34", 81));
	assert_false(allows4(net, "93.184.216.35", 80));
	assert_true(allows6(net, "2606:2800:220:1:248:1893:25c8:1946", 80));
	assert_false(allows6(net, "2606:2800:220:1:248:1893:25c8:1946", 443));
	/* Port "*": any port, including 0. */
	assert_true(allows6(net, "2001:db8::5", 1));
	assert_true(allows6(net, "2001:db8:ffff::", 65535));
	assert_true(allows6(net, "2001:db8::5", 0));
	assert_false(allows6(net, "2001:db9::5", 443));
	/* A mapped destination is matched as the IPv4 address it reaches. */
	assert_true(allows6(net, "::ffff:10.1.2.3", 443));
	assert_false(allows6(net, "::ffff:10.1.2.3", 80));
	assert_true(allows6(net, "::ffff:93.184.216.34", 80));
	assert_false(allows6(net, "::ffff:11.0.0.1", 443));
	/* Not the mapped range: ::ffff:0:a01:203 is an IPv6 address. */
	assert_false(allows6(net, "::ffff:0:a01:203", 443));
	sbx_net_free(net);
	assert_false(allows4(NULL, "10.1.2.3", 443));
}

/* Short buffers and other families are refused before anything is read. */
static void test_allows_families_and_lengths(void **state)
{
	struct sbx_net *net;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "\0abstract"};
	struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};

	(void)state;
	net = compile_ok((const char *const[]){"0.0.0.0/0:*", "[::]/0:*", NULL});
	sin.sin_addr.s_addr = htonl(0x01010101);
	sin6.sin6_addr.s6_addr[0] = 0x20;
	sin6.sin6_addr.s6_addr[15] = 1;
	assert_true(sbx_net_allows(net, (struct sockaddr *)&sin, sizeof(sin)));
	assert_false(sbx_net_allows(net, (struct sockaddr *)&sin, sizeof(sin) - 1));
	assert_false(sbx_net_allows(net, (struct sockaddr *)&sin, 0));
	assert_true(sbx_net_allows(net, (struct sockaddr *)&sin6, sizeof(sin6)));
	assert_false(sbx_net_allows(net, (struct sockaddr *)&sin6, sizeof(sin6) - 1));
	/* An AF_INET6 family in a buffer only as long as a sockaddr_in. */
	assert_false(sbx_net_allows(net, (struct sockaddr *)&sin6, sizeof(sin)));
	assert_false(sbx_net_allows(net, (struct sockaddr *)&sun, sizeof(sun)));
	assert_false(sbx_net_allows(net, (struct sockaddr *)&ss, sizeof(ss)));
	ss.ss_family = AF_NETLINK;
	assert_false(sbx_net_allows(net, (struct sockaddr *)&ss, sizeof(ss)));
	assert_false(sbx_net_allows(net, NULL, sizeof(sin)));
	sbx_net_free(net);
}

/* "Everything" does not include the metadata service, link-local or the local
 * host behind the unspecified address, in any spelling. */
static void test_allows_wildcards_refuse_special(void **state)
{
	struct sbx_net *net;

	(void)state;
	net = compile_ok((const char *const[]){"0.0.0.0/0:*", "[::]/0:*", NULL});
	assert_true(allows4(net, "1.1.1.1", 53));
	assert_true(allows4(net, "127.0.0.1", 8080));
	assert_true(allows6(net, "2001:db8::1", 443));
	assert_true(allows6(net, "::1", 443));
	assert_true(allows6(net, "::ffff:1.1.1.1", 53));
	assert_true(allows4(net, "169.253.255.255", 80));
	assert_true(allows4(net, "169.255.0.0", 80));
	assert_true(allows4(net, "1.0.0.0", 80));
	assert_false(allows4(net, "169.254.169.254", 80));
	assert_false(allows4(net, "169.254.0.1", 80));
	assert_false(allows4(net, "169.254.255.255", 80));
	assert_false(allows4(net, "0.0.0.0", 80));
	assert_false(allows4(net, "0.1.2.3", 80));
	assert_false(allows4(net, "0.255.255.255", 80));
	assert_false(allows6(net, "::ffff:169.254.169.254", 80));
	assert_false(allows6(net, "::ffff:0.0.0.0", 80));
	assert_false(allows6(net, "fe80::1", 80));
	assert_false(allows6(net, "febf:ffff::1", 80));
	assert_true(allows6(net, "fec0::1", 80));
	assert_false(allows6(net, "fd00:ec2::254", 80));
	assert_true(allows6(net, "fd00:ec2::253", 80));
	assert_false(allows6(net, "::", 80));
	assert_false(allows6(net, "::169.254.169.254", 80));
	assert_false(allows6(net, "64:ff9b::169.254.169.254", 80));
	assert_true(allows6(net, "64:ff9b::1.2.3.4", 80));
	assert_false(allows6(net, "64:ff9b::", 80));
	sbx_net_free(net);

	/* A rule of one family never matches the other. */
	net = compile_ok((const char *const[]){"[::]/0:*", NULL});
	assert_false(allows6(net, "::ffff:1.1.1.1", 53));
	assert_false(allows6(net, "::ffff:169.254.169.254", 80));
	assert_false(allows4(net, "1.1.1.1", 53));
	sbx_net_free(net);
	net = compile_ok((const char *const[]){"0.0.0.0/0:*", NULL});
	assert_false(allows6(net, "2001:db8::1", 53));
	assert_true(allows6(net, "::ffff:1.1.1.1", 53));
	sbx_net_free(net);
}

/* A literal entry that names a special range on purpose does grant it. */
static void test_allows_literal_special(void **state)
{
	struct sbx_net *net;

	(void)state;
	net = compile_ok((const char *const[]){"169.254.169.254:80", NULL});
	assert_true(allows4(net, "169.254.169.254", 80));
	assert_true(allows6(net, "::ffff:169.254.169.254", 80));
	assert_false(allows4(net, "169.254.169.254", 81));
	assert_false(allows4(net, "169.254.169.253", 80));
	sbx_net_free(net);

	net = compile_ok((const char *const[]){"[::ffff:169.254.169.254]:80", NULL});
	assert_true(allows4(net, "169.254.169.254", 80));
	sbx_net_free(net);

	net = compile_ok((const char *const[]){"169.254.0.0/16:*", "[fe80::/10]:*",
					       "[fd00:ec2::254]:80", "0.0.0.0:8080", "[::]:8080",
					       NULL});
	assert_true(allows4(net, "169.254.1.1", 1));
	assert_true(allows6(net, "fe80::1", 22));
	assert_true(allows6(net, "fd00:ec2::254", 80));
	assert_false(allows6(net, "fd00:ec2::254", 81));
	assert_true(allows4(net, "0.0.0.0", 8080));
	assert_false(allows4(net, "0.0.0.1", 8080));
	assert_true(allows6(net, "::", 8080));
	sbx_net_free(net);

	/* Wider than the special range: it does not name it on purpose. */
	net = compile_ok((const char *const[]){"169.254.0.0/15:*", "[fd00::/8]:*", "[fe80::/9]:*",
					       "0.0.0.0/7:*", NULL});
	assert_false(allows4(net, "169.254.1.1", 80));
	assert_true(allows4(net, "169.255.0.1", 80));
	assert_false(allows6(net, "fd00:ec2::254", 80));
	assert_true(allows6(net, "fd00::1", 80));
	assert_false(allows6(net, "fe80::1", 80));
	assert_false(allows4(net, "0.0.0.0", 80));
	assert_true(allows4(net, "1.0.0.1", 80));
	sbx_net_free(net);

	/* A rule that came from a name never grants a special address, even
	 * if one got into the table. */
	struct sbx_net_rule rule = {
	    .family = AF_INET, .addr = {169, 254, 169, 254}, .prefix = 32, .literal = false};
	struct sbx_net fake = {.rules = &rule, .nrules = 1};
	assert_false(allows4(&fake, "169.254.169.254", 80));
	rule.literal = true;
	assert_true(allows4(&fake, "169.254.169.254", 80));
}

static bool covers(const char *c, const char *e)
{
	struct sbx_net_entry ce, ee;
	char err[512];

	if (sbx_net_parse(c, &ce, err, sizeof(err)) || sbx_net_parse(e, &ee, err, sizeof(err)))
		fail_msg("%s", err);
	return sbx_net_entry_covers(&ce, &ee);
}

static void test_covers(void **state)
{
	struct sbx_net_entry a = {.name = "EXAMPLE.com", .port = 443};
	struct sbx_net_entry b = {.name = "example.COM", .port = 443};

	(void)state;
	assert_true(covers("10.0.0.0/8:*", "10.1.0.0/16:443"));
	assert_true(covers("10.0.0.0/8:*", "10.0.0.0/8:*"));
	assert_true(covers("10.0.0.0/8:443", "10.1.2.3:443"));
	assert_false(covers("10.0.0.0/8:443", "10.1.2.3:80"));
	assert_false(covers("10.0.0.0/8:443", "10.1.2.3:*"));
	assert_false(covers("10.1.0.0/16:*", "10.0.0.0/8:*"));
	assert_false(covers("10.1.0.0/16:*", "10.2.0.0/16:*"));
	assert_true(covers("0.0.0.0/0:*", "203.0.113.7:22"));
	assert_true(covers("[2001:db8::/32]:*", "[2001:db8:1::/48]:443"));
	assert_false(covers("[2001:db8::/48]:*", "[2001:db8::/32]:443"));
	assert_false(covers("[::]/0:*", "10.0.0.1:80"));
	assert_false(covers("0.0.0.0/0:*", "[2001:db8::1]:80"));
	/* Names: only the same name. */
	assert_true(covers("example.com:*", "example.com:443"));
	assert_false(covers("example.com:443", "example.com:*"));
	assert_false(covers("example.com:*", "www.example.com:443"));
	assert_false(covers("0.0.0.0/0:*", "example.com:443"));
	assert_false(covers("example.com:*", "93.184.216.34:443"));
	assert_true(sbx_net_entry_covers(&a, &b));
	b.port = 80;
	assert_false(sbx_net_entry_covers(&a, &b));
	/* Mapped entries are their IPv4 addresses on both sides. */
	assert_true(covers("0.0.0.0/0:*", "[::ffff:10.0.0.1]:80"));
	assert_true(covers("[::ffff:0:0/96]:*", "10.0.0.1:80"));
	assert_false(covers("[::]/0:*", "[::ffff:10.0.0.1]:80"));
	/* A ceiling of "everything" does not cover the special ranges. */
	assert_false(covers("0.0.0.0/0:*", "169.254.169.254:80"));
	assert_false(covers("0.0.0.0/0:*", "[::ffff:169.254.169.254]:80"));
	assert_false(covers("0.0.0.0/0:*", "0.0.0.0:80"));
	assert_false(covers("[::]/0:*", "[fe80::1]:22"));
	assert_false(covers("[::]/0:*", "[fd00:ec2::254]:80"));
	assert_false(covers("[::]/0:*", "[::]:80"));
	assert_true(covers("169.254.0.0/16:*", "169.254.169.254:80"));
	assert_true(covers("[fe80::/10]:*", "[fe80::1]:22"));
	/* An entry wider than a special range grants none of it, so a wide
	 * ceiling covers it. */
	assert_true(covers("0.0.0.0/0:*", "169.254.0.0/15:*"));
}

static void test_format(void **state)
{
	struct sbx_net_entry e;
	char buf[SBX_NET_FORMAT_MAX], err[256];

	(void)state;
	assert_int_equal(sbx_net_parse("10.0.0.0/8:443", &e, err, sizeof(err)), 0);
	memset(buf, 'x', sizeof(buf));
	sbx_net_format(&e, buf, 5);
	assert_string_equal(buf, "10.0");
	assert_int_equal(buf[5], 'x');
	buf[0] = 'y';
	sbx_net_format(&e, buf, 0);
	assert_int_equal(buf[0], 'y');
	/* The longest address entry; the longest name one is in test_parse_names. */
	assert_int_equal(sbx_net_parse("[1111:2222:3333:4444:5555:6666:7777:fffe/127]:65535", &e,
				       err, sizeof(err)),
			 0);
	sbx_net_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "[1111:2222:3333:4444:5555:6666:7777:fffe/127]:65535");
}

/* The system resolver with numeric hosts only: getaddrinfo answers those
 * without asking DNS. */
static void test_resolve_system_numeric(void **state)
{
	struct sockaddr_storage out[4];
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&out[0];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&out[0];

	(void)state;
	assert_int_equal(sbx_net_resolve_system("192.0.2.1", out, 4), 1);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xc0000201);
	assert_int_equal(sbx_net_resolve_system("2001:db8::1", out, 4), 1);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(s6->sin6_addr.s6_addr[0], 0x20);
	assert_int_equal(s6->sin6_addr.s6_addr[15], 1);
	assert_int_equal(sbx_net_resolve_system("192.0.2.1", out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_names),
	    cmocka_unit_test(test_parse_addresses),
	    cmocka_unit_test(test_parse_rejections),
	    cmocka_unit_test(test_parse_rejections_hosts),
	    cmocka_unit_test(test_compile),
	    cmocka_unit_test(test_compile_drops_special),
	    cmocka_unit_test(test_allows),
	    cmocka_unit_test(test_allows_families_and_lengths),
	    cmocka_unit_test(test_allows_wildcards_refuse_special),
	    cmocka_unit_test(test_allows_literal_special),
	    cmocka_unit_test(test_covers),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_resolve_system_numeric),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
