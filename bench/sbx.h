/* The sandbox library driven the way gateway/call.c drives it, without the
 * gateway around it: policies compiled once (sbx_policy_new with the shared
 * base filter), then per call only sbx_spawn, the wait on the pidfd, the group
 * kill and the reap. With `gateway isolation` the call also gets what the
 * gateway adds on this machine: the keeper registration, a user namespace
 * where the kernel allows one, and a pids cgroup when running as root.
 *
 * Diagnostics: TOOLCELL_BENCH_ISO=LETTERS keeps only some of that isolation
 * (c: cgroup, k: keeper, u: user namespace), to see what each costs;
 * TOOLCELL_NO_USERNS=1 drops the user namespace, as it does for the gateway. */
#ifndef TOOLCELL_BENCH_SBX_H
#define TOOLCELL_BENCH_SBX_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/cgroup.h"
#include "sandbox/features.h"
#include "sandbox/keeper.h"
#include "sandbox/policy.h"
#include "sandbox/seccomp.h"
#include "sandbox/spawn.h"

struct bsbx {
	struct sbx_features f;
	struct sbx_filter base; /* profile 0, as the gateway compiles it at load */
	struct sbx_keeper keeper;
	struct sbx_cgroup_root cg;
	bool have_cg;
	bool userns;
	char uid_map[32], gid_map[32];
	unsigned uid, gid;
};

/* Probes the kernel, compiles the base filter, starts the keeper and (as
 * root) the cgroup root. Returns 0, or -errno with err set. */
int bsbx_init(struct bsbx *b, char *err, size_t errlen);
void bsbx_fini(struct bsbx *b);

/* Describes the gateway isolation this machine gets, for the output. */
const char *bsbx_isolation(const struct bsbx *b);

/* A policy like a manifest's: read ["@system", workspace], exec ["@system",
 * extra_exec...], write [workspace] when ws_write, net [net] when net is not
 * NULL, listen [the nlisten ports]. Returns 0 and *out (sbx_policy_free), or
 * -errno with err set. */
int bsbx_policy(struct bsbx *b, const char *workspace, bool ws_write, const char *extra_exec,
		const char *net, const uint16_t *listen, size_t nlisten, struct sbx_policy **out,
		char *err, size_t errlen);

/* One call: spawn file under p with stdio on in/out/errfd (>= 3, borrowed),
 * wait for the leader to exit, kill the group, reap; with `iso` also the
 * keeper, user namespace and cgroup of the gateway. A supervised policy's
 * listener is received by sbx_spawn and closed here after the reap (nothing
 * in the benchmark programs connects). Returns the wait status, or -errno
 * (serr says the step for -ECHILD). */
int bsbx_run(struct bsbx *b, const struct sbx_policy *p, bool iso, const char *file,
	     char *const argv[], int in, int out, int errfd, struct sbx_spawn_error *serr);

/* Like bsbx_run, but returns at once with *child started (after the spawn);
 * bsbx_finish waits, kills, reaps and undoes the isolation. */
struct bsbx_call {
	struct sbx_child child;
	struct sbx_cgroup_call cg;
	bool iso;
};
int bsbx_start(struct bsbx *b, const struct sbx_policy *p, bool iso, const char *file,
	       char *const argv[], int in, int out, int errfd, struct bsbx_call *call,
	       struct sbx_spawn_error *serr);
int bsbx_finish(struct bsbx *b, struct bsbx_call *call);

#endif
