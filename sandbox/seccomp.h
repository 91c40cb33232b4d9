/* The seccomp-bpf filter every tool runs under, compiled once with libseccomp
 * and loaded in the child as a ready BPF program (one system call). */
#ifndef TOOLCELL_SANDBOX_SECCOMP_H
#define TOOLCELL_SANDBOX_SECCOMP_H

#include <stddef.h>

#include <linux/filter.h>

struct sbx_filter {
	struct sock_fprog prog; /* prog.filter is owned */
};

/* Compiles the filter for the native architecture. Returns 0 and fills *out,
 * or -errno. */
int sbx_filter_compile(struct sbx_filter *out);

/* Frees the program; a zeroed filter is a no-op. */
void sbx_filter_free(struct sbx_filter *f);

/* Child side: installs the filter with one raw system call. Requires
 * no_new_privs. Async-signal-safe. Returns 0 or -errno. */
int sbx_filter_load(const struct sbx_filter *f);

/* One line per rule, in words, for `toolcell explain`. NULL-terminated,
 * static storage. */
const char *const *sbx_filter_describe(void);

#endif
