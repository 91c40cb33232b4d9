/* The keeper process (see keeper.h). The gateway's side is sbx_keeper_start,
 * _add, _del and _stop; everything below keeper_main runs only in the forked
 * keeper, which never returns to the gateway's code.
 *
 * Who can reach the keeper. Only holders of the gateway's end of the socket
 * can write to it: the gateway, and a call's child until execve closes its
 * close-on-exec copy. A tool therefore cannot send DEL to spare its own group
 * from the kill: the pair has no name to connect to, a socket cannot be
 * reopened through /proc/<gateway>/fd, and taking the gateway's copy with
 * pidfd_getfd needs ptrace rights over the gateway. Nor can a tool kill or
 * stop the keeper, although both run as the same user: every tool runs in a
 * Landlock domain of its own with signal scoping (LANDLOCK_SCOPE_SIGNAL, ABI
 * 6), which denies signals to processes outside that domain, and Landlock
 * denies ptrace (and so /proc/<keeper>/mem and pidfd_getfd) across domains
 * as well. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/fdpass.h"
#include "sandbox/keeper.h"

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

#define KEEPER_NAME "toolcell-keeper" /* 15 bytes: the most PR_SET_NAME keeps */

/* How long a sender waits for room in the keeper's queue. The keeper drains
 * it at once; only a keeper that is stopped or starved makes this expire, and
 * then the call fails rather than its spawn never completing. */
#define KEEPER_SEND_TIMEOUT_S 2

/* The sanitizers must stay out of sbx_keeper_add, for the reason CMakeLists.txt
 * gives for spawn.c: it runs in the same CLONE_VM child, in the gateway's
 * memory. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define KEEPER_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))
#endif
#endif
#ifndef KEEPER_NO_SANITIZE
#define KEEPER_NO_SANITIZE
#endif

enum keeper_op {
	KEEPER_ADD = 1, /* one pidfd attached as SCM_RIGHTS */
	KEEPER_DEL = 2,
};

/* Every message is exactly this size; zero-length messages are never sent,
 * so a recvmsg that returns 0 is EOF. */
struct keeper_msg {
	int op; /* enum keeper_op */
	pid_t pid;
};

/* Sends one message, with fd attached when it is >= 0. Raw sendmsg only: see
 * sbx_keeper_add for where this runs. A dead keeper must be an error return,
 * never a SIGPIPE that kills the gateway (or the child, whose signals are
 * reset to default). Unix SOCK_SEQPACKET sockets raise none today (only
 * SOCK_STREAM does, checked on Linux 6.18); MSG_NOSIGNAL makes that a
 * promise rather than a detail of the kernel. */
static KEEPER_NO_SANITIZE int send_msg(int keeper_fd, int op, pid_t pid, int fd)
{
	struct keeper_msg m = {.op = op, .pid = pid};

	if (keeper_fd < 0)
		return -EBADF;
	/* kill(-1) signals every process the keeper may signal, and kill(-0)
	 * its own group: no pid <= 1 can name a call. */
	if (pid <= 1)
		return -EINVAL;
	/* SOCK_SEQPACKET sends a message whole or not at all. */
	return sbx_send_fd(keeper_fd, &m, sizeof(m), fd);
}

KEEPER_NO_SANITIZE int sbx_keeper_add(int keeper_fd, pid_t pid, int pidfd)
{
	if (pidfd < 0)
		return -EBADF;
	return send_msg(keeper_fd, KEEPER_ADD, pid, pidfd);
}

int sbx_keeper_del(int keeper_fd, pid_t pid)
{
	return send_msg(keeper_fd, KEEPER_DEL, pid, -1);
}

int sbx_keeper_fd(const struct sbx_keeper *k)
{
	return k->fd;
}

/* ---- the keeper process ---- */

struct held {
	pid_t pid; /* the leader's pid, which is also the call's process group id */
	int pidfd; /* owned */
};

struct table {
	struct held *v;
	size_t n, cap;
};

