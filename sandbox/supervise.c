/* Seccomp user notifications, answered by the gateway. Each handler follows
 * the same rule: copy what the tool passed by pointer exactly once, take the
 * tool's descriptors with pidfd_getfd, check what was copied, then do the
 * operation on the gateway's copies. The tool's thread stays blocked in the
 * system call until it is answered, and a thread that rewrites the memory or
 * swaps a descriptor after the copy only changes what it will never see used
 * (the time-of-check/time-of-use race that SECCOMP_USER_NOTIF_FLAG_CONTINUE
 * would open is never used here). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <linux/seccomp.h>

#include "sandbox/supervise.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef SECCOMP_IOCTL_NOTIF_ID_VALID
#define SECCOMP_IOCTL_NOTIF_ID_VALID SECCOMP_IOW(2, __u64)
#endif

/* The tool's thread that made the call, pinned by a pidfd. */
struct caller {
	pid_t tid;
	int pidfd;
};

static int respond(int listener, uint64_t id, int err)
{
	struct seccomp_notif_resp resp = {.id = id, .error = err, .val = 0};

	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
		/* ENOENT: the thread was killed or interrupted meanwhile. */
		return errno == ENOENT ? 0 : -errno;
	}
	return 0;
}

/* The notification still stands: the tid has not been reused since. */
static bool still_valid(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int caller_open(const struct seccomp_notif *n, int listener, struct caller *c)
{
	c->tid = (pid_t)n->pid;
	c->pidfd = (int)syscall(__NR_pidfd_open, c->tid, PIDFD_THREAD);
	if (c->pidfd < 0 && errno == EINVAL)
		c->pidfd = (int)syscall(__NR_pidfd_open, c->tid, 0);
	if (c->pidfd < 0)
		return -errno;
	/* Checked after the pidfd exists: from here the tid cannot be reused
	 * by another process behind our back. */
	if (!still_valid(listener, n->id)) {
		close(c->pidfd);
		return -ESRCH;
	}
	return 0;
}

static ssize_t vm_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};

	return process_vm_readv(tid, &local, 1, &remote, 1, 0);
}

static int read_mem(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	return vm_read(tid, addr, buf, len) == (ssize_t)len ? 0 : -EFAULT;
}

/* Copies a NUL-terminated path, one page at most at a time so a string that
 * ends just before an unmapped page still reads. */
static int read_path(pid_t tid, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	if (addr == 0)
		return -EFAULT;
	while (got < len) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		if (chunk > len - got)
			chunk = len - got;
		ssize_t n = vm_read(tid, addr + got, buf + got, chunk);
		if (n <= 0)
			return -EFAULT;
		if (memchr(buf + got, '\0', (size_t)n))
			return 0;
		got += (size_t)n;
	}
	return -ENAMETOOLONG;
}

static int take_fd(const struct caller *c, uint64_t fd)
{
	int r;

	if (fd > INT_MAX)
		return -EBADF;
	r = (int)syscall(__NR_pidfd_getfd, c->pidfd, (int)fd, 0);
	return r < 0 ? -errno : r;
}

/* connect(fd, addr, len) */
static int on_connect(struct sbx_supervisor *s, const struct seccomp_notif *n,
		      const struct caller *c, struct sbx_pending *pending)
{
	struct sockaddr_storage ss;
	socklen_t len = (socklen_t)n->data.args[2];
	int sock, domain = 0, flags, r, e;
	socklen_t olen = sizeof(domain);

	if (n->data.args[2] > sizeof(ss) || len < sizeof(sa_family_t))
		return respond(s->listener, n->id, -EINVAL);
	memset(&ss, 0, sizeof(ss));
	if (read_mem(c->tid, n->data.args[1], &ss, len) < 0)
		return respond(s->listener, n->id, -EFAULT);
	sock = take_fd(c, n->data.args[0]);
	if (sock < 0)
		return respond(s->listener, n->id, sock);
	/* Only the TCP sockets the filter let the tool create are connected on
	 * its behalf; a unix socketpair asking to connect elsewhere is refused
	 * like Landlock refuses a TCP port. */
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &olen) < 0 ||
	    (domain != AF_INET && domain != AF_INET6)) {
		close(sock);
		return respond(s->listener, n->id, -EACCES);
	}
	/* AF_UNSPEC dissolves an association: it reaches nobody. */
	if (ss.ss_family != AF_UNSPEC &&
	    !(s->net && sbx_net_allows(s->net, (struct sockaddr *)&ss, len))) {
		close(sock);
		return respond(s->listener, n->id, -EACCES);
	}
	/* The gateway must not block on a tool's blocking socket: connect
	 * without waiting and, if the tool wanted to wait, answer once the
	 * socket is writable. */
	flags = fcntl(sock, F_GETFL);
	if (flags < 0) {
		e = errno;
		close(sock);
		return respond(s->listener, n->id, -e);
	}
	if (!(flags & O_NONBLOCK))
		fcntl(sock, F_SETFL, flags | O_NONBLOCK);
	r = connect(sock, (struct sockaddr *)&ss, len);
	e = errno;
	if (!(flags & O_NONBLOCK))
		fcntl(sock, F_SETFL, flags);
	if (r < 0 && e == EINPROGRESS && !(flags & O_NONBLOCK)) {
		pending->id = n->id;
		pending->sock = sock;
		return 1;
	}
	close(sock);
	return respond(s->listener, n->id, r < 0 ? -e : 0);
}

