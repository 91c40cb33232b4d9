/* Kernel feature probe. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "sandbox/features.h"
#include "sandbox/landlock.h"

#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)

static int seccomp_action_avail(unsigned action)
{
	return syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

void sbx_features_probe(struct sbx_features *f)
{
	const char *pretend;
	int abi, pidfd;

	*f = (struct sbx_features){.user_namespaces = -1};
	abi = sbx_landlock_abi();
	if (abi < 0)
		f->landlock_errno = -abi;
	else
		f->landlock_abi = abi;
	f->landlock_abi_real = f->landlock_abi;
	/* Test-only: pretend an older kernel so the fail-closed paths can be
	 * exercised here. It can only lower the ABI, never raise it. */
	pretend = getenv("TOOLCELL_PRETEND_LANDLOCK_ABI");
	if (pretend && *pretend) {
		char *end;
		long v = strtol(pretend, &end, 10);
		if (*end == '\0' && v >= 0 && v < f->landlock_abi) {
			f->landlock_abi = (int)v;
			if (v == 0)
				f->landlock_errno = EOPNOTSUPP;
		}
	}
	f->seccomp_filter = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 &&
			    seccomp_action_avail(SECCOMP_RET_KILL_PROCESS) &&
			    seccomp_action_avail(SECCOMP_RET_ERRNO);
	/* pidfd_getfd on a bad pidfd: EBADF when the call exists. */
	f->seccomp_notify = f->seccomp_filter && seccomp_action_avail(SECCOMP_RET_USER_NOTIF) &&
			    syscall(__NR_pidfd_getfd, -1, 0, 0) < 0 && errno == EBADF;
	pretend = getenv("TOOLCELL_PRETEND_NO_SECCOMP_NOTIFY");
	if (pretend && *pretend)
		f->seccomp_notify = false;

	/* Signal 0 through a pidfd of ourselves is harmless and tells whether
	 * the flag is known: EINVAL if not, ESRCH when we lead no group. */
	pidfd = (int)syscall(__NR_pidfd_open, getpid(), 0);
	if (pidfd >= 0) {
		f->pidfd_group_signal = syscall(__NR_pidfd_send_signal, pidfd, 0, NULL,
						PIDFD_SIGNAL_PROCESS_GROUP) == 0 ||
					errno == ESRCH;
		close(pidfd);
	}
}

void sbx_features_probe_userns(struct sbx_features *f)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		f->user_namespaces = 0;
		return;
	}
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	f->user_namespaces = WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
