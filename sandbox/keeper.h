/* The keeper: a tiny process, forked by the gateway at start-up, that holds a
 * pidfd of every call leader in flight and, once the gateway is gone, SIGKILLs
 * each call's whole process group.
 *
 * Why it exists: the leader of a call has PR_SET_PDEATHSIG, but its
 * descendants do not (a double-forked daemon is reparented away from the
 * leader), so a SIGKILLed gateway would leave them running with the grants of
 * a call nobody supervises any more. They cannot leave the call's process
 * group (setsid and setpgid are denied by seccomp), so killing the group the
 * leader's pid names kills all of them.
 *
 * How it learns that the gateway is gone: the gateway holds one end of a
 * SOCK_SEQPACKET socket pair and the keeper the other. When every copy of the
 * gateway's end is closed (the gateway exited or was killed, however), the
 * keeper reads EOF. The protocol is two fixed-size messages on that socket,
 * delivered in the order they were sent: ADD {pid} with the leader's pidfd
 * attached, sent by the call's own child before execve; and DEL {pid}, sent by
 * the gateway after it killed and reaped the call. */
#ifndef TOOLCELL_SANDBOX_KEEPER_H
#define TOOLCELL_SANDBOX_KEEPER_H

#include <sys/types.h>

struct sbx_keeper {
	pid_t pid; /* the keeper process; -1 when not running */
	int fd;	   /* the gateway's end of the socket, owned, close-on-exec; -1 when not running */
};

#define SBX_KEEPER_INIT                                                                            \
	{                                                                                          \
		.pid = -1, .fd = -1                                                                \
	}

/* Forks the keeper and fills *k (only on success). Returns 0 or -errno.
 *
 * Call it early in main, while the gateway is small and single-threaded: the
 * keeper is a fork() of the gateway that goes on to use malloc, which is only
 * safe in the child of a single-threaded process, and it starts as a copy of
 * the gateway's memory, which should hold as little as possible. Preferably
 * before the gateway installs signal handlers, too: the keeper resets every
 * handler to the default first thing, but a signal that arrives before that
 * would run the gateway's handler in the keeper.
 *
 * The keeper closes every descriptor but its end of the socket and stderr
 * (kept for sanitizer reports; it writes nothing else), points stdin and
 * stdout at /dev/null, moves to a new session and ignores SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE: it must outlive the gateway to do its job, and it exits
 * by itself as soon as it has. */
int sbx_keeper_start(struct sbx_keeper *k);

/* The gateway's end of the socket (borrowed), for sbx_keeper_add and _del. */
int sbx_keeper_fd(const struct sbx_keeper *k);

/* Registers the call whose leader is pid; pidfd (borrowed) must refer to that
 * leader. The keeper keeps its own copy of the pidfd, so the caller closes its
 * copy afterwards.
 *
 * Meant for the call's child between clone and execve, with the pidfd from
 * pidfd_open(getpid(), 0): before RLIMIT_NOFILE (pidfd_open needs a free
 * descriptor) and the closing of inherited descriptors (which would close
 * keeper_fd), and before execve, so no tool code runs unregistered. Before
 * or after setsid alike: the keeper finds the group through the leader's
 * pidfd only when it kills, and a gateway that dies before the child has set
 * its parent-death signal makes the child fail its getppid check and exit
 * before execve. It is async-signal-safe, allocates nothing and makes one raw
 * sendmsg, so it may run in a CLONE_VM child that shares the gateway's
 * memory.
 *
 * Returns 0, or -errno, and then the caller fails the call closed: -EPIPE
 * once the keeper is gone (-ECONNRESET the first time if it died with
 * messages unread), -EAGAIN if the keeper has not drained its queue within
 * two seconds, -EBADF for a bad descriptor, -EINVAL for pid <= 1. Never
 * raises SIGPIPE. */
int sbx_keeper_add(int keeper_fd, pid_t pid, int pidfd);

/* Unregisters the call whose leader is pid; the gateway sends it after it has
 * killed the call's group and reaped the leader. It cannot overtake the ADD:
 * both travel in order on one socket, and the child sends ADD before execve,
 * which is before the spawn completes (sbx_spawn returns, or sbx_spawn_ready
 * says so), and the gateway watches a leader's exit only after that. Unknown pids are
 * ignored. Same return values as sbx_keeper_add. A DEL that fails leaves a
 * stale entry in the keeper, which is harmless where the kernel signals groups
 * through pidfds (Linux 6.9): the pidfd names that leader's group, never a
 * later process that reuses the number. */
int sbx_keeper_del(int keeper_fd, pid_t pid);

/* Orderly shutdown, and for tests: closes the gateway's end and reaps the
 * keeper. The keeper cannot tell this from the gateway's death, and need not:
 * it SIGKILLs every group it still holds before it exits, which after an
 * orderly shutdown (the gateway killed and DEL'ed every call) is none. Blocks
 * until the keeper has exited, which needs every copy of the gateway's end
 * closed (a child of the gateway that has not exec'd yet holds one). A
 * keeper that was never started (SBX_KEEPER_INIT) or already stopped is a
 * no-op. */
void sbx_keeper_stop(struct sbx_keeper *k);

#endif