/* SIGKILLs the call's whole process group.
 *
 * Through the pidfd the kernel finds the group by the leader's struct pid,
 * not by its number. That stays right after the leader has exited, and after
 * it was reaped too (by the gateway, or by init once the gateway is gone):
 * the members left in the group still link to that struct pid, and a later
 * process that happens to get the same number gets a different one. So this
 * reaches exactly the call's survivors and can never hit an unrelated group.
 *
 * kill(-pid) is the fallback for kernels before 6.9, which answer the flag
 * with EINVAL. While any member of the group is alive (the only case where
 * there is something to kill) the number is still in use and cannot name
 * another group; it could only misfire if the group had emptied and pid
 * numbers wrapped around pid_max between the call's end and its DEL (or the
 * gateway's death, if that came first). */
static void kill_group(pid_t pid, int pidfd)
{
	if (syscall(__NR_pidfd_send_signal, pidfd, SIGKILL, NULL, PIDFD_SIGNAL_PROCESS_GROUP) ==
		0 ||
	    errno != EINVAL)
		return; /* ESRCH: the group is empty already */
	kill(-pid, SIGKILL);
}

/* Takes ownership of pidfd. */
static void hold(struct table *t, pid_t pid, int pidfd)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].pid != pid)
			continue;
		/* The same number again means the old leader was reaped and its
		 * group emptied (a number is not reused while a group uses it),
		 * only the DEL went missing: the old pidfd has nothing left to
		 * kill. */
		close(t->v[i].pidfd);
		t->v[i].pidfd = pidfd;
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct held *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			/* Fail closed: a call the keeper cannot hold would
			 * outlive a killed gateway, so it ends now. */
			kill_group(pid, pidfd);
			close(pidfd);
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct held){.pid = pid, .pidfd = pidfd};
}

static void release(struct table *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].pid != pid)
			continue;
		close(t->v[i].pidfd);
		t->v[i] = t->v[--t->n];
		return;
	}
}

/* Receives one message into *m and its descriptor, if any, into *fd.
 * Returns > 0 for a well-formed message, 0 at EOF, < 0 on an error;
 * malformed messages come back as well-formed ones with op 0. */
static ssize_t receive(int sock, struct keeper_msg *m, int *fd)
{
	bool truncated;
	ssize_t n = sbx_recv_fd(sock, m, sizeof(*m), 0, fd, &truncated);

	/* The buffer has room for one descriptor; the kernel closes any
	 * further ones itself, as it does when the keeper is out of
	 * descriptors. */
	if (n > 0 && (n != (ssize_t)sizeof(*m) || truncated))
		m->op = 0;
	return n;
}

/* Makes the forked copy of the gateway into the keeper. Returns 0 or an errno
 * value; *sock may be moved. */
