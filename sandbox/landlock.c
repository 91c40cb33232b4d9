/* Landlock rulesets, built in the parent and enforced in the child. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/landlock.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

/* struct landlock_ruleset_attr as of ABI 6; older kernels accept the larger
 * struct as long as the fields they do not know are zero. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

uint64_t sbx_landlock_fs_rights(int abi)
{
	uint64_t r;

	if (abi < 1)
		return 0;
	r = (SBX_LL_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		r |= SBX_LL_FS_REFER;
	if (abi >= 3)
		r |= SBX_LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= SBX_LL_FS_IOCTL_DEV;
	return r;
}

int sbx_landlock_abi(void)
{
	long r = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return r < 0 ? -errno : (int)r;
}

int sbx_landlock_add(int ruleset_fd, int abi, const struct sbx_ll_rule *rules, size_t n,
		     size_t *failed)
{
	uint64_t handled = sbx_landlock_fs_rights(abi);

	for (size_t i = 0; i < n; i++) {
		/* Rights this ABI does not know are not handled either, so dropping
		 * them loses nothing; the kernel would refuse the rule with them. */
		struct ll_path_beneath_attr pb = {
		    .allowed_access = rules[i].access & handled,
		    .parent_fd = rules[i].fd,
		};

		/* An empty rule is refused by the kernel (ENOMSG); it grants nothing. */
		if (pb.allowed_access == 0)
			continue;
		if (syscall(__NR_landlock_add_rule, ruleset_fd, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
			if (failed)
				*failed = i;
			return -errno;
		}
	}
	return 0;
}

int sbx_landlock_add_port(int ruleset_fd, uint16_t port, uint64_t access)
{
	struct {
		uint64_t allowed_access;
		uint64_t port;
	} np = {.allowed_access = access, .port = port};

	if (syscall(__NR_landlock_add_rule, ruleset_fd, LL_RULE_NET_PORT, &np, 0) < 0)
		return -errno;
	return 0;
}

int sbx_landlock_ruleset(int abi, const struct sbx_ll_rule *rules, size_t n, size_t *failed)
{
	struct ll_ruleset_attr attr = {.handled_access_fs = sbx_landlock_fs_rights(abi)};
	int fd, r;

	if (abi < 1)
		return -EOPNOTSUPP;
	/* Handling both TCP rights with no port rule denies every TCP bind and
	 * connect; seccomp already refuses non-unix sockets, this is the second
	 * lock on the same door. */
	if (abi >= 4)
		attr.handled_access_net = SBX_LL_NET_BIND_TCP | SBX_LL_NET_CONNECT_TCP;
	/* Scopes stop a tool from signalling, or connecting to the abstract unix
	 * sockets of, any process outside its own Landlock domain: the gateway,
	 * concurrent calls, the user's desktop session. */
	if (abi >= 6)
		attr.scoped = SBX_LL_SCOPE_ABSTRACT_UNIX_SOCKET | SBX_LL_SCOPE_SIGNAL;
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;

	r = sbx_landlock_add(fd, abi, rules, n, failed);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int sbx_landlock_restrict(int ruleset_fd)
{
	if (syscall(__NR_landlock_restrict_self, ruleset_fd, 0) < 0)
		return -errno;
	return 0;
}

void sbx_landlock_describe(uint64_t access, char *buf, size_t len)
{
	static const char *const names[] = {
	    "execute",	 "write_file", "read_file", "read_dir",	 "remove_dir", "remove_file",
	    "make_char", "make_dir",   "make_reg",  "make_sock", "make_fifo",  "make_block",
	    "make_sym",	 "refer",      "truncate",  "ioctl_dev",
	};
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(access & (1ULL << i)))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i]);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "(none)");
}
