/* Network grants: parsing "host:port" entries, resolving names once at load,
 * and deciding whether one destination is allowed. Everything here but
 * sbx_net_resolve_system is pure, so the tests exercise it without DNS. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sandbox/netaddr.h"

/* Longer entries cannot be valid (a name is at most 253 bytes) and would only
 * make the messages that quote them unreadable. */
#define ENTRY_MAX 300
#define QUOTE_MAX 80
#define NAME_MAX_LEN 253
#define LABEL_MAX 63
#define RESOLVE_MAX 64

/* An address range: family, network bytes and prefix length. */
struct range {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

/* Destinations that a name must never reach and that a broad literal rule
 * ("0.0.0.0/0:*", "[::]/0:*") must not grant either: the cloud metadata
 * service lives in link-local space (169.254.169.254, fd00:ec2::254) and hands
 * out credentials to anything that can connect, and connect() to 0.0.0.0, to
 * any 0.0.0.0/8 address or to :: reaches the local host. The IPv4-compatible
 * (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) images of those IPv4 ranges are
 * listed too, because a host with an automatic tunnel or a NAT64 gateway would
 * carry them to the IPv4 destination. IPv4-mapped addresses (::ffff:a.b.c.d)
 * are not listed: they are turned into IPv4 before any check. The ranges are
 * disjoint, so a destination lies in at most one. */
static const struct range special[] = {
    {AF_INET, {169, 254}, 16},
    {AF_INET, {0}, 8},
    {AF_INET6, {0xfe, 0x80}, 10},
    {AF_INET6, {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128},
    {AF_INET6, {0}, 128},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 169, 254}, 112},
    {AF_INET6, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 169, 254}, 112},
    {AF_INET6, {0x00, 0x64, 0xff, 0x9b}, 104},
};

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Whether the first `prefix` bits of a and b are equal. */
static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Clears every bit after the first `prefix` bits of a `bits`-bit address. */
static void mask_host_bits(unsigned char *a, unsigned prefix, unsigned bits)
{
	for (unsigned i = 0; i < bits / 8; i++) {
		if (prefix >= (i + 1) * 8)
			continue;
		if (prefix <= i * 8)
			a[i] = 0;
		else
			a[i] &= (unsigned char)(0xff << (8 - (prefix - i * 8)));
	}
}

/* Whether range r lies wholly inside range outer. */
static bool range_within(const struct range *r, const struct range *outer)
{
	return r->family == outer->family && r->prefix >= outer->prefix &&
	       prefix_match(r->addr, outer->addr, outer->prefix);
}

/* Turns an IPv4-mapped IPv6 range (::ffff:a.b.c.d/96+n) into the IPv4 range
 * it reaches: the kernel sends a connect() to ::ffff:a.b.c.d on an IPv6
 * socket to a.b.c.d, so matching it as IPv6 would let "[::ffff:169.254.169.254]"
 * slip past every IPv4 check. Ranges wider than /96 stay IPv6. */
