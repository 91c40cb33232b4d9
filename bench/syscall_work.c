/* The syscall-bound workload of bench_syscall, run bare and in the sandbox.
 * Per iteration, in mode "rw": pread of a workspace file opened once, stat of
 * its path, a one-byte write and read on a pipe, and getppid (five system
 * calls, each through the seccomp filter); in mode "open" the file is opened,
 * read and closed each time instead (seven calls; the open goes through
 * Landlock's path check). Usage: bench_syscall_work MODE ITERATIONS FILE.
 * Prints "ns N", the loop's own time, on stdout; exits 0, or 1 naming the
 * call that failed. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long n;
	int p[2];
	char buf[64], c = 'x';
	struct stat st;

	if (argc != 4 || (strcmp(argv[1], "rw") != 0 && strcmp(argv[1], "open") != 0)) {
		fprintf(stderr, "usage: %s rw|open ITERATIONS FILE\n", argv[0]);
		return 2;
	}
	bool reopen = strcmp(argv[1], "open") == 0;
	const char *file = argv[3];
	n = strtoul(argv[2], NULL, 10);
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe2");
		return 1;
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	unsigned long long t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		if (reopen) {
			close(fd);
			fd = open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror("open");
				return 1;
			}
		}
		if (pread(fd, buf, sizeof(buf), 0) < 0) {
			perror("pread");
			return 1;
		}
		if (stat(file, &st) < 0) {
			perror("stat");
			return 1;
		}
		if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1) {
			perror("pipe");
			return 1;
		}
		(void)getppid();
	}
	unsigned long long t1 = now_ns();
	printf("ns %llu\n", t1 - t0);
	return 0;
}
