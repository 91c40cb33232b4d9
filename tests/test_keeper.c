/* Tests for sandbox/keeper.c, with real processes and no mocks.
 *
 * Most tests fork a fake gateway G that starts a keeper and then fake calls.
 * A call is a leader L in a process group of its own that registers itself
 * with sbx_keeper_add (as the spawn child does before execve) and leaves a
 * double-forked daemon D behind, which nothing but a group kill reaches: it
 * has no parent-death signal and its parent is gone. The test then SIGKILLs G
 * and watches what becomes of each D and of the keeper.
 *
 * The test process is a child subreaper, so the orphans (D at once, L and the
 * keeper once G is dead) come to it rather than to pid 1, which on some
 * machines (this container) never reaps: the test sees how each one died and
 * leaves no zombies behind. Deaths are watched through pidfds, which poll
 * readable once the process has exited, whether reaped yet or not.
 *
 * Runs as root and as an unprivileged user alike. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "sandbox/keeper.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

/* A SIGKILLed group must be gone within this once the gateway is. */
#define KILL_MS 1000
/* Any other step of the choreography (generous: sanitizers, a loaded machine). */
#define STEP_MS 5000

/* ---- helpers for both sides ---- */

static int pidfd_open(pid_t pid)
{
	return (int)syscall(__NR_pidfd_open, pid, 0U);
}

/* 0 or -errno. */
static int pidfd_signal(int pidfd, int sig, unsigned flags)
{
	return syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, flags) == 0 ? 0 : -errno;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the fake gateway and its processes tell the test, in this order per
 * call: the daemon, then the leader; the keeper first and READY last. */
enum note_kind { NOTE_KEEPER = 1, NOTE_DAEMON, NOTE_LEADER, NOTE_READY };

struct note {
	int kind;
	pid_t pid;
};

/* Children must not use cmocka's asserts (they would longjmp into a copy of
 * the test runner): they print and exit, and the test sees the note missing. */
static void __attribute__((noreturn)) child_die(int line, const char *what)
{
	fprintf(stderr, "test_keeper.c:%d: in child %d: %s (errno: %s)\n", line, (int)getpid(),
		what, strerror(errno));
	_exit(3);
}
#define CHILD_CHECK(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			child_die(__LINE__, #c);                                                   \
	} while (0)

static void send_note(int fd, int kind, pid_t pid)
{
	struct note n = {.kind = kind, .pid = pid};

	/* One write below PIPE_BUF: atomic, never interleaved with another. */
	CHILD_CHECK(write(fd, &n, sizeof(n)) == (ssize_t)sizeof(n));
}

/* ---- the test's side ---- */

static pid_t expect_note(int fd, int kind)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	struct note n;
	ssize_t r;

	if (poll(&pf, 1, STEP_MS) != 1)
		fail_msg("no note %d from the fake gateway within %d ms", kind, STEP_MS);
	r = read(fd, &n, sizeof(n));
	if (r == 0)
		fail_msg("the fake gateway died before note %d", kind);
	assert_int_equal(r, sizeof(n));
	assert_int_equal(n.kind, kind);
	assert_true(n.pid > 1);
	return n.pid;
}

/* True once the process behind pidfd has exited (zombie or reaped). */
static bool exited_within(int pidfd, int ms)
{
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	long long until = now_ms() + ms;

	for (;;) {
		long long left = until - now_ms();
		int n = poll(&pf, 1, left > 0 ? (int)left : 0);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		return n == 1;
	}
}

/* Reaps our child (or adopted orphan) behind pidfd, closes the pidfd and
 * returns how it ended. */
static siginfo_t reap(int pidfd)
{
	siginfo_t si = {0};

	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		assert_int_equal(errno, EINTR);
	close(pidfd);
	return si;
}

static void assert_killed(int pidfd, const char *what, pid_t pid)
{
	siginfo_t si;

	if (!exited_within(pidfd, KILL_MS))
		fail_msg("%s %d survived the gateway for %d ms", what, (int)pid, KILL_MS);
	si = reap(pidfd);
	assert_int_equal(si.si_code, CLD_KILLED);
	assert_int_equal(si.si_status, SIGKILL);
}

static void assert_keeper_exited(int pidfd)
{
	siginfo_t si;

	if (!exited_within(pidfd, STEP_MS))
		fail_msg("the keeper outlived the gateway for %d ms", STEP_MS);
	si = reap(pidfd);
	assert_int_equal(si.si_code, CLD_EXITED);
	assert_int_equal(si.si_status, 0);
}

