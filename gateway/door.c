/* The HTTP door: Host, Origin, bearer token, Accept, Content-Type and
 * MCP-Protocol-Version checks, and the random session ids and tokens. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/door.h"

/* ---- small ASCII helpers (locale-independent on purpose) ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static bool eq_ci(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower(s[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

/* a[0..n) and b[0..n) are equal, ignoring ASCII case. */
static bool slice_eq_ci(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ---- authorities: host[:port] ---- */

struct authority {
	char host[256]; /* a lower-case name or IPv4 literal, or "[IPv6]" in RFC 5952 form */
	uint16_t port;	/* 0: absent */
};

/* 1..65535 in decimal without a leading zero: "localhost:08080" is not a
 * form any client sends, so it is refused rather than guessed at. */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Parses s[0..n) as host[:port]. A name is letters, digits, '-' and '.' in
 * non-empty labels: userinfo ('@'), paths, percent-encoding and anything else
 * are refused, and so is a trailing dot ("localhost." is a different name to a
 * resolver and no client sends it for us; accepting it would only widen what
 * the allowlist means). IPv6 must be bracketed, as RFC 3986 requires, and is
 * rendered in its canonical form so "[0::1]" and "[::1]" compare equal. */
static int parse_authority(const char *s, size_t n, struct authority *a)
{
	size_t i;

	if (n == 0)
		return -EINVAL;
	if (s[0] == '[') {
		char buf[INET6_ADDRSTRLEN];
		unsigned char bin[16];

		for (i = 1; i < n && s[i] != ']'; i++)
			;
		if (i == n || i == 1 || i - 1 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s + 1, i - 1);
		buf[i - 1] = '\0';
		if (inet_pton(AF_INET6, buf, bin) != 1 ||
		    !inet_ntop(AF_INET6, bin, buf, sizeof(buf)))
			return -EINVAL;
		snprintf(a->host, sizeof(a->host), "[%s]", buf);
		i++;
	} else {
		for (i = 0; i < n && s[i] != ':'; i++) {
			char c = s[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '.'))
				return -EINVAL;
			if (c == '.' && (i == 0 || s[i - 1] == '.'))
				return -EINVAL;
			if (i >= 253)
				return -EINVAL;
			a->host[i] = lower(c);
		}
		if (i == 0 || s[i - 1] == '.')
			return -EINVAL;
		a->host[i] = '\0';
	}
	a->port = 0;
	if (i == n)
		return 0;
	if (s[i] != ':')
		return -EINVAL;
	return parse_port(s + i + 1, n - i - 1, &a->port);
}

static void render_host(const struct authority *a, char out[GW_DOOR_HOST_MAX])
{
	if (a->port)
		snprintf(out, GW_DOOR_HOST_MAX, "%s:%u", a->host, a->port);
	else
		snprintf(out, GW_DOOR_HOST_MAX, "%s", a->host);
}

/* ---- origins: http(s)://host[:port] ---- */

struct origin {
	bool https;
	struct authority a; /* port 0: the scheme's default */
};

static unsigned default_port(const struct origin *o)
{
	return o->https ? 443 : 80;
}

/* Parses s[0..n). Only http and https: this server is reached over HTTP, and
 * any other scheme is an origin no operator meant. */
static int parse_origin(const char *s, size_t n, struct origin *o)
{
	const char *sep = NULL;

	for (size_t i = 0; i + 3 <= n; i++)
		if (s[i] == ':') {
			sep = memcmp(s + i, "://", 3) == 0 ? s + i : NULL;
			break;
		}
	if (!sep)
		return -EINVAL;
	if (eq_ci(s, (size_t)(sep - s), "http"))
		o->https = false;
	else if (eq_ci(s, (size_t)(sep - s), "https"))
		o->https = true;
	else
		return -EINVAL;
	if (parse_authority(sep + 3, n - (size_t)(sep + 3 - s), &o->a) < 0)
		return -EINVAL;
	if (o->a.port == default_port(o))
		o->a.port = 0; /* browsers serialize the default port away */
	return 0;
}

