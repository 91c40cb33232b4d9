/* The per-call child. Everything between clone and execve is one straight-line
 * function of raw system calls: it shares the gateway's memory (CLONE_VM), so
 * it must not allocate, lock, or touch anything but its own stack and the
 * request its caller keeps alive and unchanged until the spawn completes.
 *
 * The clone itself is made by a spawner thread, two per filter profile, each of which
 * loaded the base stage of the seccomp filter on itself once (a filter is a
 * per-thread attribute; the gateway's other threads stay unfiltered, they
 * need ptrace-class calls to supervise). The child inherits that filter
 * instead of compiling it in the kernel per call, which is most of what a
 * filter load costs (the JIT and the kernel's pass over every syscall number
 * for its action cache), and loads only the small call stage last. The
 * caller does not wait for the clone (sbx_spawn_start): the spawner takes a
 * queue, and the error pipe's EOF tells the caller the clone has returned. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>

#include "sandbox/cgroup.h"
#include "sandbox/fdpass.h"
#include "sandbox/keeper.h"
#include "sandbox/spawn.h"

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)

#define CHILD_STACK_SIZE (256 * 1024)

static const char *const step_names[] = {
    [SBX_STEP_SIGNALS] = "resetting signals",
    [SBX_STEP_USERNS] = "entering the user namespace",
    [SBX_STEP_MOUNTS] = "mounting the call's /etc/hosts and {tmp}",
    [SBX_STEP_CGROUP] = "joining the call's pids cgroup",
    [SBX_STEP_KEEPER] = "registering with the process keeper",
    [SBX_STEP_SESSION] = "creating a new session",
    [SBX_STEP_PDEATHSIG] = "setting the parent-death signal",
    [SBX_STEP_STDIO] = "setting up stdin/stdout/stderr",
    [SBX_STEP_CWD] = "changing to the working directory",
    [SBX_STEP_RLIMITS] = "setting resource limits",
    [SBX_STEP_FDS] = "closing inherited file descriptors",
    [SBX_STEP_CAPS] = "dropping capabilities",
    [SBX_STEP_NO_NEW_PRIVS] = "setting no_new_privs",
    [SBX_STEP_LANDLOCK] = "enforcing the Landlock ruleset",
    [SBX_STEP_SECCOMP] = "loading the seccomp filter",
    [SBX_STEP_NOTIFY] = "handing the seccomp listener to the gateway",
    [SBX_STEP_EXEC] = "executing the program",
};

const char *sbx_step_name(int step)
{
	if (step > 0 && step < (int)(sizeof(step_names) / sizeof(step_names[0])) &&
	    step_names[step])
		return step_names[step];
	return "unknown step";
}

struct child_args {
	const struct sbx_spawn_req *req;
	int errfd;	 /* write end of the error pipe, close-on-exec */
	int notify_sock; /* where the listener goes, or -1 */
	pid_t parent;	 /* to detect a parent that died before PR_SET_PDEATHSIG */
};

/* Reports the failed step to the parent and exits. The write is one atomic
 * pipe write of 8 bytes; there is nothing useful to do if it fails. */
static void __attribute__((noreturn)) child_fail(int errfd, int step, int err)
{
	struct sbx_spawn_error e = {.step = step, .err = err};
	ssize_t w = write(errfd, &e, sizeof(e));

	(void)w;
	_exit(127);
}

static int move_fd(int from, int to)
{
	/* dup2 onto itself would keep close-on-exec set; clear it instead. */
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) < 0 ? -1 : 0;
}

/* Sets soft and hard limit to value, or to the gateway's own hard limit when
 * that is lower: an unprivileged process cannot raise it, and the lower bound
 * is the tighter one, so the tool is never less bounded than the manifest. */
static int set_limit(int resource, rlim_t value)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < value)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = value;
	return setrlimit(resource, &rl);
}

/* Closes every descriptor above 2 except the (at most four) in keep[]; -1
 * entries are ignored. A tool must not inherit the gateway's sockets,
 * manifests, other calls' pipes or pidfds. No allocation: this runs in the
 * vfork-style child. */