static int become_keeper(int *sock)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};
	struct rlimit rl;
	sigset_t none;
	int null;

	/* Signals first, before setsid: until then a ^C or a kill(-pgid) aimed
	 * at the gateway's process group reaches us as well. The keeper must
	 * outlive the gateway, so what usually stops it is ignored; SIGPIPE
	 * too, though the keeper never writes after start-up. Handlers the
	 * gateway installed would run gateway code here: reset to default. */
	for (int sig = 1; sig < _NSIG; sig++) {
		bool ignore = sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGPIPE;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, ignore ? &ign : &dfl, NULL) < 0 && (ignore || errno != EINVAL))
			return errno; /* EINVAL: a signal the C library reserves */
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return errno;

	/* A session (and process group) of our own: a signal to the gateway's
	 * group, from its supervisor or its terminal, leaves the keeper
	 * running, and a terminal hangup does not reach it. A forked child is
	 * never a group leader, so this cannot fail with EPERM. */
	if (setsid() < 0)
		return errno;

	/* Descriptors: the keeper holds none of the gateway's (its listening
	 * sockets, the client's pipes, other calls' pidfds), or a client that
	 * waits for EOF on the gateway's stdout would wait for the keeper too.
	 * stdin and stdout go to /dev/null so that 0 and 1 stay taken; stderr is
	 * kept for the sanitizers' reports. */
	if (*sock < 3) {
		int moved = fcntl(*sock, F_DUPFD_CLOEXEC, 3);

		if (moved < 0)
			return errno;
		close(*sock);
		*sock = moved;
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 2; fd++) {
		if (null < 0)
			close(fd); /* no /dev/null: closed is as good */
		else if (null != fd && dup3(null, fd, O_CLOEXEC) < 0)
			return errno;
	}
	if (null > 2)
		close(null);
	if (*sock > 3 && syscall(__NR_close_range, 3U, (unsigned)*sock - 1, 0U) < 0)
		return errno;
	if (syscall(__NR_close_range, (unsigned)*sock + 1, ~0U, 0U) < 0)
		return errno;

	/* Best effort from here: none of it weakens the kill. The keeper must
	 * not pin the gateway's working directory (an unmount would fail with
	 * EBUSY), should be recognisable in ps, and may hold a pidfd per call in
	 * flight, which may be more than the usual soft limit of 1024. */
	if (chdir("/") < 0) {
		/* Keeping the gateway's directory is harmless. */
	}
	prctl(PR_SET_NAME, KEEPER_NAME, 0, 0, 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return 0;
}

static void __attribute__((noreturn)) keeper_main(int sock)
{
	struct table t = {0};
	int err = become_keeper(&sock);
	ssize_t n;

	/* Tell sbx_keeper_start whether the keeper is in place; a gateway
	 * without one would leave calls behind if killed, so it fails. */
	n = send(sock, &err, sizeof(err), MSG_NOSIGNAL);
	if (err || n != (ssize_t)sizeof(err))
		_exit(1);

	for (;;) {
		struct keeper_msg m;
		int fd;

		n = receive(sock, &m, &fd);
		if (n <= 0)
			break; /* every copy of the gateway's end is closed */
		if (m.op == KEEPER_ADD && m.pid > 1 && fd >= 0) {
			hold(&t, m.pid, fd);
			continue;
		}
		if (m.op == KEEPER_ADD && m.pid > 1) {
			/* The kernel could not give us the pidfd (we are out of
			 * descriptors): fail closed, as in hold(). Its DEL is
			 * still queued behind this, so the number names the
			 * call's group, short of the wrap-around kill_group()
			 * describes. */
			kill(-m.pid, SIGKILL);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (m.op == KEEPER_DEL)
			release(&t, m.pid);
	}

	/* The gateway is gone (or stopped us: the same thing here). Every call
	 * it still had in flight ends with it. A read error lands here too:
	 * a keeper that can no longer hear the gateway cannot protect later
	 * calls either, and once it has exited their ADD fails, so they fail
	 * closed. */
	for (size_t i = 0; i < t.n; i++)
		kill_group(t.v[i].pid, t.v[i].pidfd);
	_exit(0);
}

/* ---- the gateway's side ---- */

int sbx_keeper_start(struct sbx_keeper *k)
{
	struct timeval tv = {.tv_sec = KEEPER_SEND_TIMEOUT_S};
	int sv[2], err = 0, r;
	pid_t pid;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Bounds how long sbx_keeper_add, in a child whose spawner thread
	 * waits for it (CLONE_VFORK), can block on a full queue. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0)
		keeper_main(sv[1]); /* closes sv[0] with the rest */
	close(sv[1]);
	sv[1] = -1;

	do
		n = recv(sv[0], &err, sizeof(err), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(err) || err) {
		r = n < 0 ? -errno : n != (ssize_t)sizeof(err) ? -ECHILD : -err;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	k->pid = pid;
	k->fd = sv[0];
	return 0;

fail:
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

void sbx_keeper_stop(struct sbx_keeper *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	if (k->pid > 0) {
		while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	k->pid = -1;
}
