/* throughput: trivial sandboxed calls per second over HTTP with 16
 * concurrent clients (SPEC §5: at least 1,000/s on 2 cores, no error, no
 * leaked fd or process).
 *
 * Each client is a thread with its own keep-alive connection and MCP session
 * that sends tools/call "true" and waits for the answer, back to back, for
 * --seconds. The load client is measured too (its CPU time over the wall
 * time): it must not be what limits the rate. After the run the gateway's
 * descriptors and children are counted again and compared with before. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/common.h"

struct client {
	pthread_t th;
	unsigned port;
	const char *token;
	struct samples lat; /* microseconds */
	unsigned errors;
	int setup; /* 0 or -errno */
	char first_error[256];
};

static pthread_barrier_t ready;
static atomic_bool stop;

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct http_conn hc = {.fd = -1};
	char req[256];
	unsigned id = 2;

	c->setup = http_connect(&hc, c->port, c->token);
	if (c->setup == 0)
		c->setup = http_handshake(&hc);
	pthread_barrier_wait(&ready);
	if (c->setup < 0) {
		http_close(&hc);
		return NULL;
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		const char *resp = NULL;
		size_t len = 0;
		int status = 0, r;

		snprintf(req, sizeof(req),
			 "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"tools/call\",\"params\":{"
			 "\"name\":\"true\",\"arguments\":{}}}",
			 id++);
		uint64_t t0 = bench_now_ns();
		r = http_post(&hc, req, &status, &resp, &len);
		uint64_t t1 = bench_now_ns();
		if (r < 0 || status != 200 || !bench_call_ok(resp, len)) {
			if (!c->errors++)
				snprintf(c->first_error, sizeof(c->first_error),
					 "%s, HTTP %d: %.*s", r < 0 ? strerror(-r) : "ok", status,
					 resp ? (int)(len > 200 ? 200 : len) : 0, resp ? resp : "");
			if (r < 0)
				break; /* the connection is gone */
			continue;
		}
		samples_add(&c->lat, (double)(t1 - t0) / 1000.0);
	}
	http_close(&hc);
	return NULL;
}

/* Busy and total CPU time of the whole machine so far (/proc/stat), seconds. */
static void machine_cpu(double *busy, double *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "re");

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		double hz = (double)sysconf(_SC_CLK_TCK);
		for (int i = 0; i < 8; i++)
			*total += (double)v[i] / hz;
		*busy = *total - (double)(v[3] + v[4]) / hz; /* minus idle and iowait */
	}
	fclose(f);
}

