/* The syscall filter. A denylist on top of Landlock, not an allowlist: Landlock
 * and the capability drop already decide what files, sockets and signals a
 * tool may touch, so the filter's job is to close the kernel attack surface
 * that Landlock does not cover (namespaces, mount, ptrace, bpf, io_uring, ...).
 * An allowlist would have to follow every libc and every tool program (go,
 * node, rust binaries call syscalls glibc does not) and breaks them in ways a
 * manifest author cannot fix; the denied set is small, reviewed and tested. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "sandbox/seccomp.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Denied outright with EPERM. Grouped by the attack each group stops. */
static const char *const denied[] = {
    /* Filesystem namespace changes: a tool could mount over a granted path or
     * pivot out of what Landlock confines (mount also needs caps; defence in
     * depth for the root gateway and for user namespaces). */
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    /* New namespaces: the door to root-in-a-namespace kernel attack surface. */
    "unshare",
    "setns",
    /* Debugging and reading other processes' memory. */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    /* Escaping the call's process group, so the kill at the end of the call
     * reaches every descendant (double-forked daemons included). */
    "setsid",
    "setpgid",
    /* Kernel attack surface with a long CVE history. */
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "fanotify_init",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "vm86",
    "vm86old",
    "modify_ldt",
    "uselib",
    "quotactl",
    "quotactl_fd",
    "nfsservctl",
    /* Whole-system effects. */
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "vhangup",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
};

static const char *const description[] = {
    "architecture: anything but the native ABI (i386 via int 0x80, x32) kills the process",
    "denied (EPERM): mount umount2 pivot_root chroot move_mount open_tree fsopen fsconfig "
    "fsmount fspick mount_setattr",
    "denied (EPERM): unshare setns, and clone with any CLONE_NEW* flag or CLONE_PARENT",
    "denied (ENOSYS): clone3, so libc falls back to clone whose flags can be checked",
    "denied (EPERM): ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd",
    "denied (EPERM): setsid setpgid (the call's process group must hold every descendant)",
    "denied (EPERM): bpf perf_event_open userfaultfd io_uring_* keyctl add_key request_key "
    "fanotify_init open_by_handle_at name_to_handle_at lookup_dcookie vm86 modify_ldt uselib "
    "quotactl nfsservctl",
    "denied (EPERM): kexec_* *_module reboot swapon swapoff acct syslog iopl ioperm vhangup "
    "settimeofday clock_settime clock_adjtime adjtimex sethostname setdomainname",
    "denied (EPERM): personality changes (only the query personality(0xffffffff) is allowed)",
    "denied (EPERM): ioctl TIOCSTI and TIOCLINUX (typing into the controlling terminal)",
    "denied (EAFNOSUPPORT): socket() of any family but AF_UNIX (no IP, netlink, packet, ...)",
    NULL,
};

const char *const *sbx_filter_describe(void)
{
	return description;
}

static int add_rules(scmp_filter_ctx ctx)
{
	static const uint64_t clone_flags[] = {
	    CLONE_NEWNS,  CLONE_NEWUTS,	   CLONE_NEWIPC,  CLONE_NEWUSER, CLONE_NEWPID,
	    CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_PARENT,
	};
	int r;

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);

		/* A name this architecture lacks (vm86 on x86_64) has nothing to deny. */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}
	/* clone's flags are in a register and can be checked; clone3 passes them
	 * in memory, which seccomp cannot read, so it is refused with ENOSYS and
	 * glibc retries with clone. */
	for (size_t i = 0; i < sizeof(clone_flags) / sizeof(clone_flags[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_flags[i], clone_flags[i]));
		if (r < 0)
			return r;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return r;
	/* personality(2) can turn off ASLR or make reads imply exec. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
			     SCMP_A0(SCMP_CMP_NE, 0xffffffffULL));
	if (r < 0)
		return r;
	/* TIOCSTI pushes bytes into a terminal's input queue; a tool that
	 * inherited a terminal could type commands into the user's shell. The
	 * request is an int, so only the low 32 bits are compared. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, 0x5412 /* TIOCSTI */));
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, 0x541C /* TIOCLINUX */));
	if (r < 0)
		return r;
	/* No socket() at all: Landlock does not see UDP, raw, packet, netlink,
	 * vsock or alg sockets, and up to ABI 7 it does not see connect(2) to a
	 * pathname unix socket either, so /run/docker.sock, the system bus or a
	 * user's session bus (which starts any command for whoever talks to it)
	 * would be reachable. socketpair(2) is a separate call and keeps working
	 * for tools that talk to their own children. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 0);
	return r;
}

int sbx_filter_compile(struct sbx_filter *out)
{
	scmp_filter_ctx ctx;
	struct sock_filter *insns = NULL;
	int memfd = -1, r;
	off_t size;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	/* Another ABI's syscall numbers mean other syscalls: a filter written for
	 * x86_64 numbers says nothing about int 0x80 (i386) or x32 calls, which
	 * would otherwise walk straight past every rule. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		goto out;
	/* The child sets no_new_privs itself, in its fixed order. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		goto out;
	r = add_rules(ctx);
	if (r < 0)
		goto out;

	/* libseccomp 2.5 exports BPF only to an fd: go through a memfd. */
	memfd = memfd_create("toolcell-bpf", MFD_CLOEXEC);
	if (memfd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, memfd);
	if (r < 0)
		goto out;
	size = lseek(memfd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = -EINVAL;
		goto out;
	}
	insns = malloc((size_t)size);
	if (!insns) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(memfd, insns, (size_t)size, 0) != size) {
		r = -EIO;
		goto out;
	}
	out->prog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	out->prog.filter = insns;
	insns = NULL;
	r = 0;
out:
	free(insns);
	if (memfd >= 0)
		close(memfd);
	seccomp_release(ctx);
	return r;
}

void sbx_filter_free(struct sbx_filter *f)
{
	if (!f)
		return;
	free(f->prog.filter);
	f->prog.filter = NULL;
	f->prog.len = 0;
}

int sbx_filter_load(const struct sbx_filter *f)
{
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog) < 0)
		return -errno;
	return 0;
}