static int close_fds_except(const int *keep, int n)
{
	int sorted[4], m = 0;
	unsigned lo = 3;

	for (int i = 0; i < n && m < 4; i++) {
		if (keep[i] < 3)
			continue;
		int j = m++;
		while (j > 0 && sorted[j - 1] > keep[i]) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = keep[i];
	}
	for (int i = 0; i < m; i++) {
		if ((unsigned)sorted[i] > lo &&
		    syscall(__NR_close_range, lo, (unsigned)sorted[i] - 1, 0U) < 0)
			return -1;
		if ((unsigned)sorted[i] + 1 > lo)
			lo = (unsigned)sorted[i] + 1;
	}
	return syscall(__NR_close_range, lo, ~0U, 0U) < 0 ? -1 : 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, text, len);
	if (w != (ssize_t)len) {
		int e = w < 0 ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* Set once the calling thread's bounding set is empty (its children inherit
 * it). Per thread, as the set is: the spawner threads empty their own. A
 * CLONE_VM child reads its creator's copy (it keeps the creator's TLS). */
static _Thread_local bool bounding_empty;

int sbx_caps_drop_bounding(void)
{
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past CAP_LAST_CAP */
			return -errno;
		}
	}
	bounding_empty = true;
	return 0;
}

static int drop_capabilities(bool new_userns)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];

	if (syscall(__NR_capget, &hdr, data) < 0)
		return -1;
	if (getuid() != 0 && geteuid() != 0 && data[0].permitted == 0 && data[1].permitted == 0 &&
	    data[0].inheritable == 0 && data[1].inheritable == 0)
		return 0;
	/* With CAP_SETPCAP (a root gateway): keep uid 0 from meaning "all
	 * capabilities" again at execve (SECBIT_NOROOT), lock that so the tool
	 * cannot undo it, and empty the bounding set so no file capability or
	 * setuid-root binary can hand anything back. These need CAP_SETPCAP, so
	 * they come before the sets are emptied. Without it (a gateway holding
	 * some other capability) they cannot be done, and need not be: emptying
	 * the permitted set below, with no_new_privs set before execve, leaves
	 * execve nothing to grant, root or not. */
	if (data[0].effective & (1U << CAP_SETPCAP)) {
		if (prctl(PR_SET_SECUREBITS,
			  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			      SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			      SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
			  0, 0, 0) < 0)
			return -1;
		/* 40-odd prctls, skipped when the gateway emptied its own set at
		 * start-up (sbx_caps_drop_bounding) and the child inherited that;
		 * a new user namespace starts with a full set of its own. */
		bool inherited_empty = bounding_empty && !new_userns;
		for (unsigned long cap = 0; cap < 64 && !inherited_empty; cap++) {
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				if (errno == EINVAL)
					break; /* past CAP_LAST_CAP */
				return -1;
			}
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	memset(data, 0, sizeof(data));
	return syscall(__NR_capset, &hdr, data) < 0 ? -1 : 0;
}

/* The child. The order below is the security argument; each step says what it
 * stops. No step may be moved after seccomp (which may deny it) or after
 * Landlock (which may deny the files it needs). */