static double rusage_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--clients", "--seconds", NULL};
	unsigned ovals[] = {16, 5};
	static const char *const snames[] = {"--toolcell", "--manifests", NULL};
	const char *svals[] = {NULL, TOOLCELL_SOURCE_DIR "/bench/manifests"};
	bool smoke = false;
	char *tmp, ws[2048];
	const char *token;
	unsigned port, nclients;
	pid_t hpid;
	int r;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--clients N] [--seconds N] [--toolcell PATH] [--manifests DIR] [--smoke]");
	if (smoke) {
		ovals[0] = 4;
		ovals[1] = 1;
	}
	nclients = ovals[0];
	const char *toolcell = bench_toolcell(svals[0]);
	tmp = bench_tmpdir("throughput");
	if (!tmp)
		return 1;
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	if (mkdir(ws, 0755) < 0)
		return 1;
	if ((r = http_gw_start(&hpid, &port, &token, toolcell, svals[1], ws, tmp)) < 0) {
		fprintf(stderr, "throughput: HTTP gateway: %s\n", strerror(-r));
		return 1;
	}

	struct client *cl = calloc(nclients, sizeof(*cl));
	if (!cl)
		return 1;
	pthread_barrier_init(&ready, NULL, nclients + 1);
	for (unsigned i = 0; i < nclients; i++) {
		cl[i].port = port;
		cl[i].token = token;
		if (pthread_create(&cl[i].th, NULL, client_main, &cl[i]) != 0) {
			fprintf(stderr, "throughput: pthread_create failed\n");
			return 1;
		}
	}
	/* Every client is connected and initialized here. */
	pthread_barrier_wait(&ready);
	int fds0 = proc_count_fds(hpid), kids0 = proc_count_children(hpid);
	long rss0 = proc_rss_kib(hpid);
	double gcpu0 = proc_cpu_s(hpid), ccpu0 = rusage_s(), mbusy0, mtotal0, mbusy1, mtotal1;
	machine_cpu(&mbusy0, &mtotal0);
	uint64_t t0 = bench_now_ns();
	usleep(ovals[1] * 1000000u);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < nclients; i++)
		pthread_join(cl[i].th, NULL);
	uint64_t t1 = bench_now_ns();
	double gcpu1 = proc_cpu_s(hpid), ccpu1 = rusage_s();
	machine_cpu(&mbusy1, &mtotal1);
	long rss1 = proc_rss_kib(hpid);
	/* Connections are closed now; give the gateway a moment to notice. */
	usleep(300000);
	int fds1 = proc_count_fds(hpid), kids1 = proc_count_children(hpid);

	struct samples all = {0};
	unsigned errors = 0, setup_failed = 0;
	for (unsigned i = 0; i < nclients; i++) {
		for (size_t k = 0; k < cl[i].lat.n; k++)
			samples_add(&all, cl[i].lat.v[k]);
		errors += cl[i].errors;
		if (cl[i].setup < 0) {
			setup_failed++;
			fprintf(stderr, "throughput: client %u could not start: %s\n", i,
				strerror(-cl[i].setup));
		}
		if (cl[i].errors)
			fprintf(stderr, "throughput: client %u: %u errors, first: %s\n", i,
				cl[i].errors, cl[i].first_error);
		samples_free(&cl[i].lat);
	}
	errors += setup_failed;
	double wall = (double)(t1 - t0) / 1e9;
	double rate = (double)all.n / wall;
	printf("throughput: %u clients (own keep-alive connection and session each), %.1f s, "
	       "tools/call \"true\" over HTTP\n",
	       nclients, wall);
	printf("  calls %zu, %.0f calls/s, errors %u\n", all.n, rate, errors);
	printf("  latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", samples_pct(&all, 50) / 1000.0,
	       samples_pct(&all, 99) / 1000.0, samples_pct(&all, 100) / 1000.0);
	printf("  CPU: gateway %.2f cores, load client %.2f cores, whole machine %.2f busy of %ld "
	       "(%.0f us of CPU per call, everything included)\n",
	       (gcpu1 - gcpu0) / wall, (ccpu1 - ccpu0) / wall, (mbusy1 - mbusy0) / wall,
	       sysconf(_SC_NPROCESSORS_ONLN), all.n ? (mbusy1 - mbusy0) / (double)all.n * 1e6 : 0);
	printf("  gateway: fds %d before, %d after (connections closed); children %d before, %d "
	       "after; RSS %ld -> %ld KiB\n",
	       fds0, fds1, kids0, kids1, rss0, rss1);
	bench_result("throughput", "calls_per_s", rate, "1/s", ">=", 1000);
	bench_result("throughput", "p50", samples_pct(&all, 50) / 1000.0, "ms", "", 0);
	bench_result("throughput", "p99", samples_pct(&all, 99) / 1000.0, "ms", "", 0);
	bench_result("throughput", "errors", errors, "", "<=", 0);
	bench_result("throughput", "client_cpu", (ccpu1 - ccpu0) / wall, "cores", "", 0);
	/* With the clients gone, the gateway holds no more than before. */
	bench_result("throughput", "leaked_fds", fds1 > fds0 ? fds1 - fds0 : 0, "", "<=", 0);
	bench_result("throughput", "leaked_children", kids1 > kids0 ? kids1 - kids0 : 0, "",
		     "<=", 0);

	samples_free(&all);
	free(cl);
	http_gw_stop(hpid);
	bench_rm_rf(tmp);
	free(tmp);
	return errors ? 1 : 0;
}