static void normalize(struct range *r)
{
	if (r->family != AF_INET6 || r->prefix < 96 ||
	    memcmp(r->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return;
	memmove(r->addr, r->addr + 12, 4);
	memset(r->addr + 4, 0, 12);
	r->family = AF_INET;
	r->prefix -= 96;
}

/* The special range holding r (normalized), or NULL. */
static const struct range *special_of(const struct range *r)
{
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (range_within(r, &special[i]))
			return &special[i];
	return NULL;
}

/* Writes s for a message: quoted, '"' and '\\' escaped, bytes outside
 * printable ASCII as \xNN (a manifest string may hold control characters
 * that would forge lines in a terminal or a log), and cut after QUOTE_MAX
 * bytes. */
static void quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, i;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (i = 0; i < QUOTE_MAX && o + 8 < len && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch > 0x7e) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (s[i] && o + 5 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* Sets err to `"ENTRY": message` and returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
parse_error(char *err, size_t errlen, const char *entry, const char *fmt, ...)
{
	char q[QUOTE_MAX * 4 + 16], msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	quote(entry, q, sizeof(q));
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", q, msg);
	return -EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* Parses the port text p[0..n): "*" or 1..65535 in plain decimal. Only one
 * spelling per port is accepted so that the canonical form, duplicates and
 * the ceiling comparison need no second look. */
static int parse_port(const char *entry, const char *p, size_t n, uint16_t *port, char *err,
		      size_t errlen)
{
	unsigned long v = 0;

	if (n == 1 && p[0] == '*') {
		*port = 0;
		return 0;
	}
	if (n == 0)
		return parse_error(err, errlen, entry,
				   "missing port after ':' (a number from 1 to 65535, or * for "
				   "any port)");
	if (!all_digits(p, n))
		return parse_error(err, errlen, entry,
				   "the port must be a number from 1 to 65535, or * for any port");
	for (size_t i = 0; i < n && v <= 65535; i++)
		v = v * 10 + (unsigned long)(p[i] - '0');
	if (v > 65535)
		return parse_error(err, errlen, entry, "port %.*s is out of range (1..65535)",
				   (int)(n > 20 ? 20 : n), p);
	if (v == 0)
		return parse_error(err, errlen, entry,
				   "port %.*s is not a port (use 1..65535, or * for any port)",
				   (int)n, p);
	if (p[0] == '0')
		return parse_error(err, errlen, entry, "port %.*s has a leading zero (write %lu)",
				   (int)n, p, v);
	*port = (uint16_t)v;
	return 0;
}

/* Parses the prefix length text p[0..n) for an address of `bits` bits. */
static int parse_prefix(const char *entry, const char *p, size_t n, unsigned bits, unsigned *prefix,
			char *err, size_t errlen)
{
	unsigned long v = 0;

	if (n == 0)
		return parse_error(err, errlen, entry, "missing prefix length after '/'");
	if (!all_digits(p, n))
		return parse_error(err, errlen, entry,
				   "the prefix length after '/' must be a number from 0 to %u",
				   bits);
	for (size_t i = 0; i < n && v <= 1000; i++)
		v = v * 10 + (unsigned long)(p[i] - '0');
	if (v > bits)
		return parse_error(err, errlen, entry, "prefix length %.*s is more than %u",
				   (int)(n > 20 ? 20 : n), p, bits);
	if (n > 1 && p[0] == '0')
		return parse_error(err, errlen, entry,
				   "prefix length %.*s has a leading zero (write %lu)", (int)n, p,
				   v);
	*prefix = (unsigned)v;
	return 0;
}

/* Checks a host name (DNS syntax: labels of letters, digits and '-', 1 to 63
 * long, not starting or ending with '-', 253 bytes in all) and stores it in
 * lower case, so that equal names compare equal byte for byte. */
static int parse_name(const char *entry, const char *h, size_t n, struct sbx_net_entry *e,
		      char *err, size_t errlen)
{
	size_t start = 0;
	struct in_addr ignored;

	if (n == 1 && h[0] == '*')
		return parse_error(err, errlen, entry,
				   "* is not a host; for any host write 0.0.0.0/0:PORT and "
				   "[::]/0:PORT");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')
			continue;
		if (ch > 0x20 && ch < 0x7f)
			return parse_error(err, errlen, entry,
					   "'%c' is not allowed in a host name (letters, digits, "
					   "'-' and '.' only)",
					   ch);
		return parse_error(err, errlen, entry,
				   "byte 0x%02x is not allowed in a host name (letters, digits, "
				   "'-' and '.' only)",
				   ch);
	}
	if (n > NAME_MAX_LEN)
		return parse_error(err, errlen, entry, "the host name is longer than %d characters",
				   NAME_MAX_LEN);
	for (size_t i = 0; i <= n; i++) {
		if (i < n && h[i] != '.')
			continue;
		size_t l = i - start;
		if (l == 0)
			return parse_error(err, errlen, entry,
					   "the host name has an empty label (a leading, trailing "
					   "or doubled '.')");
		if (l > LABEL_MAX)
			return parse_error(err, errlen, entry,
					   "the label \"%.20s...\" is longer than %d characters",
					   h + start, LABEL_MAX);
		if (h[start] == '-' || h[i - 1] == '-')
			return parse_error(err, errlen, entry,
					   "the label \"%.*s\" starts or ends with '-'", (int)l,
					   h + start);
		start = i + 1;
	}
	for (size_t i = 0; i < n; i++)
		e->name[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] - 'A' + 'a' : h[i]);
	e->name[n] = '\0';
	/* getaddrinfo reads "0x7f.1" or "0x7f000001" as 127.0.0.1 without asking
	 * DNS: such a "name" is an address in disguise, so it is refused rather
	 * than resolved and listed in hosts as if it were a name. */
	if (inet_aton(e->name, &ignored))
		return parse_error(err, errlen, entry,
				   "%s is a number, not a host name; write an IPv4 address as a "
				   "dotted quad (a.b.c.d)",
				   e->name);
	return 0;
}

/* Formats range r (family, address, prefix) as the entry syntax writes it,
 * without the port: "10.0.0.0/8", "[fd00::/8]", "192.0.2.1", "[::1]". */
static void format_range(int family, const unsigned char *addr, unsigned prefix, char *buf,
			 size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?", p[16] = "";

	inet_ntop(family, addr, a, sizeof(a));
	if (prefix < family_bits(family))
		snprintf(p, sizeof(p), "/%u", prefix);
	if (family == AF_INET6)
		snprintf(buf, len, "[%s%s]", a, p);
	else
		snprintf(buf, len, "%s%s", a, p);
}

/* inet_pton on h[0..n), which is not NUL-terminated. */
static bool pton(int family, const char *h, size_t n, unsigned char *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (n >= sizeof(text))
		return false;
	memcpy(text, h, n);
	text[n] = '\0';
	return inet_pton(family, text, addr) == 1;
}

int sbx_net_parse(const char *s, struct sbx_net_entry *out, char *err, size_t errlen)
{
	struct sbx_net_entry e = {0};
	const char *host, *pfx = NULL, *port;
	size_t hostlen, pfxlen = 0;
	bool bracketed;
	int r;

	if (!s || !*s)
		return parse_error(err, errlen, s ? s : "",
				   "expected host:port (a name, an IPv4 address, an IPv6 address "
				   "in brackets or a CIDR, then a port or *)");
	if (strlen(s) > ENTRY_MAX)
		return parse_error(err, errlen, s, "longer than %d characters", ENTRY_MAX);
	bracketed = s[0] == '[';
	if (bracketed) {
		const char *close = strchr(s, ']'), *slash, *rest;

		if (!close)
			return parse_error(err, errlen, s, "missing ']' after the IPv6 address");
		host = s + 1;
		hostlen = (size_t)(close - host);
		slash = memchr(host, '/', hostlen);
		if (slash) {
			pfx = slash + 1;
			pfxlen = (size_t)(close - pfx);
			hostlen = (size_t)(slash - host);
		}
		rest = close + 1;
		if (*rest == '/') {
			if (pfx)
				return parse_error(err, errlen, s,
						   "two prefix lengths (write [ADDR/N]:PORT)");
			pfx = rest + 1;
			rest = strchr(pfx, ':');
			if (!rest)
				rest = pfx + strlen(pfx);
			pfxlen = (size_t)(rest - pfx);
		}
		if (*rest != ':')
			return parse_error(err, errlen, s,
					   "expected :PORT after the bracketed IPv6 address");
		port = rest + 1;
		if (hostlen == 0)
			return parse_error(err, errlen, s,
					   "empty brackets: expected an IPv6 address");
		if (!pton(AF_INET6, host, hostlen, e.addr)) {
			char q[QUOTE_MAX * 4 + 16], h[QUOTE_MAX + 1];
			snprintf(h, sizeof(h), "%.*s", (int)hostlen, host);
			quote(h, q, sizeof(q));
			return parse_error(err, errlen, s,
					   "%s is not an IPv6 address (brackets are for IPv6 only)",
					   q);
		}
		e.family = AF_INET6;
	} else {
		const char *colon = strrchr(s, ':'), *slash;

		if (!colon)
			return parse_error(err, errlen, s,
					   "expected host:port (the port is 1..65535 or *)");
		if (strchr(s, ':') != colon)
			return parse_error(err, errlen, s,
					   "an IPv6 address must be written in brackets, as in "
					   "[2001:db8::1]:443");
		host = s;
		hostlen = (size_t)(colon - s);
		port = colon + 1;
		slash = memchr(host, '/', hostlen);
		if (slash) {
			pfx = slash + 1;
			pfxlen = (size_t)(colon - pfx);
			hostlen = (size_t)(slash - host);
		}
		if (hostlen == 0)
			return parse_error(err, errlen, s, "missing host before ':'");
		bool numeric = true;
		for (size_t i = 0; i < hostlen; i++)
			if (!(host[i] == '.' || (host[i] >= '0' && host[i] <= '9')))
				numeric = false;
		if (numeric) {
			/* inet_pton takes only a.b.c.d with each part 0..255 and no
			 * leading zero, so "010.0.0.1" (octal to inet_aton) and
			 * "127.1" are refused instead of meaning two things. */
			if (!pton(AF_INET, host, hostlen, e.addr))
				return parse_error(err, errlen, s,
						   "%.*s is not an IPv4 address (a.b.c.d, each "
						   "0..255 without leading zeros)",
						   (int)(hostlen > 40 ? 40 : hostlen), host);
			e.family = AF_INET;
		} else if (pfx) {
			return parse_error(err, errlen, s,
					   "a prefix length needs an IP address, not a host name");
		} else {
			r = parse_name(s, host, hostlen, &e, err, errlen);
			if (r < 0)
				return r;
		}
	}
	if (e.family) {
		unsigned bits = family_bits(e.family);
		e.prefix = bits;
		if (pfx) {
			r = parse_prefix(s, pfx, pfxlen, bits, &e.prefix, err, errlen);
			if (r < 0)
				return r;
		}
		unsigned char net[16];
		memcpy(net, e.addr, sizeof(net));
		mask_host_bits(net, e.prefix, bits);
		if (memcmp(net, e.addr, bits / 8) != 0) {
			char given[64], want[64];
			format_range(e.family, e.addr, e.prefix, given, sizeof(given));
			format_range(e.family, net, e.prefix, want, sizeof(want));
			return parse_error(err, errlen, s,
					   "%s has bits set beyond the prefix; the network is %s",
					   given, want);
		}
	}
	r = parse_port(s, port, strlen(port), &e.port, err, errlen);
	if (r < 0)
		return r;
	*out = e;
	return 0;
}

void sbx_net_format(const struct sbx_net_entry *e, char *buf, size_t len)
{
	char host[300], port[8] = "*";

	if (!len)
		return;
	if (e->port)
		snprintf(port, sizeof(port), "%u", (unsigned)e->port);
	if (e->family == AF_INET || e->family == AF_INET6)
		format_range(e->family, e->addr, e->prefix, host, sizeof(host));
	else
		snprintf(host, sizeof(host), "%s", e->name);
	snprintf(buf, len, "%s:%s", host, port);
}

/* Reads the address out of a sockaddr the resolver or the caller gave, with
 * its length checked against the family's structure so that a short buffer
 * is never read past. Returns false for any other family. */
static bool range_of_sockaddr(const struct sockaddr *sa, socklen_t len, struct range *r,
			      uint16_t *port)
{
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	*r = (struct range){.family = sa->sa_family};
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(r->addr, &in->sin_addr, 4);
		r->prefix = 32;
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(r->addr, &in6->sin6_addr, 16);
		r->prefix = 128;
		*port = ntohs(in6->sin6_port);
	} else {
		return false;
	}
	normalize(r);
	return true;
}

int sbx_net_resolve_system(const char *name, struct sockaddr_storage *out, size_t max)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	size_t n = 0;
	int r;

	r = getaddrinfo(name, NULL, &hints, &res);
	if (r == EAI_SYSTEM)
		return errno ? -errno : -EIO;
	if (r == EAI_MEMORY)
		return -ENOMEM;
	if (r != 0)
		return -EHOSTUNREACH;
	for (const struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		struct range a, b;
		uint16_t ignored;
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(*out) ||
		    !range_of_sockaddr(ai->ai_addr, ai->ai_addrlen, &a, &ignored))
			continue;
		/* getaddrinfo lists each address once per protocol it knows of
		 * unless the socket type is fixed, and /etc/hosts may repeat one:
		 * one rule per address is enough. */
		for (size_t i = 0; i < n && !dup; i++)
			dup = range_of_sockaddr((const struct sockaddr *)&out[i], sizeof(out[i]),
						&b, &ignored) &&
			      a.family == b.family && memcmp(a.addr, b.addr, 16) == 0;
		if (dup)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		n++;
	}
	freeaddrinfo(res);
	return (int)n;
}

