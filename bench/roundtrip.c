/* roundtrip: one complete MCP tools/call of a trivial tool (bench/manifests/
 * true.json: /bin/true under read @system+{workspace}), timed from the
 * request's first byte to the response's last, over stdio and over HTTP
 * (keep-alive, bearer token), against bare posix_spawn+waitpid of /bin/true,
 * interleaved in one run (SPEC §5: within 2x of bare over stdio).
 *
 * Both gateways are started once and initialized; each then serves one
 * request at a time, so a call never waits for another.
 *
 * Twice: back to back (--iterations rounds), and spaced out (--spaced rounds,
 * each request --gap-ms after the previous answer), the way an agent calls
 * tools. Some kernel paths are cheap only while they stay busy (the RCU sync
 * behind a cgroup migration, for one), so the two can differ a lot. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/common.h"

enum { BARE, STDIO, HTTP, NV };

static const char *const names[NV] = {
    [BARE] = "bare posix_spawn+waitpid",
    [STDIO] = "MCP tools/call over stdio",
    [HTTP] = "MCP tools/call over HTTP",
};

struct rig {
	struct gw_proc g;
	struct http_conn hc;
	int null_fd;
	int errors;
	unsigned http_id;
};

/* rounds x every variant, the first `warmup` rounds not recorded; sleeps
 * gap_ms before every request. */
static void measure(struct rig *rig, unsigned rounds, unsigned warmup, unsigned gap_ms,
		    struct samples s[NV])
{
	char *const targv[] = {"/bin/true", NULL};
	char req[256];

	for (unsigned round = 0; round < rounds + warmup; round++) {
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			const char *resp = NULL;
			size_t len = 0;
			bool ok = false;
			uint64_t t0, t1;

			if (gap_ms)
				usleep(gap_ms * 1000);
			t0 = bench_now_ns();
			if (v == BARE) {
				ok = bare_spawn_wait("/bin/true", targv, rig->null_fd) == 0;
				t1 = bench_now_ns();
			} else if (v == STDIO) {
				int id = rig->g.next_id++;
				snprintf(req, sizeof(req),
					 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
					 "\"params\":{\"name\":\"true\",\"arguments\":{}}}",
					 id);
				ssize_t n = gw_send(&rig->g, req) < 0
						? -EPIPE
						: gw_recv_id(&rig->g, id, &resp, 30000);
				t1 = bench_now_ns();
				ok = n > 0 && bench_call_ok(resp, (size_t)n);
			} else {
				int status = 0;
				snprintf(req, sizeof(req),
					 "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"tools/call\","
					 "\"params\":{\"name\":\"true\",\"arguments\":{}}}",
					 rig->http_id++);
				int r = http_post(&rig->hc, req, &status, &resp, &len);
				t1 = bench_now_ns();
				ok = r == 0 && status == 200 && bench_call_ok(resp, len);
			}
			if (!ok) {
				if (rig->errors++ < 5)
					fprintf(stderr, "roundtrip: %s failed: %.*s\n", names[v],
						resp ? (int)(len ? len : strlen(resp)) : 0,
						resp ? resp : "");
				continue;
			}
			if (round >= warmup)
				samples_add(&s[v], (double)(t1 - t0) / 1000.0);
		}
	}
}

