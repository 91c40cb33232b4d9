/* A tool's grants compiled into what the child enforces: the Landlock rules
 * (paths opened once, at load), the shared seccomp program and the limits.
 * Built when manifests load, never per call (STYLE 2). */
#ifndef TOOLCELL_SANDBOX_POLICY_H
#define TOOLCELL_SANDBOX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/features.h"
#include "sandbox/landlock.h"
#include "sandbox/netaddr.h"
#include "sandbox/seccomp.h"
#include "sandbox/supervise.h"

enum {
	SBX_READ = 1,  /* read files, list directories */
	SBX_WRITE = 2, /* create, write, truncate, remove, rename, link (implies read) */
	SBX_EXEC = 4,  /* execute files */
};

struct sbx_limits {
	unsigned timeout_s, cpu_s, memory_mb, processes, open_files, file_size_mb, output_kb;
	unsigned tmp_mb; /* size of the call's {tmp} where it can be a tmpfs */
};

/* The defaults a manifest gets for limits it does not name. */
extern const struct sbx_limits sbx_limits_default;

/* The limit keys of a manifest (and of an operator ceiling), in order, with
 * the largest value each accepts; NULL-terminated by key. */
struct sbx_limit_key {
	const char *key;
	size_t off; /* of the unsigned in struct sbx_limits */
	unsigned max;
};
extern const struct sbx_limit_key sbx_limit_keys[];
#define SBX_NLIMITS 8

static inline unsigned sbx_limit_get(const struct sbx_limits *l, size_t i)
{
	return *(const unsigned *)((const char *)l + sbx_limit_keys[i].off);
}

/* One path grant with placeholders already expanded. `path` and `origin` are
 * borrowed; origin names the grant in messages ("grants.read[1]"). Grants from
 * the @system set are marked `optional`: a path this system lacks is skipped. */
struct sbx_path_grant {
	const char *path;
	unsigned access;
	const char *origin;
	bool optional;
};

/* The paths and rights of the @system grant (standard read-only system
 * directories, the dynamic loader's files, /dev/null and friends). The access
 * bits are the most the entry gives; the grant's own kind (read/exec) is
 * intersected with them. Static storage. */
const struct sbx_path_grant *sbx_system_paths(size_t *n);

/* Landlock rights for a grant. Directories get the directory rights too. */
uint64_t sbx_access_rights(unsigned access, bool is_dir);

/* The network side of a tool's grants, and what the path grants cannot say. */
struct sbx_policy_extra {
	const struct sbx_net_entry *net; /* grants.net, parsed */
	size_t nnet;
	const uint16_t *listen; /* grants.listen */
	size_t nlisten;
	sbx_net_resolver resolve; /* NULL: the system resolver */
	bool dyn_write;		  /* write grants known per call ({tmp}, {arg}) */
};

struct sbx_policy {
	int abi;	     /* Landlock ABI the ruleset is built for */
	unsigned profile;    /* SBX_FILTER_* bits of the seccomp program */
	struct sbx_net *net; /* resolved net grants (owned), NULL without */
	uint16_t *listen;    /* owned copy of the listen ports */
	size_t nlisten;
	char *hosts_dir; /* a private directory holding `hosts` for named net grants */
	char *hosts_file; /* hosts_dir/hosts: bound over /etc/hosts where a mount
			   * namespace can be made, so granted names resolve */
	struct sbx_inode *write_roots; /* static write grants by identity (owned) */
	size_t nwrite_roots;
	struct sbx_ll_rule *rules; /* static rules; fds owned */
	char **rule_paths;	   /* resolved path of each rule, for explain */
	size_t nrules;
	int ruleset_fd; /* all static rules; reused by calls without per-call rules */
	const struct sbx_filter *filter; /* borrowed: one program shared by all tools */
	struct sbx_limits limits;
};

/* Compiles grants. `x` may be NULL (no network, no per-call write grants).
 * `filter` is the base program, used when the grants need nothing more;
 * otherwise the program of the grants' profile is taken (sbx_filter_get).
 * Refuses (fail closed) when the kernel lacks what the
 * guarantees need: err then names the missing feature. Opens every path now, so
 * a missing non-optional path is an error naming the grant's origin.
 * Returns 0 and *out (caller owns: sbx_policy_free), or -errno with err set. */
int sbx_policy_new(const struct sbx_features *f, const struct sbx_path_grant *g, size_t n,
		   const struct sbx_policy_extra *x, const struct sbx_limits *limits,
		   const struct sbx_filter *filter, struct sbx_policy **out, char *err,
		   size_t errlen);

/* Whether calls of this policy need the gateway's supervisor. */
bool sbx_policy_supervised(const struct sbx_policy *p);

void sbx_policy_free(struct sbx_policy *p);

/* Checks the kernel can run any tool at all; on failure err says why and what to
 * do. Returns 0 or -EOPNOTSUPP. */
int sbx_policy_supported(const struct sbx_features *f, char *err, size_t errlen);

/* The ruleset fd for one call. With no per-call rules this is the policy's own
 * fd (*owned = false: borrowed); otherwise a new ruleset with the static rules
 * plus `extra` (*owned = true: the caller closes it). Returns 0 or -errno. */
int sbx_policy_ruleset(const struct sbx_policy *p, const struct sbx_ll_rule *extra, size_t nextra,
		       int *fd, bool *owned);

#endif