/* Kills and reaps a survivor the test made sure of (the keeper spared it). */
static void kill_survivor(int pidfd)
{
	siginfo_t si;

	assert_int_equal(pidfd_signal(pidfd, SIGKILL, 0), 0);
	si = reap(pidfd);
	assert_int_equal(si.si_code, CLD_KILLED);
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything but ends at the
	 * last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/* After a failed assertion, processes of the choreography may be left (a
 * daemon holding ctest's output pipe would stall it): SIGKILL every child we
 * have, reap, and repeat until we have none, since each death can hand us
 * new orphans. */
static int kill_leftovers(void **state)
{
	(void)state;
	for (;;) {
		DIR *d = opendir("/proc");
		pid_t w;

		if (d) {
			for (struct dirent *de; (de = readdir(d));) {
				int pid = atoi(de->d_name);

				if (pid > 1 && parent_of(pid) == getpid())
					kill(pid, SIGKILL);
			}
			closedir(d);
		}
		do
			w = waitpid(-1, NULL, 0);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			return 0; /* ECHILD */
	}
}

static int setup_group(void **state)
{
	(void)state;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		print_error("PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the fake gateway's side ---- */

enum call_mode {
	CALL_RUNNING,  /* the leader lives until killed (with PR_SET_PDEATHSIG, as a tool) */
	CALL_ZOMBIE,   /* the leader exited; G has not reaped it */
	CALL_REAPED,   /* the leader exited and G reaped it */
	CALL_LATE_ADD, /* the leader exited unregistered; G registers it once reaped */
	CALL_DELETED,  /* running, and G sent DEL for it: the keeper must spare it */
};

/* Forks a call leader, which makes a group of its own, registers itself with
 * the keeper unless told not to, leaves a double-forked daemon that reports
 * its pid on report, and then lives until killed or exits. Returns once all
 * that is done (so the ADD is in the keeper's queue) with the leader's pid.
 * Runs in G, or in the test process itself (test_stop_kills_held), where a
 * failed step then ends the whole program rather than one test. */
static pid_t fake_call(int kfd, int report, enum call_mode mode)
{
	bool exits = mode == CALL_ZOMBIE || mode == CALL_REAPED || mode == CALL_LATE_ADD;
	int ready[2];
	char c;
	pid_t l;

	CHILD_CHECK(pipe2(ready, O_CLOEXEC) == 0);
	l = fork();
	CHILD_CHECK(l >= 0);
	if (l == 0) {
		int dsync[2], st;
		pid_t mid;

		close(ready[0]);
		/* As the spawn child does: a group of its own, then the ADD,
		 * then (at execve, here by hand) no copy of the keeper's
		 * socket, which would keep the keeper from seeing EOF. */
		CHILD_CHECK(setpgid(0, 0) == 0);
		if (!exits)
			CHILD_CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0);
		if (mode != CALL_LATE_ADD) {
			int pidfd = pidfd_open(getpid());
			int r;

			CHILD_CHECK(pidfd >= 0);
			r = sbx_keeper_add(kfd, getpid(), pidfd);
			errno = -r;
			CHILD_CHECK(r == 0);
			close(pidfd);
		}
		close(kfd);

		CHILD_CHECK(pipe2(dsync, O_CLOEXEC) == 0);
		mid = fork();
		CHILD_CHECK(mid >= 0);
		if (mid == 0) {
			pid_t d = fork();

			if (d == 0) {
				close(dsync[0]);
				send_note(report, NOTE_DAEMON, getpid());
				close(report);
				close(ready[1]);
				CHILD_CHECK(write(dsync[1], "d", 1) == 1);
				close(dsync[1]);
				for (;;)
					pause();
			}
			_exit(d < 0);
		}
		close(dsync[1]);
		CHILD_CHECK(waitpid(mid, &st, 0) == mid && st == 0);
		CHILD_CHECK(read(dsync[0], &c, 1) == 1);
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		if (exits)
			_exit(0);
		for (;;)
			pause();
	}
	close(ready[1]);
	CHILD_CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	return l;
}

/* Makes pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP) fail with EINVAL, as a
 * kernel before 6.9 does, for this process and its children (the keeper). */
static void deny_group_flag(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int pidfd;

	CHILD_CHECK(ctx != NULL);
	CHILD_CHECK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(pidfd_send_signal), 1,
				     SCMP_A3(SCMP_CMP_MASKED_EQ, PIDFD_SIGNAL_PROCESS_GROUP,
					     PIDFD_SIGNAL_PROCESS_GROUP)) == 0);
	CHILD_CHECK(seccomp_load(ctx) == 0);
	seccomp_release(ctx);
	/* The control: the flag is refused now, and signal 0 without it is not. */
	pidfd = pidfd_open(getpid());
	CHILD_CHECK(pidfd >= 0);
	CHILD_CHECK(pidfd_signal(pidfd, 0, PIDFD_SIGNAL_PROCESS_GROUP) == -EINVAL);
	CHILD_CHECK(pidfd_signal(pidfd, 0, 0) == 0);
	close(pidfd);
}

