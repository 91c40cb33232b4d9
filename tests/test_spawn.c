/* Confinement tests for sandbox/spawn.c and the policy it applies: each test
 * spawns the probe (tests/probe.c) through sbx_spawn under a real Landlock
 * ruleset and the real seccomp filter, lets it try one forbidden thing, and
 * asserts the exact outcome ("EACCES", killed by SIGSYS, ...), with a positive
 * control beside it that shows the same probe under the same policy can do the
 * allowed neighbour of that thing (STYLE 14).
 *
 * Every test gets a fresh tree under /tmp, so the suite passes as root and as
 * an unprivileged user alike:
 *
 *   base/secret        outside every grant
 *   base/ws/           granted read+write (the workspace); ws/file
 *   base/ws2/secret    a sibling whose name has the workspace's as a prefix
 *   base/ro/           granted read only; ro/file, ro/true (a copy of /bin/true)
 *   base/bin/          granted read+exec; bin/probe, bin/true
 *
 * The probe is copied into bin/ rather than granted where the build put it, so
 * no grant covers more than the tree, and the tree needs nothing from /work. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/seccomp.h>

#include "sandbox/features.h"
#include "sandbox/landlock.h"
#include "sandbox/policy.h"
#include "sandbox/seccomp.h"
#include "sandbox/spawn.h"

/* How long one probe may take before the test kills it and fails. */
#define PROBE_TIMEOUT_MS 10000

static struct sbx_features features;
static struct sbx_filter filter;
static char unsupported[512]; /* non-empty: the kernel cannot run tools */

/* The same child steps with a filter that allows everything: what the probe
 * gets without the real filter, to show that an errno came from the filter
 * and not from missing capabilities or Landlock. */
static struct sock_filter allow_insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
static const struct sbx_filter allow_all = {.prog = {.len = 1, .filter = &allow_insn}};

struct tree {
	char base[64];
};

/* "<base>/<rel>" in one of a ring of static buffers, so a test can name a few
 * paths in one call. */