static int child_main(void *arg)
{
	const struct child_args *a = arg;
	const struct sbx_spawn_req *req = a->req;
	const struct sbx_limits *lim = req->limits;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int r;

	/* 1. Signals: handlers shared with the gateway's memory must never run
	 * here, and an ignored SIGPIPE must not be inherited by the tool. The
	 * parent blocked everything before clone; reset, then unblock. */
	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, &dfl, NULL) < 0 && errno != EINVAL)
			child_fail(a->errfd, SBX_STEP_SIGNALS, errno);
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(a->errfd, SBX_STEP_SIGNALS, errno);

	/* 1a. The user namespace (clone made it): map one unprivileged uid and
	 * gid to the gateway's own, refuse setgroups(2) (so a tool cannot drop a
	 * group that denies it access), and become that uid. The tool then holds
	 * no capability in any namespace, and RLIMIT_NPROC counts this call's
	 * processes only. Before the parent-death signal: a credential change
	 * would clear it. */
	if (req->userns) {
		if (write_file("/proc/self/setgroups", "deny") < 0 ||
		    write_file("/proc/self/uid_map", req->uid_map) < 0 ||
		    write_file("/proc/self/gid_map", req->gid_map) < 0)
			child_fail(a->errfd, SBX_STEP_USERNS, errno);
	}

	/* 1a'. The call's own mounts, in its own mount namespace (made by
	 * clone, owned by the call's user namespace when there is one).
	 * Mounts are made private first: on a shared / they would propagate
	 * back into the gateway's namespace, the host's mount table. */
	if (req->hosts_file || req->tmp_dir) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			child_fail(a->errfd, SBX_STEP_MOUNTS, errno);
		/* The granted names, resolved by the gateway: the tool looks
		 * them up without any DNS of its own. */
		if (req->hosts_file && mount(req->hosts_file, "/etc/hosts", NULL, MS_BIND, NULL) < 0)
			child_fail(a->errfd, SBX_STEP_MOUNTS, errno);
		/* {tmp} as a size-limited tmpfs: a tool cannot fill the disk
		 * the gateway's $TMPDIR is on. Landlock does not carry a rule
		 * on a directory over to what is mounted on it, so the grant
		 * is added for the new mount's root (the ruleset is this
		 * call's own; it is enforced below). */
		if (req->tmp_dir) {
			if (mount("toolcell-tmp", req->tmp_dir, "tmpfs", MS_NOSUID | MS_NODEV,
				  req->tmp_opts) < 0)
				child_fail(a->errfd, SBX_STEP_MOUNTS, errno);
			struct sbx_ll_rule rule = {
			    .fd = open(req->tmp_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
			    .access = req->tmp_access};
			if (rule.fd < 0)
				child_fail(a->errfd, SBX_STEP_MOUNTS, errno);
			r = sbx_landlock_add(req->ruleset_fd, req->landlock_abi, &rule, 1, NULL);
			close(rule.fd);
			if (r < 0)
				child_fail(a->errfd, SBX_STEP_MOUNTS, -r);
		}
	}
	if (req->userns) {
		/* Raw calls: glibc's wrappers would broadcast the change to
		 * every thread of the gateway (setxid), taking a lock and
		 * writing thread state in memory the running gateway shares. */
		if (syscall(SYS_setresgid, req->inside_gid, req->inside_gid, req->inside_gid) < 0 ||
		    syscall(SYS_setresuid, req->inside_uid, req->inside_uid, req->inside_uid) < 0)
			child_fail(a->errfd, SBX_STEP_USERNS, errno);
	}

	/* 1b. The pids cgroup of the call (a root gateway, where RLIMIT_NPROC
	 * is not enforced): joined before the tool can fork, so a fork bomb is
	 * bounded from its first process. */
	if (req->cgroup_procs_fd >= 0) {
		r = sbx_cgroup_join(req->cgroup_procs_fd);
		if (r < 0)
			child_fail(a->errfd, SBX_STEP_CGROUP, -r);
	}

	/* 1c. The keeper holds a pidfd of this leader before any tool code
	 * runs: if the gateway is SIGKILLed at any later point, the keeper kills
	 * the call's whole process group, daemons included. */
	if (req->keeper_fd >= 0) {
		int self = (int)syscall(__NR_pidfd_open, getpid(), 0);
		if (self < 0)
			child_fail(a->errfd, SBX_STEP_KEEPER, errno);
		r = sbx_keeper_add(req->keeper_fd, getpid(), self);
		close(self);
		if (r < 0)
			child_fail(a->errfd, SBX_STEP_KEEPER, -r);
	}

	/* 2. A new session and process group whose id is our pid: the end of the
	 * call kills the whole group, and setsid/setpgid are denied by seccomp so
	 * no descendant can leave it. It also drops any controlling terminal, so
	 * a tool cannot read or type into the user's terminal. */
	if (setsid() < 0)
		child_fail(a->errfd, SBX_STEP_SESSION, errno);

	/* 3. If the gateway dies, so does the tool. The signal follows the
	 * thread that cloned us, a spawner thread, which lives as long as the
	 * gateway. Checked against a gateway that died before the prctl took
	 * effect. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(a->errfd, SBX_STEP_PDEATHSIG, errno);
	if (getppid() != a->parent)
		child_fail(a->errfd, SBX_STEP_PDEATHSIG, ESRCH);

	/* 4. stdio: only these three descriptors survive into the tool. */
	if (req->stdin_fd < 3 || req->stdout_fd < 3 || req->stderr_fd < 3)
		child_fail(a->errfd, SBX_STEP_STDIO, EBADF);
	if (move_fd(req->stdin_fd, 0) < 0 || move_fd(req->stdout_fd, 1) < 0 ||
	    move_fd(req->stderr_fd, 2) < 0)
		child_fail(a->errfd, SBX_STEP_STDIO, errno);

	/* 5. Working directory, while every path is still reachable. */
	if (req->cwd && chdir(req->cwd) < 0)
		child_fail(a->errfd, SBX_STEP_CWD, errno);

	/* 6. Resource limits: hard and soft alike, so the tool cannot raise
	 * them. RLIMIT_NPROC counts the whole uid, hence the base. */
	if (set_limit(RLIMIT_CPU, lim->cpu_s) < 0 ||
	    set_limit(RLIMIT_AS, (rlim_t)lim->memory_mb << 20) < 0 ||
	    set_limit(RLIMIT_NPROC, req->nproc_base + lim->processes) < 0 ||
	    set_limit(RLIMIT_NOFILE, lim->open_files) < 0 ||
	    set_limit(RLIMIT_FSIZE, (rlim_t)lim->file_size_mb << 20) < 0 ||
	    set_limit(RLIMIT_CORE, 0) < 0 || set_limit(RLIMIT_MEMLOCK, 0) < 0 ||
	    set_limit(RLIMIT_MSGQUEUE, 0) < 0)
		child_fail(a->errfd, SBX_STEP_RLIMITS, errno);

	/* 7. No inherited descriptors but stdio (the ruleset, the error pipe and
	 * the listener socket are close-on-exec and go at execve). */
	int keep[] = {a->errfd, req->ruleset_fd, a->notify_sock, req->cgroup_procs_fd};
	if (close_fds_except(keep, 4) < 0)
		child_fail(a->errfd, SBX_STEP_FDS, errno);

	/* 8. A root gateway's capabilities end here. */
	if (drop_capabilities(req->userns) < 0)
		child_fail(a->errfd, SBX_STEP_CAPS, errno);

	/* 9. no_new_privs: setuid and file-capability binaries gain nothing, and
	 * it is what lets an unprivileged process enforce Landlock and seccomp. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(a->errfd, SBX_STEP_NO_NEW_PRIVS, errno);

	/* 10. Landlock: files, TCP, signals and abstract sockets. */
	r = sbx_landlock_restrict(req->ruleset_fd);
	if (r < 0)
		child_fail(a->errfd, SBX_STEP_LANDLOCK, -r);

	/* 11. seccomp last: the call stage denies setsid, mount and clone into
	 * new namespaces, which the steps above make (the base stage, inherited
	 * from the spawner thread, allows them for that reason). The
	 * architecture is checked before any syscall number. */
	r = sbx_filter_load(req->filter);
	if (r < 0)
		child_fail(a->errfd, SBX_STEP_SECCOMP, -r);

	/* 12. A supervised profile returned its listener: hand it over and
	 * close our copy. Without a receiver the supervised calls would block
	 * forever, so a missing socket fails the call instead. */
	if (r > 0) {
		if (a->notify_sock < 0)
			child_fail(a->errfd, SBX_STEP_NOTIFY, EBADF);
		/* It must never reach the tool: a process holding its own
		 * listener could answer its own notifications and let any
		 * connect or chmod through. It is close-on-exec, and closed
		 * here. */
		int e = sbx_send_fd(a->notify_sock, "L", 1, r);
		if (e < 0)
			child_fail(a->errfd, SBX_STEP_NOTIFY, -e);
		close(r);
	}

	execve(req->file, req->argv, req->envp);
	child_fail(a->errfd, SBX_STEP_EXEC, errno);
}

