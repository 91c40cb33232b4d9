/* The seccomp-bpf filter every tool runs under, compiled once with libseccomp
 * as two ready BPF programs that the kernel stacks: the base, loaded once by a
 * spawner thread whose children inherit it (sandbox/spawn.c), and the call
 * stage, loaded by each child with one system call. */
#ifndef TOOLCELL_SANDBOX_SECCOMP_H
#define TOOLCELL_SANDBOX_SECCOMP_H

#include <stddef.h>

#include <linux/filter.h>

/* What a tool's grants add to the base filter. */
enum {
	SBX_FILTER_INET = 1,	       /* TCP sockets may be created (net or listen grants) */
	SBX_FILTER_NOTIFY_CONNECT = 2, /* connect(2) goes to the gateway's supervisor */
	SBX_FILTER_NOTIFY_META = 4,    /* chmod/chown/utimensat go to the supervisor */
	SBX_FILTER_PROFILES = 8,
};

struct sbx_filter {
	struct sock_fprog prog; /* the call stage, loaded by the child (owned) */
	struct sock_fprog base; /* the base stage, loaded by the spawner thread
				 * of this profile (owned); len 0: none, the
				 * child loads prog alone (tests' allow-all) */
	unsigned profile;
};

/* Compiles both stages for the native architecture and a profile
 * (SBX_FILTER_* bits); the base stage is a function of the profile alone.
 * Returns 0 and fills *out, or -errno. */
int sbx_filter_compile(struct sbx_filter *out, unsigned profile);

/* The program for a profile, compiled on first use and kept for the life of
 * the process (borrowed). Gateway thread only. Returns 0 or -errno. */
int sbx_filter_get(unsigned profile, const struct sbx_filter **out);

/* Frees the program; a zeroed filter is a no-op. */
void sbx_filter_free(struct sbx_filter *f);

/* Child side: installs the call stage with one raw system call. Requires
 * no_new_privs. Async-signal-safe. Returns 0, or for a supervised profile the
 * seccomp notification listener fd (close-on-exec), or -errno. */
int sbx_filter_load(const struct sbx_filter *f);

/* One line per rule of a profile, in words, for `toolcell explain`.
 * NULL-terminated, static storage valid until the next call. */
const char *const *sbx_filter_describe(unsigned profile);

#endif
