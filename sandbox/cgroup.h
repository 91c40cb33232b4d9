/* The pids cgroup that bounds a call's processes when RLIMIT_NPROC cannot: the
 * kernel never applies RLIMIT_NPROC to a real uid of 0 (copy_process exempts
 * INIT_USER), so a root gateway puts each call into a cgroup of its own whose
 * pids.max is the tool's `processes` limit.
 *
 * Layout: one per-gateway parent, toolcell.<gateway pid>, and under it one
 * call.<n> per call in flight. The gateway itself never moves.
 *   cgroup v1: the parent is created inside the gateway's own cgroup of the
 *     hierarchy mounted with the "pids" option (v1 has no rule against a
 *     cgroup holding both processes and children).
 *   cgroup v2: a cgroup with processes cannot enable controllers for its
 *     children ("no internal processes"), so the parent is created under the
 *     nearest cgroup, starting at our own and walking up to the top of the
 *     mount, whose cgroup.subtree_control already lists "pids"; that is our
 *     own only when it is the root. The parent then enables pids for its
 *     children, which it may: it holds no processes.
 * Everything under the parent is reached through the fd kept in the root, so
 * nothing depends on the path staying the same. */
#ifndef TOOLCELL_SANDBOX_CGROUP_H
#define TOOLCELL_SANDBOX_CGROUP_H

#include <limits.h>
#include <stddef.h>

/* Where the pids controller is and where we are in it, as read from
 * /proc/self/mountinfo and /proc/self/cgroup. */
struct sbx_cgroup_place {
	int version;	     /* 1 or 2 */
	char top[PATH_MAX];  /* the mount point: the highest cgroup we can reach */
	char self[PATH_MAX]; /* our own cgroup's directory (top or below it) */
};

/* Finds the pids controller from the text of /proc/self/mountinfo and of
 * /proc/self/cgroup: a v1 hierarchy mounted with the "pids" option, else a
 * cgroup2 mount (whether it offers pids is a kernel question left to
 * sbx_cgroup_init). Mounts whose root does not contain our cgroup (a bind mount
 * of another subtree) are skipped. Pure. Returns 0 and *p, or -ENOENT with err
 * saying what is missing; *p is written only on success. */
int sbx_cgroup_locate(const char *mountinfo, const char *self_cgroup, struct sbx_cgroup_place *p,
		      char *err, size_t errlen);

/* The per-gateway parent. A zeroed struct means "none": describe says so and
 * fini does nothing. */
struct sbx_cgroup_root {
	int version;	     /* 1 or 2; 0: none */
	int dirfd;	     /* owned: O_PATH|O_DIRECTORY|O_CLOEXEC of path */
	unsigned long next;  /* number of the next call's cgroup */
	char path[PATH_MAX]; /* absolute, e.g. /sys/fs/cgroup/pids/toolcell.1234 */
	char desc[PATH_MAX + 32];
};

/* Creates the per-gateway parent toolcell.<pid> (toolcell.<pid>.<k> if a
 * crashed gateway with the same pid left one behind: a cgroup we did not create
 * is never removed). Fails, without creating anything, when no pids controller
 * is usable: err then starts with "no writable pids cgroup: " and names the
 * directory and the reason ("/sys/fs/cgroup/pids is read-only (EROFS)").
 * Returns 0 and *r (release with sbx_cgroup_fini), or -errno. Reads /proc. */
int sbx_cgroup_init(struct sbx_cgroup_root *r, char *err, size_t errlen);

/* The same, from given texts of /proc/self/mountinfo and /proc/self/cgroup
 * (borrowed): lets a test take one of the hierarchies of a machine that has
 * both kinds. The directories named must still be real. */
int sbx_cgroup_init_from(struct sbx_cgroup_root *r, const char *mountinfo, const char *self_cgroup,
			 char *err, size_t errlen);

/* "pids cgroup v1 at /sys/fs/cgroup/pids/toolcell.1234", or "no pids cgroup"
 * for a zeroed root. Pure; the text lives in *r. */
const char *sbx_cgroup_describe(const struct sbx_cgroup_root *r);

/* One call's cgroup. A zeroed struct means "none". */
struct sbx_cgroup_call {
	int procs_fd;  /* owned: its cgroup.procs, O_WRONLY|O_CLOEXEC */
	char name[32]; /* "call.<n>" under the root's path; "" when none */
};

/* Creates a call cgroup with pids.max = max_pids (>= 1; the leader counts as
 * one) and opens its cgroup.procs. Gateway side, any thread. Returns 0 and *c
 * (release with sbx_cgroup_call_free), or -errno (-EINVAL for 0, -ENODEV for a
 * zeroed root); *c is written only on success. */
int sbx_cgroup_call_new(struct sbx_cgroup_root *r, unsigned max_pids, struct sbx_cgroup_call *c);

/* Child side, between fork and exec: moves the calling process into the call
 * cgroup by writing "0" (the writer) to procs_fd (borrowed). Before the tool
 * can fork, so every descendant is born inside. The kernel checks the
 * credentials the fd was opened with, so this still works after the child
 * has given up root. Async-signal-safe: one raw system call. Returns 0 or
 * -errno. */
int sbx_cgroup_join(int procs_fd);

/* Closes the fd and removes the call's cgroup. Call it once the call's whole
 * process group is dead and reaped: a cgroup with tasks cannot be removed, and
 * killed tasks leave it asynchronously, so EBUSY is retried for up to about
 * 200 ms. Returns 0, or -errno when the directory is left behind (-EBUSY: a
 * process survived; sbx_cgroup_fini tries again). *c is "none" afterwards
 * either way; NULL or a zeroed *c is a no-op. */
int sbx_cgroup_call_free(struct sbx_cgroup_root *r, struct sbx_cgroup_call *c);

/* Removes the call cgroups still left (see above) and the per-gateway parent,
 * and closes the fd. *r is "none" afterwards. Returns 0, or -errno when
 * something could not be removed. NULL or a zeroed *r is a no-op. */
int sbx_cgroup_fini(struct sbx_cgroup_root *r);

#endif
