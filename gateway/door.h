/* The HTTP door: checks on request headers made before any body is parsed.
 *
 * Everything here is pure except the random ids (getrandom) and
 * gw_door_read_token_file (one file read): no global state, no allocation,
 * bounded work, and a header value is only read up to its NUL. A NULL header
 * means the header is absent.
 *
 * Host and Origin are compared in a canonical form: lower case, IPv6 bracketed
 * and in its RFC 5952 form, an origin's default port left out (as browsers
 * serialize it). Accepted shapes are strict: a Host is host[:port] with no
 * userinfo, path or trailing dot; a port has no leading zero. */
#ifndef TOOLCELL_GATEWAY_DOOR_H
#define TOOLCELL_GATEWAY_DOOR_H

#include <stdbool.h>
#include <stddef.h>

#define GW_DOOR_HOST_MAX 264   /* a 253-byte name, ":65535", NUL */
#define GW_DOOR_ORIGIN_MAX 272 /* "https://" and a Host */
#define GW_DOOR_MAX_ORIGINS 20 /* the 4 defaults and 16 --allow-origin */
#define GW_DOOR_MAX_HOSTS 40   /* 8 defaults (port 80) and 2 per added origin */
#define GW_DOOR_TOKEN_MIN 16
#define GW_DOOR_TOKEN_MAX 256
#define GW_DOOR_NEW_TOKEN_LEN 43  /* 32 random bytes in base64url, no padding */
#define GW_DOOR_SESSION_ID_LEN 32 /* 16 random bytes in lower-case hex */

/* What the door lets in. Filled by gw_door_init and the calls after it; the
 * HTTP layer only reads it. */
struct gw_door {
	char host_allow[GW_DOOR_MAX_HOSTS][GW_DOOR_HOST_MAX]; /* "localhost:8080", "[::1]:8080" */
	size_t n_host;
	char origin_allow[GW_DOOR_MAX_ORIGINS][GW_DOOR_ORIGIN_MAX]; /* "http://localhost:8080" */
	size_t n_origin;
	char token[GW_DOOR_TOKEN_MAX + 1]; /* zero beyond token_len */
	size_t token_len;
	/* True after gw_door_init: with no token set every request is refused
	 * (fail closed). The caller sets it to false for --no-auth. */
	bool auth;
};

/* Fills the default allowlists for a server bound to bind_addr (an IPv4 or
 * IPv6 literal, bracketed or not, or a host name; NULL or "" mean
 * 127.0.0.1) and port (1..65535: the port actually bound, never 0).
 * Hosts: localhost, 127.0.0.1 and [::1] with ":port", and the bind address
 * itself unless it is a wildcard (0.0.0.0, ::); with port 80 each also without
 * a port, as a client omits the default port. A server bound to a wildcard is
 * reached under other names only with gw_door_allow_origin or
 * gw_door_allow_host. Origins: http:// and each of those hosts with the port.
 * Auth is on and no token is set. Returns 0, or -EINVAL with err set (and *d
 * then refuses every request). */
int gw_door_init(struct gw_door *d, const char *bind_addr, unsigned port, char *err, size_t errlen);

/* Allows one Host value (host[:port], canonicalized; "host" alone matches only
 * a Host header without a port). Duplicates are ignored. Returns 0, or -EINVAL
 * (bad syntax) / -ENOSPC (list full) with err set. */
int gw_door_allow_host(struct gw_door *d, const char *host, char *err, size_t errlen);

/* --allow-origin VALUE: allows an origin "http(s)://host[:port]" (no path,
 * userinfo, "null" or "*"), stored canonically. Its host[:port] is allowed as a
 * Host too (with a default port: both with and without it), because an
 * operator behind a reverse proxy that keeps the Host needs both; this cannot
 * open a DNS rebinding hole, since only whoever controls that name's DNS, the
 * trusted site itself, could point it at this server. Duplicates are ignored.
 * Returns 0, or -EINVAL / -ENOSPC with err set. */
int gw_door_allow_origin(struct gw_door *d, const char *origin, char *err, size_t errlen);

/* Sets the bearer token: token[0..len), visible ASCII (0x21..0x7e),
 * GW_DOOR_TOKEN_MIN..GW_DOOR_TOKEN_MAX bytes; borrowed (copied). Turns auth
 * on. Returns 0, or -EINVAL with err set (d unchanged). */
int gw_door_set_token(struct gw_door *d, const char *token, size_t len, char *err, size_t errlen);

/* Host header: true when it names this server. NULL (HTTP/1.0 without Host)
 * is refused. */
bool gw_door_host_ok(const struct gw_door *d, const char *host);

/* Origin header: true when absent (not a browser) or allowed; "null" and
 * anything unparsable are refused. */
bool gw_door_origin_ok(const struct gw_door *d, const char *origin);

/* Authorization header: "Bearer <token>" (scheme case-insensitive, 1*SP, OWS
 * around the value). With auth off, true. The comparison takes the same time
 * whatever the token and the presented value (up to GW_DOOR_TOKEN_MAX). */
bool gw_door_token_ok(const struct gw_door *d, const char *authorization);

/* Accept header: does it accept the media type `type` ("type/subtype")?
 * The most specific matching range decides (the exact type, then the type
 * with any subtype, then any type); q=0 is a refusal; parameters other than
 * q are ignored; elements that do not parse are skipped. NULL or an empty
 * list accept everything (RFC 9110 12.5.1). */
bool gw_door_accepts(const char *accept, const char *type);

/* Content-Type header: application/json, with any parameters, but a charset
 * parameter must be utf-8. NULL is false. */
bool gw_door_is_json(const char *content_type);

/* MCP-Protocol-Version header: the canonical static version string, NULL when
 * unsupported. An absent header means "2025-03-26" (the MCP spec's rule for
 * clients that predate the header). */
const char *gw_door_protocol_version(const char *header);

/* Writes a new session id to out[0..GW_DOOR_SESSION_ID_LEN] (NUL-terminated):
 * 128 bits from getrandom as lower-case hex. Returns 0 or -errno. */
int gw_door_new_session_id(char *out);

/* Writes a new bearer token (GW_DOOR_NEW_TOKEN_LEN base64url characters and a
 * NUL) to out[0..outlen). Returns 0, -ENOSPC if outlen is too small, or
 * -errno from getrandom. */
int gw_door_new_token(char *out, size_t outlen);

/* Reads the token from the file at path (--token-file) and sets it. Trailing
 * whitespace (the newline an editor adds) is dropped; the rest must be a valid
 * token. A file that group or others can access (mode & 077) is refused, as is
 * anything but a regular file. Returns 0, or -errno / -EINVAL / -EPERM with err
 * naming the file and what to do. */
int gw_door_read_token_file(struct gw_door *d, const char *path, char *err, size_t errlen);

#endif