static char *tp(const struct tree *t, const char *rel)
{
	static char bufs[16][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 16];

	snprintf(b, PATH_MAX, "%s/%s", t->base, rel);
	return b;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (in < 0 || out < 0)
		print_error("cannot copy %s to %s: %s\n", from, to, strerror(errno));
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int setup_tree(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	strcpy(t->base, "/tmp/toolcell-spawn-XXXXXX");
	assert_non_null(mkdtemp(t->base));
	assert_int_equal(mkdir(tp(t, "ws"), 0755), 0);
	assert_int_equal(mkdir(tp(t, "ws2"), 0755), 0);
	assert_int_equal(mkdir(tp(t, "ro"), 0755), 0);
	assert_int_equal(mkdir(tp(t, "bin"), 0755), 0);
	write_file(tp(t, "secret"), "secret\n", 0600);
	write_file(tp(t, "ws2/secret"), "secret\n", 0600);
	write_file(tp(t, "ws/file"), "data\n", 0644);
	write_file(tp(t, "ro/file"), "data\n", 0644);
	copy_file("/bin/true", tp(t, "ro/true"), 0755);
	copy_file("/bin/true", tp(t, "bin/true"), 0755);
	copy_file(TOOLCELL_PROBE, tp(t, "bin/probe"), 0755);
	*state = t;
	return 0;
}

static int teardown_tree(void **state)
{
	struct tree *t = *state;

	/* Every leader was reaped by sbx_child_reap; what is left is orphans. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (t && t->base[0])
		nftw(t->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static int setup_group(void **state)
{
	char err[512] = "";
	int r;

	(void)state;
	/* Orphans of the probes (the daemon test's grandchild) come to us
	 * rather than to pid 1, which in a container may never reap them: the
	 * test can then see exactly how they died. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		print_error("PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return -1;
	}
	sbx_features_probe(&features);
	sbx_features_probe_userns(&features);
	if (sbx_policy_supported(&features, err, sizeof(err)) < 0) {
		snprintf(unsupported, sizeof(unsupported), "%s", err);
		return 0;
	}
	r = sbx_filter_compile(&filter, 0);
	if (r < 0) {
		print_error("sbx_filter_compile: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	sbx_filter_free(&filter);
	return 0;
}

/* Fail closed is tested elsewhere; here a kernel that cannot confine means
 * there is nothing to test. */
static void require_support(void)
{
	if (unsupported[0]) {
		print_message("skipped: %s\n", unsupported);
		skip();
	}
}

/* RLIMIT_NPROC counts every task (thread) of the real uid; root is exempt. */
static unsigned long tasks_of_uid(void)
{
	unsigned long n = 0;
	struct dirent *de;
	DIR *d;

	if (getuid() == 0)
		return 0;
	d = opendir("/proc");
	assert_non_null(d);
	while ((de = readdir(d))) {
		char task[300];
		struct stat st;
		DIR *td;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || st.st_uid != getuid())
			continue;
		snprintf(task, sizeof(task), "/proc/%s/task", de->d_name);
		td = opendir(task);
		if (!td)
			continue;
		for (struct dirent *te; (te = readdir(td));)
			if (te->d_name[0] != '.')
				n++;
		closedir(td);
	}
	closedir(d);
	return n;
}

/* The grants a manifest with read ["@system", ro], exec ["@system", bin] and
 * write [ws] gets; the @system split is the one gateway/manifest.c makes.
 * The caller owns the result (sbx_policy_free). */
static struct sbx_policy *tree_policy(const struct tree *t, const struct sbx_limits *limits)
{
	struct sbx_path_grant g[2 * 64 + 3];
	struct sbx_policy *p = NULL;
	char err[512] = "";
	size_t nsys, n = 0;
	const struct sbx_path_grant *sys = sbx_system_paths(&nsys);
	static char ws[PATH_MAX], ro[PATH_MAX], bin[PATH_MAX];
	int r;

	assert_true(nsys <= 64);
	for (size_t i = 0; i < nsys; i++) {
		if (sys[i].access & ~SBX_EXEC)
			g[n++] = (struct sbx_path_grant){sys[i].path, sys[i].access & ~SBX_EXEC,
							 "grants.read[0]", true};
		if (sys[i].access & SBX_EXEC)
			g[n++] = (struct sbx_path_grant){sys[i].path, sys[i].access & SBX_EXEC,
							 "grants.exec[0]", true};
	}
	snprintf(ws, sizeof(ws), "%s", tp(t, "ws"));
	snprintf(ro, sizeof(ro), "%s", tp(t, "ro"));
	snprintf(bin, sizeof(bin), "%s", tp(t, "bin"));
	g[n++] = (struct sbx_path_grant){ws, SBX_WRITE, "grants.write[0]", false};
	g[n++] = (struct sbx_path_grant){ro, SBX_READ, "grants.read[1]", false};
	g[n++] = (struct sbx_path_grant){bin, SBX_READ | SBX_EXEC, "grants.exec[1]", false};
	r = sbx_policy_new(&features, g, n, NULL, limits, &filter, &p, err, sizeof(err));
	if (r < 0)
		print_error("sbx_policy_new: %s (%s)\n", err, strerror(-r));
	assert_int_equal(r, 0);
	return p;
}

struct spawn_opts {
	const char *file;		 /* NULL: bin/probe */
	char *const *envp;		 /* NULL: an empty environment */
	const struct sbx_filter *filter; /* NULL: the real filter */
	const struct sbx_limits *limits; /* NULL: sbx_limits_default */
	bool kill_via_pidfd;
	int ruleset_abi; /* 0: the policy's ruleset; else the same rules built for this ABI */
	int stdin_fd;	 /* 0: a fresh pipe; otherwise passed as is (borrowed) */
	/* After the leader exited: the group is killed once this returns true
	 * (called again as more output arrives). */
	bool (*before_kill)(const char *out, void *arg);
	void *arg;
};

struct run {
	int rc; /* sbx_spawn's */
	struct sbx_spawn_error serr;
	int status; /* wait status of the leader */
	char out[8192], err[8192];
	size_t outlen, errlen;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends what fd has to buf; returns false at EOF. Overflow is dropped. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
	char scratch[4096];
	ssize_t n;

	if (*len + 1 < cap)
		n = read(fd, buf + *len, cap - 1 - *len);
	else
		n = read(fd, scratch, sizeof(scratch));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (*len + 1 < cap)
		*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/* Spawns the program under the tree's policy, collects stdout and stderr until
 * the leader has exited, kills the whole call (as the gateway does at the end
 * of every call), reads the pipes to EOF and reaps. */
static void spawn_run(const struct tree *t, const struct spawn_opts *o, char *const argv[],
		      struct run *r)
{
	static char *const no_env[] = {NULL};
	const struct sbx_limits *lim = o->limits ? o->limits : &sbx_limits_default;
	struct sbx_policy *p = tree_policy(t, lim);
	char file[PATH_MAX];
	int in[2], out[2], err[2];
	struct sbx_child child = {.pid = -1, .pidfd = -1};
	int ruleset = p->ruleset_fd;
	bool leader_done = false, killed = false, timed_out = false;
	long long deadline;

	memset(r, 0, sizeof(*r));
	snprintf(file, sizeof(file), "%s", o->file ? o->file : tp(t, "bin/probe"));
	if (o->ruleset_abi) {
		ruleset = sbx_landlock_ruleset(o->ruleset_abi, p->rules, p->nrules, NULL);
		assert_true(ruleset >= 0);
	}
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);

	struct sbx_spawn_req req = {
	    .file = file,
	    .argv = argv,
	    .envp = o->envp ? o->envp : no_env,
	    .cwd = NULL,
	    .stdin_fd = o->stdin_fd ? o->stdin_fd : in[0],
	    .stdout_fd = out[1],
	    .stderr_fd = err[1],
	    .ruleset_fd = ruleset,
	    .filter = o->filter ? o->filter : &filter,
	    .limits = lim,
	    .nproc_base = tasks_of_uid(),
	    .keeper_fd = -1,
	    .cgroup_procs_fd = -1,
	};
	r->rc = sbx_spawn(&req, &child, &r->serr);
	close(in[0]);
	close(in[1]);
	close(out[1]);
	close(err[1]);
	if (ruleset != p->ruleset_fd)
		close(ruleset);
	sbx_policy_free(p);
	if (r->rc < 0) {
		close(out[0]);
		close(err[0]);
		return;
	}

	struct pollfd pf[3] = {
	    {.fd = out[0], .events = POLLIN},
	    {.fd = err[0], .events = POLLIN},
	    {.fd = child.pidfd, .events = POLLIN},
	};
	deadline = now_ms() + PROBE_TIMEOUT_MS;
	for (;;) {
		long long left;
		int n;

		if (leader_done && !killed && (!o->before_kill || o->before_kill(r->out, o->arg))) {
			sbx_child_kill(&child, o->kill_via_pidfd);
			killed = true;
		}
		if (killed && pf[0].fd < 0 && pf[1].fd < 0)
			break;
		left = deadline - now_ms();
		n = poll(pf, 3, left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0) {
			/* A hung probe, or a descendant that outlived the kill
			 * and holds a pipe open: either is a failure. */
			timed_out = true;
			if (killed) {
				/* Once more by group, so a failing run leaves
				 * nothing behind. */
				sbx_child_kill(&child, false);
				break;
			}
			sbx_child_kill(&child, o->kill_via_pidfd);
			killed = true;
			deadline = now_ms() + 1000;
			continue;
		}
		if (pf[0].revents && !drain(out[0], r->out, sizeof(r->out), &r->outlen))
			pf[0].fd = -1;
		if (pf[1].revents && !drain(err[0], r->err, sizeof(r->err), &r->errlen))
			pf[1].fd = -1;
		if (pf[2].revents) {
			leader_done = true;
			pf[2].fd = -1;
		}
	}
	close(out[0]);
	close(err[0]);
	assert_int_equal(sbx_child_reap(&child, &r->status), 0);
	assert_int_equal(child.pidfd, -1);
	if (timed_out)
		print_error("probe %s timed out; stdout \"%s\" stderr \"%s\"\n", argv[1], r->out,
			    r->err);
	assert_false(timed_out);
}

static void show_run(const char *const argv[], const struct run *r)
{
	print_error("probe");
	for (size_t i = 1; argv[i]; i++)
		print_error(" %s", argv[i]);
	if (r->rc == -ECHILD)
		print_error(": spawn failed at %s: %s\n", sbx_step_name(r->serr.step),
			    strerror(r->serr.err));
	else
		print_error(": rc %d status %#x stdout \"%s\" stderr \"%s\"\n", r->rc, r->status,
			    r->out, r->err);
}

/* Runs the probe and asserts its exact stdout and the matching exit status
 * (0 after "ok", 1 after an errno name). */
static void expect_probe_at(const struct tree *t, const struct spawn_opts *o, const char *want,
			    char *const argv[], const char *file, int line)
{
	static const struct spawn_opts none;
	struct run r;

	spawn_run(t, o ? o : &none, argv, &r);
	if (r.rc != 0 || strcmp(r.out, want) != 0)
		show_run((const char *const *)argv, &r);
	_assert_int_equal(r.rc, 0, file, line);
	_assert_string_equal(r.out, want, file, line);
	_assert_true(WIFEXITED(r.status), "WIFEXITED", file, line);
	_assert_int_equal(WEXITSTATUS(r.status), strncmp(want, "ok", 2) == 0 ? 0 : 1, file, line);
}

#define ARGV(...) ((char *const[]){"probe", __VA_ARGS__, NULL})
/* Under the real policy. */
#define expect_probe(t, want, ...)                                                                 \
	expect_probe_at(t, NULL, want, ARGV(__VA_ARGS__), __FILE__, __LINE__)
/* Under the same rules built for Landlock ABI 5: no scopes. */
#define expect_unscoped(t, want, ...)                                                              \
	expect_probe_at(t, &(struct spawn_opts){.ruleset_abi = 5}, want, ARGV(__VA_ARGS__),        \
			__FILE__, __LINE__)
/* Under the same Landlock policy and child steps, but an allow-all filter. */
#define expect_unfiltered(t, want, ...)                                                            \
	expect_probe_at(t, &(struct spawn_opts){.filter = &allow_all}, want, ARGV(__VA_ARGS__),    \
			__FILE__, __LINE__)

static char *num(long v)
{
	static char bufs[8][24];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, 24, "%ld", v);
	return b;
}

