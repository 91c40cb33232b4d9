/* Tests for sandbox/cgroup.c: where the pids controller is found (pure, from
 * sample texts of real machines), and, with real processes in a real call
 * cgroup, that pids.max bounds a call: a fork bomb stops with EAGAIN at exactly
 * the limit while a positive control with one process fewer runs to the end
 * (STYLE 14).
 *
 * The kernel tests need a pids cgroup the test may create directories in: as
 * root on a machine with cgroup v1 (pids mounted) or v2 (pids in a
 * subtree_control above us); unprivileged users only with a delegated
 * subtree. Without one they are skipped with the reason, and the failure
 * message itself is tested instead. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"

#define PREFIX "no writable pids cgroup: "
#define NOBODY 65534

/* The gateway-wide parent all call tests share, as the gateway would. */
static struct sbx_cgroup_root root;
static char init_err[900]; /* non-empty: why the kernel tests are skipped */
static int init_rc;

static int setup_group(void **state)
{
	(void)state;
	init_rc = sbx_cgroup_init(&root, init_err, sizeof(init_err));
	if (init_rc == 0)
		init_err[0] = '\0';
	else if (!init_err[0])
		snprintf(init_err, sizeof(init_err), "%s", strerror(-init_rc));
	return 0;
}

static int teardown_group(void **state)
{
	int rc = sbx_cgroup_fini(&root);

	(void)state;
	if (rc < 0)
		print_error("sbx_cgroup_fini: %s\n", strerror(-rc));
	return rc < 0 ? -1 : 0;
}

static void require_cgroup(void)
{
	if (init_rc < 0) {
		print_message("skipped: as uid %u, %s\n", (unsigned)getuid(), init_err);
		skip();
	}
}

/* Reads a small file whole; returns its length or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return n < 0 ? -errno : (ssize_t)len;
}

static char *call_file(const struct sbx_cgroup_root *r, const struct sbx_cgroup_call *c,
		       const char *file)
{
	static char bufs[4][PATH_MAX + 64];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX + 64, "%s/%s%s%s", r->path, c->name, file ? "/" : "",
		 file ? file : "");
	return b;
}

static long read_number(const char *path)
{
	char buf[64];
	char *end;
	long v;

	assert_true(slurp(path, buf, sizeof(buf)) > 0);
	v = strtol(buf, &end, 10);
	assert_true(end != buf && *end == '\n');
	return v;
}

/* True when /proc/<pid>/cgroup puts pid in the call's cgroup (the v1 pids
 * line or the v2 line ends with ".../toolcell.N/call.M"). */
static bool in_call(const struct sbx_cgroup_root *r, const struct sbx_cgroup_call *c, pid_t pid)
{
	char path[64], text[4096], want[PATH_MAX];
	const char *base = strrchr(r->path, '/');

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	assert_true(slurp(path, text, sizeof(text)) > 0);
	snprintf(want, sizeof(want), "%s/%s\n", base, c->name);
	return strstr(text, want) != NULL;
}