static void render_origin(const struct origin *o, char out[GW_DOOR_ORIGIN_MAX])
{
	const char *scheme = o->https ? "https" : "http";

	if (o->a.port)
		snprintf(out, GW_DOOR_ORIGIN_MAX, "%s://%s:%u", scheme, o->a.host, o->a.port);
	else
		snprintf(out, GW_DOOR_ORIGIN_MAX, "%s://%s", scheme, o->a.host);
}

/* ---- the allowlists ---- */

/* Appends s to a list of *n strings of `width` bytes, unless it is there. */
static int list_add(char *list, size_t width, size_t max, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list + i * width, s) == 0)
			return 0;
	if (*n >= max)
		return -ENOSPC;
	snprintf(list + *n * width, width, "%s", s);
	(*n)++;
	return 0;
}

static bool list_has(const char *list, size_t width, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list + i * width, s) == 0)
			return true;
	return false;
}

static int add_host(struct gw_door *d, const struct authority *a)
{
	char s[GW_DOOR_HOST_MAX];

	render_host(a, s);
	return list_add(&d->host_allow[0][0], GW_DOOR_HOST_MAX, GW_DOOR_MAX_HOSTS, &d->n_host, s);
}

static int add_origin(struct gw_door *d, const struct origin *o)
{
	char s[GW_DOOR_ORIGIN_MAX];

	render_origin(o, s);
	return list_add(&d->origin_allow[0][0], GW_DOOR_ORIGIN_MAX, GW_DOOR_MAX_ORIGINS,
			&d->n_origin, s);
}

/* Allows http://host:port as an origin and host:port as a Host, and with the
 * default port each also without it (port 80 serializes away in an origin,
 * and a client may omit it in Host). */
static int allow_local(struct gw_door *d, const char *host, unsigned port)
{
	struct origin o = {.https = false};
	int r;

	snprintf(o.a.host, sizeof(o.a.host), "%s", host);
	o.a.port = (uint16_t)port;
	if ((r = add_host(d, &o.a)) < 0)
		return r;
	if (port == 80) {
		o.a.port = 0;
		if ((r = add_host(d, &o.a)) < 0)
			return r;
	}
	return add_origin(d, &o);
}

