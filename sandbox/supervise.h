/* The gateway's side of a supervised call: seccomp user notifications for the
 * system calls Landlock cannot judge. connect(2) is checked against the
 * resolved net grants and made by the gateway on the tool's own socket;
 * chmod/chown/utimensat are checked against the write grants and made by the
 * gateway. The tool's memory is read once and its descriptors are taken with
 * pidfd_getfd, so nothing the tool changes after the check matters. */
#ifndef TOOLCELL_SANDBOX_SUPERVISE_H
#define TOOLCELL_SANDBOX_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/netaddr.h"

/* A write-granted directory or file, by identity. */
struct sbx_inode {
	dev_t dev;
	ino_t ino;
};

struct sbx_supervisor {
	int listener;		   /* owned seccomp listener */
	const struct sbx_net *net; /* borrowed; NULL: every connect is refused */
	struct sbx_inode *roots;   /* owned: write grants, for metadata calls */
	size_t nroots;
	uid_t tool_uid; /* the ids the tool sees itself as (chown to itself only) */
	gid_t tool_gid;
};

/* A connect the gateway started for a blocking tool socket: the answer waits
 * until `sock` is writable (then sbx_supervisor_finish). */
struct sbx_pending {
	uint64_t id;
	int sock; /* owned: the gateway's copy of the tool's socket */
};

/* Receives one notification and answers it. Returns 0 when answered (or the
 * tool died meanwhile), 1 when *pending was filled, or -errno when the
 * listener itself failed (the call is over). */
int sbx_supervisor_handle(struct sbx_supervisor *s, struct sbx_pending *pending);

/* Answers a pending connect with the socket's SO_ERROR and closes its copy. */
void sbx_supervisor_finish(struct sbx_supervisor *s, struct sbx_pending *pending);

/* Closes the listener (any tool thread still waiting gets ENOSYS) and frees. */
void sbx_supervisor_close(struct sbx_supervisor *s);

/* Whether `fd` (any open or O_PATH descriptor) is a write-granted root or lies
 * beneath one, walking ".." by device and inode. Paths are those of `tid`'s
 * mount namespace (0: the caller's). Exposed for tests. */
bool sbx_beneath_roots(int fd, pid_t tid, const struct sbx_inode *roots, size_t n);

#endif
