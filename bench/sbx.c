/* The sandbox library as gateway/call.c drives it; see sbx.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/common.h"
#include "bench/sbx.h"
#include "sandbox/netaddr.h"

int bsbx_init(struct bsbx *b, char *err, size_t errlen)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->keeper = (struct sbx_keeper)SBX_KEEPER_INIT;
	sbx_features_probe(&b->f);
	sbx_features_probe_userns(&b->f);
	r = sbx_policy_supported(&b->f, err, errlen);
	if (r < 0)
		return r;
	r = sbx_filter_compile(&b->base, 0);
	if (r < 0) {
		snprintf(err, errlen, "sbx_filter_compile: %s", strerror(-r));
		return r;
	}
	/* As app_isolation in gateway/main.c: the keeper (a fork, while we are
	 * small), a user namespace per call where allowed, a pids cgroup for
	 * root. */
	r = sbx_keeper_start(&b->keeper);
	if (r < 0) {
		snprintf(err, errlen, "sbx_keeper_start: %s", strerror(-r));
		return r;
	}
	const char *no = getenv("TOOLCELL_NO_USERNS"); /* as gateway/main.c */
	b->userns = b->f.user_namespaces == 1 && !(no && *no);
	b->uid = (unsigned)getuid();
	b->gid = (unsigned)getgid();
	snprintf(b->uid_map, sizeof(b->uid_map), "%u %u 1", b->uid, b->uid);
	snprintf(b->gid_map, sizeof(b->gid_map), "%u %u 1", b->gid, b->gid);
	if (getuid() == 0) {
		char cgerr[512];
		r = sbx_cgroup_init(&b->cg, cgerr, sizeof(cgerr));
		if (r < 0) {
			snprintf(err, errlen, "root without a pids cgroup: %s", cgerr);
			return r;
		}
		b->have_cg = true;
	}
	return 0;
}

void bsbx_fini(struct bsbx *b)
{
	if (b->have_cg)
		sbx_cgroup_fini(&b->cg);
	sbx_keeper_stop(&b->keeper);
	sbx_filter_free(&b->base);
}

const char *bsbx_isolation(const struct bsbx *b)
{
	static char s[256];

	snprintf(s, sizeof(s), "keeper%s%s", b->userns ? ", user namespace" : "",
		 b->have_cg ? ", pids cgroup (root)" : "");
	return s;
}

int bsbx_policy(struct bsbx *b, const char *workspace, bool ws_write, const char *extra_exec,
		const char *net, const uint16_t *listen, size_t nlisten, struct sbx_policy **out,
		char *err, size_t errlen)
{
	struct sbx_path_grant g[2 * 64 + 3];
	const struct sbx_path_grant *sys;
	struct sbx_net_entry entry;
	struct sbx_policy_extra x = {0};
	size_t nsys, n = 0;

	sys = sbx_system_paths(&nsys);
	if (nsys > 64)
		return -E2BIG;
	/* @system split into its read and exec halves, as gateway/manifest.c
	 * does for read ["@system"] and exec ["@system"]. */
	for (size_t i = 0; i < nsys; i++) {
		if (sys[i].access & ~SBX_EXEC)
			g[n++] = (struct sbx_path_grant){sys[i].path, sys[i].access & ~SBX_EXEC,
							 "grants.read[0]", true};
		if (sys[i].access & SBX_EXEC)
			g[n++] = (struct sbx_path_grant){sys[i].path, sys[i].access & SBX_EXEC,
							 "grants.exec[0]", true};
	}
	g[n++] = (struct sbx_path_grant){workspace, ws_write ? SBX_WRITE : SBX_READ,
					 ws_write ? "grants.write[0]" : "grants.read[1]", false};
	if (extra_exec)
		g[n++] = (struct sbx_path_grant){extra_exec, SBX_READ | SBX_EXEC, "grants.exec[1]",
						 false};
	if (net) {
		int r = sbx_net_parse(net, &entry, err, errlen);
		if (r < 0)
			return r;
		x.net = &entry;
		x.nnet = 1;
	}
	x.listen = listen;
	x.nlisten = nlisten;
	return sbx_policy_new(&b->f, g, n, &x, &sbx_limits_default, &b->base, out, err, errlen);
}

int bsbx_start(struct bsbx *b, const struct sbx_policy *p, bool iso, const char *file,
	       char *const argv[], int in, int out, int errfd, struct bsbx_call *call,
	       struct sbx_spawn_error *serr)
{
	static char *const no_env[] = {NULL};
	int r;

	memset(call, 0, sizeof(*call));
	call->child.pidfd = -1;
	call->child.notify_fd = -1;
	call->cg.procs_fd = -1;
	call->iso = iso;
	const char *only = getenv("TOOLCELL_BENCH_ISO");
	if (iso && b->have_cg && (!only || strchr(only, 'c'))) {
		r = sbx_cgroup_call_new(&b->cg, p->limits.processes, &call->cg);
		if (r < 0)
			return r;
	}
	struct sbx_spawn_req req = {
	    .file = file,
	    .argv = argv,
	    .envp = no_env,
	    .cwd = NULL,
	    .stdin_fd = in,
	    .stdout_fd = out,
	    .stderr_fd = errfd,
	    .ruleset_fd = p->ruleset_fd,
	    .filter = p->filter,
	    .limits = &p->limits,
	    /* Root is exempt from RLIMIT_NPROC, and a user namespace counts
	     * the call's own uid; otherwise the gateway counts the uid's
	     * tasks every two seconds. A generous base keeps the benchmark
	     * from measuring that scan. */
	    .nproc_base = 4096,
	    .supervised = sbx_policy_supervised(p),
	    .keeper_fd = iso && (!only || strchr(only, 'k')) ? sbx_keeper_fd(&b->keeper) : -1,
	    .cgroup_procs_fd = call->cg.procs_fd,
	    .userns = iso && b->userns && (!only || strchr(only, 'u')),
	    .uid_map = b->uid_map,
	    .gid_map = b->gid_map,
	    .inside_uid = b->uid,
	    .inside_gid = b->gid,
	    .landlock_abi = p->abi,
	};
	r = sbx_spawn(&req, &call->child, serr);
	if (r < 0 && call->cg.procs_fd >= 0)
		sbx_cgroup_call_free(&b->cg, &call->cg);
	return r;
}

int bsbx_finish(struct bsbx *b, struct bsbx_call *call)
{
	struct pollfd pf = {.fd = call->child.pidfd, .events = POLLIN};
	pid_t pid = call->child.pid;
	int status = 0, r;

	/* As on_exit_readable in gateway/call.c: the pidfd becomes readable
	 * when the leader exits; the group is killed before the leader is
	 * reaped, then the keeper forgets it. */
	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	sbx_child_kill(&call->child, b->f.pidfd_group_signal);
	r = sbx_child_reap(&call->child, &status);
	if (call->iso)
		sbx_keeper_del(sbx_keeper_fd(&b->keeper), pid);
	if (call->child.notify_fd >= 0)
		close(call->child.notify_fd);
	call->child.notify_fd = -1;
	if (call->cg.procs_fd >= 0)
		sbx_cgroup_call_free(&b->cg, &call->cg);
	return r < 0 ? r : status;
}

int bsbx_run(struct bsbx *b, const struct sbx_policy *p, bool iso, const char *file,
	     char *const argv[], int in, int out, int errfd, struct sbx_spawn_error *serr)
{
	struct bsbx_call call;
	int r = bsbx_start(b, p, iso, file, argv, in, out, errfd, &call, serr);

	return r < 0 ? r : bsbx_finish(b, &call);
}