/* The fake gateway: starts a keeper, runs the calls, reports, and waits to be
 * killed. */
static void __attribute__((noreturn))
fake_gateway(int report, const enum call_mode *modes, int n, bool no_group_flag)
{
	struct sbx_keeper k = SBX_KEEPER_INIT;
	int r;

	if (no_group_flag)
		deny_group_flag();
	r = sbx_keeper_start(&k);
	errno = -r;
	CHILD_CHECK(r == 0);
	send_note(report, NOTE_KEEPER, k.pid);
	for (int i = 0; i < n; i++) {
		pid_t l = fake_call(sbx_keeper_fd(&k), report, modes[i]);
		siginfo_t si;
		int pidfd;

		switch (modes[i]) {
		case CALL_RUNNING:
			break;
		case CALL_ZOMBIE:
			/* Exited for certain, and left unreaped. */
			CHILD_CHECK(waitid(P_PID, (id_t)l, &si, WEXITED | WNOWAIT) == 0);
			break;
		case CALL_REAPED:
			CHILD_CHECK(waitpid(l, NULL, 0) == l);
			break;
		case CALL_LATE_ADD:
			/* A pidfd can be opened on a zombie; it then outlives
			 * the reaping, and the keeper gets it only after that. */
			pidfd = pidfd_open(l);
			CHILD_CHECK(pidfd >= 0);
			CHILD_CHECK(waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) == 0);
			r = sbx_keeper_add(sbx_keeper_fd(&k), l, pidfd);
			errno = -r;
			CHILD_CHECK(r == 0);
			close(pidfd);
			break;
		case CALL_DELETED:
			r = sbx_keeper_del(sbx_keeper_fd(&k), l);
			errno = -r;
			CHILD_CHECK(r == 0);
			break;
		}
		send_note(report, NOTE_LEADER, l);
	}
	send_note(report, NOTE_READY, getpid());
	for (;;)
		pause();
}

#define MAX_CALLS 8

/* Runs a fake gateway with these calls, SIGKILLs it, and checks that the
 * keeper killed every call's daemon but the DEL'ed ones, and then exited. */
static void check_gateway_killed(const enum call_mode *modes, int n, bool no_group_flag)
{
	int rep[2], keeper, daemon[MAX_CALLS], leader[MAX_CALLS], status;
	pid_t g, kpid, dpid[MAX_CALLS], lpid;

	assert_true(n <= MAX_CALLS);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	g = fork();
	assert_true(g >= 0);
	if (g == 0) {
		close(rep[0]);
		fake_gateway(rep[1], modes, n, no_group_flag);
	}
	close(rep[1]);

	/* The keeper, the daemons and the living leaders cannot be reaped by
	 * anyone but G (which does not) or us, so their pids are stable and the
	 * pidfds name them. The exited leaders' pids may be reused: no pidfd. */
	kpid = expect_note(rep[0], NOTE_KEEPER);
	keeper = pidfd_open(kpid);
	assert_true(keeper >= 0);
	for (int i = 0; i < n; i++) {
		dpid[i] = expect_note(rep[0], NOTE_DAEMON);
		daemon[i] = pidfd_open(dpid[i]);
		assert_true(daemon[i] >= 0);
		lpid = expect_note(rep[0], NOTE_LEADER);
		leader[i] = -1;
		if (modes[i] == CALL_RUNNING || modes[i] == CALL_DELETED ||
		    modes[i] == CALL_ZOMBIE) {
			leader[i] = pidfd_open(lpid);
			assert_true(leader[i] >= 0);
		}
	}
	assert_int_equal(expect_note(rep[0], NOTE_READY), g);
	close(rep[0]);

	/* The positive control: all of them are alive before the kill. */
	assert_false(exited_within(keeper, 0));
	for (int i = 0; i < n; i++)
		assert_false(exited_within(daemon[i], 0));

	assert_int_equal(kill(g, SIGKILL), 0);
	assert_int_equal(waitpid(g, &status, 0), g);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	for (int i = 0; i < n; i++) {
		if (modes[i] != CALL_DELETED)
			assert_killed(daemon[i], "the daemon of a held call", dpid[i]);
	}
	assert_keeper_exited(keeper);
	/* The keeper has done all it will do: a DEL'ed call is still there. */
	for (int i = 0; i < n; i++) {
		if (modes[i] != CALL_DELETED)
			continue;
		if (exited_within(daemon[i], 0))
			fail_msg("the keeper killed call %d after its DEL", i);
		kill_survivor(daemon[i]);
	}
	/* Living leaders died of their parent-death signal (or the keeper's
	 * kill); the zombie came to us. All are ours to reap now. */
	for (int i = 0; i < n; i++) {
		if (leader[i] < 0)
			continue;
		assert_true(exited_within(leader[i], STEP_MS));
		reap(leader[i]);
	}
}

