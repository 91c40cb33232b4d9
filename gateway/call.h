/* One tool call: validate arguments, fill in templates, spawn the sandboxed
 * process, stream its output, enforce the wall-clock and output limits, and
 * report one result. Knows nothing of MCP: the transport supplies callbacks. */
#ifndef TOOLCELL_GATEWAY_CALL_H
#define TOOLCELL_GATEWAY_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "gateway/manifest.h"
#include "sandbox/cgroup.h"
#include "sandbox/features.h"

#define GW_STDERR_MAX (64 * 1024)

struct gw_call_result {
	int exit_code;	/* -1 when killed by a signal */
	int signal;	/* 0 unless killed by a signal */
	bool timed_out; /* killed at timeout_s */
	bool truncated; /* stdout passed output_kb; the tree was killed */
	double duration_ms;
	const char *out; /* raw stdout, up to output_kb (borrowed, not NUL-safe) */
	size_t out_len;
	const char *err; /* raw stderr, up to GW_STDERR_MAX (borrowed) */
	size_t err_len;
	bool err_truncated;
	unsigned timeout_s; /* the limit, for messages */
	unsigned output_kb;
};

/* Callbacks; ud is the transport's. Chunks are raw bytes, borrowed for the
 * duration of the callback. Exactly one of on_done and on_failed is called,
 * and neither for a cancelled call. on_failed: the sandboxed process could
 * not be started (msg says at which step and why): the tool never ran, or,
 * when its seccomp listener could not be handed over, was killed at once. */
struct gw_call_events {
	void (*on_stdout)(void *ud, const char *chunk, size_t len, size_t total);
	void (*on_stderr_line)(void *ud, const char *line, size_t len);
	void (*on_done)(void *ud, const struct gw_call_result *res);
	void (*on_failed)(void *ud, const char *msg);
};

/* What every call of a gateway shares. */
struct gw_call_env {
	uv_loop_t *loop;
	const char *workspace; /* absolute, resolved */
	int workspace_fd;      /* O_PATH of the workspace, for resolving path arguments */
	const struct sbx_features *features;
	int keeper_fd;		     /* the process keeper, or -1 */
	struct sbx_cgroup_root *cgroup; /* pids cgroups for a root gateway, or NULL */
	bool userns;		     /* run tools in a user namespace as inside_uid */
	bool mounts; /* calls can have a mount namespace ({tmp} tmpfs, /etc/hosts) */
	int audit_fd; /* --audit: one JSON line per call, O_APPEND; -1: none */
	unsigned inside_uid, inside_gid;
	char uid_map[64], gid_map[64];
};

struct gw_call;

/* Starts a call of `tool` (a reference is taken) with `args` (borrowed; NULL
 * means {}). Returns 0 and *out (valid until on_done or on_failed returns or,
 * after gw_call_cancel, until the call is gone), or -EINVAL when the arguments
 * are wrong and -errno when the call could not start; msg then says why, naming
 * the argument where there is one. Nothing has been forked when it fails. The
 * spawn itself completes later, on the loop: a child that fails before exec
 * is reported through on_failed. */
int gw_call_start(const struct gw_call_env *env, struct gw_tool *tool, const cJSON *args,
		  const struct gw_call_events *ev, void *ud, struct gw_call **out, char *msg,
		  size_t msglen);

/* One sentence saying why a finished call failed ("exit status 1",
 * "killed: timeout after 30 s (timeout_s)", ...), malloc'd for the caller, or
 * NULL when it did not fail (or on ENOMEM). */
char *gw_call_failure(const struct gw_call_result *res);

/* Kills the call's whole process tree; on_done will not be called and the
 * call frees itself once its handles are closed. */
void gw_call_cancel(struct gw_call *c);

/* Number of calls still holding handles (for a clean shutdown). */
unsigned gw_call_active(void);

/* Removes a directory tree (a call's {tmp}) without following symlinks or
 * crossing into another filesystem. Best effort: what cannot go stays. */
void gw_remove_tree(const char *dir);

#endif