/* ---- files ---- */

static void test_read(void **state)
{
	struct tree *t = *state;

	require_support();
	expect_probe(t, "ok\n", "read", tp(t, "ws/file"));
	expect_probe(t, "ok\n", "read", tp(t, "ro/file"));
	expect_probe(t, "EACCES\n", "read", tp(t, "secret"));
	/* A real secret of the system, readable by uid 0 even without
	 * capabilities (owner root, mode 0640): only Landlock stops a root
	 * gateway's tool from reading it. */
	if (access("/etc/shadow", F_OK) == 0)
		expect_probe(t, "EACCES\n", "read", "/etc/shadow");
	/* Directories: listing needs read_dir on the directory itself. */
	expect_probe(t, "ok\n", "read", tp(t, "ws"));
	expect_probe(t, "EACCES\n", "read", t->base);
}

static void test_write(void **state)
{
	struct tree *t = *state;

	require_support();
	expect_probe(t, "ok\n", "write", tp(t, "ws/new"));
	expect_probe(t, "ok\n", "write", tp(t, "ws/file"));
	expect_probe(t, "EACCES\n", "write", tp(t, "ro/new"));
	expect_probe(t, "EACCES\n", "write", tp(t, "ro/file"));
	expect_probe(t, "EACCES\n", "write", tp(t, "new"));
	expect_probe(t, "ok\n", "mkdir", tp(t, "ws/dir"));
	expect_probe(t, "EACCES\n", "mkdir", tp(t, "ro/dir"));
	/* The denied attempts left nothing behind. */
	assert_int_equal(access(tp(t, "ro/new"), F_OK), -1);
	assert_int_equal(access(tp(t, "new"), F_OK), -1);
}