/* ---- tests ---- */

/* The positive control and the point of the keeper: a killed gateway takes
 * the daemon its call left behind with it. */
static void test_gateway_killed(void **state)
{
	static const enum call_mode modes[] = {CALL_RUNNING};

	(void)state;
	check_gateway_killed(modes, 1, false);
}

/* DEL works, and the keeper kills only what it holds: of two calls alike
 * but for the DEL, only the other one dies. */
static void test_deleted_call_spared(void **state)
{
	static const enum call_mode modes[] = {CALL_DELETED, CALL_RUNNING};

	(void)state;
	check_gateway_killed(modes, 2, false);
}

/* A leader that is a zombie, one that was reaped after its ADD, and one that
 * was reaped before it (the keeper then gets the pidfd of a process that no
 * longer exists): each group still has its daemon, and the keeper kills it. */
static void test_exited_leaders(void **state)
{
	static const enum call_mode modes[] = {CALL_ZOMBIE, CALL_REAPED, CALL_LATE_ADD};

	(void)state;
	check_gateway_killed(modes, 3, false);
}

/* The same calls on a kernel without PIDFD_SIGNAL_PROCESS_GROUP (simulated
 * by seccomp): the keeper falls back to kill(-pid) and still gets them all,
 * and still spares the DEL'ed one. */
static void test_fallback_without_group_flag(void **state)
{
	static const enum call_mode modes[] = {CALL_RUNNING, CALL_ZOMBIE, CALL_REAPED,
					       CALL_LATE_ADD, CALL_DELETED};

	(void)state;
	check_gateway_killed(modes, 5, true);
}

/* More calls than the keeper's first table holds (64), some DEL'ed from the
 * middle: growth and removal keep exactly the right entries. The leaders
 * have no parent-death signal here, so each death is the keeper's doing. */
#define MANY 150