/* One stack per thread for the vfork-style child, with a guard page below. */
static void *child_stack(void)
{
	static _Thread_local char *stack;

	if (!stack) {
		char *m = mmap(NULL, CHILD_STACK_SIZE + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		if (mprotect(m, 4096, PROT_NONE) < 0) {
			munmap(m, CHILD_STACK_SIZE + 4096);
			return NULL;
		}
		stack = m;
	}
	return stack + CHILD_STACK_SIZE + 4096;
}

/* The listener the child sent before it exec'd (so it is queued). */
static int recv_fd(int sock)
{
	char data;
	bool truncated;
	int fd;
	ssize_t n = sbx_recv_fd(sock, &data, 1, MSG_DONTWAIT, &fd, &truncated);

	if (n != 1 || fd < 0 || truncated) {
		if (fd >= 0)
			close(fd);
		return n < 0 ? (int)n : -EPROTO;
	}
	return fd;
}

/* A spawn from sbx_spawn_start to sbx_spawn_finish. The child reads `a` and
 * the request from the gateway's memory until it has exec'd, so neither may
 * change or go until the clone has returned; the caller learns that from
 * `rfd`, which reaches EOF once both the cloner's copy of the write end
 * (closed when clone returns) and the child's (close-on-exec, or gone when
 * it exits) are closed. */
struct sbx_spawn_op {
	struct child_args a;
	struct sbx_spawn_op *next; /* the spawner's queue */
	unsigned long flags;
	int rfd;		    /* read end of the error pipe, non-blocking */
	int wfd;		    /* write end: the cloner closes it after clone */
	int sock;		    /* our end of the listener socketpair, or -1 */
	struct sbx_spawn_error err; /* what the child reported, if it did */
	size_t got;		    /* bytes of err read so far */
	bool eof;
	/* Written by the cloner before it closes wfd, read after EOF. */
	pid_t pid;
	int pidfd;
	int clone_errno;
	int listener; /* received from the child, or -errno */
	int done;     /* __atomic: release by the cloner, acquire by the reader */
	int cancelled; /* __atomic: set by sbx_spawn_cancel */
};

/* A thread that holds the base stage of one profile's filter and makes
 * clones of that profile's calls, in the order they were queued to it. */
struct spawner {
	pthread_mutex_t mu; /* the queue and state */
	pthread_cond_t cv;
	pid_t owner; /* the process that started the thread */
	int state;   /* 0 not started, 1 serving, -errno could not */
	const struct sock_fprog *base;
	struct sbx_spawn_op *head, *tail;
};

/* Two per profile: a clone holds its spawner until the child has exec'd,
 * and a child may sleep on the way (a root gateway's cgroup join waits for
 * RCU), so with one the calls of a profile queued behind each other while a
 * CPU idled. Measured with bench/run throughput as root on 2 vCPUs: one
 * spawner 967-975 calls/s, two 1,132-1,254, in the same hour. */
#define SPAWNERS_PER_PROFILE 2
static struct spawner spawners[SBX_FILTER_PROFILES][SPAWNERS_PER_PROFILE];
static unsigned spawner_next[SBX_FILTER_PROFILES]; /* in turn, under spawners_start */
static pthread_mutex_t spawners_start = PTHREAD_MUTEX_INITIALIZER; /* first use */

/* clone() and its outcome into op. The last touch of op: once wfd is closed
 * the reader may free it. */
static void clone_op(struct sbx_spawn_op *op, void *stack)
{
	int wfd = op->wfd;

	/* A call cancelled or timed out while queued never starts: no tool
	 * code may run after the client was told the call is over. */
	if (__atomic_load_n(&op->cancelled, __ATOMIC_ACQUIRE)) {
		op->pid = -1;
		errno = ECANCELED;
	} else {
		op->pid = clone(child_main, stack, op->flags, &op->a, &op->pidfd);
	}
	op->clone_errno = op->pid < 0 ? errno : 0;
	if (op->sock >= 0) {
		/* Take the listener the child sent before it exec'd now, not
		 * when the loop gets to this call. A descriptor in flight in
		 * a socket counts against its sender's user, and a send fails
		 * with ETOOMANYREFS once that count passes the sender's
		 * RLIMIT_NOFILE: the child sends after lowering it to the
		 * tool's open_files, so listeners piling up in queued calls
		 * failed later ones. */
		close(op->a.notify_sock);
		op->a.notify_sock = -1;
		op->listener = op->pid < 0 ? -ECHILD : recv_fd(op->sock);
	}
	__atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
	close(wfd);
}

static void *spawner_main(void *arg)
{
	struct spawner *s = arg;
	void *stack = child_stack();
	int r = 0;

	/* Its children inherit this thread's bounding set, so empty it here
	 * (a root gateway; anyone else cannot and has nothing in it to use). */
	(void)sbx_caps_drop_bounding();
	if (!stack)
		r = -ENOMEM;
	else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		 syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, s->base) < 0)
		r = -errno;
	pthread_mutex_lock(&s->mu);
	s->state = r < 0 ? r : 1;
	pthread_cond_broadcast(&s->cv);
	if (r < 0) {
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	for (;;) {
		while (!s->head)
			pthread_cond_wait(&s->cv, &s->mu);
		struct sbx_spawn_op *op = s->head;
		s->head = op->next;
		if (!s->head)
			s->tail = NULL;
		pthread_mutex_unlock(&s->mu);
		/* Signals stay blocked in this thread for good: no handler runs
		 * on the child's stack in the gateway's memory. */
		clone_op(op, stack);
		pthread_mutex_lock(&s->mu);
	}
	return NULL;
}