static void test_truncate_unlink(void **state)
{
	struct tree *t = *state;
	struct stat st;

	require_support();
	expect_probe(t, "EACCES\n", "truncate", tp(t, "ro/file"));
	assert_int_equal(stat(tp(t, "ro/file"), &st), 0);
	assert_int_equal(st.st_size, 5);
	expect_probe(t, "ok\n", "truncate", tp(t, "ws/file"));
	assert_int_equal(stat(tp(t, "ws/file"), &st), 0);
	assert_int_equal(st.st_size, 0);

	expect_probe(t, "EACCES\n", "unlink", tp(t, "ro/file"));
	expect_probe(t, "EACCES\n", "unlink", tp(t, "secret"));
	assert_int_equal(access(tp(t, "ro/file"), F_OK), 0);
	expect_probe(t, "ok\n", "unlink", tp(t, "ws/file"));
	assert_int_equal(access(tp(t, "ws/file"), F_OK), -1);
}

static void test_rename_link(void **state)
{
	struct tree *t = *state;

	require_support();
	assert_int_equal(mkdir(tp(t, "ws/sub"), 0755), 0);
	/* Within the write grant, across directories too (refer is granted). */
	expect_probe(t, "ok\n", "rename", tp(t, "ws/file"), tp(t, "ws/moved"));
	expect_probe(t, "ok\n", "rename", tp(t, "ws/moved"), tp(t, "ws/sub/file"));
	expect_probe(t, "ok\n", "link", tp(t, "ws/sub/file"), tp(t, "ws/hard"));
	/* Out of the write grant into a read-only directory: the destination
	 * lacks make_reg, which Landlock reports as EACCES (EXDEV is kept for a
	 * missing refer right alone). */
	expect_probe(t, "EACCES\n", "rename", tp(t, "ws/hard"), tp(t, "ro/moved"));
	expect_probe(t, "EACCES\n", "rename", tp(t, "ws/hard"), tp(t, "moved"));
	/* Into the workspace from outside it. */
	expect_probe(t, "EACCES\n", "rename", tp(t, "ro/file"), tp(t, "ws/stolen"));
	expect_probe(t, "EACCES\n", "rename", tp(t, "secret"), tp(t, "ws/stolen"));
	/* A hard link would make the secret reachable beneath the workspace,
	 * where reading it is allowed. The workspace may make files and the
	 * source directory is only missing refer: Landlock says EXDEV. */
	expect_probe(t, "EXDEV\n", "link", tp(t, "secret"), tp(t, "ws/stolen"));
	expect_probe(t, "EXDEV\n", "link", tp(t, "ro/file"), tp(t, "ws/stolen"));
	expect_probe(t, "EXDEV\n", "link", tp(t, "ws2/secret"), tp(t, "ws/stolen"));
	assert_int_equal(access(tp(t, "ws/stolen"), F_OK), -1);
	assert_int_equal(access(tp(t, "ro/moved"), F_OK), -1);
	assert_int_equal(access(tp(t, "secret"), F_OK), 0);
}

static void test_path_tricks(void **state)
{
	struct tree *t = *state;

	require_support();
	/* ".." is resolved by the kernel; Landlock sees the inode it reaches. */
	expect_probe(t, "ok\n", "read", tp(t, "ws/../ws/file"));
	expect_probe(t, "EACCES\n", "read", tp(t, "ws/../secret"));
	expect_probe(t, "EACCES\n", "read", tp(t, "ws/../../../../../../..") /* "/" */);
	/* A symlink inside the workspace is followed to where it points. */
	assert_int_equal(symlink(tp(t, "ws/file"), tp(t, "ws/to-file")), 0);
	assert_int_equal(symlink(tp(t, "secret"), tp(t, "ws/to-secret")), 0);
	assert_int_equal(symlink("../secret", tp(t, "ws/rel-secret")), 0);
	expect_probe(t, "ok\n", "read", tp(t, "ws/to-file"));
	expect_probe(t, "EACCES\n", "read", tp(t, "ws/to-secret"));
	expect_probe(t, "EACCES\n", "read", tp(t, "ws/rel-secret"));
	/* Grants are inodes, not string prefixes: ws2 is not beneath ws. */
	expect_probe(t, "EACCES\n", "read", tp(t, "ws2/secret"));
	expect_probe(t, "EACCES\n", "write", tp(t, "ws2/new"));
}