void sbx_supervisor_finish(struct sbx_supervisor *s, struct sbx_pending *p)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(p->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	close(p->sock);
	p->sock = -1;
	respond(s->listener, p->id, -err);
}

static bool is_root(const struct stat *st, const struct sbx_inode *roots, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (roots[i].dev == st->st_dev && roots[i].ino == st->st_ino)
			return true;
	}
	return false;
}

bool sbx_beneath_roots(int fd, pid_t tid, const struct sbx_inode *roots, size_t n)
{
	struct stat st, pst;
	int cur, parent;

	if (fstat(fd, &st) < 0)
		return false;
	if (is_root(&st, roots, n))
		return true;
	if (!S_ISDIR(st.st_mode)) {
		/* A non-directory: find the directory it is in now, by the path
		 * the kernel has for it (in the tool's mount namespace: its
		 * {tmp} may be a tmpfs the gateway cannot see), and make sure
		 * that directory really holds this inode under that name. */
		char link[64], path[PATH_MAX], root[64];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, path, sizeof(path) - 1);
		if (len <= 0 || path[0] != '/')
			return false;
		path[len] = '\0';
		char *slash = strrchr(path, '/');
		const char *base = slash + 1;
		*slash = '\0';
		if (tid > 0)
			snprintf(root, sizeof(root), "/proc/%d/root", (int)tid);
		else
			snprintf(root, sizeof(root), "/");
		int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return false;
		struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
		cur = (int)syscall(__NR_openat2, rootfd, path[0] ? path : "/", &how, sizeof(how));
		close(rootfd);
		if (cur < 0)
			return false;
		if (fstatat(cur, base, &pst, AT_SYMLINK_NOFOLLOW) < 0 || pst.st_dev != st.st_dev ||
		    pst.st_ino != st.st_ino) {
			close(cur);
			return false;
		}
	} else {
		cur = dup(fd);
		if (cur < 0)
			return false;
	}
	for (int depth = 0; depth < 4096; depth++) {
		if (fstat(cur, &st) < 0)
			break;
		if (is_root(&st, roots, n)) {
			close(cur);
			return true;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0)
			break;
		if (fstat(parent, &pst) < 0 ||
		    (pst.st_dev == st.st_dev && pst.st_ino == st.st_ino)) {
			close(parent);
			break; /* the root of the filesystem tree */
		}
		close(cur);
		cur = parent;
	}
	close(cur);
	return false;
}

/* Opens what a path-taking metadata call names, as an O_PATH fd in the
 * gateway: relative to the tool's cwd or directory fd, never through a magic
 * link (which would resolve in the gateway, not the tool). */
static int open_target(const struct caller *c, uint64_t dfd, uint64_t path_addr, bool nofollow,
		       bool empty_ok)
{
	char path[PATH_MAX];
	bool in_root = false;
	int base, r;

	path[0] = '\0';
	if (path_addr && (r = read_path(c->tid, path_addr, path, sizeof(path))) < 0)
		return r;
	if (path[0] == '/') {
		/* An absolute path means the tool's root, in the tool's mount
		 * namespace (its {tmp} may be a tmpfs there), never the
		 * gateway's: resolved in that root, ".." cannot leave it. */
		char root[64];
		snprintf(root, sizeof(root), "/proc/%d/root", (int)c->tid);
		base = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (base < 0)
			return -errno;
		in_root = true;
	} else if ((int)dfd == AT_FDCWD) {
		char cwd[64];
		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", (int)c->tid);
		base = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (base < 0)
			return -errno;
	} else {
		base = take_fd(c, dfd);
		if (base < 0)
			return base;
	}
	if (path_addr == 0) {
		/* utimensat(fd, NULL, ...): the descriptor itself. */
		if ((int)dfd == AT_FDCWD) {
			close(base);
			return -EFAULT;
		}
		return base;
	}
	if (path[0] == '\0') {
		if (empty_ok)
			return base;
		close(base);
		return -ENOENT;
	}
	struct open_how how = {
	    .flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
	    .resolve = RESOLVE_NO_MAGICLINKS | (in_root ? RESOLVE_IN_ROOT : 0),
	};
	r = (int)syscall(__NR_openat2, base, path, &how, sizeof(how));
	if (r < 0)
		r = -errno;
	close(base);
	return r;
}