int gw_door_init(struct gw_door *d, const char *bind_addr, unsigned port, char *err, size_t errlen)
{
	static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
	char buf[GW_DOOR_HOST_MAX];
	struct authority a;
	size_t n;

	memset(d, 0, sizeof(*d));
	/* Fail closed: a door nobody gave a token refuses everyone until the
	 * caller either sets one or says --no-auth. */
	d->auth = true;
	if (port == 0 || port > 65535) {
		snprintf(err, errlen, "port %u: the door needs the port actually bound (1..65535)",
			 port);
		return -EINVAL;
	}
	if (!bind_addr || !*bind_addr)
		bind_addr = "127.0.0.1";
	n = strlen(bind_addr);
	if (n > sizeof(buf) - 3)
		n = sizeof(buf) - 3; /* too long for a name: refused below */
	/* An unbracketed IPv6 literal ("::1", as --http takes it) gets its
	 * brackets here so it parses like a Host. */
	if (bind_addr[0] != '[' && memchr(bind_addr, ':', n))
		snprintf(buf, sizeof(buf), "[%.*s]", (int)n, bind_addr);
	else
		snprintf(buf, sizeof(buf), "%.*s", (int)n, bind_addr);
	if (bind_addr[n] != '\0' || parse_authority(buf, strlen(buf), &a) < 0 || a.port) {
		snprintf(err, errlen,
			 "bind address \"%.*s\": expected an IPv4 or IPv6 address or a host name",
			 (int)n, bind_addr);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (allow_local(d, local[i], port) < 0)
			goto full;
	/* A wildcard is not a name any client uses to reach the server; the
	 * addresses it covers are added by the operator, never guessed. */
	if (strcmp(a.host, "0.0.0.0") != 0 && strcmp(a.host, "[::]") != 0 &&
	    allow_local(d, a.host, port) < 0)
		goto full;
	return 0;
full:
	snprintf(err, errlen, "too many allowed hosts");
	return -ENOSPC;
}

int gw_door_allow_host(struct gw_door *d, const char *host, char *err, size_t errlen)
{
	struct authority a;
	size_t n = host ? strnlen(host, GW_DOOR_HOST_MAX) : 0;

	if (!host || n == GW_DOOR_HOST_MAX || parse_authority(host, n, &a) < 0) {
		snprintf(err, errlen,
			 "host \"%.64s\": expected host[:port] (a name, an IPv4 address or a "
			 "bracketed IPv6 address), e.g. mcp.example.com:8443",
			 host ? host : "");
		return -EINVAL;
	}
	if (add_host(d, &a) < 0) {
		snprintf(err, errlen, "host \"%s\": at most %d hosts may be allowed", host,
			 GW_DOOR_MAX_HOSTS);
		return -ENOSPC;
	}
	return 0;
}

int gw_door_allow_origin(struct gw_door *d, const char *origin, char *err, size_t errlen)
{
	struct origin o;
	size_t n = origin ? strnlen(origin, GW_DOOR_ORIGIN_MAX) : 0;
	const char *rest, *bad;

	if (!origin || n == 0 || n == GW_DOOR_ORIGIN_MAX) {
		snprintf(err, errlen, "origin: expected scheme://host[:port] of at most %d bytes",
			 GW_DOOR_ORIGIN_MAX - 1);
		return -EINVAL;
	}
	/* "null" is what sandboxed iframes and file: pages of any site send. */
	if (eq_ci(origin, n, "null")) {
		snprintf(err, errlen,
			 "origin \"null\" cannot be allowed: any web page can send it (from a "
			 "sandboxed iframe); name the page's real origin");
		return -EINVAL;
	}
	if (strcmp(origin, "*") == 0) {
		snprintf(err, errlen,
			 "origin \"*\" cannot be allowed: every web site could call the tools; "
			 "name each origin");
		return -EINVAL;
	}
	rest = strstr(origin, "://");
	if (rest && (bad = strpbrk(rest + 3, "/?#")) != NULL) {
		snprintf(err, errlen, "origin \"%s\": an origin has no path; drop \"%s\"", origin,
			 bad);
		return -EINVAL;
	}
	if (rest && strchr(rest + 3, '@')) {
		snprintf(err, errlen, "origin \"%s\": an origin has no user name", origin);
		return -EINVAL;
	}
	if (parse_origin(origin, n, &o) < 0) {
		snprintf(err, errlen,
			 "origin \"%s\": expected http://host[:port] or https://host[:port], "
			 "e.g. http://localhost:6274",
			 origin);
		return -EINVAL;
	}
	if (d->n_origin >= GW_DOOR_MAX_ORIGINS || d->n_host + 2 > GW_DOOR_MAX_HOSTS) {
		snprintf(err, errlen, "origin \"%s\": at most %d origins may be allowed", origin,
			 GW_DOOR_MAX_ORIGINS - 4);
		return -ENOSPC;
	}
	add_origin(d, &o);
	/* The same site reached through a reverse proxy that keeps its Host. */
	if (o.a.port == 0) {
		add_host(d, &o.a);
		o.a.port = (uint16_t)default_port(&o);
	}
	add_host(d, &o.a);
	return 0;
}

int gw_door_set_token(struct gw_door *d, const char *token, size_t len, char *err, size_t errlen)
{
	if (len < GW_DOOR_TOKEN_MIN || len > GW_DOOR_TOKEN_MAX) {
		snprintf(err, errlen, "the token is %zu bytes; it must be %d to %d", len,
			 GW_DOOR_TOKEN_MIN, GW_DOOR_TOKEN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if (token[i] < 0x21 || token[i] > 0x7e) {
			/* The byte itself is not shown: it is part of a secret. */
			snprintf(err, errlen,
				 "the token's byte %zu is a space, a control character or not "
				 "ASCII; use visible ASCII only",
				 i + 1);
			return -EINVAL;
		}
	memset(d->token, 0, sizeof(d->token));
	memcpy(d->token, token, len);
	d->token_len = len;
	d->auth = true;
	return 0;
}

/* ---- the checks ---- */

/* DNS rebinding: a page on evil.com whose name the attacker re-points at
 * 127.0.0.1 is same-origin with this server to the browser, but its requests
 * still carry Host: evil.com:PORT. Only the names this server answers to pass. */
bool gw_door_host_ok(const struct gw_door *d, const char *host)
{
	struct authority a;
	char s[GW_DOOR_HOST_MAX];
	size_t n;

	if (!host)
		return false;
	n = strnlen(host, GW_DOOR_HOST_MAX);
	if (n == GW_DOOR_HOST_MAX || parse_authority(host, n, &a) < 0)
		return false;
	render_host(&a, s);
	return list_has(&d->host_allow[0][0], GW_DOOR_HOST_MAX, d->n_host, s);
}

/* Cross-site requests: any web page the user visits can POST to
 * http://localhost:PORT (a "simple" request needs no preflight), and the
 * browser names the page in Origin. Only allowed origins pass; a request
 * without Origin is not from a browser page, and so not this attack. */
bool gw_door_origin_ok(const struct gw_door *d, const char *origin)
{
	struct origin o;
	char s[GW_DOOR_ORIGIN_MAX];
	size_t n;

	if (!origin)
		return true;
	n = strnlen(origin, GW_DOOR_ORIGIN_MAX);
	/* "null" (sandboxed iframes, file: and data: pages of any site) does
	 * not parse as http(s)://host and is refused here. */
	if (n == GW_DOOR_ORIGIN_MAX || parse_origin(origin, n, &o) < 0)
		return false;
	render_origin(&o, s);
	return list_has(&d->origin_allow[0][0], GW_DOOR_ORIGIN_MAX, d->n_origin, s);
}

/* Token guessing by timing: the comparison always runs over
 * GW_DOOR_TOKEN_MAX bytes of zero-padded buffers, with no early exit, so how
 * long it takes says nothing about how much of a guess was right, nor about
 * the real token's length. */
bool gw_door_token_ok(const struct gw_door *d, const char *authorization)
{
	unsigned char buf[GW_DOOR_TOKEN_MAX] = {0};
	volatile unsigned char acc = 0;
	const char *p = authorization;
	size_t n;

	if (!d->auth)
		return true;
	if (!p || d->token_len == 0)
		return false;
	while (is_ows(*p))
		p++;
	if (!eq_ci(p, strnlen(p, 6), "bearer") || p[6] != ' ')
		return false;
	p += 6;
	while (*p == ' ')
		p++;
	for (n = 0; n <= GW_DOOR_TOKEN_MAX && p[n] != '\0' && !is_ows(p[n]); n++)
		;
	if (n > GW_DOOR_TOKEN_MAX)
		return false;
	for (const char *q = p + n; *q; q++)
		if (!is_ows(*q))
			return false;
	memcpy(buf, p, n);
	for (size_t i = 0; i < GW_DOOR_TOKEN_MAX; i++)
		acc |= (unsigned char)(buf[i] ^ (unsigned char)d->token[i]);
	explicit_bzero(buf, sizeof(buf));
	return (acc | (unsigned char)(n != d->token_len)) == 0;
}

/* ---- media types ---- */

struct media {
	const char *type, *sub;
	size_t tlen, slen;
	unsigned q;	   /* weight in thousandths (Accept); 1000 when absent */
	bool charset_utf8; /* no charset parameter, or every one is utf-8 */
};

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static bool parse_qvalue(const char *s, size_t n, unsigned *q)
{
	unsigned v, scale = 100;

	if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.'))
		return false;
	v = (unsigned)(s[0] - '0') * 1000;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9' || (v == 1000 && s[i] != '0'))
			return false;
		v += (unsigned)(s[i] - '0') * scale;
	}
	*q = v;
	return true;
}

/* The quoted-string at s[0..n) (with its quotes) unescaped equals lit,
 * ignoring ASCII case. */
static bool quoted_eq_ci(const char *s, size_t n, const char *lit)
{
	size_t j = 0;

	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] == '\\')
			i++;
		if (lit[j] == '\0' || lower(s[i]) != lit[j])
			return false;
		j++;
	}
	return lit[j] == '\0';
}