/* Starts s for f's profile if it is not running. Under spawners_start. */
static int spawner_run(struct spawner *s, const struct sbx_filter *f)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int r;

	/* A forked copy of the process has the state but not the thread. */
	if (s->owner != getpid()) {
		memset(s, 0, sizeof(*s));
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, NULL);
		s->owner = getpid();
	}
	if (s->state == 0) {
		s->base = &f->base;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		/* The thread starts with every signal blocked. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = -pthread_create(&th, &attr, spawner_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		if (r < 0)
			return r; /* state stays 0: tried again next time */
		pthread_mutex_lock(&s->mu);
		while (s->state == 0)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	return s->state < 0 ? s->state : 0;
}

/* A spawner of f's profile, the next in turn that runs, started on first
 * use. Returns it, or NULL with *r = -errno if none can run (the base stage
 * does not load: fail closed, every call of the profile is refused with the
 * reason). */
static struct spawner *spawner_get(const struct sbx_filter *f, int *r)
{
	unsigned prof = f->profile % SBX_FILTER_PROFILES;
	struct spawner *s = NULL;

	pthread_mutex_lock(&spawners_start);
	for (unsigned k = 0; k < SPAWNERS_PER_PROFILE && !s; k++) {
		struct spawner *t = &spawners[prof][spawner_next[prof]++ % SPAWNERS_PER_PROFILE];
		*r = spawner_run(t, f);
		if (*r == 0)
			s = t;
	}
	pthread_mutex_unlock(&spawners_start);
	return s;
}

