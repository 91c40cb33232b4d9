/* redis: a syscall-heavy server run as a tool (SPEC §5: 97% or more of its
 * bare speed). redis-server with a listen grant on one loopback port (the
 * grants a manifest would give it: read and exec @system, write a scratch
 * directory, listen [port]) is driven from outside by redis-benchmark, bare
 * and inside the sandbox, the same binary, variants interleaved round by
 * round. Each round starts a fresh server, waits until it accepts, runs
 * redis-benchmark (SET and GET, 50 clients), and kills the server. The speed
 * is the median over the rounds of the variant's requests/s over bare's in
 * the same round.
 *
 * Every request is a few system calls (epoll_wait, read, write) on sockets
 * Landlock does not check, so what the sandbox costs here is seccomp's fixed
 * cost on each system call's entry; bench_syscall shows the same cost on a
 * loop that does nothing else.
 *
 * Skipped (exit 0) without redis-server and redis-benchmark; bench/run
 * installs them (Debian packages redis-server, redis-tools). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/common.h"
#include "bench/sbx.h"

enum { BARE, SBX, GW, NV };

static const char *const names[NV] = {
    [BARE] = "bare",
    [SBX] = "sbx (Landlock+seccomp+rlimits)",
    [GW] = "gw (sbx + gateway isolation)",
};
static const char *const keys[NV] = {"bare", "sbx", "gw"};

/* A loopback port nothing listens on now. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Waits up to 5 s until 127.0.0.1:port accepts a connection. */
static int wait_listening(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	for (int i = 0; i < 2500; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (r == 0)
			return 0;
		usleep(2000);
	}
	return -ETIMEDOUT;
}

/* Runs redis-benchmark against the port and returns the mean of its tests'
 * requests/s (its --csv lines: "SET","123456.79",...), or a negative errno. */