/* The metadata calls. Every one ends in the same check: the object must be a
 * write grant or beneath one, so a tool cannot chmod a file it may only read
 * (every system file is owned by a root gateway's uid) or touch the user's
 * read-only workspace. */
static int on_metadata(struct sbx_supervisor *s, const struct seccomp_notif *n,
		       const struct caller *c)
{
	const __u64 *a = n->data.args;
	int nr = n->data.nr, target, flags = 0, r = 0;
	enum { CHMOD, CHOWN, UTIMES } op;
	uint64_t uid = (uint64_t)-1, gid = (uint64_t)-1, mode = 0, times_addr = 0;
	char proc[64];

	switch (nr) {
	case __NR_chmod:
		op = CHMOD, mode = a[1];
		target = open_target(c, (uint64_t)AT_FDCWD, a[0], false, false);
		break;
	case __NR_fchmodat:
		op = CHMOD, mode = a[2];
		target = open_target(c, a[0], a[1], false, false);
		break;
	case __NR_fchmodat2:
		op = CHMOD, mode = a[2], flags = (int)a[3];
		if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return respond(s->listener, n->id, -EINVAL);
		target =
		    open_target(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH);
		break;
	case __NR_fchmod:
		op = CHMOD, mode = a[1];
		target = take_fd(c, a[0]);
		break;
	case __NR_chown:
	case __NR_lchown:
		op = CHOWN, uid = a[1], gid = a[2];
		target = open_target(c, (uint64_t)AT_FDCWD, a[0], nr == __NR_lchown, false);
		break;
	case __NR_fchownat:
		op = CHOWN, uid = a[2], gid = a[3], flags = (int)a[4];
		target =
		    open_target(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH);
		break;
	case __NR_fchown:
		op = CHOWN, uid = a[1], gid = a[2];
		target = take_fd(c, a[0]);
		break;
	case __NR_utimensat:
		op = UTIMES, times_addr = a[2], flags = (int)a[3];
		target =
		    open_target(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH);
		break;
	default:
		return respond(s->listener, n->id, -ENOSYS);
	}
	if (target < 0)
		return respond(s->listener, n->id, target);

	struct stat st;
	if (fstat(target, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* Pipes and sockets from pipe2/socketpair have no place in the tree
	 * and belong to nobody else: their mode is harmless. */
	bool anonymous = (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) && st.st_nlink == 0;
	/* Device nodes are shared with the whole machine (a write grant on
	 * /dev/null is for writing to it): their metadata is never the tool's. */
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		r = -EPERM;
		goto out;
	}
	if (!anonymous && !sbx_beneath_roots(target, c->tid, s->roots, s->nroots)) {
		r = -EPERM;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", target);
	switch (op) {
	case CHMOD:
		if (S_ISLNK(st.st_mode)) {
			r = -EOPNOTSUPP;
			break;
		}
		/* The gateway may hold more privilege than the tool: it never
		 * makes a setuid or setgid file for it. */
		if (fchmodat(AT_FDCWD, proc, (mode_t)(mode & 01777), 0) < 0)
			r = -errno;
		break;
	case CHOWN:
		/* Ownership can only stay what it is: giving a file away (or to
		 * root) is a privilege, and -1 means "unchanged". */
		if (((uint32_t)uid != (uint32_t)-1 && (uint32_t)uid != s->tool_uid) ||
		    ((uint32_t)gid != (uint32_t)-1 && (uint32_t)gid != s->tool_gid))
			r = -EPERM;
		break;
	case UTIMES: {
		struct timespec ts[2];
		if (times_addr && read_mem(c->tid, times_addr, ts, sizeof(ts)) < 0) {
			r = -EFAULT;
			break;
		}
		if (utimensat(target, "", times_addr ? ts : NULL, AT_EMPTY_PATH) < 0)
			r = -errno;
		break;
	}
	}
out:
	close(target);
	return respond(s->listener, n->id, r);
}

int sbx_supervisor_handle(struct sbx_supervisor *s, struct sbx_pending *pending)
{
	struct seccomp_notif n;
	struct caller c;
	int r;

	memset(&n, 0, sizeof(n));
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
		/* ENOENT: the thread went away between poll and receive. */
		if (errno == ENOENT || errno == EINTR || errno == EAGAIN)
			return 0;
		return -errno;
	}
	r = caller_open(&n, s->listener, &c);
	if (r < 0)
		return r == -ESRCH ? 0 : respond(s->listener, n.id, r);
	if (n.data.nr == __NR_connect)
		r = on_connect(s, &n, &c, pending);
	else
		r = on_metadata(s, &n, &c);
	close(c.pidfd);
	return r;
}

void sbx_supervisor_close(struct sbx_supervisor *s)
{
	if (s->listener >= 0)
		close(s->listener);
	s->listener = -1;
	free(s->roots);
	s->roots = NULL;
	s->nroots = 0;
}