/* Where the list element starting at p ends: the next ',' outside a
 * quoted-string, or the NUL. */
static const char *element_end(const char *p)
{
	bool quoted = false;

	for (; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"')
			quoted = true;
		else if (*p == ',')
			break;
	}
	return p;
}

/* Parses s[0..e) as OWS media-type *( OWS ";" OWS [ parameter ] ) OWS
 * (RFC 9110 8.3.1 and 12.5.1). In an Accept element (weighted), "q" is the
 * weight. */
static bool parse_media(const char *s, const char *e, bool weighted, struct media *m)
{
	m->q = 1000;
	m->charset_utf8 = true;
	while (s < e && is_ows(*s))
		s++;
	for (m->type = s; s < e && is_tchar(*s); s++)
		;
	m->tlen = (size_t)(s - m->type);
	if (m->tlen == 0 || s == e || *s != '/')
		return false;
	for (m->sub = ++s; s < e && is_tchar(*s); s++)
		;
	m->slen = (size_t)(s - m->sub);
	if (m->slen == 0)
		return false;
	for (;;) {
		const char *name, *val;
		size_t nlen, vlen;
		bool quoted = false;

		while (s < e && is_ows(*s))
			s++;
		if (s == e)
			return true;
		if (*s != ';')
			return false;
		s++;
		while (s < e && is_ows(*s))
			s++;
		if (s == e || *s == ';')
			continue; /* an empty parameter is allowed */
		for (name = s; s < e && is_tchar(*s); s++)
			;
		nlen = (size_t)(s - name);
		if (nlen == 0 || s == e || *s != '=')
			return false;
		val = ++s;
		if (s < e && *s == '"') {
			quoted = true;
			for (s++; s < e && *s != '"'; s++)
				if (*s == '\\' && s + 1 < e)
					s++;
			if (s == e)
				return false;
			s++;
		} else
			while (s < e && is_tchar(*s))
				s++;
		vlen = (size_t)(s - val);
		if (vlen == 0)
			return false;
		if (weighted && eq_ci(name, nlen, "q")) {
			if (quoted || !parse_qvalue(val, vlen, &m->q))
				return false;
		} else if (eq_ci(name, nlen, "charset")) {
			if (!(quoted ? quoted_eq_ci(val, vlen, "utf-8")
				     : eq_ci(val, vlen, "utf-8")))
				m->charset_utf8 = false;
		}
	}
}

