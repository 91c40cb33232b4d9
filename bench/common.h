/* What every benchmark shares: a monotonic clock, samples and their
 * percentiles, the bare spawn every ratio is measured against, the RESULT
 * lines bench/run collects, /proc readings of a process, a gateway child
 * process spoken to over stdio, a keep-alive HTTP/1.1 client, and generated
 * manifests. Benchmarks are programs that print ratios measured side by side
 * in one run (STYLE 16); nothing here asserts a time. */
#ifndef TOOLCELL_BENCH_COMMON_H
#define TOOLCELL_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t bench_now_ns(void);

/* ---- samples ---- */

struct samples {
	double *v; /* microseconds, unless the caller says otherwise */
	size_t n, cap;
};

void samples_add(struct samples *s, double v);
/* The p-th percentile (0..100, nearest rank); sorts s->v. 0 when empty. */
double samples_pct(struct samples *s, double p);
void samples_free(struct samples *s);

/* ---- output ---- */

/* Prints one line bench/run collects into its summary:
 *   RESULT <bench> <metric> <value> <unit> <op> <target> <PASS|BELOW|->
 * op is "<=", ">=", "<" or "" (no target: for the record). */
void bench_result(const char *bench, const char *metric, double value, const char *unit,
		  const char *op, double target);

/* Parses "--name N" style unsigned options shared by all benchmarks; exits
 * with a usage message on anything unknown. `names` and `vals` are parallel,
 * NULL-terminated by name. String options (--toolcell, --manifests, ...) go to
 * `snames`/`svals` the same way. "--smoke" sets *smoke when smoke != NULL. */
void bench_opts(int argc, char **argv, const char *const *names, unsigned *vals,
		const char *const *snames, const char **svals, bool *smoke, const char *usage);

/* ---- processes ---- */

/* posix_spawn of file with argv and an empty environment, stdio on `null_fd`
 * (a /dev/null descriptor), then waitpid. Returns the wait status or -errno. */
int bare_spawn_wait(const char *file, char *const argv[], int null_fd);

/* posix_spawn with stdio on the given fds (-1: /dev/null of null_fd), the
 * gateway's own environment. Returns the pid or -errno. */
pid_t bench_spawn_fds(const char *file, char *const argv[], int in, int out, int err, int null_fd);

long proc_rss_kib(pid_t pid);	    /* VmRSS, -1 when unreadable */
double proc_cpu_s(pid_t pid);	    /* utime+stime of the process, seconds */
int proc_count_fds(pid_t pid);	    /* entries of /proc/PID/fd */
int proc_count_children(pid_t pid); /* live children of every thread */

/* The first executable NAME in /usr/bin, /bin or /usr/local/bin, written to
 * buf (len bytes). Returns buf, or NULL when there is none. */
const char *bench_find_exe(const char *name, char *buf, size_t len);

/* A private directory under $TMPDIR or /tmp, "toolcell-bench-<what>-XXXXXX".
 * Returns a malloc'd path or NULL. rm_rf removes what it made. */
char *bench_tmpdir(const char *what);
void bench_rm_rf(const char *dir);

/* The trivial tool every round trip calls: "true", /bin/true with read
 * @system+{workspace} and exec @system (the grants of the bundled read_file). */
int bench_write_true_manifest(const char *dir);

/* n generated manifests in dir (tool names gen_000...), a mix shaped like
 * the bundled ones: read-only with a path argument, write with stdin, a list
 * with an enum and an integer, and one with a literal net grant. Returns 0 or
 * -errno. */
int bench_write_manifests(const char *dir, unsigned n);

/* ---- a gateway on stdio ---- */

struct gw_proc {
	pid_t pid;
	int in;	 /* its stdin: we write requests */
	int out; /* its stdout: we read responses */
	char buf[1 << 16];
	size_t len;
	size_t consumed; /* bytes of the line gw_recv_id returned last */
	int next_id;
};

/* Starts `toolcell serve ARGS...` (argv[0] is the binary) with stderr to
 * `log_path` (or /dev/null when NULL). Returns 0 or -errno. */
int gw_start(struct gw_proc *g, char *const argv[], const char *log_path);
/* Writes one line (a newline is added). Returns 0 or -errno. */
int gw_send(struct gw_proc *g, const char *json);
/* Reads lines until the response with this id; `*line` points into g->buf and
 * stays valid until the next read. timeout_ms < 0 waits forever. Returns its
 * length, or -ETIMEDOUT / -EPIPE / -errno. */
ssize_t gw_recv_id(struct gw_proc *g, int id, const char **line, int timeout_ms);
/* The next line, whatever it is (for pipelined requests). Same contract. */
ssize_t gw_recv_line(struct gw_proc *g, const char **line, int timeout_ms);
/* The id of a response line, or -1. */
int bench_line_id(const char *line);
/* initialize + notifications/initialized. Returns 0 or -errno. */
int gw_handshake(struct gw_proc *g);
/* Closes stdin, waits up to 5 s for the exit, then SIGKILLs. */
void gw_stop(struct gw_proc *g);

/* Whether a tools/call response line (stdio) or body (HTTP) says success. */
bool bench_call_ok(const char *resp, size_t len);

/* ---- HTTP/1.1 keep-alive client for `serve --http` ---- */

struct http_conn {
	int fd;
	unsigned port;
	const char *token; /* borrowed; NULL without auth */
	char sid[80];	   /* Mcp-Session-Id after initialize */
	char *buf;	   /* received bytes (owned) */
	size_t len, cap;
};

/* Connects to 127.0.0.1:port. Returns 0 or -errno. */
int http_connect(struct http_conn *c, unsigned port, const char *token);
/* POSTs body to /mcp and reads the response. *status is the HTTP status;
 * *resp points to the body (inside c->buf, valid until the next request)
 * of length *resp_len. Returns 0 or -errno. */
int http_post(struct http_conn *c, const char *body, int *status, const char **resp,
	      size_t *resp_len);
/* initialize (storing the session id) + notifications/initialized. */
int http_handshake(struct http_conn *c);
void http_close(struct http_conn *c);

/* Starts `serve --http 127.0.0.1:0 --token-file F ...` and waits until it
 * says where it listens. argv[0] is the binary; the caller passes the rest
 * (manifests, workspace); "serve --http 127.0.0.1:0 --token-file F" is
 * inserted. *token gets the token (static storage). Returns 0 or -errno. */
int http_gw_start(pid_t *pid, unsigned *port, const char **token, const char *toolcell,
		  const char *manifests, const char *workspace, const char *tmpdir);
void http_gw_stop(pid_t pid);

/* The binary: --toolcell, else $TOOLCELL_BIN, else the build's. */
const char *bench_toolcell(const char *opt);

#endif