static void op_free(struct sbx_spawn_op *op)
{
	if (op->listener >= 0)
		close(op->listener);
	if (op->rfd >= 0)
		close(op->rfd);
	if (op->sock >= 0)
		close(op->sock);
	free(op);
}

int sbx_spawn_start(const struct sbx_spawn_req *req, struct sbx_spawn_op **out,
		    struct sbx_spawn_error *err)
{
	struct sbx_spawn_op *op;
	struct spawner *sp = NULL;
	int pipefd[2], sv[2] = {-1, -1}, r;

	if (req->filter->base.len) {
		sp = spawner_get(req->filter, &r);
		if (!sp) {
			err->step = SBX_STEP_SECCOMP;
			err->err = -r;
			return -ECHILD;
		}
	}
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->rfd = op->wfd = op->sock = op->pidfd = op->listener = -1;
	if (req->supervised && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		op_free(op);
		return r;
	}
	op->sock = sv[0];
	/* Non-blocking both ends: the reader polls, and the child's one
	 * 8-byte record always fits an empty pipe. */
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		if (sv[1] >= 0)
			close(sv[1]);
		op_free(op);
		return r;
	}
	op->rfd = pipefd[0];
	op->wfd = pipefd[1];
	op->a = (struct child_args){
	    .req = req, .errfd = pipefd[1], .notify_sock = sv[1], .parent = getpid()};

	/* CLONE_VM|CLONE_VFORK: no copy of the gateway's page tables (fork()
	 * cost grows with the parent's memory), and the cloning thread sleeps
	 * until the child has exec'd or failed. Signals are blocked in that
	 * thread so no gateway handler runs on the child's stack in the
	 * gateway's memory. */
	op->flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD |
		    (req->userns ? CLONE_NEWUSER : 0) |
		    (req->hosts_file || req->tmp_dir ? CLONE_NEWNS : 0);
	if (sp) {
		/* The spawner clones it while the caller goes on. */
		pthread_mutex_lock(&sp->mu);
		if (sp->tail)
			sp->tail->next = op;
		else
			sp->head = op;
		sp->tail = op;
		pthread_cond_broadcast(&sp->cv);
		pthread_mutex_unlock(&sp->mu);
	} else {
		void *stack = child_stack();
		sigset_t all, old;

		if (!stack) {
			op->pid = -1;
			op->clone_errno = ENOMEM;
			if (sv[1] >= 0)
				close(sv[1]);
			op->a.notify_sock = -1;
			__atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
			close(op->wfd);
		} else {
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			clone_op(op, stack);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
	}
	*out = op;
	return 0;
}

