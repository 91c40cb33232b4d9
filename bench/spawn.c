/* spawn: bare posix_spawn+waitpid of /bin/true against the same program
 * started through the sandbox library the way gateway/call.c starts a tool
 * (SPEC §5: set-up adds at most 20% to bare fork+exec+wait, median).
 *
 * Variants, interleaved round by round (the starting variant rotates, so no
 * variant always runs right after another):
 *   bare       posix_spawn + waitpid
 *   sbx        Landlock @system + a workspace, the full seccomp filter,
 *              rlimits, no_new_privs, caps dropped, own session
 *   sbx+net    the same with a net grant: the supervised filter, whose
 *              listener the child sends and sbx_spawn receives (closed after)
 *   gw         sbx plus what the gateway adds on this machine: the keeper
 *              registration, a user namespace, a pids cgroup for root
 *   gw+net     gw with the net grant
 * and, to show what dominates, sbx with one part swapped out:
 *   sbx, allow-all bpf      a one-instruction filter instead of the real one,
 *                           so no spawner thread: cloned from this thread
 *   sbx, no fs Landlock     a ruleset that handles only the ABI 6 scopes
 * Every variant's stdio is /dev/null, so only the set-up differs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "bench/common.h"
#include "bench/sbx.h"

enum { BARE, SBX, SBX_NET, GW, GW_NET, SBX_ALLOW, SBX_NOFS, NV };

static const char *const names[NV] = {
    [BARE] = "bare posix_spawn+waitpid",
    [SBX] = "sbx (Landlock+seccomp+rlimits)",
    [SBX_NET] = "sbx+net (supervised filter)",
    [GW] = "gw (sbx + gateway isolation)",
    [GW_NET] = "gw+net",
    [SBX_ALLOW] = "breakdown: sbx, allow-all bpf",
    [SBX_NOFS] = "breakdown: sbx, no fs Landlock",
};
static const char *const keys[NV] = {"bare", "sbx", "sbx_net", "gw", "gw_net"};

static struct sock_filter allow_insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
static const struct sbx_filter allow_all = {.prog = {.len = 1, .filter = &allow_insn}};

/* A Landlock ruleset that handles no file or network right, only the ABI 6
 * scopes: the child still enforces a domain, without path rules. */
