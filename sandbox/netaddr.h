/* Network grants: `net` entries ("host:port") parsed, resolved by the gateway
 * at load, and matched against the address a tool asks to connect to. Parsing
 * and matching are pure (no kernel, no DNS); only sbx_net_compile resolves
 * names, through a resolver the caller may replace in tests. */
#ifndef TOOLCELL_SANDBOX_NETADDR_H
#define TOOLCELL_SANDBOX_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

/* One parsed `net` entry. Exactly one of name / address is set. */
struct sbx_net_entry {
	char name[256];		/* a host name ("example.com"), "" for an address */
	int family;		/* AF_INET or AF_INET6 for an address or CIDR, 0 for a name */
	unsigned char addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
	unsigned prefix;	/* 32 / 128 for a single address, less for a CIDR */
	uint16_t port;		/* host byte order; 0 means "*" (any port) */
};

/* Parses "host:port": host is a name, an IPv4 address, "[IPv6]", or a CIDR
 * ("10.0.0.0/8", "[fd00::/8]"; "[fd00::]/8" is accepted too); port is
 * 1..65535 or "*". Host bits beyond the prefix must be zero. Names are stored
 * in lower case. Returns 0 and *out, or -EINVAL with err set to the quoted
 * entry and what is wrong ("\"x:0\": port 0 is not a port (...)"); *out is
 * written only on success. Pure. */
int sbx_net_parse(const char *s, struct sbx_net_entry *out, char *err, size_t errlen);

/* One allowed destination after resolution. */
struct sbx_net_rule {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network byte order */
	unsigned prefix;
	uint16_t port; /* 0: any */
	bool literal;  /* written as an address or CIDR in the manifest, not a name */
};

struct sbx_net {
	struct sbx_net_rule *rules;
	size_t nrules;
	char *hosts; /* a hosts(5) file: localhost lines, then "ADDR NAME" per resolved name */
};

/* Resolves one name to its addresses (both families). Returns the number of
 * addresses written to out[0..max) (sockaddr_in / sockaddr_in6), or -errno /
 * a negative EAI_* mapped to -EHOSTUNREACH when the name does not resolve.
 * The default, sbx_net_resolve_system, uses getaddrinfo. */
typedef int (*sbx_net_resolver)(const char *name, struct sockaddr_storage *out, size_t max);
int sbx_net_resolve_system(const char *name, struct sockaddr_storage *out, size_t max);

/* Compiles entries[0..n) (parsed already) into rules, resolving names with
 * `resolve`. A name that resolves to nothing is an error naming it. Addresses a
 * name resolves to that are link-local, cloud metadata (169.254.0.0/16,
 * fe80::/10, fd00:ec2::254) or unspecified are dropped: only a literal entry
 * can grant them. IPv4-mapped entries and addresses (::ffff:a.b.c.d, at
 * least /96) become IPv4 rules. `resolve` NULL means sbx_net_resolve_system.
 * Returns 0 and *out (caller frees with sbx_net_free), or -errno with err set
 * (-EHOSTUNREACH: "NAME: does not resolve", or resolves only to addresses
 * that are dropped; -ENOMEM). */
int sbx_net_compile(const struct sbx_net_entry *entries, size_t n, sbx_net_resolver resolve,
		    struct sbx_net **out, char *err, size_t errlen);

void sbx_net_free(struct sbx_net *net);

/* Whether a connect to `sa` is allowed. IPv4-mapped IPv6 (::ffff:a.b.c.d) is
 * matched as the IPv4 address it reaches. Link-local, metadata and unspecified
 * (0.0.0.0, ::) destinations match only rules that are literal and lie wholly
 * inside that range (a "0.0.0.0/0:*" rule does not grant 169.254.169.254).
 * A rule of one family never matches the other: "[::]/0" does not grant
 * ::ffff:1.2.3.4. len must cover the family's whole sockaddr_in/_in6.
 * Families other than AF_INET/AF_INET6 are never allowed. Pure. */
bool sbx_net_allows(const struct sbx_net *net, const struct sockaddr *sa, socklen_t len);

/* Whether ceiling entry `c` covers entry `e` (for --ceiling): same name (case
 * insensitive), or e's address range inside c's, and c's port "*" or equal. A
 * name is covered only by the same name. As in sbx_net_allows, an entry inside
 * a link-local, metadata or unspecified range is covered only by a ceiling
 * entry inside that range too ("0.0.0.0/0:*" does not cover
 * "169.254.169.254:80"). Pure. */
bool sbx_net_entry_covers(const struct sbx_net_entry *c, const struct sbx_net_entry *e);

/* Formats an entry back to its canonical text ("[::1]:443", "10.0.0.0/8:*",
 * "[fd00::/8]:443"), which sbx_net_parse reads back to the same entry. A
 * buffer of SBX_NET_FORMAT_MAX bytes always holds it. */
#define SBX_NET_FORMAT_MAX 272
void sbx_net_format(const struct sbx_net_entry *e, char *buf, size_t len);

#endif