static void test_many_calls(void **state)
{
	int rep[2], fds[MANY], keeper, status;
	pid_t g, pids[MANY];

	(void)state;
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	g = fork();
	assert_true(g >= 0);
	if (g == 0) {
		struct sbx_keeper k = SBX_KEEPER_INIT;

		close(rep[0]);
		CHILD_CHECK(sbx_keeper_start(&k) == 0);
		send_note(rep[1], NOTE_KEEPER, k.pid);
		for (int i = 0; i < MANY; i++) {
			int ready[2];
			char c;

			CHILD_CHECK(pipe2(ready, O_CLOEXEC) == 0);
			pids[i] = fork();
			CHILD_CHECK(pids[i] >= 0);
			if (pids[i] == 0) {
				int pidfd = pidfd_open(getpid());

				CHILD_CHECK(setpgid(0, 0) == 0 && pidfd >= 0);
				CHILD_CHECK(sbx_keeper_add(sbx_keeper_fd(&k), getpid(), pidfd) ==
					    0);
				close(pidfd);
				close(sbx_keeper_fd(&k));
				send_note(rep[1], NOTE_LEADER, getpid());
				CHILD_CHECK(write(ready[1], "r", 1) == 1);
				for (;;)
					pause();
			}
			close(ready[1]);
			CHILD_CHECK(read(ready[0], &c, 1) == 1);
			close(ready[0]);
		}
		for (int i = 0; i < MANY; i += 3)
			CHILD_CHECK(sbx_keeper_del(sbx_keeper_fd(&k), pids[i]) == 0);
		send_note(rep[1], NOTE_READY, getpid());
		for (;;)
			pause();
	}
	close(rep[1]);
	keeper = pidfd_open(expect_note(rep[0], NOTE_KEEPER));
	assert_true(keeper >= 0);
	for (int i = 0; i < MANY; i++) {
		pids[i] = expect_note(rep[0], NOTE_LEADER);
		fds[i] = pidfd_open(pids[i]);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(expect_note(rep[0], NOTE_READY), g);
	close(rep[0]);

	assert_int_equal(kill(g, SIGKILL), 0);
	assert_int_equal(waitpid(g, &status, 0), g);
	for (int i = 0; i < MANY; i++) {
		if (i % 3)
			assert_killed(fds[i], "the leader of a held call", pids[i]);
	}
	assert_keeper_exited(keeper);
	for (int i = 0; i < MANY; i += 3) {
		if (exited_within(fds[i], 0))
			fail_msg("the keeper killed DEL'ed call %d", i);
		kill_survivor(fds[i]);
	}
}

/* Orderly stop: sbx_keeper_stop closes the socket, and the keeper, unable to
 * tell that from the gateway's death, kills what it still holds before it
 * exits; stop returns once it has. */
static void test_stop_kills_held(void **state)
{
	struct sbx_keeper k = SBX_KEEPER_INIT;
	int rep[2], leader, daemon;
	pid_t l, d;

	(void)state;
	sbx_keeper_stop(&k); /* never started: a no-op */
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(sbx_keeper_start(&k), 0);
	assert_true(k.pid > 0);
	assert_true(k.fd >= 0);
	assert_int_equal(sbx_keeper_fd(&k), k.fd);
	assert_int_equal(fcntl(k.fd, F_GETFD), FD_CLOEXEC);

	l = fake_call(k.fd, rep[1], CALL_RUNNING);
	d = expect_note(rep[0], NOTE_DAEMON);
	close(rep[0]);
	close(rep[1]);
	leader = pidfd_open(l);
	daemon = pidfd_open(d);
	assert_true(leader >= 0 && daemon >= 0);
	assert_false(exited_within(daemon, 0));

	sbx_keeper_stop(&k);
	assert_int_equal(k.fd, -1);
	assert_int_equal(k.pid, -1);
	assert_killed(daemon, "the daemon of a held call", d);
	assert_killed(leader, "the leader of a held call", l);
	sbx_keeper_stop(&k); /* already stopped: a no-op */
}

/* The keeper process itself: holds none of the gateway's descriptors, has
 * stdin and stdout on /dev/null, a session of its own, its name, "/" as its
 * working directory, and ignores what would usually stop it. */
static void test_keeper_process(void **state)
{
	struct sbx_keeper k = SBX_KEEPER_INIT;
	char path[64], link[PATH_MAX], err_target[PATH_MAX], line[256];
	int gateway_only[2], seen = 0, pidfd;
	unsigned long long ign = 0;
	struct dirent *de;
	ssize_t n;
	FILE *f;
	DIR *d;

	(void)state;
	assert_int_equal(pipe2(gateway_only, O_CLOEXEC), 0);
	assert_int_equal(sbx_keeper_start(&k), 0);
	pidfd = pidfd_open(k.pid);
	assert_true(pidfd >= 0);

	n = readlink("/proc/self/fd/2", err_target, sizeof(err_target) - 1);
	assert_true(n > 0);
	err_target[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)k.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		if (fd == 0 || fd == 1)
			assert_string_equal(link, "/dev/null");
		else if (fd == 2)
			assert_string_equal(link, err_target);
		else if (strncmp(link, "socket:", 7) != 0)
			fail_msg("the keeper holds fd %d: %s", fd, link);
		seen++;
	}
	closedir(d);
	assert_int_equal(seen, 4); /* 0, 1, 2 and its socket: not the pipe */

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)k.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "toolcell-keeper\n");

	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)k.pid);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "/");

	assert_int_equal(getsid(k.pid), k.pid);
	assert_int_equal(getpgid(k.pid), k.pid);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)k.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigIgn: %llx", &ign) == 1)
			break;
	fclose(f);
	for (int sig = 1; sig < 32; sig++) {
		bool want = sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGPIPE;

		if (want != !!(ign & (1ULL << (sig - 1))))
			fail_msg("signal %d (%s) is %s by the keeper", sig, strsignal(sig),
				 want ? "not ignored" : "ignored");
	}
	assert_int_equal(kill(k.pid, SIGTERM), 0);
	assert_int_equal(kill(k.pid, SIGINT), 0);
	assert_int_equal(kill(k.pid, SIGHUP), 0);
	assert_false(exited_within(pidfd, 100));

	sbx_keeper_stop(&k);
	assert_true(exited_within(pidfd, 0));
	close(pidfd);
	close(gateway_only[0]);
	close(gateway_only[1]);
}