static int scope_only_ruleset(void)
{
	struct {
		uint64_t handled_access_fs, handled_access_net, scoped;
	} attr = {.scoped = SBX_LL_SCOPE_ABSTRACT_UNIX_SOCKET | SBX_LL_SCOPE_SIGNAL};

	return (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0U);
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--iterations", "--warmup", NULL};
	unsigned ovals[] = {2000, 50};
	static const char *const snames[] = {"--program", NULL};
	const char *svals[] = {"/bin/true"};
	bool smoke = false;
	struct bsbx b;
	struct sbx_policy *p_ro = NULL, *p_net = NULL;
	struct samples s[NV] = {0};
	char err[1024], *ws;
	int null_fd, failures = 0;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--iterations N] [--warmup N] [--program PATH] [--smoke]");
	if (smoke) {
		ovals[0] = 20;
		ovals[1] = 2;
	}
	const char *prog = svals[0];
	char *const pargv[] = {(char *)prog, NULL};

	if (bsbx_init(&b, err, sizeof(err)) < 0) {
		fprintf(stderr, "spawn: %s\n", err);
		return 1;
	}
	/* As app_isolation in gateway/main.c: root empties its bounding set once,
	 * so the breakdown variants (spawned from this thread, not from a
	 * spawner) are not charged a per-child drop the gateway never pays. */
	if (geteuid() == 0)
		(void)sbx_caps_drop_bounding();
	ws = bench_tmpdir("spawn");
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!ws || null_fd < 0) {
		fprintf(stderr, "spawn: cannot create the workspace: %s\n", strerror(errno));
		return 1;
	}
	/* Compiled once, as at manifest load. 127.0.0.1:9 is a literal: no DNS,
	 * no hosts file, so no mount namespace; only the filter differs. */
	if (bsbx_policy(&b, ws, false, NULL, NULL, NULL, 0, &p_ro, err, sizeof(err)) < 0 ||
	    bsbx_policy(&b, ws, false, NULL, "127.0.0.1:9", NULL, 0, &p_net, err, sizeof(err)) < 0) {
		fprintf(stderr, "spawn: policy: %s\n", err);
		return 1;
	}

	struct sbx_policy p_allow = *p_ro, p_nofs = *p_ro;
	p_allow.filter = &allow_all;
	p_nofs.ruleset_fd = scope_only_ruleset();
	if (p_nofs.ruleset_fd < 0) {
		fprintf(stderr, "spawn: scope-only ruleset: %s\n", strerror(errno));
		return 1;
	}

	printf("spawn: %s, %u iterations per variant after %u warm-up, interleaved\n", prog,
	       ovals[0], ovals[1]);
	printf("  gateway isolation on this machine: %s\n", bsbx_isolation(&b));
	printf("  filter: %u + %u instructions (spawner stage + per-call stage), %u + %u with net\n",
	       p_ro->filter->base.len, p_ro->filter->prog.len, p_net->filter->base.len,
	       p_net->filter->prog.len);
	fflush(stdout);

	for (unsigned round = 0; round < ovals[0] + ovals[1]; round++) {
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			struct sbx_spawn_error serr = {0};
			uint64_t t0 = bench_now_ns();
			int st;
			switch (v) {
			case BARE:
				st = bare_spawn_wait(prog, pargv, null_fd);
				break;
			case SBX:
			case GW:
				st = bsbx_run(&b, p_ro, v == GW, prog, pargv, null_fd, null_fd,
					      null_fd, &serr);
				break;
			case SBX_ALLOW:
			case SBX_NOFS:
				st = bsbx_run(&b, v == SBX_ALLOW ? &p_allow : &p_nofs, false, prog,
					      pargv, null_fd, null_fd, null_fd, &serr);
				break;
			default:
				st = bsbx_run(&b, p_net, v == GW_NET, prog, pargv, null_fd, null_fd,
					      null_fd, &serr);
				break;
			}
			uint64_t t1 = bench_now_ns();
			if (st != 0) {
				if (failures++ < 5)
					fprintf(stderr, "spawn: %s failed: status %d (%s: %s)\n",
						names[v], st, sbx_step_name(serr.step),
						strerror(serr.err));
				continue;
			}
			if (round >= ovals[1])
				samples_add(&s[v], (double)(t1 - t0) / 1000.0);
		}
	}

	double bmed = samples_pct(&s[BARE], 50), bp99 = samples_pct(&s[BARE], 99);
	printf("  %-32s %10s %10s %12s %10s\n", "variant", "median us", "p99 us", "median/bare",
	       "p99/bare");
	for (unsigned v = 0; v < NV; v++) {
		double med = samples_pct(&s[v], 50), p99 = samples_pct(&s[v], 99);
		printf("  %-32s %10.1f %10.1f %12.3f %10.3f\n", names[v], med, p99,
		       bmed > 0 ? med / bmed : 0, bp99 > 0 ? p99 / bp99 : 0);
	}
	bench_result("spawn", "bare_median", bmed, "us", "", 0);
	for (unsigned v = SBX; v <= GW_NET; v++) {
		char metric[64];
		snprintf(metric, sizeof(metric), "%s_ratio", keys[v]);
		bench_result("spawn", metric, samples_pct(&s[v], 50) / bmed, "x", "<=", 1.2);
	}
	if (failures)
		printf("  %d failed spawns\n", failures);

	for (unsigned v = 0; v < NV; v++)
		samples_free(&s[v]);
	close(p_nofs.ruleset_fd);
	sbx_policy_free(p_ro);
	sbx_policy_free(p_net);
	bsbx_fini(&b);
	close(null_fd);
	bench_rm_rf(ws);
	free(ws);
	return failures ? 1 : 0;
}
