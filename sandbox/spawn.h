/* Starting one confined process: clone(CLONE_VM|CLONE_VFORK) into a
 * straight-line child that applies the policy and execs, reporting a failure as
 * {step, errno} over a close-on-exec pipe (STYLE 3). */
#ifndef TOOLCELL_SANDBOX_SPAWN_H
#define TOOLCELL_SANDBOX_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/policy.h"

struct sbx_spawn_req {
	const char *file;  /* absolute path of the program */
	char *const *argv; /* NULL-terminated */
	char *const *envp; /* NULL-terminated; exactly the tool's environment */
	const char *cwd;   /* NULL: the gateway's */
	int stdin_fd;	   /* borrowed; all three must be >= 3, moved to 0, 1, 2 */
	int stdout_fd;
	int stderr_fd;
	int ruleset_fd; /* borrowed Landlock ruleset */
	const struct sbx_filter *filter;
	const struct sbx_limits *limits;
	unsigned long nproc_base; /* processes the uid already has (RLIMIT_NPROC is per uid) */
	/* Optional parts, -1 / false / NULL when unused: */
	bool supervised;     /* the filter returns a listener: receive it (see sbx_child) */
	int keeper_fd;	     /* the keeper gets a pidfd of the leader (sandbox/keeper.h) */
	int cgroup_procs_fd; /* the leader joins this cgroup (sandbox/cgroup.h) */
	bool userns;	     /* a new user namespace: the tool runs as a mapped uid */
	const char *uid_map; /* "INSIDE OUTSIDE 1", prepared by the caller */
	const char *gid_map;
	unsigned inside_uid, inside_gid;
	/* A mount namespace of the call's own, for either of: */
	const char *hosts_file; /* bound over /etc/hosts */
	const char *tmp_dir;	/* a tmpfs mounted over this directory, */
	const char *tmp_opts;	/* with these options ("size=...,nr_inodes=...") */
	uint64_t tmp_access;	/* and these Landlock rights granted on it */
	int landlock_abi;
};

/* The steps of the child, in the order it runs them. */
enum sbx_step {
	SBX_STEP_SIGNALS = 1,
	SBX_STEP_USERNS,
	SBX_STEP_MOUNTS,
	SBX_STEP_CGROUP,
	SBX_STEP_KEEPER,
	SBX_STEP_SESSION,
	SBX_STEP_PDEATHSIG,
	SBX_STEP_STDIO,
	SBX_STEP_CWD,
	SBX_STEP_RLIMITS,
	SBX_STEP_FDS,
	SBX_STEP_CAPS,
	SBX_STEP_NO_NEW_PRIVS,
	SBX_STEP_LANDLOCK,
	SBX_STEP_SECCOMP,
	SBX_STEP_NOTIFY,
	SBX_STEP_EXEC,
};

struct sbx_spawn_error {
	int step; /* enum sbx_step */
	int err;  /* errno */
};

const char *sbx_step_name(int step);

struct sbx_child {
	pid_t pid;     /* also the process group and session id of the call */
	int pidfd;     /* owned, close-on-exec; readable once the child exits */
	int notify_fd; /* owned seccomp listener for supervised profiles, else -1 */
};

/* Empties the calling thread's capability bounding set, once, so every
 * child it clones inherits an empty one and need not drop it per call (the
 * spawner threads do this for themselves). For a root
 * gateway, which never execs anything itself. Returns 0 or -errno (then the
 * children still drop it themselves). */
int sbx_caps_drop_bounding(void);

/* Starts the program. For a supervised filter, the listener the child made is
 * received into child->notify_fd. Returns 0 with *child filled (the caller reaps it with
 * sbx_child_reap), -errno if the gateway could not clone, or -ECHILD when the
 * child failed before exec: *err then says at which step and why (the child has
 * been reaped already). A filter with a base stage is cloned by its profile's
 * spawner thread, started on first use; a failure to load the base stage is
 * -ECHILD with the seccomp step. Safe to call from several threads; not
 * async-signal-safe. */
int sbx_spawn(const struct sbx_spawn_req *req, struct sbx_child *child,
	      struct sbx_spawn_error *err);

/* The same in steps, for an event loop that must not wait for the clone:
 * sbx_spawn_start queues it (or, for a filter without a base stage, clones
 * at once) and returns 0 with *op, or fails as sbx_spawn does with nothing
 * started. `req` and everything it points to must stay valid and unchanged
 * until sbx_spawn_ready(op) has returned true: the child reads them from
 * this process's memory until it has exec'd. When sbx_spawn_fd(op) polls
 * readable, call sbx_spawn_ready; once it returns true, stop polling the fd
 * (sbx_spawn_finish closes it) and call sbx_spawn_finish, which returns as
 * sbx_spawn does and frees op. */
struct sbx_spawn_op;
int sbx_spawn_start(const struct sbx_spawn_req *req, struct sbx_spawn_op **op,
		    struct sbx_spawn_error *err);
int sbx_spawn_fd(const struct sbx_spawn_op *op); /* borrowed: op owns it */
bool sbx_spawn_ready(struct sbx_spawn_op *op);
int sbx_spawn_finish(struct sbx_spawn_op *op, struct sbx_child *child, struct sbx_spawn_error *err);
/* A clone not yet made is not made: sbx_spawn_finish then returns
 * -ECANCELED. One already made still completes (kill the child then). */
void sbx_spawn_cancel(struct sbx_spawn_op *op);

/* SIGKILLs the call's whole process group. Only valid before the leader is
 * reaped: the unreaped zombie keeps its pid, and so the group id, from being
 * reused by an unrelated process. */
void sbx_child_kill(const struct sbx_child *child, bool via_pidfd);

/* Reaps the exited leader (after sbx_child_kill, so no descendant survives it),
 * closes the pidfd and stores the wait status. Returns 0 or -errno. */
int sbx_child_reap(struct sbx_child *child, int *status);

#endif