/* A child in a process group of its own that waits to be killed: something
 * harmless to name in an ADD. */
static pid_t sleeper(int *pidfd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	*pidfd = pidfd_open(pid);
	assert_true(*pidfd >= 0);
	return pid;
}

/* Waits until the keeper has read everything sent on fd: what a unix socket
 * has sent stays charged to it (SIOCOUTQ) until the receiver consumes it. */
static void wait_drained(int fd)
{
	long long until = now_ms() + STEP_MS;
	int queued;

	for (;;) {
		assert_int_equal(ioctl(fd, SIOCOUTQ, &queued), 0);
		if (queued == 0)
			return;
		if (now_ms() > until)
			fail_msg("the keeper left %d bytes unread for %d ms", queued, STEP_MS);
		usleep(1000);
	}
}

static void wait_dead_unreaped(pid_t pid)
{
	siginfo_t si;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		assert_int_equal(errno, EINTR);
}

/* With the keeper gone, ADD and DEL fail with EPIPE (the caller then fails
 * the call closed), without a SIGPIPE; ECONNRESET comes once first when the
 * keeper died with messages unread. Bad arguments fail before any send. */
static void test_add_after_keeper_died(void **state)
{
	struct sbx_keeper k = SBX_KEEPER_INIT;
	int pidfd;
	siginfo_t si;
	pid_t s = sleeper(&pidfd);

	(void)state;
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(sbx_keeper_start(&k), 0);

	/* The positive control, and the arguments. */
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), 0);
	assert_int_equal(sbx_keeper_del(k.fd, s), 0);
	assert_int_equal(sbx_keeper_add(-1, s, pidfd), -EBADF);
	assert_int_equal(sbx_keeper_add(k.fd, s, -1), -EBADF);
	assert_int_equal(sbx_keeper_add(k.fd, 1, pidfd), -EINVAL);
	assert_int_equal(sbx_keeper_add(k.fd, 0, pidfd), -EINVAL);
	assert_int_equal(sbx_keeper_del(k.fd, -s), -EINVAL);

	/* Killed with its queue empty. */
	wait_drained(k.fd);
	assert_int_equal(kill(k.pid, SIGKILL), 0);
	wait_dead_unreaped(k.pid);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), -EPIPE);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), -EPIPE);
	assert_int_equal(sbx_keeper_del(k.fd, s), -EPIPE);
	sbx_keeper_stop(&k);

	/* A keeper stopped (so it cannot read) and then killed, with an ADD in
	 * its queue. */
	assert_int_equal(sbx_keeper_start(&k), 0);
	assert_int_equal(kill(k.pid, SIGSTOP), 0);
	while (waitid(P_PID, (id_t)k.pid, &si, WSTOPPED | WNOWAIT) < 0)
		assert_int_equal(errno, EINTR);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), 0);
	assert_int_equal(kill(k.pid, SIGKILL), 0);
	wait_dead_unreaped(k.pid);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), -ECONNRESET);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), -EPIPE);
	sbx_keeper_stop(&k);

	/* Neither keeper killed the sleeper: the first had its DEL, the second
	 * died without reading. */
	assert_false(exited_within(pidfd, 0));
	kill_survivor(pidfd);
}

/* A keeper that does not read (stopped here) makes senders wait at most the
 * send timeout and then fail with EAGAIN, rather than hang the gateway; once
 * it reads again, so do they. */
