/* One descriptor over a unix socket (SCM_RIGHTS), for the seccomp listener the
 * call's child hands to the gateway and the pidfds the gateway hands to the
 * keeper. */
#ifndef TOOLCELL_SANDBOX_FDPASS_H
#define TOOLCELL_SANDBOX_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sends data[0..len) with fd attached when fd >= 0, as one message. Raw
 * sendmsg with MSG_NOSIGNAL (a dead peer is -EPIPE, never a SIGPIPE), no
 * allocation: safe in the vfork-style child. Retries on EINTR. Returns 0,
 * -EIO when the message went out short, or -errno. */
int sbx_send_fd(int sock, const void *data, size_t len, int fd);

/* Receives one message into data[0..len) and its descriptor, if any, into
 * *fd (-1 when none; close-on-exec). `flags` adds to MSG_CMSG_CLOEXEC (e.g.
 * MSG_DONTWAIT). *truncated says the message or its descriptors did not fit
 * (the kernel closes descriptors beyond the first). Returns the bytes
 * received, 0 at EOF, or -errno. */
ssize_t sbx_recv_fd(int sock, void *data, size_t len, int flags, int *fd, bool *truncated);

#endif