void sbx_spawn_cancel(struct sbx_spawn_op *op)
{
	__atomic_store_n(&op->cancelled, 1, __ATOMIC_RELEASE);
}

int sbx_spawn_fd(const struct sbx_spawn_op *op)
{
	return op->rfd;
}

bool sbx_spawn_ready(struct sbx_spawn_op *op)
{
	while (!op->eof) {
		char buf[sizeof(op->err)];
		ssize_t n = read(op->rfd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* EAGAIN: the clone has not returned yet */
			return false;
		if (n == 0) {
			op->eof = true;
			break;
		}
		/* Only the child writes, one whole record; more is not ours to
		 * trust but cannot be more than it wrote: keep the first. */
		size_t room = sizeof(op->err) - op->got;
		memcpy((char *)&op->err + op->got, buf, (size_t)n < room ? (size_t)n : room);
		op->got += (size_t)n < room ? (size_t)n : room;
	}
	return true;
}

int sbx_spawn_finish(struct sbx_spawn_op *op, struct sbx_child *child, struct sbx_spawn_error *err)
{
	int r;

	/* EOF means the cloner closed wfd after storing the outcome. Anything
	 * else is a descriptor closed twice elsewhere, while a child may still
	 * be reading the request: nothing safe is left to do. */
	if (!__atomic_load_n(&op->done, __ATOMIC_ACQUIRE))
		abort();
	if (op->pid < 0) {
		r = -op->clone_errno;
		op_free(op);
		return r;
	}
	if (op->got == sizeof(op->err)) {
		/* The child never ran tool code and is already exiting. */
		siginfo_t si;
		while (waitid(P_PIDFD, (id_t)op->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		close(op->pidfd);
		*err = op->err;
		op_free(op);
		return -ECHILD;
	}
	child->pid = op->pid;
	child->pidfd = op->pidfd;
	child->notify_fd = -1;
	if (op->sock >= 0) {
		if (op->listener < 0) {
			sbx_child_kill(child, true);
			sbx_child_reap(child, &(int){0});
			err->step = SBX_STEP_NOTIFY;
			err->err = -op->listener;
			op_free(op);
			return -ECHILD;
		}
		child->notify_fd = op->listener;
		op->listener = -1;
	}
	op_free(op);
	return 0;
}

int sbx_spawn(const struct sbx_spawn_req *req, struct sbx_child *child, struct sbx_spawn_error *err)
{
	struct sbx_spawn_op *op;
	int r = sbx_spawn_start(req, &op, err);

	if (r < 0)
		return r;
	while (!sbx_spawn_ready(op)) {
		struct pollfd p = {.fd = sbx_spawn_fd(op), .events = POLLIN};
		(void)poll(&p, 1, -1);
	}
	return sbx_spawn_finish(op, child, err);
}

void sbx_child_kill(const struct sbx_child *child, bool via_pidfd)
{
	if (child->pidfd < 0)
		return;
	/* The group id is the leader's pid; see the header for why this is safe
	 * only before the leader is reaped. */
	if (via_pidfd && syscall(__NR_pidfd_send_signal, child->pidfd, SIGKILL, NULL,
				 PIDFD_SIGNAL_PROCESS_GROUP) == 0)
		return;
	kill(-child->pid, SIGKILL);
}

int sbx_child_reap(struct sbx_child *child, int *status)
{
	siginfo_t si = {0};

	while (waitid(P_PIDFD, (id_t)child->pidfd, &si, WEXITED) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	close(child->pidfd);
	child->pidfd = -1;
	if (si.si_code == CLD_EXITED)
		*status = W_EXITCODE(si.si_status, 0);
	else
		*status = si.si_status & 0x7f; /* WTERMSIG form */
	return 0;
}