/* Prints the table; returns the median of bare. */
static double report(struct samples s[NV])
{
	double bmed = samples_pct(&s[BARE], 50), bp99 = samples_pct(&s[BARE], 99);

	printf("  %-32s %10s %10s %12s %10s\n", "variant", "median us", "p99 us", "median/bare",
	       "p99/bare");
	for (unsigned v = 0; v < NV; v++) {
		double med = samples_pct(&s[v], 50), p99 = samples_pct(&s[v], 99);
		printf("  %-32s %10.1f %10.1f %12.3f %10.3f\n", names[v], med, p99,
		       bmed > 0 ? med / bmed : 0, bp99 > 0 ? p99 / bp99 : 0);
	}
	fflush(stdout);
	return bmed;
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--iterations", "--warmup", "--spaced", "--gap-ms",
					     NULL};
	unsigned ovals[] = {1000, 20, 60, 50};
	static const char *const snames[] = {"--toolcell", "--manifests", NULL};
	const char *svals[] = {NULL, TOOLCELL_SOURCE_DIR "/bench/manifests"};
	bool smoke = false;
	struct samples s[NV] = {0}, sp[NV] = {0};
	struct rig rig = {.hc = {.fd = -1}, .http_id = 2};
	char *tmp, ws[2048], log[4096];
	const char *token;
	unsigned port;
	pid_t hpid = -1;
	int r;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--iterations N] [--warmup N] [--spaced N] [--gap-ms N] [--toolcell PATH] "
		   "[--manifests DIR] [--smoke]");
	if (smoke) {
		ovals[0] = 10;
		ovals[1] = 2;
		ovals[2] = 2;
		ovals[3] = 10;
	}
	const char *toolcell = bench_toolcell(svals[0]);
	tmp = bench_tmpdir("roundtrip");
	if (!tmp)
		return 1;
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	snprintf(log, sizeof(log), "%s/stdio.log", tmp);
	if (mkdir(ws, 0755) < 0)
		return 1;
	rig.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	char *const sargv[] = {(char *)toolcell, "serve", "--manifests", (char *)svals[1],
			       "--workspace",	 ws,	  NULL};
	if ((r = gw_start(&rig.g, sargv, log)) < 0 || (r = gw_handshake(&rig.g)) < 0) {
		fprintf(stderr, "roundtrip: stdio gateway: %s (log: %s)\n", strerror(-r), log);
		return 1;
	}
	if ((r = http_gw_start(&hpid, &port, &token, toolcell, svals[1], ws, tmp)) < 0 ||
	    (r = http_connect(&rig.hc, port, token)) < 0 || (r = http_handshake(&rig.hc)) < 0) {
		fprintf(stderr, "roundtrip: HTTP gateway: %s\n", strerror(-r));
		return 1;
	}

	printf("roundtrip: tools/call \"true\" (/bin/true), %u iterations per variant after %u "
	       "warm-up, interleaved, back to back\n",
	       ovals[0], ovals[1]);
	fflush(stdout);
	measure(&rig, ovals[0], ovals[1], 0, s);
	double bmed = report(s);
	long stdio_rss = proc_rss_kib(rig.g.pid), http_rss = proc_rss_kib(hpid);

	printf("  spaced out: %u iterations per variant, each request %u ms after the previous "
	       "answer\n",
	       ovals[2], ovals[3]);
	fflush(stdout);
	measure(&rig, ovals[2], 1, ovals[3], sp);
	double spmed = report(sp);

	printf("  gateway RSS after the runs: stdio %ld KiB, HTTP %ld KiB; errors: %d\n", stdio_rss,
	       http_rss, rig.errors);
	bench_result("roundtrip", "bare_median", bmed, "us", "", 0);
	bench_result("roundtrip", "stdio_ratio", samples_pct(&s[STDIO], 50) / bmed, "x", "<=", 2.0);
	bench_result("roundtrip", "http_ratio", samples_pct(&s[HTTP], 50) / bmed, "x", "", 0);
	bench_result("roundtrip", "spaced_stdio_ratio", samples_pct(&sp[STDIO], 50) / spmed, "x",
		     "<=", 2.0);
	bench_result("roundtrip", "spaced_http_ratio", samples_pct(&sp[HTTP], 50) / spmed, "x", "",
		     0);
	bench_result("roundtrip", "errors", rig.errors, "", "<=", 0);

	http_close(&rig.hc);
	http_gw_stop(hpid);
	gw_stop(&rig.g);
	for (unsigned v = 0; v < NV; v++) {
		samples_free(&s[v]);
		samples_free(&sp[v]);
	}
	close(rig.null_fd);
	bench_rm_rf(tmp);
	free(tmp);
	return rig.errors ? 1 : 0;
}