bool gw_door_accepts(const char *accept, const char *type)
{
	const char *slash;
	size_t tlen, slen;
	int best = 0;
	unsigned best_q = 0;
	bool listed = false;

	if (!type || !(slash = strchr(type, '/')))
		return false;
	tlen = (size_t)(slash - type);
	slen = strlen(slash + 1);
	if (!accept)
		return true;
	for (const char *p = accept; *p;) {
		const char *e = element_end(p);
		struct media m;

		for (const char *q = p; q < e; q++)
			if (!is_ows(*q))
				listed = true;
		if (parse_media(p, e, true, &m)) {
			bool star_type = m.tlen == 1 && m.type[0] == '*';
			bool star_sub = m.slen == 1 && m.sub[0] == '*';
			int level = 0;

			if (star_type && star_sub)
				level = 1;
			else if (star_type)
				level = 0; /* a wildcard type needs a wildcard subtype */
			else if (m.tlen == tlen && slice_eq_ci(m.type, type, tlen)) {
				if (star_sub)
					level = 2;
				else if (m.slen == slen && slice_eq_ci(m.sub, slash + 1, slen))
					level = 3;
			}
			/* The most specific range decides; between equally
			 * specific ones, the most favourable. */
			if (level > best || (level == best && level > 0 && m.q > best_q)) {
				best = level;
				best_q = m.q;
			}
		}
		p = *e ? e + 1 : e;
	}
	if (!listed)
		return true;
	return best > 0 && best_q > 0;
}

