/* syscall: a syscall-bound program (bench_syscall_work: open/read/close,
 * stat, a pipe round trip and getppid in a loop) run bare and inside the
 * sandbox, the same binary, interleaved (SPEC §5: 97% or more of its bare
 * speed). The speed ratio is bare time / sandboxed time, from the whole
 * run (spawn to reap) and from the loop's own clock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "bench/common.h"
#include "bench/sbx.h"

/* One run: a workload mode under one kind of confinement. */
enum kind { BARE, SBX, GW, SECCOMP_ONLY, LANDLOCK_ONLY };

static const struct variant {
	const char *mode; /* of bench_syscall_work */
	enum kind kind;
	const char *name;
} variants[] = {
    {"rw", BARE, "rw: bare"},
    {"rw", SBX, "rw: sbx (Landlock+seccomp+rlimits)"},
    {"rw", GW, "rw: gw (sbx + gateway isolation)"},
    {"open", BARE, "open: bare"},
    {"open", SBX, "open: sbx"},
    {"open", GW, "open: gw"},
    {"open", SECCOMP_ONLY, "open: seccomp, no fs Landlock"},
    {"open", LANDLOCK_ONLY, "open: Landlock, allow-all bpf"},
};
#define NV (sizeof(variants) / sizeof(variants[0]))

/* For the breakdown: a filter that allows everything (the child still loads
 * one), and a Landlock ruleset that handles no file or network right, only
 * the ABI 6 scopes (the child still enforces one). */
static struct sock_filter allow_insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
static const struct sbx_filter allow_all = {.prog = {.len = 1, .filter = &allow_insn}};

static int scope_only_ruleset(void)
{
	struct {
		uint64_t handled_access_fs, handled_access_net, scoped;
	} attr = {.scoped = SBX_LL_SCOPE_ABSTRACT_UNIX_SOCKET | SBX_LL_SCOPE_SIGNAL};

	return (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0U);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	close(in);
	return close(out) < 0 || n < 0 ? -EIO : 0;
}

/* The "ns N" line of the workload, or 0. */
static unsigned long long read_ns(int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	unsigned long long ns = 0;

	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "ns %llu", &ns) != 1)
			ns = 0;
	}
	return ns;
}

