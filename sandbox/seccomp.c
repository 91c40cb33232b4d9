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
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "sandbox/seccomp.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* The filter is compiled as two programs that the kernel stacks (a syscall
 * gets the most restrictive answer of the two, so together they are exactly
 * the rules below):
 *   base  loaded once by a spawner thread of the gateway (sandbox/spawn.c);
 *         every call's child inherits it at clone, with no per-call JIT;
 *   call  loaded by each call's child as its last step before execve: the
 *         few rules the child's own set-up must get past (setsid, mount,
 *         clone into new namespaces) and the supervised (notify) rules,
 *         whose listener must be the call's own.
 * A rule is in exactly one of them. */
enum { STAGE_BASE = 1, STAGE_CALL = 2 };

/* The call stage's plain denials: what the child's set-up does itself. */
static const char *const denied_call[] = {"setsid", "setpgid", "mount"};

/* Denied outright with EPERM. Grouped by the attack each group stops. */
static const char *const denied[] = {
    /* Filesystem namespace changes: a tool could mount over a granted path or
     * pivot out of what Landlock confines (mount also needs caps; defence in
     * depth for the root gateway and for user namespaces). mount(2) itself
     * is in denied_call. */
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
    "open_tree_attr",
    /* New namespaces: the door to root-in-a-namespace kernel attack surface. */
    "unshare",
    "setns",
    /* Debugging and reading other processes' memory. */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    /* Escaping the call's process group (setsid, setpgid: denied_call), so
     * the kill at the end of the call reaches every descendant. */
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
    "denied (EPERM): ioctl FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR (chattr: immutable, "
    "append-only and other inode flags)",
    "denied (EPROTONOSUPPORT): socketpair() of any type but SOCK_STREAM and SOCK_SEQPACKET "
    "(a datagram pair could send to any pathname socket)",
    "denied (EOPNOTSUPP): TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN, "
    "TCP_FASTOPEN_CONNECT), which would connect without connect(2)",
    "denied (EOPNOTSUPP): setxattr, removexattr and their l/f/at forms (extended "
    "attributes cannot be changed)",
    "denied (EPERM): utime, utimes, futimesat (the old timestamp calls; utimensat is "
    "what libc uses)",
    NULL,
};

static const char *const describe_no_inet =
    "denied (EAFNOSUPPORT): socket() of every family (no IP, UDP, unix, netlink, packet, "
    "vsock, alg, ...); socketpair(2) works";
static const char *const describe_inet =
    "denied (EAFNOSUPPORT): socket() except AF_INET/AF_INET6 SOCK_STREAM with protocol 0 or "
    "TCP (no UDP, raw, MPTCP, SCTP, unix, netlink, packet, vsock, alg, ...)";
static const char *const describe_connect =
    "supervised: connect(2) is stopped and checked by the gateway against the resolved "
    "net grants; an allowed connect is made by the gateway on the tool's socket";
static const char *const describe_meta_deny =
    "denied (EPERM): chmod, chown, utimensat and their f/l/at forms (no write grants, so no "
    "metadata changes anywhere)";
static const char *const describe_meta_notify =
    "supervised: chmod, chown, utimensat and their f/l/at forms are checked by the gateway "
    "and done for the tool only beneath its write grants (setuid/setgid bits dropped)";

const char *const *sbx_filter_describe(unsigned profile)
{
	static const char *lines[sizeof(description) / sizeof(description[0]) + 4];
	size_t n = 0;

	for (const char *const *d = description; *d; d++)
		lines[n++] = *d;
	lines[n++] = profile & SBX_FILTER_INET ? describe_inet : describe_no_inet;
	if (profile & SBX_FILTER_NOTIFY_CONNECT)
		lines[n++] = describe_connect;
	lines[n++] = profile & SBX_FILTER_NOTIFY_META ? describe_meta_notify : describe_meta_deny;
	lines[n] = NULL;
	return lines;
}

/* Syscall numbers newer than libseccomp 2.5 knows by name (x86_64). */
#ifdef __x86_64__
#define NR_FCHMODAT2 452
#define NR_SETXATTRAT 463
#define NR_REMOVEXATTRAT 466
#define NR_OPEN_TREE_ATTR 467
#define NR_FILE_SETATTR 469
#endif

static int rule_nr(scmp_filter_ctx ctx, uint32_t action, const char *name, int fallback)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		nr = fallback;
	if (nr < 0)
		return 0; /* this architecture has no such call: nothing to deny */
	return seccomp_rule_add(ctx, action, nr, 0);
}

