/* memory: the gateway's resident memory (VmRSS of /proc/PID/status) idle
 * with the bundled manifests, idle with 200 generated manifests, and while
 * it serves 10,000 calls of the trivial tool over stdio, sampled every 1,000
 * (SPEC §5: under 8 MiB idle; flat over 10,000 calls).
 *
 * Calls are pipelined, --window at a time, so the run takes seconds; the
 * gateway runs them concurrently, as it would for a busy client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/common.h"

/* Starts a stdio gateway on manifests, initializes it, lets it settle and
 * returns its RSS (the gateway is left running in *g). */
static long idle_rss(struct gw_proc *g, const char *toolcell, const char *manifests, const char *ws,
		     const char *log)
{
	char *const argv[] = {(char *)toolcell, "serve",    "--manifests", (char *)manifests,
			      "--workspace",	(char *)ws, NULL};
	int r;

	if ((r = gw_start(g, argv, log)) < 0 || (r = gw_handshake(g)) < 0) {
		fprintf(stderr, "memory: gateway on %s: %s (log: %s)\n", manifests, strerror(-r),
			log);
		return -1;
	}
	usleep(300000);
	return proc_rss_kib(g->pid);
}

static int send_call(struct gw_proc *g)
{
	char req[256];

	snprintf(req, sizeof(req),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
		 "\"true\",\"arguments\":{}}}",
		 g->next_id++);
	return gw_send(g, req);
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--manifests-count", "--calls", "--every", "--window",
					     NULL};
	unsigned ovals[] = {200, 10000, 1000, 8};
	static const char *const snames[] = {"--toolcell", "--bundled", NULL};
	const char *svals[] = {NULL, TOOLCELL_SOURCE_DIR "/manifests"};
	bool smoke = false;
	struct gw_proc g;
	char *tmp, ws[2048], gen[2048], log[4096];
	long rss_bundled, rss_gen;
	unsigned errors = 0;
	int r;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--manifests-count N] [--calls N] [--every N] [--window N] [--toolcell PATH] "
		   "[--bundled DIR] [--smoke]");
	if (smoke) {
		ovals[0] = 20;
		ovals[1] = 200;
		ovals[2] = 50;
	}
	const char *toolcell = bench_toolcell(svals[0]);
	tmp = bench_tmpdir("memory");
	if (!tmp)
		return 1;
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	snprintf(gen, sizeof(gen), "%s/manifests", tmp);
	snprintf(log, sizeof(log), "%s/gateway.log", tmp);
	if (mkdir(ws, 0755) < 0 || mkdir(gen, 0755) < 0)
		return 1;
	/* n generated manifests, the trivial tool among them. */
	if ((r = bench_write_manifests(gen, ovals[0] - 1)) < 0 ||
	    (r = bench_write_true_manifest(gen)) < 0) {
		fprintf(stderr, "memory: cannot write manifests: %s\n", strerror(-r));
		return 1;
	}

	rss_bundled = idle_rss(&g, toolcell, svals[1], ws, log);
	gw_stop(&g);
	if (rss_bundled < 0) {
		bench_rm_rf(tmp);
		return 1;
	}
	rss_gen = idle_rss(&g, toolcell, gen, ws, log);
	if (rss_gen < 0) {
		gw_stop(&g);
		bench_rm_rf(tmp);
		return 1;
	}

	printf("memory: gateway VmRSS (stdio)\n");
	printf("  idle, the bundled manifests    %6ld KiB  (%s)\n", rss_bundled, svals[1]);
	printf("  idle, %4u manifests            %6ld KiB\n", ovals[0], rss_gen);
	printf("  %u calls of \"true\", %u in flight; RSS every %u:\n", ovals[1], ovals[3],
	       ovals[2]);
	fflush(stdout);

	unsigned sent = 0, done = 0;
	long first = -1, last = -1, lo = -1, hi = -1;
	uint64_t t0 = bench_now_ns();
	while (sent < ovals[3] && sent < ovals[1]) {
		if (send_call(&g) < 0)
			break;
		sent++;
	}
	while (done < sent) {
		const char *line;
		ssize_t n = gw_recv_line(&g, &line, 30000);
		if (n < 0) {
			fprintf(stderr, "memory: gateway: %s\n", strerror((int)-n));
			errors++;
			break;
		}
		if (bench_line_id(line) < 0)
			continue; /* a notification */
		done++;
		if (!bench_call_ok(line, (size_t)n) && errors++ < 3)
			fprintf(stderr, "memory: call failed: %.200s\n", line);
		if (sent < ovals[1] && send_call(&g) == 0)
			sent++;
		if (done % ovals[2] == 0) {
			long rss = proc_rss_kib(g.pid);
			printf("    after %6u calls  %6ld KiB\n", done, rss);
			fflush(stdout);
			if (first < 0)
				first = rss;
			last = rss;
			lo = lo < 0 || rss < lo ? rss : lo;
			hi = rss > hi ? rss : hi;
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	printf("  %u calls in %.1f s (%.0f/s); errors %u; RSS from the first sample to the last "
	       "%+ld KiB (range %ld KiB)\n",
	       done, secs, done / secs, errors, last - first, hi - lo);
	bench_result("memory", "idle_bundled", (double)rss_bundled / 1024.0, "MiB", "<", 8);
	bench_result("memory", "idle_generated", (double)rss_gen / 1024.0, "MiB", "<", 8);
	bench_result("memory", "after_calls", (double)last / 1024.0, "MiB", "", 0);
	bench_result("memory", "growth_over_calls", (double)(last - first), "KiB", "", 0);
	bench_result("memory", "errors", errors, "", "<=", 0);

	gw_stop(&g);
	bench_rm_rf(tmp);
	free(tmp);
	return errors ? 1 : 0;
}