bool gw_door_is_json(const char *content_type)
{
	struct media m;

	if (!content_type)
		return false;
	return parse_media(content_type, content_type + strlen(content_type), false, &m) &&
	       eq_ci(m.type, m.tlen, "application") && eq_ci(m.sub, m.slen, "json") &&
	       m.charset_utf8;
}

const char *gw_door_protocol_version(const char *header)
{
	static const char *const known[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

	if (!header)
		return "2025-03-26";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(header, known[i]) == 0)
			return known[i];
	return NULL;
}

/* ---- random ids and tokens ---- */

static int fill_random(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

int gw_door_new_session_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[GW_DOOR_SESSION_ID_LEN / 2];
	int r;

	if ((r = fill_random(b, sizeof(b))) < 0)
		return r;
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[GW_DOOR_SESSION_ID_LEN] = '\0';
	return 0;
}

int gw_door_new_token(char *out, size_t outlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char b[32];
	size_t o = 0;
	int r;

	if (outlen < GW_DOOR_NEW_TOKEN_LEN + 1)
		return -ENOSPC;
	if ((r = fill_random(b, sizeof(b))) < 0)
		return r;
	for (size_t i = 0; i < sizeof(b); i += 3) {
		uint32_t v = (uint32_t)b[i] << 16;
		size_t left = sizeof(b) - i;

		if (left > 1)
			v |= (uint32_t)b[i + 1] << 8;
		if (left > 2)
			v |= b[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	explicit_bzero(b, sizeof(b));
	return 0;
}

int gw_door_read_token_file(struct gw_door *d, const char *path, char *err, size_t errlen)
{
	/* Room for the longest token and a generous run of trailing
	 * whitespace; one byte more means the file is too long. */
	char buf[GW_DOOR_TOKEN_MAX + 64];
	char why[160];
	struct stat st;
	size_t len = 0;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO planted at the path must not hang the server at
	 * open; it is refused below as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open the token file: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot stat the token file: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: the token file is not a regular file", path);
		goto out;
	}
	/* A token other local users can read (or write) is a token they can
	 * use (or choose); checked on the open file, so the path cannot be
	 * swapped between the check and the read. */
	if (st.st_mode & 077) {
		r = -EPERM;
		snprintf(err, errlen,
			 "%s: the token file is accessible by group or others (mode %04o); run "
			 "`chmod 600 %s`",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: cannot read the token file: %s", path,
				 strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == sizeof(buf)) {
		r = -EINVAL;
		snprintf(err, errlen,
			 "%s: the token file is longer than a token (%d bytes at most)", path,
			 GW_DOOR_TOKEN_MAX);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || is_ows(buf[len - 1])))
		len--;
	if (len == 0) {
		r = -EINVAL;
		snprintf(err, errlen,
			 "%s: the token file is empty; put a token of %d to %d visible ASCII "
			 "characters in it",
			 path, GW_DOOR_TOKEN_MIN, GW_DOOR_TOKEN_MAX);
		goto out;
	}
	if ((r = gw_door_set_token(d, buf, len, why, sizeof(why))) < 0)
		snprintf(err, errlen, "%s: %s", path, why);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}
