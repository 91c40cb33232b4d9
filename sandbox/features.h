/* What the running kernel can enforce. Probed once at start-up; every policy
 * decision (refuse a tool, pick a mechanism) is made from this struct, so the
 * same facts drive `toolcell probe`, `toolcell explain` and the spawn path. */
#ifndef TOOLCELL_SANDBOX_FEATURES_H
#define TOOLCELL_SANDBOX_FEATURES_H

#include <stdbool.h>

struct sbx_features {
	int landlock_abi;	 /* 0: Landlock unavailable */
	int landlock_abi_real;	 /* before a test-only TOOLCELL_PRETEND_LANDLOCK_ABI */
	int landlock_errno;	 /* why it is unavailable, when it is */
	bool seccomp_filter;	 /* SECCOMP_SET_MODE_FILTER with KILL_PROCESS and ERRNO */
	bool pidfd_group_signal; /* pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP), Linux 6.9 */
	bool seccomp_notify;	 /* SECCOMP_RET_USER_NOTIF and pidfd_getfd, Linux 5.9 */
	int user_namespaces;	 /* 1 yes, 0 no, -1 not probed (needs a fork) */
};

/* Probes the kernel without creating processes. Never fails: what cannot be
 * used is recorded as unavailable. */
void sbx_features_probe(struct sbx_features *f);

/* Forks once to learn whether an unprivileged user namespace can be created. */
void sbx_features_probe_userns(struct sbx_features *f);

/* The lowest Landlock ABI toolcell runs tools on, and why (for messages). */
#define SBX_LANDLOCK_ABI_MIN 6
#define SBX_LANDLOCK_ABI_MIN_WHY                                                                   \
	"ABI 3 to control truncate(2), ABI 4 to deny TCP, ABI 5 to control device ioctls "         \
	"and ABI 6 to stop signals and abstract unix sockets reaching processes outside the "      \
	"call (Linux 6.12 or later)"

#endif