struct strbuf {
	char *p;
	size_t len, cap;
};

static int strbuf_add(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
	return 0;
}

/* Whether `line` (ending in '\n') is already a whole line of b. */
static bool strbuf_has_line(const struct strbuf *b, const char *line)
{
	size_t n = strlen(line);

	if (b->len >= n && strncmp(b->p, line, n) == 0)
		return true;
	for (const char *p = b->p; (p = strstr(p, line)); p++)
		if (p > b->p && p[-1] == '\n')
			return true;
	return false;
}

static int add_rule(struct sbx_net *net, const struct range *r, uint16_t port, bool literal)
{
	struct sbx_net_rule rule = {
	    .family = r->family, .prefix = r->prefix, .port = port, .literal = literal};
	struct sbx_net_rule *v;

	memcpy(rule.addr, r->addr, sizeof(rule.addr));
	for (size_t i = 0; i < net->nrules; i++)
		if (memcmp(&net->rules[i], &rule, sizeof(rule)) == 0)
			return 0;
	v = realloc(net->rules, (net->nrules + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	net->rules = v;
	net->rules[net->nrules++] = rule;
	return 0;
}

/* Resolves one name entry and adds a rule and a hosts line per usable
 * address. */
static int compile_name(struct sbx_net *net, struct strbuf *hosts, const struct sbx_net_entry *e,
			sbx_net_resolver resolve, char *err, size_t errlen)
{
	struct sockaddr_storage addrs[RESOLVE_MAX];
	size_t kept = 0;
	int n;

	memset(addrs, 0, sizeof(addrs));
	n = resolve(e->name, addrs, RESOLVE_MAX);
	if (n == -ENOMEM)
		return n;
	if (n < 0 && n != -EHOSTUNREACH) {
		snprintf(err, errlen, "%s: cannot be resolved: %s", e->name, strerror(-n));
		return n;
	}
	if (n > RESOLVE_MAX)
		n = RESOLVE_MAX;
	for (int i = 0; i < n; i++) {
		char a[INET6_ADDRSTRLEN], line[INET6_ADDRSTRLEN + sizeof(e->name) + 2];
		struct range r;
		uint16_t ignored;

		if (!range_of_sockaddr((const struct sockaddr *)&addrs[i], sizeof(addrs[i]), &r,
				       &ignored))
			continue;
		/* A name is whatever its DNS server says it is: an attacker who
		 * controls the zone, or the network path, could point it at the
		 * metadata service. Only a literal entry can grant those. */
		if (special_of(&r))
			continue;
		if (add_rule(net, &r, e->port, false) < 0)
			return -ENOMEM;
		inet_ntop(r.family, r.addr, a, sizeof(a));
		snprintf(line, sizeof(line), "%s %s\n", a, e->name);
		if (!strbuf_has_line(hosts, line) && strbuf_add(hosts, line) < 0)
			return -ENOMEM;
		kept++;
	}
	if (n <= 0) {
		snprintf(err, errlen, "%s: does not resolve", e->name);
		return -EHOSTUNREACH;
	}
	if (kept == 0) {
		snprintf(err, errlen,
			 "%s: resolves only to link-local, metadata or unspecified addresses, "
			 "which only a literal address entry can grant",
			 e->name);
		return -EHOSTUNREACH;
	}
	return 0;
}

int sbx_net_compile(const struct sbx_net_entry *entries, size_t n, sbx_net_resolver resolve,
		    struct sbx_net **out, char *err, size_t errlen)
{
	struct sbx_net *net = calloc(1, sizeof(*net));
	struct strbuf hosts = {0};
	char dummy[8];
	int r = -ENOMEM;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!resolve)
		resolve = sbx_net_resolve_system;
	if (!net || strbuf_add(&hosts, "127.0.0.1 localhost\n"
				       "::1 localhost ip6-localhost ip6-loopback\n") < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct sbx_net_entry *e = &entries[i];

		if (e->family == AF_INET || e->family == AF_INET6) {
			struct range lit = {.family = e->family, .prefix = e->prefix};
			memcpy(lit.addr, e->addr, sizeof(lit.addr));
			normalize(&lit);
			r = add_rule(net, &lit, e->port, true);
		} else {
			r = compile_name(net, &hosts, e, resolve, err, errlen);
		}
		if (r < 0)
			goto fail;
	}
	net->hosts = hosts.p;
	*out = net;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(hosts.p);
	sbx_net_free(net);
	return r;
}

void sbx_net_free(struct sbx_net *net)
{
	if (!net)
		return;
	free(net->rules);
	free(net->hosts);
	free(net);
}

bool sbx_net_allows(const struct sbx_net *net, const struct sockaddr *sa, socklen_t len)
{
	struct range dst;
	const struct range *sp;
	uint16_t port;

	if (!net || !range_of_sockaddr(sa, len, &dst, &port))
		return false;
	sp = special_of(&dst);
	for (size_t i = 0; i < net->nrules; i++) {
		const struct sbx_net_rule *rule = &net->rules[i];
		struct range rr = {.family = rule->family, .prefix = rule->prefix};

		if (rule->family != dst.family || (rule->port && rule->port != port) ||
		    rule->prefix > family_bits(rule->family) ||
		    !prefix_match(rule->addr, dst.addr, rule->prefix))
			continue;
		/* "0.0.0.0/0:*" means "the internet", not the metadata service
		 * or the local host behind 0.0.0.0: a special destination needs
		 * a rule that names its range on purpose. */
		memcpy(rr.addr, rule->addr, sizeof(rr.addr));
		if (sp && !(rule->literal && range_within(&rr, sp)))
			continue;
		return true;
	}
	return false;
}

bool sbx_net_entry_covers(const struct sbx_net_entry *c, const struct sbx_net_entry *e)
{
	struct range cr, er;

	if (c->port && c->port != e->port)
		return false;
	if (!c->family || !e->family)
		return !c->family && !e->family && strcasecmp(c->name, e->name) == 0;
	cr = (struct range){.family = c->family, .prefix = c->prefix};
	er = (struct range){.family = e->family, .prefix = e->prefix};
	memcpy(cr.addr, c->addr, sizeof(cr.addr));
	memcpy(er.addr, e->addr, sizeof(er.addr));
	normalize(&cr);
	normalize(&er);
	if (!range_within(&er, &cr))
		return false;
	/* The same rule as sbx_net_allows: an entry inside a special range
	 * grants it only because it names it, and a ceiling grants it only if
	 * it names it too; "0.0.0.0/0:*" in a ceiling does not let a tool ask
	 * for 169.254.169.254. */
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (range_within(&er, &special[i]) && !range_within(&cr, &special[i]))
			return false;
	return true;
}
