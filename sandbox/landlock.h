/* Landlock through its raw system calls. Debian 12's kernel headers predate the
 * ABIs toolcell uses, so the uapi definitions live here under our own names. */
#ifndef TOOLCELL_SANDBOX_LANDLOCK_H
#define TOOLCELL_SANDBOX_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#define SBX_LL_FS_EXECUTE (1ULL << 0)
#define SBX_LL_FS_WRITE_FILE (1ULL << 1)
#define SBX_LL_FS_READ_FILE (1ULL << 2)
#define SBX_LL_FS_READ_DIR (1ULL << 3)
#define SBX_LL_FS_REMOVE_DIR (1ULL << 4)
#define SBX_LL_FS_REMOVE_FILE (1ULL << 5)
#define SBX_LL_FS_MAKE_CHAR (1ULL << 6)
#define SBX_LL_FS_MAKE_DIR (1ULL << 7)
#define SBX_LL_FS_MAKE_REG (1ULL << 8)
#define SBX_LL_FS_MAKE_SOCK (1ULL << 9)
#define SBX_LL_FS_MAKE_FIFO (1ULL << 10)
#define SBX_LL_FS_MAKE_BLOCK (1ULL << 11)
#define SBX_LL_FS_MAKE_SYM (1ULL << 12)
#define SBX_LL_FS_REFER (1ULL << 13)	 /* ABI 2 */
#define SBX_LL_FS_TRUNCATE (1ULL << 14)	 /* ABI 3 */
#define SBX_LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */

#define SBX_LL_NET_BIND_TCP (1ULL << 0)	   /* ABI 4 */
#define SBX_LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */

#define SBX_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SBX_LL_SCOPE_SIGNAL (1ULL << 1)		      /* ABI 6 */

/* Rights that make sense on a non-directory; the kernel rejects others. */
#define SBX_LL_FS_FILE_RIGHTS                                                                      \
	(SBX_LL_FS_EXECUTE | SBX_LL_FS_WRITE_FILE | SBX_LL_FS_READ_FILE | SBX_LL_FS_TRUNCATE |     \
	 SBX_LL_FS_IOCTL_DEV)

/* Every filesystem right the given ABI knows: all of them are handled, so
 * anything not granted is denied (a right left unhandled would be allowed). */
uint64_t sbx_landlock_fs_rights(int abi);

/* Returns the running kernel's ABI (>= 1), or -errno (-ENOSYS, -EOPNOTSUPP when
 * Landlock is built but disabled at boot). */
int sbx_landlock_abi(void);

/* One rule: an O_PATH fd (borrowed) and the rights allowed beneath it. */
struct sbx_ll_rule {
	int fd;
	uint64_t access;
};

/* Creates a ruleset fd (O_CLOEXEC; the caller owns it) handling every fs right
 * of `abi`, all TCP when abi >= 4, and the ABI 6 scopes, then adds `rules`.
 * Rights a rule names that the ABI lacks are dropped (they are not handled
 * either, so nothing is lost); rules on non-directories must already be masked
 * to SBX_LL_FS_FILE_RIGHTS.
 * Returns the fd or -errno; on failure *failed is the index of the bad rule. */
int sbx_landlock_ruleset(int abi, const struct sbx_ll_rule *rules, size_t n, size_t *failed);

/* Adds rules to an existing ruleset fd (borrowed) built for `abi`, dropping
 * the rights that ABI lacks. Returns 0 or -errno; on failure *failed is the
 * index of the bad rule. */
int sbx_landlock_add(int ruleset_fd, int abi, const struct sbx_ll_rule *rules, size_t n,
		     size_t *failed);

/* Allows `access` (SBX_LL_NET_*) on one TCP port in a ruleset (ABI >= 4).
 * Returns 0 or -errno. */
int sbx_landlock_add_port(int ruleset_fd, uint16_t port, uint64_t access);

/* Child side: enforces the ruleset on the calling thread. Async-signal-safe:
 * one raw system call. Requires no_new_privs (or CAP_SYS_ADMIN). Returns 0 or
 * -errno. */
int sbx_landlock_restrict(int ruleset_fd);

/* Names of the rights in `access`, '|'-separated, into buf (for explain). */
void sbx_landlock_describe(uint64_t access, char *buf, size_t len);

#endif