static int add_socket_rules(scmp_filter_ctx ctx, unsigned profile, int stage)
{
	int r;

	if (stage == STAGE_CALL) {
		/* Landlock's TCP rules match ports only; the gateway checks the
		 * address. It copies the address once and connects the tool's
		 * socket itself, so a thread rewriting the sockaddr after the
		 * check changes nothing (no time-of-check/time-of-use gap). */
		if (profile & SBX_FILTER_NOTIFY_CONNECT)
			return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(connect), 0);
		return 0;
	}

	/* TCP Fast Open sends a SYN with data from sendto/sendmsg, without
	 * connect(2): it would walk around the connect supervisor and Landlock's
	 * connect rules. Flags are an int: only the low 32 bits count. */
	static const struct {
		const char *name;
		unsigned arg;
	} fastopen[] = {{"sendto", 3}, {"sendmsg", 2}, {"sendmmsg", 3}};
	for (size_t i = 0; i < sizeof(fastopen) / sizeof(fastopen[0]); i++) {
		struct scmp_arg_cmp c = {.arg = fastopen[i].arg,
					 .op = SCMP_CMP_MASKED_EQ,
					 .datum_a = 0x20000000 /* MSG_FASTOPEN */,
					 .datum_b = 0x20000000};
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP),
					   seccomp_syscall_resolve_name(fastopen[i].name), 1, &c);
		if (r < 0)
			return r;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(setsockopt), 2,
			     SCMP_A1(SCMP_CMP_EQ, 6 /* IPPROTO_TCP */),
			     SCMP_A2(SCMP_CMP_EQ, 30 /* TCP_FASTOPEN_CONNECT */));
	if (r < 0)
		return r;

	/* A datagram unix socket from socketpair(2) can still sendto(2) any
	 * pathname socket (the journal, a D-Bus or ssh-agent socket), which
	 * Landlock does not see: only stream and seqpacket pairs, which stay
	 * connected to each other, are made. SOCK_RAW means datagram here. */
	for (uint64_t type = 0; type < 16; type++) {
		if (type == SOCK_STREAM || type == SOCK_SEQPACKET)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socketpair), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, type));
		if (r < 0)
			return r;
	}

	if (!(profile & SBX_FILTER_INET)) {
		/* No socket() at all: Landlock does not see UDP, raw, packet,
		 * netlink, vsock or alg sockets, and up to ABI 7 it does not see
		 * connect(2) to a pathname unix socket either, so
		 * /run/docker.sock, the system bus or a user's session bus (which
		 * starts any command for whoever talks to it) would be reachable.
		 * socketpair(2) is a separate call and keeps working for tools
		 * that talk to their own children. */
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 0);
	}
	/* Only TCP over IPv4/IPv6, the one thing Landlock and the connect
	 * supervisor understand. Every other family, type and protocol is
	 * refused by enumeration; a value with bits above 32 set (the kernel
	 * truncates to int) falls into the "greater than" rules and is refused
	 * too, so the truncation cannot smuggle a family past the filter. */
	for (uint64_t fam = 0; fam <= 64; fam++) {
		if (fam == AF_INET || fam == AF_INET6)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, fam));
		if (r < 0)
			return r;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_GT, 64));
	if (r < 0)
		return r;
	/* Types: the low 4 bits; SOCK_NONBLOCK and SOCK_CLOEXEC live above. */
	for (uint64_t type = 0; type < 16; type++) {
		if (type == SOCK_STREAM)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, type));
		if (r < 0)
			return r;
	}
	/* Protocols: 0 or IPPROTO_TCP; MPTCP (262) and SCTP (132) are stream
	 * sockets that Landlock's TCP rules do not cover. */
	for (uint64_t proto = 1; proto < 6; proto++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A2(SCMP_CMP_EQ, proto));
		if (r < 0)
			return r;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 1,
				SCMP_A2(SCMP_CMP_GT, 6));
}

/* chmod, chown and timestamps. Landlock has no right for them, so a tool
 * could chmod 0777 a file it may only read and owns (every system file, for
 * a root gateway), or change the mode of the user's files in a read-only
 * workspace. Without write grants they are refused; with write grants the
 * gateway checks the target and makes the change itself. */
