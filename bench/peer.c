/* peer: for the record, the same /bin/true under bubblewrap
 * (`bwrap --unshare-all --ro-bind / / /bin/true`, Debian's bubblewrap
 * package) next to bare posix_spawn+waitpid and toolcell's sandboxed spawn
 * as the gateway makes it, interleaved in one run. Skipped (exit 0) when
 * bwrap is not installed; bench/run installs it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/common.h"
#include "bench/sbx.h"

enum { BARE, GW, BWRAP, NV };

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--iterations", "--warmup", NULL};
	unsigned ovals[] = {500, 20};
	static const char *const snames[] = {"--bwrap", NULL};
	const char *svals[] = {NULL};
	static const char *const names[NV] = {
	    [BARE] = "bare posix_spawn+waitpid",
	    [GW] = "toolcell (as the gateway spawns)",
	    [BWRAP] = "bwrap --unshare-all --ro-bind / /",
	};
	bool smoke = false;
	struct bsbx b;
	struct sbx_policy *p = NULL;
	struct samples s[NV] = {0};
	char err[1024], *ws;
	int null_fd, failures = 0;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--iterations N] [--warmup N] [--bwrap PATH] [--smoke]");
	if (smoke) {
		ovals[0] = 5;
		ovals[1] = 1;
	}
	char path[256];
	const char *bwrap = svals[0] ? (access(svals[0], X_OK) == 0 ? svals[0] : NULL)
				     : bench_find_exe("bwrap", path, sizeof(path));
	if (!bwrap) {
		printf("peer: bwrap not found (apt-get install bubblewrap); skipped\n");
		return 0;
	}
	if (bsbx_init(&b, err, sizeof(err)) < 0) {
		fprintf(stderr, "peer: %s\n", err);
		return 1;
	}
	ws = bench_tmpdir("peer");
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!ws || bsbx_policy(&b, ws, false, NULL, NULL, NULL, 0, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "peer: policy: %s\n", err);
		return 1;
	}
	char *const targv[] = {"/bin/true", NULL};
	char *const bargv[] = {(char *)bwrap, "--unshare-all", "--ro-bind", "/",
			       "/",	      "/bin/true",     NULL};

	for (unsigned round = 0; round < ovals[0] + ovals[1]; round++) {
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			struct sbx_spawn_error serr = {0};
			uint64_t t0 = bench_now_ns();
			int st;
			if (v == BARE)
				st = bare_spawn_wait(targv[0], targv, null_fd);
			else if (v == GW)
				st = bsbx_run(&b, p, true, targv[0], targv, null_fd, null_fd,
					      null_fd, &serr);
			else
				st = bare_spawn_wait(bwrap, bargv, null_fd);
			uint64_t t1 = bench_now_ns();
			if (st != 0) {
				if (failures++ < 5)
					fprintf(stderr, "peer: %s failed: status %d\n", names[v],
						st);
				continue;
			}
			if (round >= ovals[1])
				samples_add(&s[v], (double)(t1 - t0) / 1000.0);
		}
	}
	printf("peer: /bin/true, %u iterations per variant after %u warm-up, interleaved\n",
	       ovals[0], ovals[1]);
	double bmed = samples_pct(&s[BARE], 50);
	printf("  %-36s %10s %10s %12s\n", "variant", "median us", "p99 us", "median/bare");
	for (unsigned v = 0; v < NV; v++) {
		double med = samples_pct(&s[v], 50);
		printf("  %-36s %10.1f %10.1f %12.3f\n", names[v], med, samples_pct(&s[v], 99),
		       bmed > 0 ? med / bmed : 0);
	}
	bench_result("peer", "toolcell_ratio", samples_pct(&s[GW], 50) / bmed, "x", "", 0);
	bench_result("peer", "bwrap_ratio", samples_pct(&s[BWRAP], 50) / bmed, "x", "", 0);

	for (unsigned v = 0; v < NV; v++)
		samples_free(&s[v]);
	sbx_policy_free(p);
	bsbx_fini(&b);
	close(null_fd);
	bench_rm_rf(ws);
	free(ws);
	return failures ? 1 : 0;
}