static void test_stalled_keeper(void **state)
{
	struct sbx_keeper k = SBX_KEEPER_INIT;
	siginfo_t si;
	int pidfd, r = 0, sent = 0;
	pid_t s = sleeper(&pidfd);

	(void)state;
	assert_int_equal(sbx_keeper_start(&k), 0);
	assert_int_equal(kill(k.pid, SIGSTOP), 0);
	while (waitid(P_PID, (id_t)k.pid, &si, WSTOPPED | WNOWAIT) < 0)
		assert_int_equal(errno, EINTR);
	/* DEL carries no descriptor, so only the socket's send buffer fills. */
	while (sent < 100000 && (r = sbx_keeper_del(k.fd, s)) == 0)
		sent++;
	assert_int_equal(r, -EAGAIN);
	assert_true(sent > 0);

	assert_int_equal(kill(k.pid, SIGCONT), 0);
	wait_drained(k.fd);
	assert_int_equal(sbx_keeper_add(k.fd, s, pidfd), 0);
	assert_int_equal(sbx_keeper_del(k.fd, s), 0);
	sbx_keeper_stop(&k);
	assert_false(exited_within(pidfd, 0));
	kill_survivor(pidfd);
}

/* What the keeper relies on from the kernel, checked here so a change shows:
 * through a pidfd, PIDFD_SIGNAL_PROCESS_GROUP reaches the group the leader
 * named whether the leader is alive, a zombie, or already reaped (the group's
 * remaining members keep it), and says ESRCH only once the group is empty. A
 * plain signal to the reaped leader says ESRCH. */
static void test_kernel_group_signal(void **state)
{
	int go[2], back[2], lfd, dfd, probe;
	siginfo_t si;
	pid_t l, d;
	char c = 'x';

	(void)state;
	probe = pidfd_open(getpid());
	assert_true(probe >= 0);
	if (pidfd_signal(probe, 0, PIDFD_SIGNAL_PROCESS_GROUP) == -EINVAL) {
		close(probe);
		print_message("skipped: no PIDFD_SIGNAL_PROCESS_GROUP (Linux < 6.9)\n");
		skip();
	}
	close(probe);

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(back, O_CLOEXEC), 0);
	l = fork();
	assert_true(l >= 0);
	if (l == 0) {
		CHILD_CHECK(setpgid(0, 0) == 0);
		d = fork();
		CHILD_CHECK(d >= 0);
		if (d == 0)
			for (;;)
				pause();
		CHILD_CHECK(write(back[1], &d, sizeof(d)) == (ssize_t)sizeof(d));
		CHILD_CHECK(read(go[0], &c, 1) == 1);
		_exit(0);
	}
	lfd = pidfd_open(l);
	assert_true(lfd >= 0);
	assert_int_equal(read(back[0], &d, sizeof(d)), sizeof(d));
	dfd = pidfd_open(d);
	assert_true(dfd >= 0);
	assert_int_equal(getpgid(d), l);

	assert_int_equal(pidfd_signal(lfd, 0, PIDFD_SIGNAL_PROCESS_GROUP), 0);
	assert_int_equal(write(go[1], &c, 1), 1);
	assert_true(exited_within(lfd, STEP_MS));
	/* A zombie leader: both reach. */
	assert_int_equal(pidfd_signal(lfd, 0, PIDFD_SIGNAL_PROCESS_GROUP), 0);
	assert_int_equal(pidfd_signal(lfd, 0, 0), 0);
	while (waitid(P_PIDFD, (id_t)lfd, &si, WEXITED) < 0)
		assert_int_equal(errno, EINTR);
	/* A reaped leader: the group is still reached, the leader is not. */
	assert_int_equal(pidfd_signal(lfd, 0, 0), -ESRCH);
	assert_int_equal(pidfd_signal(lfd, 0, PIDFD_SIGNAL_PROCESS_GROUP), 0);
	assert_int_equal(kill(-l, 0), 0); /* the number is still the group's */
	assert_int_equal(pidfd_signal(lfd, SIGKILL, PIDFD_SIGNAL_PROCESS_GROUP), 0);
	assert_killed(dfd, "the group's last member", d);
	/* An empty group. */
	assert_int_equal(pidfd_signal(lfd, 0, PIDFD_SIGNAL_PROCESS_GROUP), -ESRCH);
	close(lfd);
	close(go[0]);
	close(go[1]);
	close(back[0]);
	close(back[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, kill_leftovers)
	const struct CMUnitTest tests[] = {
	    T(test_gateway_killed), T(test_deleted_call_spared),
	    T(test_exited_leaders), T(test_fallback_without_group_flag),
	    T(test_many_calls),	    T(test_stop_kills_held),
	    T(test_keeper_process), T(test_add_after_keeper_died),
	    T(test_stalled_keeper), T(test_kernel_group_signal),
	};
#undef T

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