/* The probe execs in place, so success is /bin/true's silent exit 0. */
static void expect_exec_ok(const struct tree *t, char *path)
{
	struct run r;

	spawn_run(t, &(struct spawn_opts){0}, ARGV("exec", path), &r);
	if (r.rc != 0 || r.out[0] || r.status != 0)
		show_run((const char *const *)ARGV("exec", path), &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
}

static void test_exec(void **state)
{
	struct tree *t = *state;

	require_support();
	/* The same binary, readable in both places, executable in one. */
	expect_exec_ok(t, tp(t, "bin/true"));
	expect_exec_ok(t, "/bin/true"); /* @system exec */
	expect_probe(t, "EACCES\n", "exec", tp(t, "ro/true"));
	expect_probe(t, "ok\n", "read", tp(t, "ro/true"));
	/* The workspace is writable, not executable: a tool cannot drop a
	 * binary there and run it. */
	copy_file("/bin/true", tp(t, "ws/true"), 0755);
	expect_probe(t, "EACCES\n", "exec", tp(t, "ws/true"));
}

/* ---- sockets ---- */

static bool host_has_socket(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void test_sockets(void **state)
{
	struct tree *t = *state;
	static const char *const denied[][2] = {
	    {"inet", "stream"},	  {"inet", "dgram"},   {"inet6", "stream"}, {"inet6", "dgram"},
	    {"netlink", "dgram"}, {"packet", "dgram"}, {"vsock", "stream"}, {"alg", "stream"},
	};

	require_support();
	/* Unix sockets too (the connect tests below say why); socketpair stays. */
	expect_probe(t, "EAFNOSUPPORT\n", "socket", "unix", "stream");
	expect_probe(t, "EAFNOSUPPORT\n", "socket", "unix", "dgram");
	expect_unfiltered(t, "ok\n", "socket", "unix", "stream");
	expect_probe(t, "ok\n", "socketpair");
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		expect_probe(t, "EAFNOSUPPORT\n", "socket", (char *)denied[i][0],
			     (char *)denied[i][1]);
	/* Without the filter an IP socket can be created (Landlock only
	 * stops TCP bind and connect): the EAFNOSUPPORT above is the filter's.
	 * Only where this kernel has the family at all. */
	if (host_has_socket(AF_INET, SOCK_DGRAM))
		expect_unfiltered(t, "ok\n", "socket", "inet", "dgram");
	if (host_has_socket(AF_INET6, SOCK_STREAM))
		expect_unfiltered(t, "ok\n", "socket", "inet6", "stream");
	if (host_has_socket(AF_NETLINK, SOCK_DGRAM))
		expect_unfiltered(t, "ok\n", "socket", "netlink", "dgram");
}

/* A listening unix stream socket at path, or abstract when it starts with
 * '@'. Returns the fd (close-on-exec; the caller closes it). */
static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(n < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
			 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* Abstract sockets of processes outside the call. The filter refuses the
 * socket; with the filter off (the control), the ABI 6 scope still refuses
 * the connect; with both off, the connect reaches the test. */
static void test_unix_connect_abstract(void **state)
{
	struct tree *t = *state;
	char abstract[64];
	int abs_fd;

	require_support();
	snprintf(abstract, sizeof(abstract), "@toolcell-spawn-%d", (int)getpid());
	abs_fd = listen_unix(abstract);
	expect_probe(t, "EAFNOSUPPORT\n", "connect", abstract);
	expect_unfiltered(t, "EPERM\n", "connect", abstract);
	expect_probe_at(t, &(struct spawn_opts){.filter = &allow_all, .ruleset_abi = 5}, "ok\n",
			ARGV("connect", abstract), __FILE__, __LINE__);
	close(abs_fd);
}

/* A named socket outside every grant: think /run/docker.sock, the system
 * bus, or the user's session bus (systemd --user starts any command for
 * whoever can talk to it). Landlock up to ABI 7 has no right for connect(2)
 * to a socket inode, so the filter refuses socket(2) itself; the control
 * shows that without the filter the connect would get through. */
static void test_unix_connect_named_outside(void **state)
{
	struct tree *t = *state;
	int outside;

	require_support();
	outside = listen_unix(tp(t, "sock"));
	expect_probe(t, "EAFNOSUPPORT\n", "connect", tp(t, "sock"));
	expect_unfiltered(t, "ok\n", "connect", tp(t, "sock"));
	close(outside);
}

/* ---- seccomp ---- */

static void test_seccomp_namespaces(void **state)
{
	struct tree *t = *state;

	require_support();
	expect_probe(t, "EPERM\n", "unshare");
	expect_probe(t, "EPERM\n", "clone-newuser");
	expect_probe(t, "EPERM\n", "clone-newns");
	/* clone3 hides its flags from seccomp: ENOSYS so libc falls back to
	 * clone. Without the filter this call is merely malformed. */
	expect_probe(t, "ENOSYS\n", "clone3");
	expect_unfiltered(t, "EINVAL\n", "clone3");
	/* Without the filter a user namespace needs no privilege at all, so
	 * the EPERMs above are the filter's. */
	if (features.user_namespaces == 1) {
		expect_unfiltered(t, "ok\n", "unshare");
		expect_unfiltered(t, "ok\n", "clone-newuser");
	}
}

static bool io_uring_enabled(void)
{
	char v[8] = "";
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");

	if (!f)
		return true; /* before Linux 6.6 there was no switch */
	if (!fgets(v, sizeof(v), f))
		v[0] = '\0';
	fclose(f);
	return strcmp(v, "0\n") == 0;
}

static void test_seccomp_denied(void **state)
{
	struct tree *t = *state;

	require_support();
	/* Without capabilities these would fail with EPERM anyway (mount;
	 * userfaultfd without user-mode-only; ptrace, which Landlock also
	 * confines to the call's own domain), so they have no control here:
	 * the filter is what stops them for a gateway that kept capabilities
	 * or a tool that found a way into a user namespace. */
	expect_probe(t, "EPERM\n", "mount");
	expect_probe(t, "EPERM\n", "userfaultfd");
	expect_probe(t, "EPERM\n", "ptrace", num(getpid()));
	/* These the filter alone refuses: without it each call is answered,
	 * and its malformed arguments rejected, by the kernel. */
	expect_probe(t, "EPERM\n", "bpf");
	expect_unfiltered(t, "EINVAL\n", "bpf");
	expect_probe(t, "EPERM\n", "keyctl");
	expect_unfiltered(t, "EINVAL\n", "keyctl");
	expect_probe(t, "EPERM\n", "io_uring");
	/* io_uring_setup(1, NULL) faults on its NULL params, unless the
	 * administrator turned io_uring off (kernel.io_uring_disabled). */
	if (io_uring_enabled())
		expect_unfiltered(t, "EFAULT\n", "io_uring");
	/* personality(2) may be queried, not changed. */
	expect_probe(t, "EPERM\n", "personality");
	expect_probe(t, "ok\n", "personality-query");
	expect_unfiltered(t, "ok\n", "personality");
}

static void test_seccomp_session(void **state)
{
	struct tree *t = *state;

	require_support();
	/* The probe leads its session (the child's setsid), so its own setsid
	 * fails either way; a child of it shows what the filter does. */
	expect_probe(t, "EPERM\n", "setsid");
	expect_probe(t, "EPERM\n", "setsid-child");
	expect_unfiltered(t, "ok\n", "setsid-child");
}

static void expect_sigsys(const struct tree *t, const char *what)
{
	struct run r;

	/* Without the filter the call is answered (or refused) normally; a
	 * kernel without the 32-bit entry point answers int 0x80 with SIGSEGV,
	 * and then there is nothing for the filter to stop. */
	spawn_run(t, &(struct spawn_opts){.filter = &allow_all}, ARGV((char *)what), &r);
	assert_int_equal(r.rc, 0);
	if (WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV) {
		print_message("%s: this kernel has no such entry point\n", what);
		return;
	}
	assert_false(WIFSIGNALED(r.status));

	spawn_run(t, &(struct spawn_opts){0}, ARGV((char *)what), &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGSYS)
		show_run((const char *const *)ARGV((char *)what), &r);
	assert_int_equal(r.rc, 0);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGSYS);
	assert_string_equal(r.out, "");
}

static void test_seccomp_foreign_abi(void **state)
{
	struct tree *t = *state;

	require_support();
#if defined(__x86_64__)
	expect_sigsys(t, "x32");
	expect_sigsys(t, "i386");
#else
	skip();
#endif
}

/* ---- signals ---- */

static void test_signal_scope(void **state)
{
	struct tree *t = *state;

	require_support();
	/* kill(pid, 0) checks permission and nothing else. The test process is
	 * outside the call's Landlock domain (ABI 6 scope); the probe's own
	 * process group is inside it. */
	expect_probe(t, "EPERM\n", "kill", num(getpid()));
	expect_probe(t, "EPERM\n", "kill", "1");
	expect_probe(t, "ok\n", "kill", "0");
	/* Without the scope the same uid may signal the test: the EPERM above
	 * is Landlock's, not the kernel's uid check. */
	expect_unscoped(t, "ok\n", "kill", num(getpid()));
}

/* ---- privileges, descriptors, environment, limits ---- */

/* What the gateway can drop: everything when it has anything (root, or any
 * capability); an unprivileged gateway has nothing to drop but cannot empty
 * its bounding set either (that needs CAP_SETPCAP); no_new_privs then keeps
 * file capabilities from ever filling the other sets from it. */
static int expected_bnd0(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	assert_int_equal(syscall(__NR_capget, &h, d), 0);
	/* The bounding set can only be emptied with CAP_SETPCAP; without it,
	 * the empty permitted set plus no_new_privs is what holds. */
	if (d[0].effective & (1U << CAP_SETPCAP))
		return 0;
	return prctl(PR_CAPBSET_READ, 0, 0, 0, 0);
}

static void test_privileges(void **state)
{
	struct tree *t = *state;
	char want[128];

	require_support();
	expect_probe(t, "ok 1\n", "nnp");
	snprintf(want, sizeof(want), "ok eff=000000000 prm=000000000 inh=000000000 bnd0=%d\n",
		 expected_bnd0());
	expect_probe(t, want, "caps");
}

static void test_fds(void **state)
{
	struct tree *t = *state;
	int leak = open("/dev/null", O_RDONLY); /* deliberately inheritable */
	int high;

	require_support();
	assert_true(leak >= 3);
	high = fcntl(leak, F_DUPFD, 200); /* also inheritable, far above the pipes */
	assert_true(high >= 200);
	expect_probe(t, "ok 0 1 2\n", "fds");
	close(high);
	close(leak);
}

static void test_env(void **state)
{
	struct tree *t = *state;
	char *const env[] = {"A=1", NULL};

	require_support();
	assert_int_equal(setenv("TOOLCELL_SPAWN_TEST_LEAK", "1", 1), 0);
	expect_probe_at(t, &(struct spawn_opts){.envp = env}, "ok A=1\n", ARGV("env"), __FILE__,
			__LINE__);
	expect_probe(t, "ok\n", "env");
	unsetenv("TOOLCELL_SPAWN_TEST_LEAK");
}

static void test_rlimits(void **state)
{
	struct tree *t = *state;
	const struct sbx_limits lim = {
	    .timeout_s = 10,
	    .cpu_s = 7,
	    .memory_mb = 300,
	    .processes = 20,
	    .open_files = 50,
	    .file_size_mb = 3,
	    .output_kb = 64,
	};
	const struct spawn_opts o = {.limits = &lim};

	require_support();
	expect_probe_at(t, &o, "ok 50\n", ARGV("rlimit", "nofile"), __FILE__, __LINE__);
	expect_probe_at(t, &o, "ok 314572800\n", ARGV("rlimit", "as"), __FILE__, __LINE__);
	expect_probe_at(t, &o, "ok 0\n", ARGV("rlimit", "core"), __FILE__, __LINE__);
	expect_probe_at(t, &o, "ok 3145728\n", ARGV("rlimit", "fsize"), __FILE__, __LINE__);
	expect_probe_at(t, &o, "ok 7\n", ARGV("rlimit", "cpu"), __FILE__, __LINE__);
	/* The control: other limits give other values, so these are the
	 * limits' and not some inherited ceiling. */
	expect_probe(t, "ok 256\n", "rlimit", "nofile");
}

/* RLIMIT_NPROC is the only thing bounding a call's processes: the leader
 * counts as one, so processes = 1 leaves no room for a fork. The kernel
 * exempts uid 0 from RLIMIT_NPROC whether or not it has capabilities, so
 * under a root gateway this version does not enforce `processes` (README,
 * explain and the open sandbox issue say so; a pids cgroup or a per-call
 * unprivileged uid will). As root the test is skipped, loudly. */
static void test_rlimit_nproc(void **state)
{
	struct tree *t = *state;
	struct sbx_limits one = sbx_limits_default, two = sbx_limits_default;

	require_support();
	if (getuid() == 0) {
		fprintf(stderr, "SKIPPED: processes is not enforced for a root gateway in this "
				"version (RLIMIT_NPROC exempts uid 0)\n");
		skip();
	}
	one.processes = 1;
	two.processes = 2;
	expect_probe_at(t, &(struct spawn_opts){.limits = &two}, "ok\n", ARGV("fork"), __FILE__,
			__LINE__);
	expect_probe_at(t, &(struct spawn_opts){.limits = &one}, "EAGAIN\n", ARGV("fork"), __FILE__,
			__LINE__);
}

/* ---- process tree ---- */

static pid_t parse_daemon_pid(const char *out)
{
	int pid = 0;
	char nl = 0;

	if (sscanf(out, "ok %d%c", &pid, &nl) != 2 || nl != '\n')
		return -1;
	return pid;
}

/* The positive control: the grandchild did outlive its parents (it is our
 * unreaped child now, see setup_group), so its death afterwards is the
 * kill's doing. Waits for its line if it is not there yet. */
static bool daemon_alive(const char *out, void *arg)
{
	pid_t pid = parse_daemon_pid(out);
	int status;

	if (pid <= 0)
		return false;
	*(pid_t *)arg = pid;
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	return true;
}

static void check_daemon_killed(const struct tree *t, bool via_pidfd)
{
	pid_t pid = -1, w;
	struct run r;
	int status = 0;
	long long until;

	spawn_run(t,
		  &(struct spawn_opts){
		      .kill_via_pidfd = via_pidfd, .before_kill = daemon_alive, .arg = &pid},
		  ARGV("daemon"), &r);
	assert_int_equal(r.rc, 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_true(pid > 0);
	assert_int_equal(parse_daemon_pid(r.out), pid);
	/* SIGKILL is delivered at once, but the exit runs in the target's
	 * context: allow it a moment. */
	until = now_ms() + 1000;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < until)
		usleep(10 * 1000);
	if (w != pid)
		print_error("grandchild %d survived the call\n", (int)pid);
	assert_int_equal(w, pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_daemon_killed(void **state)
{
	struct tree *t = *state;

	require_support();
	check_daemon_killed(t, false);
	if (features.pidfd_group_signal)
		check_daemon_killed(t, true);
}

/* ---- spawn failures ---- */

static void test_spawn_failures(void **state)
{
	struct tree *t = *state;
	struct run r;

	require_support();
	spawn_run(t, &(struct spawn_opts){.file = tp(t, "bin/missing")}, ARGV("nnp"), &r);
	assert_int_equal(r.rc, -ECHILD);
	assert_int_equal(r.serr.step, SBX_STEP_EXEC);
	assert_int_equal(r.serr.err, ENOENT);
	assert_string_equal(sbx_step_name(r.serr.step), "executing the program");

	/* Readable but not executable under the policy: Landlock, at execve. */
	spawn_run(t, &(struct spawn_opts){.file = tp(t, "ro/true")}, ARGV("nnp"), &r);
	assert_int_equal(r.rc, -ECHILD);
	assert_int_equal(r.serr.step, SBX_STEP_EXEC);
	assert_int_equal(r.serr.err, EACCES);

	/* stdio must come from descriptors >= 3. */
	spawn_run(t, &(struct spawn_opts){.stdin_fd = 2}, ARGV("nnp"), &r);
	assert_int_equal(r.rc, -ECHILD);
	assert_int_equal(r.serr.step, SBX_STEP_STDIO);
	assert_int_equal(r.serr.err, EBADF);

	/* The control: the same request with the probe starts. */
	expect_probe(t, "ok 1\n", "nnp");
}

/* Spawns queued faster than the spawners clone them; the later half is
 * cancelled at once. A cancelled spawn that was not cloned yet never runs
 * (-ECANCELED, no process); one already cloned completes normally. The first
 * half, the control, all start. */
static void test_spawn_queue_cancel(void **state)
{
	enum { N = 24 };
	static char *const no_env[] = {NULL};
	struct tree *t = *state;
	struct sbx_policy *p;
	struct sbx_spawn_op *op[N];
	struct sbx_spawn_error serr;
	int null_fd, cancelled = 0;
	char file[PATH_MAX];

	require_support();
	p = tree_policy(t, &sbx_limits_default);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(null_fd >= 0);
	snprintf(file, sizeof(file), "%s", tp(t, "bin/probe"));
	struct sbx_spawn_req req = {
	    .file = file,
	    .argv = ARGV("nnp"),
	    .envp = no_env,
	    .stdin_fd = null_fd,
	    .stdout_fd = null_fd,
	    .stderr_fd = null_fd,
	    .ruleset_fd = p->ruleset_fd,
	    .filter = &filter,
	    .limits = &sbx_limits_default,
	    .nproc_base = tasks_of_uid() + N,
	    .keeper_fd = -1,
	    .cgroup_procs_fd = -1,
	};
	for (int i = 0; i < N; i++)
		assert_int_equal(sbx_spawn_start(&req, &op[i], &serr), 0);
	for (int i = N / 2; i < N; i++)
		sbx_spawn_cancel(op[i]);
	for (int i = 0; i < N; i++) {
		struct sbx_child child;
		int status = -1;

		while (!sbx_spawn_ready(op[i])) {
			struct pollfd pf = {.fd = sbx_spawn_fd(op[i]), .events = POLLIN};
			assert_true(poll(&pf, 1, PROBE_TIMEOUT_MS) == 1);
		}
		int rc = sbx_spawn_finish(op[i], &child, &serr);
		if (i >= N / 2 && rc == -ECANCELED) {
			cancelled++;
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(sbx_child_reap(&child, &status), 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_true(cancelled > 0);
	close(null_fd);
	sbx_policy_free(p);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tree, teardown_tree)
	const struct CMUnitTest tests[] = {
	    T(test_read),
	    T(test_write),
	    T(test_truncate_unlink),
	    T(test_rename_link),
	    T(test_path_tricks),
	    T(test_exec),
	    T(test_sockets),
	    T(test_unix_connect_abstract),
	    T(test_unix_connect_named_outside),
	    T(test_seccomp_namespaces),
	    T(test_seccomp_denied),
	    T(test_seccomp_session),
	    T(test_seccomp_foreign_abi),
	    T(test_signal_scope),
	    T(test_privileges),
	    T(test_fds),
	    T(test_env),
	    T(test_rlimits),
	    T(test_rlimit_nproc),
	    T(test_daemon_killed),
	    T(test_spawn_failures),
	    T(test_spawn_queue_cancel),
	};
#undef T

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
