/* probe: tries exactly one thing and prints the outcome on stdout: "ok" (plus
 * any value it read) or the errno name, e.g. "EACCES". The confinement tests
 * run it under real policies, like bubblewrap's tests/try-syscall.c.
 * Exit status: 0 when the attempt succeeded, 1 when it failed, 2 on misuse. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/xattr.h>

extern char **environ;

static int report(long r)
{
	if (r < 0) {
		printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int family(const char *s)
{
	if (strcmp(s, "unix") == 0)
		return AF_UNIX;
	if (strcmp(s, "inet") == 0)
		return AF_INET;
	if (strcmp(s, "inet6") == 0)
		return AF_INET6;
	if (strcmp(s, "netlink") == 0)
		return AF_NETLINK;
	if (strcmp(s, "packet") == 0)
		return AF_PACKET;
	if (strcmp(s, "vsock") == 0)
		return AF_VSOCK;
	if (strcmp(s, "alg") == 0)
		return AF_ALG;
	return -1;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	const char *a = argc > 2 ? argv[2] : "";
	const char *b = argc > 3 ? argv[3] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(what, "read") == 0)
		return report(open(a, O_RDONLY));
	if (strcmp(what, "write") == 0)
		return report(open(a, O_WRONLY | O_CREAT, 0644));
	if (strcmp(what, "truncate") == 0)
		return report(truncate(a, 0));
	if (strcmp(what, "unlink") == 0)
		return report(unlink(a));
	if (strcmp(what, "rename") == 0)
		return report(rename(a, b));
	if (strcmp(what, "link") == 0)
		return report(link(a, b));
	if (strcmp(what, "mkdir") == 0)
		return report(mkdir(a, 0755));
	if (strcmp(what, "exec") == 0)
		return report(execl(a, a, (char *)NULL));
	if (strcmp(what, "socket") == 0)
		return report(
		    socket(family(a), strcmp(b, "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM, 0));
	if (strcmp(what, "connect") == 0) {
		/* A unix stream socket to path a; "@name" is an abstract address. */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		size_t n = strlen(a);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			return report(-1);
		if (n >= sizeof(sa.sun_path)) {
			errno = ENAMETOOLONG;
			return report(-1);
		}
		memcpy(sa.sun_path, a, n);
		if (a[0] == '@')
			sa.sun_path[0] = '\0';
		return report(connect(fd, (struct sockaddr *)&sa,
				      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)));
	}
	if (strcmp(what, "socketpair") == 0) {
		int sv[2];
		return report(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	}
	if (strcmp(what, "unshare") == 0)
		return report(unshare(CLONE_NEWUSER));
	if (strcmp(what, "mount") == 0)
		return report(mount("none", "/tmp", "tmpfs", 0, NULL));
	if (strcmp(what, "ptrace") == 0)
		return report(ptrace(PTRACE_ATTACH, (pid_t)atoi(a), NULL, NULL));
	if (strcmp(what, "bpf") == 0)
		return report(syscall(__NR_bpf, 0, NULL, 0));
	if (strcmp(what, "io_uring") == 0)
		return report(syscall(__NR_io_uring_setup, 1, NULL));
	if (strcmp(what, "userfaultfd") == 0)
		return report(syscall(__NR_userfaultfd, 0));
	if (strcmp(what, "keyctl") == 0)
		return report(syscall(__NR_keyctl, 0, 0, 0, 0, 0));
	if (strcmp(what, "setsid") == 0)
		return report(setsid());
	if (strcmp(what, "setsid-child") == 0) {
		/* The probe already leads its session, so its own setsid() fails
		 * with EPERM whatever the filter says; a child leads nothing, so
		 * only the filter can refuse it. The child prints the outcome. */
		int st;
		pid_t p = fork();
		if (p == 0)
			_exit(report(setsid()));
		if (p < 0 || waitpid(p, &st, 0) < 0)
			return report(-1);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (strcmp(what, "clone3") == 0)
		return report(syscall(__NR_clone3, NULL, 0));
	if (strcmp(what, "clone-newns") == 0) {
		/* A raw clone with a namespace flag; the child exits at once. */
		long r = syscall(__NR_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		return report(r);
	}
	if (strcmp(what, "clone-newuser") == 0) {
		/* Needs no capability, unlike CLONE_NEWNS: only the filter stops it. */
		long r = syscall(__NR_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		return report(r);
	}
	if (strcmp(what, "personality-query") == 0)
		return report(syscall(__NR_personality, 0xffffffffUL));
	if (strcmp(what, "personality") == 0)
		return report(syscall(__NR_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */));
	if (strcmp(what, "x32") == 0)
		return report(syscall(0x40000000 | __NR_getpid)); /* killed by SIGSYS */
	if (strcmp(what, "i386") == 0) {
		long r;
		/* getpid through the 32-bit entry point: eax = 20. */
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
		return report(r);
	}
	if (strcmp(what, "kill") == 0)
		return report(kill((pid_t)atoi(a), atoi(b))); /* no b: signal 0 */
	if (strcmp(what, "pidfd-kill") == 0) {
		/* The same signal through a pidfd: its own path into the kernel. */
		int fd = (int)syscall(__NR_pidfd_open, (pid_t)atoi(a), 0);
		if (fd < 0)
			return report(-1);
		return report(syscall(__NR_pidfd_send_signal, fd, atoi(b), NULL, 0));
	}
	if (strcmp(what, "kill-child") == 0) {
		/* SIGKILL to a child of our own, which must then die of it. */
		int st;
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0 || kill(p, SIGKILL) < 0 || waitpid(p, &st, 0) < 0)
			return report(-1);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			printf("survived\n");
			return 1;
		}
		return report(0);
	}
	if (strcmp(what, "ptrace-traceme") == 0)
		return report(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	if (strcmp(what, "vm-read") == 0) {
		/* One byte of another process's memory. The address is our own
		 * byte's: nothing about the target needs to be known for the
		 * permission check, which comes before any address is read. */
		char byte = 0;
		struct iovec local = {&byte, 1}, remote = {&byte, 1};
		return report(
		    syscall(__NR_process_vm_readv, (pid_t)atoi(a), &local, 1UL, &remote, 1UL, 0UL));
	}
	if (strcmp(what, "caps") == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		if (syscall(__NR_capget, &h, d) < 0)
			return report(-1);
		printf("ok eff=%x%08x prm=%x%08x inh=%x%08x bnd0=%d\n", d[1].effective,
		       d[0].effective, d[1].permitted, d[0].permitted, d[1].inheritable,
		       d[0].inheritable, prctl(PR_CAPBSET_READ, 0, 0, 0, 0));
		return 0;
	}
	if (strcmp(what, "nnp") == 0) {
		printf("ok %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		return 0;
	}
	if (strcmp(what, "fds") == 0) {
		printf("ok");
		for (int fd = 0; fd < 4096; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				printf(" %d", fd);
		printf("\n");
		return 0;
	}
	if (strcmp(what, "env") == 0) {
		printf("ok");
		for (char **e = environ; *e; e++)
			printf(" %s", *e);
		printf("\n");
		return 0;
	}
	if (strcmp(what, "rlimit") == 0) {
		struct rlimit rl;
		int res = strcmp(a, "nofile") == 0  ? RLIMIT_NOFILE
			  : strcmp(a, "as") == 0    ? RLIMIT_AS
			  : strcmp(a, "core") == 0  ? RLIMIT_CORE
			  : strcmp(a, "fsize") == 0 ? RLIMIT_FSIZE
						    : RLIMIT_CPU;
		getrlimit(res, &rl);
		printf("ok %llu\n", (unsigned long long)rl.rlim_max);
		return 0;
	}
	if (strcmp(what, "fork") == 0) {
		/* One more process, gone at once: RLIMIT_NPROC is checked here. */
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
		return report(p);
	}
	if (strcmp(what, "daemon") == 0) {
		/* Double fork, then the grandchild lives on; prints its pid. */
		pid_t p = fork();
		if (p == 0) {
			if (fork() == 0) {
				printf("ok %d\n", (int)getpid());
				for (;;)
					pause();
			}
			_exit(0);
		}
		waitpid(p, NULL, 0);
		usleep(100 * 1000);
		return 0;
	}
	if (strcmp(what, "daemon-wait") == 0) {
		/* A double-forked daemon, and the leader stays: the call runs on. */
		pid_t p = fork();
		if (p == 0) {
			if (fork() == 0) {
				printf("ok %d\n", (int)getpid());
				fflush(stdout);
				for (;;)
					pause();
			}
			_exit(0);
		}
		waitpid(p, NULL, 0);
		sleep(30);
		return 0;
	}
	if (strcmp(what, "sleep") == 0) {
		printf("ok %d\n", (int)getpid());
		sleep((unsigned)atoi(a));
		return 0;
	}
	if (strcmp(what, "spin") == 0)
		for (;;)
			;
	if (strcmp(what, "output") == 0) {
		static char buf[65536];
		long n = atol(a);
		memset(buf, 'x', sizeof(buf));
		while (n > 0) {
			long k = n < (long)sizeof(buf) ? n : (long)sizeof(buf);
			if (write(1, buf, (size_t)k) < 0)
				return 1;
			n -= k;
		}
		return 0;
	}
	if (strcmp(what, "chmod") == 0)
		return report(chmod(a, (mode_t)strtoul(b, NULL, 8)));
	if (strcmp(what, "fchmod") == 0) {
		/* Opened read-only: a file the tool may read but not write. */
		int fd = open(a, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return report(-1);
		return report(fchmod(fd, (mode_t)strtoul(b, NULL, 8)));
	}
	if (strcmp(what, "chown") == 0)
		return report(chown(a, (uid_t)atoi(b), (gid_t)-1));
	if (strcmp(what, "touch") == 0)
		return report(utimensat(AT_FDCWD, a, NULL, 0));
	if (strcmp(what, "mode") == 0) {
		struct stat st;
		if (stat(a, &st) < 0)
			return report(-1);
		printf("ok %o\n", (unsigned)(st.st_mode & 07777));
		return 0;
	}
	if (strcmp(what, "setxattr") == 0)
		return report(setxattr(a, "user.toolcell", "x", 1, 0));
	if (strcmp(what, "tcp") == 0 || strcmp(what, "tcp-nb") == 0 || strcmp(what, "udp") == 0 ||
	    strcmp(what, "mptcp") == 0) {
		/* An IP literal a and port b: "tcp 93.184.216.34 443", "tcp ::1 80". */
		struct sockaddr_storage ss = {0};
		socklen_t len;
		bool v6 = strchr(a, ':') != NULL;
		int type = strcmp(what, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
		int proto = strcmp(what, "mptcp") == 0 ? 262 : 0;
		if (strcmp(what, "tcp-nb") == 0)
			type |= SOCK_NONBLOCK;
		if (v6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)atoi(b));
			if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
				return 2;
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)atoi(b));
			if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
				return 2;
			len = sizeof(*s4);
		}
		int fd = socket(v6 ? AF_INET6 : AF_INET, type, proto);
		if (fd < 0)
			return report(-1);
		if (strcmp(what, "udp") == 0)
			return report(sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len));
		int r = connect(fd, (struct sockaddr *)&ss, len);
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int err = 0;
			socklen_t el = sizeof(err);
			poll(&pfd, 1, 5000);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			errno = err;
			r = err ? -1 : 0;
		}
		if (r == 0 && argc > 4) {
			/* Send a line and print the first line of the answer. */
			char buf[256];
			ssize_t n;
			if (write(fd, argv[4], strlen(argv[4])) < 0)
				return report(-1);
			n = read(fd, buf, sizeof(buf) - 1);
			if (n < 0)
				return report(-1);
			buf[n] = '\0';
			printf("ok %s\n", buf);
			return 0;
		}
		return report(r);
	}
	if (strcmp(what, "listen") == 0) {
		struct sockaddr_in s4 = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)atoi(a)),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return report(-1);
		if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) < 0)
			return report(-1);
		return report(listen(fd, 1));
	}
	if (strcmp(what, "socketpair-dgram") == 0) {
		int sv[2];
		return report(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	}
	if (strcmp(what, "forkbomb") == 0) {
		/* Children that stay alive; prints how many could be made. */
		int n = 0, max = atoi(a), err = 0;
		for (; n < max; n++) {
			pid_t p = fork();
			if (p == 0) {
				pause();
				_exit(0);
			}
			if (p < 0) {
				err = errno;
				break;
			}
		}
		printf("%d %s\n", n, err ? strerrorname_np(err) : "ok");
		return 0;
	}
	if (strcmp(what, "alloc") == 0) {
		/* Up to a MiB in 1 MiB blocks, each written so it is backed;
		 * prints how many MiB it got and "ok" or why it stopped. */
		int n = 0, max = atoi(a), err = 0;
		for (; n < max; n++) {
			char *m = malloc(1 << 20);
			if (!m) {
				err = errno;
				break;
			}
			memset(m, 1, 1 << 20);
		}
		printf("%d %s\n", n, err ? strerrorname_np(err) : "ok");
		return 0;
	}
	if (strcmp(what, "fill") == 0) {
		/* Writes up to b MiB to file a in 1 MiB writes; prints how many
		 * whole MiB went in and "ok" or why it stopped (EFBIG rather than
		 * SIGXFSZ at file_size_mb). */
		static char mib[1 << 20];
		int n = 0, max = atoi(b), err = 0, fd;
		signal(SIGXFSZ, SIG_IGN);
		fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return report(-1);
		for (; n < max; n++) {
			ssize_t w = write(fd, mib, sizeof(mib));
			if (w != (ssize_t)sizeof(mib)) {
				err = w < 0 ? errno : ENOSPC;
				break;
			}
		}
		printf("%d %s\n", n, err ? strerrorname_np(err) : "ok");
		return 0;
	}
	if (strcmp(what, "resolve") == 0) {
		/* The first IPv4 address of name a, as the C library finds it. */
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
		int r = getaddrinfo(a, NULL, &hints, &res);
		char buf[INET_ADDRSTRLEN];
		if (r != 0) {
			printf("%s\n", r == EAI_SYSTEM ? strerrorname_np(errno) : gai_strerror(r));
			return 1;
		}
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
		freeaddrinfo(res);
		printf("ok %s\n", buf);
		return 0;
	}
	if (strcmp(what, "openfds") == 0) {
		/* Opens /dev/null up to a times and keeps every descriptor; prints
		 * how many it got and "ok" or why it stopped. */
		int n = 0, max = atoi(a), err = 0;
		for (; n < max; n++) {
			if (open("/dev/null", O_RDONLY) < 0) {
				err = errno;
				break;
			}
		}
		printf("%d %s\n", n, err ? strerrorname_np(err) : "ok");
		return 0;
	}
	if (strcmp(what, "uid") == 0) {
		printf("ok %u %u\n", (unsigned)getuid(), (unsigned)geteuid());
		return 0;
	}
	fprintf(stderr, "probe: unknown action \"%s\"\n", what);
	return 2;
}
