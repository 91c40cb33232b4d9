/* The HTTP door (gateway/door.c): the checks made on request headers before
 * a body is read. The input is split at newlines into the values a client
 * and an operator control (a header value cannot contain a newline); a value
 * that is not there is an absent header (NULL):
 *
 *   bind address, port, --allow-origin, --allow-host, token,
 *   Host, Origin, Authorization, Accept, Content-Type, MCP-Protocol-Version,
 *   the media type asked of Accept
 *
 * Properties, besides no crash and no read past a value's NUL:
 *  - a door made for a port admits localhost:PORT and http://localhost:PORT;
 *  - an origin or host the operator allowed is admitted as written;
 *  - Host and Origin answers do not depend on ASCII case;
 *  - a token that was set is accepted as "Bearer TOKEN", and an
 *    Authorization header is accepted exactly when a reference parser
 *    written here from the stated grammar finds that token in it;
 *  - Content-Type is JSON only if its type is application/json;
 *  - a supported MCP-Protocol-Version is returned as the library's own
 *    string, anything else is NULL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz/fuzz.h"
#include "gateway/door.h"

enum {
	F_BIND,
	F_PORT,
	F_ORIGIN_ALLOW,
	F_HOST_ALLOW,
	F_TOKEN,
	F_HOST,
	F_ORIGIN,
	F_AUTH,
	F_ACCEPT,
	F_CTYPE,
	F_VERSION,
	F_TYPE,
	NFIELDS
};

static char *swap_case(const char *s)
{
	char *t = strdup(s);

	if (!t)
		abort();
	for (char *c = t; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
		else if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return t;
}

/* Authorization = OWS "Bearer" (any case) 1*SP token OWS, as door.h states. */
static bool reference_token_ok(const char *auth, const char *token)
{
	const char *p = auth, *e;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "bearer ", 7) != 0)
		return false;
	p += 7;
	while (*p == ' ')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - p);
	return n == strlen(token) && memcmp(p, token, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[NFIELDS] = {0};
	char *owned = fuzz_strndup(data, size), *p = owned;
	struct gw_door d;
	char err[256];
	unsigned port = 8080;

	/* A NUL ends the input: header values are C strings. */
	for (size_t i = 0; i < NFIELDS && p; i++) {
		char *nl = strchr(p, '\n');
		f[i] = p;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}
	if (f[F_PORT] && *f[F_PORT])
		port = (unsigned)strtoul(f[F_PORT], NULL, 10);

	if (gw_door_init(&d, f[F_BIND], port, err, sizeof(err)) < 0) {
		CHECK(err[0], "a refused door without a message");
		CHECK(!gw_door_host_ok(&d, "localhost:8080") && !gw_door_token_ok(&d, "Bearer x"),
		      "a refused door lets requests in");
		goto out;
	}
	{
		char host[64], origin[80];
		snprintf(host, sizeof(host), "localhost:%u", port);
		snprintf(origin, sizeof(origin), "http://localhost:%u", port);
		CHECK(gw_door_host_ok(&d, host), "%s refused", host);
		CHECK(gw_door_origin_ok(&d, origin), "%s refused", origin);
		CHECK(gw_door_origin_ok(&d, NULL), "a request without Origin refused");
		CHECK(!gw_door_host_ok(&d, NULL), "a request without Host admitted");
	}
	if (f[F_ORIGIN_ALLOW] && gw_door_allow_origin(&d, f[F_ORIGIN_ALLOW], err, sizeof(err)) == 0)
		CHECK(gw_door_origin_ok(&d, f[F_ORIGIN_ALLOW]), "allowed origin %s refused",
		      f[F_ORIGIN_ALLOW]);
	if (f[F_HOST_ALLOW] && gw_door_allow_host(&d, f[F_HOST_ALLOW], err, sizeof(err)) == 0)
		CHECK(gw_door_host_ok(&d, f[F_HOST_ALLOW]), "allowed host %s refused",
		      f[F_HOST_ALLOW]);

	/* Auth is on and no token is set: nothing passes. */
	if (f[F_AUTH])
		CHECK(!gw_door_token_ok(&d, f[F_AUTH]), "a door without a token admitted '%s'",
		      f[F_AUTH]);
	if (f[F_TOKEN] &&
	    gw_door_set_token(&d, f[F_TOKEN], strlen(f[F_TOKEN]), err, sizeof(err)) == 0) {
		char *bearer;
		if (asprintf(&bearer, "Bearer %s", f[F_TOKEN]) < 0)
			abort();
		CHECK(gw_door_token_ok(&d, bearer), "the token itself is refused");
		free(bearer);
		if (f[F_AUTH])
			CHECK(gw_door_token_ok(&d, f[F_AUTH]) ==
				  reference_token_ok(f[F_AUTH], f[F_TOKEN]),
			      "Authorization '%s' with token '%s': the door says %d", f[F_AUTH],
			      f[F_TOKEN], gw_door_token_ok(&d, f[F_AUTH]));
	}
	d.auth = false; /* --no-auth */
	CHECK(gw_door_token_ok(&d, f[F_AUTH]), "--no-auth refused a request");

	if (f[F_HOST]) {
		char *swapped = swap_case(f[F_HOST]);
		CHECK(gw_door_host_ok(&d, f[F_HOST]) == gw_door_host_ok(&d, swapped),
		      "Host '%s' and '%s' differ", f[F_HOST], swapped);
		free(swapped);
	}
	if (f[F_ORIGIN]) {
		char *swapped = swap_case(f[F_ORIGIN]);
		CHECK(gw_door_origin_ok(&d, f[F_ORIGIN]) == gw_door_origin_ok(&d, swapped),
		      "Origin '%s' and '%s' differ", f[F_ORIGIN], swapped);
		free(swapped);
	}
	gw_door_accepts(f[F_ACCEPT], "application/json");
	gw_door_accepts(f[F_ACCEPT], "text/event-stream");
	gw_door_accepts(f[F_ACCEPT], f[F_TYPE]);
	CHECK(gw_door_accepts(NULL, "application/json"), "no Accept refused");
	if (gw_door_is_json(f[F_CTYPE]))
		CHECK(strncasecmp(f[F_CTYPE] + strspn(f[F_CTYPE], " \t"), "application/json", 16) ==
			  0,
		      "Content-Type '%s' taken for JSON", f[F_CTYPE]);
	{
		const char *v = gw_door_protocol_version(f[F_VERSION]);
		if (f[F_VERSION] && v)
			CHECK(strcmp(v, f[F_VERSION]) == 0, "version %s for '%s'", v, f[F_VERSION]);
		CHECK(v || f[F_VERSION], "no version for an absent header");
	}
out:
	free(owned);
	return 0;
}