static int add_metadata_rules(scmp_filter_ctx ctx, unsigned profile, int stage)
{
	static const char *const meta[] = {
	    "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utimensat",
	};
	static const char *const legacy_times[] = {"utime", "utimes", "futimesat"};
	static const char *const xattr[] = {
	    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
	};
	uint32_t act = profile & SBX_FILTER_NOTIFY_META ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
	int fchmodat2 = -1, setxattrat = -1, removexattrat = -1, file_setattr = -1;
	int r;

#ifdef __x86_64__
	fchmodat2 = NR_FCHMODAT2;
	setxattrat = NR_SETXATTRAT;
	removexattrat = NR_REMOVEXATTRAT;
	file_setattr = NR_FILE_SETATTR;
#endif
	/* Supervised, they belong to the call stage (its listener is the
	 * call's); refused, to the base. */
	if ((stage == STAGE_CALL) == !!(profile & SBX_FILTER_NOTIFY_META)) {
		for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
			r = rule_nr(ctx, act, meta[i], -1);
			if (r < 0)
				return r;
		}
		r = rule_nr(ctx, act, "fchmodat2", fchmodat2);
		if (r < 0)
			return r;
	}
	if (stage == STAGE_CALL)
		return 0;
	for (size_t i = 0; i < sizeof(legacy_times) / sizeof(legacy_times[0]); i++) {
		r = rule_nr(ctx, SCMP_ACT_ERRNO(EPERM), legacy_times[i], -1);
		if (r < 0)
			return r;
	}
	/* Extended attributes carry security labels, capabilities
	 * (security.capability) and ACLs; no tool manifest can ask for them. */
	for (size_t i = 0; i < sizeof(xattr) / sizeof(xattr[0]); i++) {
		r = rule_nr(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), xattr[i], -1);
		if (r < 0)
			return r;
	}
	r = rule_nr(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), "setxattrat", setxattrat);
	if (r == 0)
		r = rule_nr(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), "removexattrat", removexattrat);
	if (r == 0)
		r = rule_nr(ctx, SCMP_ACT_ERRNO(EPERM), "file_setattr", file_setattr);
	if (r < 0)
		return r;
	/* chattr: FS_IOC_SETFLAGS (both widths) and FS_IOC_FSSETXATTR. */
	static const uint64_t setflags[] = {0x40086602, 0x40046602, 0x401c5820};
	for (size_t i = 0; i < sizeof(setflags) / sizeof(setflags[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, setflags[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/* EPERM for each system call named. */
static int deny_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* A name this architecture lacks (vm86 on x86_64) has nothing to deny. */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* EPERM for clone(2) with any of these flags. */
static int deny_clone_flags(scmp_filter_ctx ctx, const uint64_t *flags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					 SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/* The call stage: what the child's own set-up needs and the tool must not
 * have (it comes after the set-up), and the supervised rules. */
static int add_call_rules(scmp_filter_ctx ctx, unsigned profile)
{
	/* The spawner thread clones into the call's user and mount namespaces;
	 * the tool may not make any. */
	static const uint64_t clone_flags[] = {CLONE_NEWNS, CLONE_NEWUSER};
	int r = deny_names(ctx, denied_call, sizeof(denied_call) / sizeof(denied_call[0]));

	if (r == 0)
		r = deny_clone_flags(ctx, clone_flags, sizeof(clone_flags) / sizeof(clone_flags[0]));
	if (r < 0)
		return r;
	r = add_socket_rules(ctx, profile, STAGE_CALL);
	if (r < 0)
		return r;
	return add_metadata_rules(ctx, profile, STAGE_CALL);
}

static int add_base_rules(scmp_filter_ctx ctx, unsigned profile)
{
	static const uint64_t clone_flags[] = {
	    CLONE_NEWUTS, CLONE_NEWIPC,	   CLONE_NEWPID,  CLONE_NEWNET,
	    CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_PARENT,
	};
	int r = deny_names(ctx, denied, sizeof(denied) / sizeof(denied[0]));

	/* clone's flags are in a register and can be checked; clone3 passes them
	 * in memory, which seccomp cannot read, so it is refused with ENOSYS and
	 * glibc retries with clone. */
	if (r == 0)
		r = deny_clone_flags(ctx, clone_flags, sizeof(clone_flags) / sizeof(clone_flags[0]));
	if (r < 0)
		return r;
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
	r = add_socket_rules(ctx, profile, STAGE_BASE);
	if (r < 0)
		return r;
	return add_metadata_rules(ctx, profile, STAGE_BASE);
}

static int compile_stage(struct sock_fprog *out, unsigned profile, int stage)
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
	/* A binary tree over syscall numbers instead of one linear chain:
	 * the same rules, but the kernel's attach-time pass over every syscall
	 * number (its action cache) runs far fewer instructions. Measured by
	 * bench/spawn: the load goes from about 210 to 95 us per call. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		goto out;
	r = stage == STAGE_BASE ? add_base_rules(ctx, profile) : add_call_rules(ctx, profile);
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
	out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	out->filter = insns;
	insns = NULL;
	r = 0;
out:
	free(insns);
	if (memfd >= 0)
		close(memfd);
	seccomp_release(ctx);
	return r;
}

int sbx_filter_compile(struct sbx_filter *out, unsigned profile)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = compile_stage(&out->base, profile, STAGE_BASE);
	if (r == 0)
		r = compile_stage(&out->prog, profile, STAGE_CALL);
	if (r < 0) {
		sbx_filter_free(out);
		return r;
	}
	out->profile = profile;
	return 0;
}

void sbx_filter_free(struct sbx_filter *f)
{
	if (!f)
		return;
	free(f->prog.filter);
	free(f->base.filter);
	f->prog.filter = f->base.filter = NULL;
	f->prog.len = f->base.len = 0;
}

int sbx_filter_load(const struct sbx_filter *f)
{
	unsigned flags = 0;
	long r;

	if (f->profile & (SBX_FILTER_NOTIFY_CONNECT | SBX_FILTER_NOTIFY_META))
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | (1U << 5) /* WAIT_KILLABLE_RECV */;
	r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &f->prog);
	if (r < 0)
		return -errno;
	return (int)r;
}

static struct sbx_filter cache[SBX_FILTER_PROFILES];

int sbx_filter_get(unsigned profile, const struct sbx_filter **out)
{
	int r;

	if (profile >= SBX_FILTER_PROFILES)
		return -EINVAL;
	if (!cache[profile].prog.filter) {
		r = sbx_filter_compile(&cache[profile], profile);
		if (r < 0)
			return r;
	}
	*out = &cache[profile];
	return 0;
}
