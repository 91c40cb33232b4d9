/* startup: how long loading 200 manifests takes: `toolcell check DIR`
 * (parse and validate) and `toolcell serve` until it answers initialize
 * (validate, compile every policy, probe the kernel, start the keeper),
 * against `toolcell --version` (the process alone) and serve with the
 * bundled manifests, interleaved, median of --runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/common.h"

enum { VERSION, CHECK, SERVE_BUNDLED, SERVE_GEN, NV };

/* Runs argv to its exit with stdio on /dev/null; returns ms or -1. */
static double time_exit(char *const argv[], int null_fd)
{
	uint64_t t0 = bench_now_ns();
	pid_t pid = bench_spawn_fds(argv[0], argv, -1, -1, -1, null_fd);
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return (double)(bench_now_ns() - t0) / 1e6;
}

/* Starts serve on manifests and returns ms until initialize is answered. */
static double time_serve(const char *toolcell, const char *manifests, const char *ws)
{
	char *const argv[] = {(char *)toolcell, "serve",    "--manifests", (char *)manifests,
			      "--workspace",	(char *)ws, NULL};
	struct gw_proc g;
	double ms = -1;
	uint64_t t0 = bench_now_ns();

	if (gw_start(&g, argv, NULL) == 0 && gw_handshake(&g) == 0)
		ms = (double)(bench_now_ns() - t0) / 1e6;
	gw_stop(&g);
	return ms;
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--runs", "--manifests-count", NULL};
	unsigned ovals[] = {7, 200};
	static const char *const snames[] = {"--toolcell", "--bundled", NULL};
	const char *svals[] = {NULL, TOOLCELL_SOURCE_DIR "/manifests"};
	static const char *const names[NV] = {
	    [VERSION] = "toolcell --version (the process)",
	    [CHECK] = "toolcell check DIR",
	    [SERVE_BUNDLED] = "serve, bundled, until initialized",
	    [SERVE_GEN] = "serve DIR, until initialized",
	};
	struct samples s[NV] = {0};
	bool smoke = false;
	char *tmp, ws[2048], gen[2048];
	int null_fd, r, failures = 0;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--runs N] [--manifests-count N] [--toolcell PATH] [--bundled DIR] [--smoke]");
	if (smoke)
		ovals[0] = 1;
	const char *toolcell = bench_toolcell(svals[0]);
	tmp = bench_tmpdir("startup");
	if (!tmp)
		return 1;
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	snprintf(gen, sizeof(gen), "%s/manifests", tmp);
	if (mkdir(ws, 0755) < 0 || mkdir(gen, 0755) < 0)
		return 1;
	if ((r = bench_write_manifests(gen, ovals[1])) < 0) {
		fprintf(stderr, "startup: cannot write manifests: %s\n", strerror(-r));
		return 1;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	char *const vargv[] = {(char *)toolcell, "--version", NULL};
	char *const cargv[] = {(char *)toolcell, "check", "--workspace", ws, gen, NULL};

	/* One run of each first, to warm the page cache. */
	for (unsigned round = 0; round < ovals[0] + 1; round++) {
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			double ms = v == VERSION	 ? time_exit(vargv, null_fd)
				    : v == CHECK	 ? time_exit(cargv, null_fd)
				    : v == SERVE_BUNDLED ? time_serve(toolcell, svals[1], ws)
							 : time_serve(toolcell, gen, ws);
			if (ms < 0) {
				if (failures++ < 5)
					fprintf(stderr, "startup: %s failed\n", names[v]);
				continue;
			}
			if (round > 0)
				samples_add(&s[v], ms);
		}
	}
	printf("startup: %u manifests (generated), median of %u runs, interleaved\n", ovals[1],
	       ovals[0]);
	for (unsigned v = 0; v < NV; v++)
		printf("  %-40s %8.1f ms\n", names[v], samples_pct(&s[v], 50));
	double per = (samples_pct(&s[SERVE_GEN], 50) - samples_pct(&s[SERVE_BUNDLED], 50)) /
		     (double)ovals[1];
	printf("  about %.0f us per manifest at serve (compiled), %.0f us at check\n", per * 1000,
	       (samples_pct(&s[CHECK], 50) - samples_pct(&s[VERSION], 50)) / ovals[1] * 1000);
	bench_result("startup", "check_200", samples_pct(&s[CHECK], 50), "ms", "", 0);
	bench_result("startup", "serve_200", samples_pct(&s[SERVE_GEN], 50), "ms", "", 0);
	bench_result("startup", "serve_bundled", samples_pct(&s[SERVE_BUNDLED], 50), "ms", "", 0);

	for (unsigned v = 0; v < NV; v++)
		samples_free(&s[v]);
	close(null_fd);
	bench_rm_rf(tmp);
	free(tmp);
	return failures ? 1 : 0;
}