static void expect_gone(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* ---- locating the controller (pure) ---- */

/* This machine: cgroup v1 with every controller in a hierarchy of its own,
 * plus an empty cgroup2 at /sys/fs/cgroup/unified. */
static const char v1_mountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* Debian 12: the unified hierarchy only, as systemd mounts it. */
static const char v2_mountinfo[] =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

static void expect_place(const char *mountinfo, const char *self, int version, const char *top,
			 const char *dir)
{
	struct sbx_cgroup_place p;
	char err[512] = "";
	int rc = sbx_cgroup_locate(mountinfo, self, &p, err, sizeof(err));

	if (rc < 0)
		print_error("sbx_cgroup_locate: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(p.version, version);
	assert_string_equal(p.top, top);
	assert_string_equal(p.self, dir);
}

static void expect_no_place(const char *mountinfo, const char *self, const char *want)
{
	struct sbx_cgroup_place p = {.version = 42};
	char err[512] = "";

	assert_int_equal(sbx_cgroup_locate(mountinfo, self, &p, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, want);
	assert_int_equal(p.version, 42); /* untouched on failure */
}

static void test_locate_v1(void **state)
{
	(void)state;
	expect_place(v1_mountinfo, "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/6556\n0::/\n",
		     1, "/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids");
	/* Under systemd's legacy layout, our own cgroup in the pids tree. */
	expect_place(v1_mountinfo, "8:pids:/system.slice/toolcell.service\n0::/\n", 1,
		     "/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids/system.slice/toolcell.service");
	/* Controllers sharing a hierarchy; a name that only starts with pids. */
	expect_place("1 0 0:1 / /cg/a rw - cgroup cgroup rw,pidsx\n"
		     "2 0 0:2 / /cg/b shared:3 master:4 - cgroup cgroup rw,cpu,pids\n",
		     "5:pidsx:/no\n3:cpu,pids:/a\n", 1, "/cg/b", "/cg/b/a");
	/* A container's bind mount of its own subtree: the mount root is our
	 * cgroup, which the container then sees at the mount point. */
	expect_place("1 0 0:1 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
		     "3:pids:/docker/abc/sub\n", 1, "/sys/fs/cgroup/pids",
		     "/sys/fs/cgroup/pids/sub");
	/* An escaped space in the mount point. */
	expect_place("1 0 0:1 / /mnt/cg\\040x rw - cgroup cgroup rw,pids\n", "3:pids:/\n", 1,
		     "/mnt/cg x", "/mnt/cg x");
}

static void test_locate_v2(void **state)
{
	(void)state;
	expect_place(v2_mountinfo, "0::/user.slice/user-1000.slice/session-2.scope\n", 2,
		     "/sys/fs/cgroup", "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope");
	/* A container with a private cgroup namespace: we are at its root. */
	expect_place(v2_mountinfo, "0::/\n", 2, "/sys/fs/cgroup", "/sys/fs/cgroup");
	/* A mount from outside our namespace reads "/.."; the next one is ours. */
	expect_place("1 0 0:1 /.. /old rw - cgroup2 cgroup2 rw\n"
		     "2 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		     "0::/a\n", 2, "/sys/fs/cgroup", "/sys/fs/cgroup/a");
}

static void test_locate_failures(void **state)
{
	(void)state;
	expect_no_place("1 0 0:1 / / rw - ext4 /dev/vda rw\n", "0::/\n",
			PREFIX "neither a cgroup v1 hierarchy with pids nor cgroup2 is mounted "
			       "(/proc/self/mountinfo)");
	expect_no_place("1 0 0:1 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
			"3:pids:/docker/other\n",
			PREFIX "our cgroup /docker/other is outside the cgroup v1 pids hierarchy "
			       "mounted at /sys/fs/cgroup/pids");
	/* /docker/abcd is not below /docker/abc. */
	expect_no_place("1 0 0:1 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
			"3:pids:/docker/abcd\n",
			PREFIX "our cgroup /docker/abcd is outside the cgroup v1 pids hierarchy "
			       "mounted at /sys/fs/cgroup/pids");
	expect_no_place(v1_mountinfo, "0::/\n",
			PREFIX "the cgroup v1 pids hierarchy is mounted at /sys/fs/cgroup/pids "
			       "but /proc/self/cgroup has no line for it");
	expect_no_place(v2_mountinfo, "1:name=systemd:/\n",
			PREFIX "the cgroup v2 hierarchy is mounted at /sys/fs/cgroup but "
			       "/proc/self/cgroup has no line for it");
	/* Truncated lines are not mounts. */
	expect_no_place("1 0 0:1 / /sys/fs/cgroup rw - cgroup2\n", "0::/\n",
			PREFIX "neither a cgroup v1 hierarchy with pids nor cgroup2 is mounted "
			       "(/proc/self/mountinfo)");
}

/* ---- the limit, with real processes ---- */

struct outcome {
	int join;	/* sbx_cgroup_join's return */
	int created;	/* processes created before the first failure */
	int fork_errno; /* errno of that failure, 0 if none failed */
};

/* Blocks until the test closes the other end of `hold`: the process stays
 * alive, and so counted in pids.current, until the test has looked. */
static void __attribute__((noreturn)) linger(int hold_fd)
{
	char b;

	while (read(hold_fd, &b, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* A chain: each process forks the next one, as far as it goes; the last
 * reports how deep the chain got. */
static void __attribute__((noreturn)) chain(int depth, int max, int hold_fd, int rep_fd)
{
	struct outcome o = {.created = depth};
	pid_t k = depth < max ? fork() : 0;

	if (k == 0 && depth < max)
		chain(depth + 1, max, hold_fd, rep_fd);
	if (k < 0 || depth == max) {
		ssize_t w;

		o.fork_errno = k < 0 ? errno : 0;
		w = write(rep_fd, &o, sizeof(o));
		(void)w;
	}
	if (k > 0)
		waitpid(k, NULL, 0);
	linger(hold_fd);
}

/* In a fresh call cgroup with pids.max = max, a forked child joins and tries
 * to create `forks` processes (in a flat loop, or as a chain), reports, and
 * everything stays alive until pids.current has been read. Then all exit, the
 * cgroup is freed and must be gone. */
static void fork_in_call(unsigned max, int forks, bool as_chain, struct outcome *o, long *current)
{
	struct sbx_cgroup_call c;
	int hold[2], rep[2], status;
	char dir[PATH_MAX + 64];
	pid_t pid;

	assert_int_equal(sbx_cgroup_call_new(&root, max, &c), 0);
	snprintf(dir, sizeof(dir), "%s", call_file(&root, &c, NULL));
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct outcome r = {0};
		ssize_t w;

		close(hold[1]);
		close(rep[0]);
		r.join = sbx_cgroup_join(c.procs_fd);
		if (r.join == 0 && as_chain) {
			/* The chain reports itself; we count as its first link. */
			pid_t k = fork();
			if (k == 0)
				chain(1, forks, hold[0], rep[1]);
			if (k < 0) {
				r.fork_errno = errno;
				w = write(rep[1], &r, sizeof(r));
			}
		} else {
			for (int i = 0; r.join == 0 && i < forks; i++) {
				pid_t k = fork();
				if (k == 0)
					linger(hold[0]);
				if (k < 0) {
					r.fork_errno = errno;
					break;
				}
				r.created++;
			}
			w = write(rep[1], &r, sizeof(r));
		}
		(void)w;
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	close(hold[0]);
	close(rep[1]);
	assert_int_equal(read(rep[0], o, sizeof(*o)), (ssize_t)sizeof(*o));
	close(rep[0]);
	*current = read_number(call_file(&root, &c, "pids.current"));
	assert_true(in_call(&root, &c, pid));
	close(hold[1]); /* every process of the call now exits */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sbx_cgroup_call_free(&root, &c), 0);
	assert_int_equal(c.procs_fd, -1);
	assert_string_equal(c.name, "");
	expect_gone(dir);
}

/* pids.max = 8: the joined process and 7 children fit; a fork bomb's 9th
 * process is refused with EAGAIN, flat or as a chain of descendants. */
static void test_fork_bomb(void **state)
{
	struct outcome o;
	long current;

	(void)state;
	require_cgroup();

	/* The positive control: 7 processes more than the joined one. */
	fork_in_call(8, 7, false, &o, &current);
	assert_int_equal(o.join, 0);
	assert_int_equal(o.created, 7);
	assert_int_equal(o.fork_errno, 0);
	assert_int_equal(current, 8);

	/* The bomb: as many as it can get, out of 1000. */
	fork_in_call(8, 1000, false, &o, &current);
	assert_int_equal(o.join, 0);
	assert_int_equal(o.created, 7);
	assert_int_equal(o.fork_errno, EAGAIN);
	assert_int_equal(current, 8);

	/* Descendants of descendants count as well: the joined process, the
	 * chain's first link and 6 more; the 9th fork fails. */
	fork_in_call(8, 1000, true, &o, &current);
	assert_int_equal(o.created, 7);
	assert_int_equal(o.fork_errno, EAGAIN);
	assert_int_equal(current, 8);
	/* Its control: a chain of 7 links stops by itself. */
	fork_in_call(8, 7, true, &o, &current);
	assert_int_equal(o.created, 7);
	assert_int_equal(o.fork_errno, 0);
	assert_int_equal(current, 8);
}

static void test_pids_max(void **state)
{
	struct sbx_cgroup_call a, b;
	char text[64];
	char *fa;

	(void)state;
	require_cgroup();
	assert_int_equal(sbx_cgroup_call_new(&root, 8, &a), 0);
	assert_int_equal(sbx_cgroup_call_new(&root, 65536, &b), 0);
	assert_string_not_equal(a.name, b.name);
	assert_true(a.procs_fd > 2 && b.procs_fd > 2);
	assert_int_equal(fcntl(a.procs_fd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(fcntl(a.procs_fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	assert_true(slurp(call_file(&root, &a, "pids.max"), text, sizeof(text)) > 0);
	assert_string_equal(text, "8\n");
	assert_true(slurp(call_file(&root, &b, "pids.max"), text, sizeof(text)) > 0);
	assert_string_equal(text, "65536\n");
	/* Nothing has joined yet. */
	assert_int_equal(read_number(call_file(&root, &a, "pids.current")), 0);
	fa = strdup(call_file(&root, &a, NULL));
	assert_non_null(fa);
	assert_int_equal(sbx_cgroup_call_free(&root, &a), 0);
	expect_gone(fa);
	free(fa);
	assert_int_equal(sbx_cgroup_call_free(&root, &b), 0);
	/* Freeing again, or nothing, is a no-op. */
	assert_int_equal(sbx_cgroup_call_free(&root, &b), 0);
	assert_int_equal(sbx_cgroup_call_free(&root, NULL), 0);

	/* A limit of 0 would let the leader join and nothing else; refused. */
	memset(&a, 0x55, sizeof(a));
	assert_int_equal(sbx_cgroup_call_new(&root, 0, &a), -EINVAL);
	assert_int_equal(a.procs_fd, 0x55555555); /* untouched on failure */
}

/* The spawn child joins from a CLONE_VM|CLONE_VFORK child, after it may have
 * given up root for a mapped uid: the kernel checks the opener's credentials,
 * which were the gateway's. Both are done here, with vfork and setresuid. */
static void test_join(void **state)
{
	struct sbx_cgroup_call c;
	int hold[2], status;
	pid_t pid;

	(void)state;
	require_cgroup();
	assert_int_equal(sbx_cgroup_join(-1), -EBADF);

	assert_int_equal(sbx_cgroup_call_new(&root, 4, &c), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = vfork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char *const argv[] = {"cat", NULL};
		static char *const envp[] = {NULL};
		int r = sbx_cgroup_join(c.procs_fd);

		if (r < 0)
			_exit(100 + (-r & 0x3f));
		/* cat blocks on stdin until the test closes the pipe. */
		if (dup2(hold[0], 0) < 0)
			_exit(99);
		execve("/bin/cat", argv, envp);
		_exit(98);
	}
	close(hold[0]);
	assert_true(in_call(&root, &c, pid));
	assert_int_equal(read_number(call_file(&root, &c, "pids.current")), 1);
	close(hold[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sbx_cgroup_call_free(&root, &c), 0);

	if (getuid() != 0) {
		print_message("not root: the join after dropping to uid %d is not tried\n", NOBODY);
		return;
	}
	assert_int_equal(sbx_cgroup_call_new(&root, 4, &c), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(hold[1]);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(99);
		if (sbx_cgroup_join(c.procs_fd) < 0)
			_exit(100);
		linger(hold[0]);
	}
	close(hold[0]);
	/* Wait for the join (or the child's failure) without a second pipe:
	 * until then the child is not in the cgroup. */
	for (int i = 0; i < 2000 && !in_call(&root, &c, pid); i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("child exited with status %#x before joining", status);
		usleep(1000);
	}
	assert_true(in_call(&root, &c, pid));
	assert_int_equal(read_number(call_file(&root, &c, "pids.current")), 1);
	close(hold[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sbx_cgroup_call_free(&root, &c), 0);
}

/* A process that outlives its call keeps the cgroup: free reports it (after
 * its brief wait) and fini removes the leftover once the process is gone. A
 * second parent in one process also shows that a taken name is not reused. */
static void test_free_busy_and_fini(void **state)
{
	struct sbx_cgroup_root r2 = {0};
	struct sbx_cgroup_call c;
	char err[512] = "", dir[PATH_MAX + 64], parent[PATH_MAX], want[64];
	int hold[2], status;
	struct stat st;
	pid_t pid;

	(void)state;
	require_cgroup();
	assert_string_equal(sbx_cgroup_describe(&r2), "no pids cgroup");
	assert_int_equal(sbx_cgroup_fini(&r2), 0);
	assert_int_equal(sbx_cgroup_call_new(&r2, 8, &c), -ENODEV);
	assert_int_equal(sbx_cgroup_init(&r2, err, sizeof(err)), 0);
	/* The group's parent holds toolcell.<pid>: this one gets another name,
	 * toolcell.<pid>.<k>. */
	snprintf(want, sizeof(want), "/toolcell.%d.", (int)getpid());
	assert_string_not_equal(r2.path, root.path);
	assert_int_equal(strncmp(strrchr(r2.path, '/'), want, strlen(want)), 0);
	snprintf(parent, sizeof(parent), "%s", r2.path);

	assert_int_equal(sbx_cgroup_call_new(&r2, 4, &c), 0);
	snprintf(dir, sizeof(dir), "%s", call_file(&r2, &c, NULL));
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(hold[1]);
		if (sbx_cgroup_join(c.procs_fd) < 0)
			_exit(100);
		linger(hold[0]);
	}
	close(hold[0]);
	for (int i = 0; i < 2000 && !in_call(&r2, &c, pid); i++)
		usleep(1000);
	assert_true(in_call(&r2, &c, pid));
	assert_int_equal(sbx_cgroup_call_free(&r2, &c), -EBUSY);
	assert_string_equal(c.name, "");
	assert_int_equal(stat(dir, &st), 0);

	close(hold[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sbx_cgroup_fini(&r2), 0);
	expect_gone(dir);
	expect_gone(parent);
	assert_string_equal(sbx_cgroup_describe(&r2), "no pids cgroup");
	assert_int_equal(sbx_cgroup_fini(&r2), 0);
}

static void test_describe(void **state)
{
	char want[PATH_MAX + 64];
	struct stat st;
	const char *d;

	(void)state;
	require_cgroup();
	d = sbx_cgroup_describe(&root);
	snprintf(want, sizeof(want), "pids cgroup v%d at %s", root.version, root.path);
	assert_string_equal(d, want);
	assert_true(root.version == 1 || root.version == 2);
	snprintf(want, sizeof(want), "/toolcell.%d", (int)getpid());
	assert_non_null(strstr(root.path, want));
	assert_string_equal(strrchr(root.path, '/'), want);
	assert_int_equal(stat(root.path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fcntl(root.dirfd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(fcntl(root.dirfd, F_GETFL) & O_PATH, O_PATH);
	print_message("%s\n", d);
}

/* ---- when no pids cgroup can be used ---- */

struct init_report {
	int rc;
	char err[1000];
};

/* Runs sbx_cgroup_init in a forked child after `prepare` (which returns
 * false when it could not do its part) and brings back rc and err. A child
 * leaves nothing behind it has not removed: fini runs on success. */
static void init_in_child(bool (*prepare)(void), struct init_report *out)
{
	int rep[2], status;
	pid_t pid;

	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct init_report r = {.rc = -EPIPE};
		struct sbx_cgroup_root cr = {0};
		ssize_t w;

		close(rep[0]);
		if (!prepare()) {
			snprintf(r.err, sizeof(r.err), "prepare: %s", strerror(errno));
		} else {
			r.rc = sbx_cgroup_init(&cr, r.err, sizeof(r.err));
			sbx_cgroup_fini(&cr);
		}
		w = write(rep[1], &r, sizeof(r));
		_exit(w == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(rep[1]);
	assert_int_equal(read(rep[0], out, sizeof(*out)), (ssize_t)sizeof(*out));
	close(rep[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static bool become_nobody(void)
{
	return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
	       setresuid(NOBODY, NOBODY, NOBODY) == 0;
}

/* A private mount namespace in which the pids hierarchy is mounted read-only
 * (only for this child; the machine's mount is untouched). */
static bool make_readonly(void)
{
	struct sbx_cgroup_place p;
	char buf[1 << 16], buf2[4096], err[512];

	if (slurp("/proc/self/mountinfo", buf, sizeof(buf)) < 0 ||
	    slurp("/proc/self/cgroup", buf2, sizeof(buf2)) < 0 ||
	    sbx_cgroup_locate(buf, buf2, &p, err, sizeof(err)) < 0)
		return false;
	return unshare(CLONE_NEWNS) == 0 &&
	       mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	       mount(NULL, p.top, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0;
}

/* The failure message, for whatever is unusable here. */
static void check_failure_message(int rc, const char *err)
{
	assert_true(rc < 0);
	assert_int_equal(strncmp(err, PREFIX, strlen(PREFIX)), 0);
	if (rc == -EACCES || rc == -EPERM || rc == -EROFS) {
		char tail[64];

		snprintf(tail, sizeof(tail), " (%s)", strerrorname_np(-rc));
		assert_true(strlen(err) > strlen(tail));
		assert_string_equal(err + strlen(err) - strlen(tail), tail);
	}
}

static void test_init_unusable(void **state)
{
	struct init_report r;
	struct sbx_cgroup_place p;
	char mi[1 << 16], cg[4096], err[512], want[PATH_MAX + 128];

	(void)state;
	if (init_rc < 0) {
		/* This machine (or this uid) has none: its message is the test. */
		print_message("init fails here: %s\n", init_err);
		check_failure_message(init_rc, init_err);
	}
	if (getuid() != 0) {
		/* Without root there is no other uid to become and no mount to
		 * make read-only. */
		if (init_rc < 0)
			return;
		print_message("skipped: init works for uid %u (a delegated cgroup), and only "
			      "root can retry it as uid %d or on a read-only mount\n",
			      (unsigned)getuid(), NOBODY);
		skip();
	}

	/* The gateway started as nobody: the pids hierarchy is there but not
	 * its to write. */
	init_in_child(become_nobody, &r);
	print_message("as uid %d: %s\n", NOBODY, r.err);
	check_failure_message(r.rc, r.err);
	assert_true(slurp("/proc/self/mountinfo", mi, sizeof(mi)) > 0);
	assert_true(slurp("/proc/self/cgroup", cg, sizeof(cg)) > 0);
	if (sbx_cgroup_locate(mi, cg, &p, err, sizeof(err)) == 0 && p.version == 1) {
		assert_int_equal(r.rc, -EACCES);
		snprintf(want, sizeof(want), PREFIX "%s is not writable by uid %d (EACCES)", p.self,
			 NOBODY);
		assert_string_equal(r.err, want);
	}

	/* A read-only cgroup mount, as in an unprivileged container. */
	if (init_rc < 0) {
		print_message("skipped: the read-only case needs a usable hierarchy to spoil\n");
		return;
	}
	init_in_child(make_readonly, &r);
	print_message("read-only: %s\n", r.err);
	assert_int_equal(r.rc, -EROFS);
	check_failure_message(r.rc, r.err);
	if (root.version == 1) {
		assert_int_equal(sbx_cgroup_locate(mi, cg, &p, err, sizeof(err)), 0);
		snprintf(want, sizeof(want), PREFIX "%s is read-only (EROFS)", p.self);
		assert_string_equal(r.err, want);
	}
}

/* The v2 code on this kernel's real cgroup2 mount, whatever the pids
 * controller is bound to: with only the cgroup2 lines of mountinfo, init
 * either works (pids is on v2) or says that cgroup2 does not offer pids. */
static void test_v2_real(void **state)
{
	char mi[1 << 16], cg[4096], only[8192] = "", err[900] = "";
	struct sbx_cgroup_root r2 = {0};
	struct sbx_cgroup_call c;
	size_t used = 0;
	int rc;

	(void)state;
	assert_true(slurp("/proc/self/mountinfo", mi, sizeof(mi)) > 0);
	assert_true(slurp("/proc/self/cgroup", cg, sizeof(cg)) > 0);
	for (char *l = strtok(mi, "\n"); l; l = strtok(NULL, "\n")) {
		if (strstr(l, " - cgroup2 ") && used + strlen(l) + 2 < sizeof(only))
			used += (size_t)sprintf(only + used, "%s\n", l);
	}
	if (!used) {
		print_message("skipped: no cgroup2 mount here\n");
		skip();
	}
	rc = sbx_cgroup_init_from(&r2, only, cg, err, sizeof(err));
	print_message("cgroup2 only: %s\n", rc == 0 ? sbx_cgroup_describe(&r2) : err);
	if (rc < 0) {
		check_failure_message(rc, err);
		if (rc == -ENOENT && strstr(err, "does not offer"))
			assert_non_null(strstr(err, "does not offer the pids controller"));
		return;
	}
	assert_int_equal(r2.version, 2);
	assert_int_equal(sbx_cgroup_call_new(&r2, 3, &c), 0);
	assert_int_equal(sbx_cgroup_call_free(&r2, &c), 0);
	assert_int_equal(sbx_cgroup_fini(&r2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_locate_v1),
	    cmocka_unit_test(test_locate_v2),
	    cmocka_unit_test(test_locate_failures),
	    cmocka_unit_test(test_describe),
	    cmocka_unit_test(test_pids_max),
	    cmocka_unit_test(test_fork_bomb),
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_free_busy_and_fini),
	    cmocka_unit_test(test_init_unusable),
	    cmocka_unit_test(test_v2_real),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