int main(int argc, char **argv)
{
	static const char *const onames[] = {"--rounds", "--loop", NULL};
	unsigned ovals[] = {5, 50000};
	static const char *const snames[] = {"--work", NULL};
	const char *svals[] = {TOOLCELL_SYSCALL_WORK};
	bool smoke = false;
	struct bsbx b;
	struct sbx_policy *p = NULL;
	struct samples wall[NV] = {0}, loop[NV] = {0};
	char err[1024], *tmp, ws[2048], bin[2048], work[4096], file[4096], iters[32];
	int null_fd, failures = 0;

	bench_opts(argc, argv, onames, ovals, snames, svals, &smoke,
		   "[--rounds N] [--loop ITERATIONS] [--work PATH] [--smoke]");
	if (smoke) {
		ovals[0] = 1;
		ovals[1] = 2000;
	}
	if (bsbx_init(&b, err, sizeof(err)) < 0) {
		fprintf(stderr, "syscall: %s\n", err);
		return 1;
	}
	tmp = bench_tmpdir("syscall");
	if (!tmp)
		return 1;
	/* The workspace holds the file the loop opens, a few levels down as in a
	 * project tree (Landlock checks every level of the walk); the program is
	 * a copy in a directory of its own, granted read+exec. */
	snprintf(ws, sizeof(ws), "%s/ws", tmp);
	snprintf(bin, sizeof(bin), "%s/bin", tmp);
	snprintf(work, sizeof(work), "%s/bench_syscall_work", bin);
	snprintf(file, sizeof(file), "%s/src/lib/file.c", ws);
	char sub[4096];
	snprintf(sub, sizeof(sub), "%s/src", ws);
	if (mkdir(ws, 0755) < 0 || mkdir(bin, 0755) < 0 || mkdir(sub, 0755) < 0)
		return 1;
	snprintf(sub, sizeof(sub), "%s/src/lib", ws);
	if (mkdir(sub, 0755) < 0)
		return 1;
	FILE *f = fopen(file, "we");
	if (!f)
		return 1;
	for (int i = 0; i < 64; i++)
		fprintf(f, "int line%d;\n", i);
	fclose(f);
	if (copy_file(svals[0], work) < 0) {
		fprintf(stderr, "syscall: cannot copy %s: %s\n", svals[0], strerror(errno));
		return 1;
	}
	if (bsbx_policy(&b, ws, false, bin, NULL, NULL, 0, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "syscall: policy: %s\n", err);
		return 1;
	}
	/* Shallow copies of the policy with one half swapped out. */
	struct sbx_policy p_sec = *p, p_ll = *p;
	p_sec.ruleset_fd = scope_only_ruleset();
	p_ll.filter = &allow_all;
	if (p_sec.ruleset_fd < 0) {
		fprintf(stderr, "syscall: scope-only ruleset: %s\n", strerror(errno));
		return 1;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(iters, sizeof(iters), "%u", ovals[1]);

	printf("syscall: %u loop iterations, %u interleaved rounds per variant (after one to warm "
	       "up)\n"
	       "  rw:   pread, stat, pipe write+read, getppid (5 calls, none checked by Landlock)\n"
	       "  open: open+pread+close, stat, pipe write+read, getppid (7 calls; open is checked "
	       "by Landlock)\n",
	       ovals[1], ovals[0]);
	fflush(stdout);
	for (unsigned round = 0; round < ovals[0] + 1; round++) {
		for (unsigned k = 0; k < NV; k++) {
			unsigned v = (round + k) % NV;
			const struct variant *va = &variants[v];
			char *const wargv[] = {work, (char *)va->mode, iters, file, NULL};
			const struct sbx_policy *pv = va->kind == SECCOMP_ONLY	  ? &p_sec
						      : va->kind == LANDLOCK_ONLY ? &p_ll
										  : p;
			struct sbx_spawn_error serr = {0};
			int out[2], st;

			if (pipe2(out, O_CLOEXEC) < 0)
				return 1;
			uint64_t t0 = bench_now_ns();
			if (va->kind == BARE) {
				pid_t pid =
				    bench_spawn_fds(work, wargv, null_fd, out[1], null_fd, null_fd);
				st = pid < 0 ? pid : 0;
				if (pid > 0 && waitpid(pid, &st, 0) < 0)
					st = -errno;
			} else {
				st = bsbx_run(&b, pv, va->kind == GW, work, wargv, null_fd, out[1],
					      null_fd, &serr);
			}
			uint64_t t1 = bench_now_ns();
			close(out[1]);
			unsigned long long ns = read_ns(out[0]);
			close(out[0]);
			if (st != 0 || !ns) {
				if (failures++ < 5)
					fprintf(stderr, "syscall: %s failed: status %d (%s: %s)\n",
						va->name, st, sbx_step_name(serr.step),
						strerror(serr.err));
				continue;
			}
			/* Round 0 warms the page cache and the dentries. */
			if (round == 0)
				continue;
			samples_add(&wall[v], (double)(t1 - t0) / 1e6);
			samples_add(&loop[v], (double)ns / 1e6);
		}
	}
	printf("  %-36s %10s %10s %12s %12s %8s\n", "variant", "run ms", "loop ms", "speed (run)",
	       "speed (loop)", "ns/iter");
	double bw = 0, bl = 0, speed[NV] = {0};
	for (unsigned v = 0; v < NV; v++) {
		double w = samples_pct(&wall[v], 50), l = samples_pct(&loop[v], 50);
		if (variants[v].kind == BARE) {
			bw = w;
			bl = l;
		}
		speed[v] = w > 0 ? bw / w : 0;
		printf("  %-36s %10.2f %10.2f %12.3f %12.3f %8.0f\n", variants[v].name, w, l,
		       speed[v], l > 0 ? bl / l : 0, l * 1e6 / ovals[1]);
	}
	printf("  (medians; speed = bare time / this variant's time, within the same mode)\n");
	bench_result("syscall", "rw_sbx_speed", speed[1], "x", ">=", 0.97);
	bench_result("syscall", "rw_gw_speed", speed[2], "x", ">=", 0.97);
	bench_result("syscall", "open_sbx_speed", speed[4], "x", ">=", 0.97);
	bench_result("syscall", "open_gw_speed", speed[5], "x", ">=", 0.97);

	for (unsigned v = 0; v < NV; v++) {
		samples_free(&wall[v]);
		samples_free(&loop[v]);
	}
	close(p_sec.ruleset_fd);
	sbx_policy_free(p);
	bsbx_fini(&b);
	close(null_fd);
	bench_rm_rf(tmp);
	free(tmp);
	return failures ? 1 : 0;
}