static double drive(const char *bench, int port, unsigned requests, int null_fd)
{
	char portarg[16], narg[16], out[4096];
	int pipefd[2];
	size_t len = 0;
	ssize_t n;
	int status;

	snprintf(portarg, sizeof(portarg), "%d", port);
	snprintf(narg, sizeof(narg), "%u", requests);
	char *const argv[] = {"redis-benchmark", "-h", "127.0.0.1", "-p", portarg, "-c", "50",
			      "-n", narg, "-t", "set,get", "--csv", NULL};
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = bench_spawn_fds(bench, argv, -1, pipefd[1], -1, null_fd);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return pid;
	}
	while (len < sizeof(out) - 1 && (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) != 0) {
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			len += (size_t)n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EPROTO;

	double sum = 0;
	unsigned tests = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char test[32];
		double rps;
		if (sscanf(line, "\"%31[^\"]\",\"%lf\"", test, &rps) == 2 && rps > 0) {
			sum += rps;
			tests++;
		}
	}
	return tests ? sum / tests : -EPROTO;
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--rounds", "--requests", NULL};
	unsigned ovals[] = {7, 100000};
	static const char *const snames[] = {NULL};
	const char *svals[] = {NULL};
	bool smoke = false;
	struct bsbx b;
	struct sbx_policy *p = NULL;
	struct samples s[NV] = {0}, speed[NV] = {0};
	char err[1024], *ws;
	int null_fd, failures = 0;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--rounds N] [--requests N] [--smoke]");
	if (smoke) {
		ovals[0] = 1;
		ovals[1] = 2000;
	}
	char server_path[256], bench_path[256];
	const char *server = bench_find_exe("redis-server", server_path, sizeof(server_path));
	const char *bench = bench_find_exe("redis-benchmark", bench_path, sizeof(bench_path));
	if (!server || !bench) {
		printf("redis: redis-server or redis-benchmark not found (apt-get install "
		       "redis-server redis-tools); skipped\n");
		return 0;
	}
	int port = free_port();
	if (port < 0 || bsbx_init(&b, err, sizeof(err)) < 0) {
		fprintf(stderr, "redis: %s\n", port < 0 ? strerror(errno) : err);
		return 1;
	}
	ws = bench_tmpdir("redis");
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!ws || null_fd < 0) {
		fprintf(stderr, "redis: cannot create the scratch directory: %s\n", strerror(errno));
		return 1;
	}
	/* As a manifest's grants, compiled once: write the scratch directory
	 * (redis's --dir), listen on the port. */
	uint16_t listen_port = (uint16_t)port;
	if (bsbx_policy(&b, ws, true, NULL, NULL, &listen_port, 1, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "redis: policy: %s\n", err);
		return 1;
	}
	char portarg[16];
	snprintf(portarg, sizeof(portarg), "%d", port);
	/* No persistence, one I/O thread, the scratch directory as its cwd. */
	char *const sargv[] = {"redis-server", "--port", portarg, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--protected-mode", "no",
			       "--io-threads", "1", "--dir", ws, NULL};

	printf("redis: redis-benchmark -c 50 -n %u -t set,get against redis-server on "
	       "127.0.0.1:%d, %u rounds, variants interleaved\n",
	       ovals[1], port, ovals[0]);
	printf("  gateway isolation on this machine: %s\n", bsbx_isolation(&b));
	fflush(stdout);

	/* Round 0 warms up (page cache, the first clone of a profile). */
	for (unsigned round = 0; round <= ovals[0]; round++) {
		double rps_of[NV] = {0}; /* this round's, 0 when it failed */
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			struct sbx_spawn_error serr = {0};
			struct bsbx_call call;
			pid_t pid;
			int r;
			if (v == BARE) {
				pid = bench_spawn_fds(server, sargv, -1, -1, -1, null_fd);
				r = pid < 0 ? (int)pid : 0;
			} else {
				r = bsbx_start(&b, p, v == GW, server, sargv, null_fd, null_fd,
					       null_fd, &call, &serr);
				pid = call.child.pid;
			}
			if (r < 0) {
				fprintf(stderr, "redis: %s: cannot start: %s (%s)\n", names[v],
					strerror(-r), sbx_step_name(serr.step));
				failures++;
				continue;
			}
			r = wait_listening(port);
			double rps = r < 0 ? r : drive(bench, port, ovals[1], null_fd);
			kill(pid, SIGKILL);
			if (v == BARE)
				while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
					;
			else
				(void)bsbx_finish(&b, &call);
			if (rps < 0) {
				fprintf(stderr, "redis: %s: %s\n", names[v],
					r < 0 ? "the server did not listen"
					      : "redis-benchmark failed");
				failures++;
				continue;
			}
			if (round > 0)
				samples_add(&s[v], rps);
			rps_of[v] = rps;
		}
		/* Speed per round, against the bare run of the same round: the
		 * host's speed drifts over a run (±10% here), and a ratio of
		 * neighbours cancels most of it where a ratio of medians
		 * taken minutes apart does not. */
		for (unsigned v = SBX; round > 0 && v < NV; v++)
			if (rps_of[BARE] > 0 && rps_of[v] > 0)
				samples_add(&speed[v], rps_of[v] / rps_of[BARE]);
	}

	double bmed = samples_pct(&s[BARE], 50);
	printf("  %-34s %14s %8s\n", "variant", "requests/s", "speed");
	for (unsigned v = 0; v < NV; v++)
		printf("  %-34s %14.0f %8.3f\n", names[v], samples_pct(&s[v], 50),
		       v == BARE ? 1.0 : samples_pct(&speed[v], 50));
	printf("  (requests/s: medians of the rounds; speed: median over the rounds of this\n"
	       "   variant's requests/s / bare's in the same round)\n");
	bench_result("redis", "bare_rps", bmed, "1/s", "", 0);
	for (unsigned v = SBX; v < NV; v++) {
		char metric[32];
		snprintf(metric, sizeof(metric), "%s_speed", keys[v]);
		bench_result("redis", metric, samples_pct(&speed[v], 50), "x", ">=", 0.97);
	}
	if (failures)
		printf("  %d failed rounds\n", failures);

	for (unsigned v = 0; v < NV; v++) {
		samples_free(&s[v]);
		samples_free(&speed[v]);
	}
	sbx_policy_free(p);
	bsbx_fini(&b);
	close(null_fd);
	bench_rm_rf(ws);
	free(ws);
	return failures ? 1 : 0;
}
