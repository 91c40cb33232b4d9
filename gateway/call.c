/* One tools/call, from arguments to result, on the gateway's libuv loop.
 *
 * Lifetime: the call owns a timer, up to three pipes, a poll on its spawn
 * (until a spawner thread has cloned the child and the child has exec'd or
 * failed; the loop serves other requests meanwhile) and then a pidfd poll. It
 * finishes when the leader has exited (and the group has been killed) and both
 * output pipes reached EOF; then it reports, closes its handles and frees itself
 * once the last close callback has run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "gateway/call.h"
#include "gateway/log.h"
#include "gateway/schema.h"
#include "sandbox/keeper.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"

#define STDERR_LINE_MAX 4096
#define READ_CHUNK (64 * 1024)

struct gw_call {
	const struct gw_call_env *env;
	struct gw_tool *tool;
	const struct gw_call_events *ev;
	void *ud;
	struct sbx_child child;

	uv_pipe_t out_pipe, err_pipe, in_pipe;
	uv_poll_t exit_poll;
	uv_poll_t start_poll; /* the spawn's completion */
	struct start *start;  /* until the spawn completes, else NULL */
	bool start_failed;    /* reported with start_error instead of a result */
	char *start_error;    /* why, or NULL when that could not be allocated */
	bool kill_pending;    /* killed before the child was there */
	uv_timer_t timer;
	uv_write_t wreq;
	int open_handles;

	bool exited, out_eof, err_eof, in_open, cancelled, timed_out, truncated, finished;
	int status;
	uint64_t start_ns;

	char *out; /* output_kb bytes */
	size_t out_len, out_cap;
	char *err; /* GW_STDERR_MAX bytes */
	size_t err_len;
	bool err_truncated;
	char line[STDERR_LINE_MAX];
	size_t line_len;

	char *stdin_data;
	size_t stdin_len;
	char *args_json; /* the arguments, for the audit log (only with one) */
	char *tmp; /* the call's {tmp}, removed at the end */
	uint64_t tmp_access; /* Landlock rights on {tmp} itself */
	bool tmp_mounted;    /* {tmp} is a tmpfs in the call's mount namespace */

	struct sbx_cgroup_call cg; /* procs_fd -1 when unused */
	struct sbx_supervisor sup; /* listener -1 when unsupervised */
	uv_poll_t sup_poll;
	struct pending *pending; /* connects in progress */
};

/* What a spawn needs until the child has exec'd. The child reads the request
 * and everything it points to in the gateway's memory (CLONE_VM) while the
 * loop goes on with other work, so it all lives here, unchanged, until the
 * spawn completes (sandbox/spawn.h). */
struct start {
	struct sbx_spawn_req req;
	struct sbx_spawn_op *op;
	struct gw_strv argv, envp;
	char *cwd;
	char tmp_opts[80];
	struct sbx_ll_rule extra[16]; /* per-call grants, also for the supervisor */
	size_t nextra;
	int ruleset;
	bool ruleset_owned;
	/* The child's ends of its stdin, stdout and stderr. Kept open until the
	 * spawn completes: the child takes its copies at clone time. */
	int child_fds[3];
};

/* A connect the supervisor started for a tool's blocking socket. */
struct pending {
	struct gw_call *c;
	struct sbx_pending p;
	uv_poll_t poll;
	struct pending *next;
};

static unsigned active_calls;
/* Sum of the `processes` limits of the calls in flight. */
static unsigned long reserved_processes;

unsigned gw_call_active(void)
{
	return active_calls;
}

/* ---- per-call {tmp} ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void gw_remove_tree(const char *dir)
{
	/* FTW_PHYS: a symlink a tool left in {tmp} is removed, never followed
	 * (following it would let a tool make the gateway delete any file it
	 * can reach). FTW_MOUNT: never cross into another filesystem. */
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *make_tmp(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || base[0] != '/')
		base = "/tmp";
	if (asprintf(&path, "%s/toolcell.XXXXXX", base) < 0)
		return NULL;
	/* mkdtemp creates it 0700, owned by the gateway's uid: other local users
	 * cannot plant files in it between now and the tool's start. */
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

/* ---- RLIMIT_NPROC base ---- */

/* Threads in /proc/<pid>/stat (field 20), or 1 when it cannot be read. */
static unsigned long threads_of(int procfd, const char *pid)
{
	char path[300], buf[1024];
	int fd;
	ssize_t n;
	char *p;
	unsigned long threads = 1;

	snprintf(path, sizeof(path), "%s/stat", pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* The command name (field 2) may contain spaces and ')': count fields
	 * from the last ')'. Field 3 follows it; num_threads is field 20. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 20; field++)
		p = strchr(p + 1, ' ');
	if (p)
		threads = strtoul(p + 1, NULL, 10);
	return threads ? threads : 1;
}

/* RLIMIT_NPROC counts every task (thread) of the real uid, not the call's
 * processes, so a call gets "what the uid runs now + processes", plus the
 * processes of the calls in flight, so concurrent calls do not starve each other. The
 * count scans /proc and is cached for two seconds. Root is exempt from the
 * limit in the kernel and needs no count. */
static unsigned long nproc_base(uv_loop_t *loop)
{
	static uint64_t when;
	static unsigned long count;
	uid_t uid = getuid();
	uint64_t now = uv_now(loop);
	DIR *d;
	struct dirent *de;

	if (uid == 0)
		return 0;
	if (!when || now - when >= 2000) {
		d = opendir("/proc");
		if (d) {
			count = 0;
			while ((de = readdir(d))) {
				struct stat st;
				if (de->d_name[0] < '1' || de->d_name[0] > '9')
					continue;
				if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && st.st_uid == uid)
					count += threads_of(dirfd(d), de->d_name);
			}
			closedir(d);
			when = now;
		}
	}
	return count + reserved_processes;
}

/* ---- finishing ---- */

static const char *signal_note(int sig)
{
	switch (sig) {
	case SIGSYS:
		return " (a system call the sandbox denies)";
	case SIGXCPU:
		return " (cpu_s limit)";
	case SIGXFSZ:
		return " (file_size_mb limit)";
	default:
		return "";
	}
}

char *gw_call_failure(const struct gw_call_result *res)
{
	char *s = NULL;
	int r;

	if (res->timed_out)
		r = asprintf(&s, "killed: timeout after %u s (timeout_s)", res->timeout_s);
	else if (res->truncated)
		r = asprintf(&s, "killed: output exceeded %u KiB (output_kb); output truncated",
			     res->output_kb);
	else if (res->signal)
		r = asprintf(&s, "killed by signal %d (SIG%s)%s", res->signal,
			     sigabbrev_np(res->signal) ? sigabbrev_np(res->signal) : "?",
			     signal_note(res->signal));
	else if (res->exit_code != 0)
		r = asprintf(&s, "exit status %d", res->exit_code);
	else
		return NULL;
	return r < 0 ? NULL : s;
}

static void on_pending_closed(uv_handle_t *h);

static void call_release(struct gw_call *c)
{
	if (--c->open_handles > 0)
		return;
	sbx_supervisor_close(&c->sup);
	free(c->args_json);
	free(c->tmp);
	reserved_processes -= c->tool->limits.processes;
	gw_tool_unref(c->tool);
	free(c->out);
	free(c->err);
	free(c->stdin_data);
	free(c->start_error);
	free(c);
	active_calls--;
}

static void on_handle_closed(uv_handle_t *h)
{
	call_release(h->data);
}

static void close_handle(struct gw_call *c, uv_handle_t *h)
{
	if (h->data && !uv_is_closing(h))
		uv_close(h, on_handle_closed);
	(void)c;
}

static void kill_tree(struct gw_call *c)
{
	/* Cancelled or timed out while the spawn is still under way: the
	 * child is killed the moment it is known (on_spawned). */
	if (c->start) {
		c->kill_pending = true;
		if (c->start->op)
			sbx_spawn_cancel(c->start->op);
	} else if (!c->exited)
		sbx_child_kill(&c->child, c->env->features->pidfd_group_signal);
}

/* One line of the audit log (--audit): what ran, with which arguments, and
 * how it ended. A single write to an O_APPEND descriptor, so concurrent
 * gateways sharing the file never interleave inside a line. */
static void audit(const struct gw_call_env *env, const char *tool, const char *args_json,
		  const struct gw_call_result *res, bool cancelled, const char *error)
{
	cJSON *o, *args;
	char stamp[40], *line;
	struct timespec ts;
	struct tm tm;

	if (env->audit_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ldZ",
		 ts.tv_nsec / 1000000);
	o = cJSON_CreateObject();
	args = args_json ? cJSON_Parse(args_json) : NULL;
	cJSON_AddStringToObject(o, "time", stamp);
	cJSON_AddStringToObject(o, "tool", tool);
	cJSON_AddItemToObject(o, "arguments", args ? args : cJSON_CreateNull());
	if (res) {
		if (res->signal)
			cJSON_AddNullToObject(o, "exitCode");
		else
			cJSON_AddNumberToObject(o, "exitCode", res->exit_code);
		if (res->signal)
			cJSON_AddStringToObject(o, "signal", sigabbrev_np(res->signal));
		else
			cJSON_AddNullToObject(o, "signal");
		cJSON_AddNumberToObject(o, "durationMs",
					(double)(long long)(res->duration_ms * 1000) / 1000);
		cJSON_AddBoolToObject(o, "timedOut", res->timed_out);
		cJSON_AddBoolToObject(o, "truncated", res->truncated);
		cJSON_AddNumberToObject(o, "stdoutBytes", (double)res->out_len);
	}
	cJSON_AddBoolToObject(o, "cancelled", cancelled);
	if (error)
		cJSON_AddStringToObject(o, "error", error);
	else
		cJSON_AddNullToObject(o, "error");
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line) {
		gw_log(GW_LOG_ERROR, "audit: out of memory; a call of %s is not logged", tool);
		return;
	}
	size_t n = strlen(line);
	line[n] = '\n'; /* cJSON's buffer has room: its NUL */
	struct stat st;
	bool sized = fstat(env->audit_fd, &st) == 0;
	ssize_t w = write(env->audit_fd, line, n + 1);
	if (w != (ssize_t)(n + 1)) {
		/* A short write (a full disk) leaves half a line: cut it off, so
		 * the log stays one JSON object per line. */
		int e = w < 0 ? errno : ENOSPC;
		if (w > 0 && sized && ftruncate(env->audit_fd, st.st_size) < 0)
			gw_log(GW_LOG_ERROR, "audit: cannot remove a partial line: %s",
			       strerror(errno));
		gw_log(GW_LOG_ERROR, "audit: cannot write the log: %s (a call of %s is not logged)",
		       strerror(e), tool);
	}
	free(line);
}

static void maybe_finish(struct gw_call *c)
{
	struct gw_call_result res;

	if (c->finished || !c->exited || !c->out_eof || !c->err_eof)
		return;
	c->finished = true;
	uv_timer_stop(&c->timer);
	/* Every process of the call is dead (the group was killed before the
	 * leader was reaped), so {tmp} goes now: before the result, so a client
	 * that has the result never sees the call's files linger. */
	if (c->tmp)
		gw_remove_tree(c->tmp);
	if (c->cg.procs_fd >= 0 && sbx_cgroup_call_free(c->env->cgroup, &c->cg) < 0)
		gw_log(GW_LOG_WARN, "call %s: its pids cgroup could not be removed", c->tool->name);
	if (c->line_len && c->ev->on_stderr_line && !c->cancelled)
		c->ev->on_stderr_line(c->ud, c->line, c->line_len);
	if (c->start_failed) {
		const char *why = c->start_error ? c->start_error
						 : "cannot start the call: out of memory";
		audit(c->env, c->tool->name, c->args_json, NULL, c->cancelled, why);
		if (!c->cancelled)
			c->ev->on_failed(c->ud, why);
	} else {
		res = (struct gw_call_result){
		    .exit_code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1,
		    .signal = WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0,
		    .timed_out = c->timed_out,
		    .truncated = c->truncated,
		    .duration_ms = (double)(uv_hrtime() - c->start_ns) / 1e6,
		    .out = c->out,
		    .out_len = c->out_len,
		    .err = c->err,
		    .err_len = c->err_len,
		    .err_truncated = c->err_truncated,
		    .timeout_s = c->tool->limits.timeout_s,
		    .output_kb = c->tool->limits.output_kb,
		};
		char *failure = c->env->audit_fd >= 0 ? gw_call_failure(&res) : NULL;
		audit(c->env, c->tool->name, c->args_json, &res, c->cancelled, failure);
		free(failure);
		if (!c->cancelled)
			c->ev->on_done(c->ud, &res);
	}
	close_handle(c, (uv_handle_t *)&c->timer);
	close_handle(c, (uv_handle_t *)&c->out_pipe);
	close_handle(c, (uv_handle_t *)&c->err_pipe);
	close_handle(c, (uv_handle_t *)&c->in_pipe);
	close_handle(c, (uv_handle_t *)&c->exit_poll);
	close_handle(c, (uv_handle_t *)&c->start_poll);
	close_handle(c, (uv_handle_t *)&c->sup_poll);
	for (struct pending *pd = c->pending; pd; pd = pd->next) {
		if (!uv_is_closing((uv_handle_t *)&pd->poll))
			uv_close((uv_handle_t *)&pd->poll, on_pending_closed);
	}
}

void gw_call_cancel(struct gw_call *c)
{
	if (c->finished)
		return;
	c->cancelled = true;
	kill_tree(c);
}

/* ---- events ---- */

static void reap(struct gw_call *c);

static void on_exit_readable(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	reap(p->data);
}

/* The leader has exited (or was just killed: waitid waits for it). */
static void reap(struct gw_call *c)
{
	if (c->exited)
		return;
	/* Kill the group before reaping the leader: while the leader is an
	 * unreaped zombie its pid, which is the group id, cannot be reused, so
	 * the signal reaches exactly this call's processes — including a
	 * double-forked daemon the leader left behind. */
	sbx_child_kill(&c->child, c->env->features->pidfd_group_signal);
	/* The handle lets go of the pidfd before the reap closes it. libuv
	 * forgets a descriptor by its number: a poll handle closed later, when
	 * the output ends, would take that number out of the loop's epoll
	 * again, and by then another call's pipe or pidfd may have it. That
	 * call would never hear of its output or its exit: never answered. */
	close_handle(c, (uv_handle_t *)&c->exit_poll);
	pid_t pid = c->child.pid;
	if (sbx_child_reap(&c->child, &c->status) < 0)
		c->status = W_EXITCODE(127, 0);
	c->exited = true;
	if (c->env->keeper_fd >= 0)
		sbx_keeper_del(c->env->keeper_fd, pid);
	maybe_finish(c);
}

static void on_timeout(uv_timer_t *t)
{
	struct gw_call *c = t->data;

	c->timed_out = true;
	kill_tree(c);
}

/* ---- the supervisor ---- */

static void on_pending_closed(uv_handle_t *h)
{
	struct pending *pd = h->data, **pp;
	struct gw_call *c = pd->c;

	for (pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	}
	if (pd->p.sock >= 0)
		close(pd->p.sock);
	free(pd);
	call_release(c);
}

static void on_pending_writable(uv_poll_t *h, int status, int events)
{
	struct pending *pd = h->data;

	(void)status;
	(void)events;
	if (uv_is_closing((uv_handle_t *)h))
		return;
	/* Closed before the socket (see on_exit_readable). */
	uv_close((uv_handle_t *)h, on_pending_closed);
	sbx_supervisor_finish(&pd->c->sup, &pd->p);
}

static void on_notification(uv_poll_t *h, int status, int events)
{
	struct gw_call *c = h->data;
	struct sbx_pending p = {.sock = -1};
	int r;

	(void)events;
	if (status < 0 || c->sup.listener < 0) {
		uv_poll_stop(h);
		return;
	}
	r = sbx_supervisor_handle(&c->sup, &p);
	if (r < 0) {
		/* The listener is gone (every process of the call has exited):
		 * nothing is left to supervise. */
		uv_poll_stop(h);
		return;
	}
	if (r == 1) {
		/* A pending connect lives on its own until its socket answers; the
		 * tool's thread stays blocked meanwhile, and if the call is killed
		 * the answer just finds no one (the timeout bounds the wait). */
		struct pending *pd = calloc(1, sizeof(*pd));
		if (!pd || uv_poll_init(c->env->loop, &pd->poll, p.sock) < 0) {
			sbx_supervisor_finish(&c->sup, &p);
			free(pd);
			return;
		}
		/* uv_poll_init made the socket non-blocking, and the socket is the
		 * tool's own open file: give it back the blocking mode it had. */
		int fl = fcntl(p.sock, F_GETFL);
		if (fl >= 0)
			fcntl(p.sock, F_SETFL, fl & ~O_NONBLOCK);
		pd->c = c;
		pd->p = p;
		pd->poll.data = pd;
		pd->next = c->pending;
		c->pending = pd;
		c->open_handles++;
		uv_poll_start(&pd->poll, UV_WRITABLE | UV_DISCONNECT, on_pending_writable);
	}
}

/* Hands the listener to a supervisor that knows the call's write grants:
 * the policy's, and the per-call ones ({tmp}, path arguments). */
static int start_supervisor(struct gw_call *c, const struct sbx_ll_rule *extra, size_t nextra)
{
	const struct sbx_policy *p = c->tool->policy;
	size_t n = 0;

	c->sup.listener = c->child.notify_fd;
	c->child.notify_fd = -1;
	c->sup.net = p->net;
	c->sup.tool_uid = c->env->userns ? c->env->inside_uid : getuid();
	c->sup.tool_gid = c->env->userns ? c->env->inside_gid : getgid();
	c->sup.roots = calloc(p->nwrite_roots + nextra + 2, sizeof(*c->sup.roots));
	if (!c->sup.roots)
		return -ENOMEM;
	for (size_t i = 0; i < p->nwrite_roots; i++)
		c->sup.roots[n++] = p->write_roots[i];
	for (size_t i = 0; i < nextra; i++) {
		struct stat st;
		if ((extra[i].access & SBX_LL_FS_WRITE_FILE) && fstat(extra[i].fd, &st) == 0 &&
		    !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			c->sup.roots[n++] = (struct sbx_inode){.dev = st.st_dev, .ino = st.st_ino};
	}
	if (c->tmp_mounted && (c->tmp_access & SBX_LL_FS_WRITE_FILE)) {
		/* The tmpfs is only in the tool's mount namespace: its root is
		 * found through the tool's view of the file system. */
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)c->child.pid, c->tmp);
		/* A tool that has exited already (a fast one) asks nothing more;
		 * otherwise metadata changes in {tmp} are refused (fail closed). */
		if (stat(path, &st) == 0)
			c->sup.roots[n++] = (struct sbx_inode){.dev = st.st_dev, .ino = st.st_ino};
		else
			gw_log(GW_LOG_DEBUG, "call %s: {tmp} of pid %d: %s", c->tool->name,
			       (int)c->child.pid, strerror(errno));
	}
	c->sup.nroots = n;
	if (uv_poll_init(c->env->loop, &c->sup_poll, c->sup.listener) < 0)
		return -EIO;
	c->sup_poll.data = c;
	c->open_handles++;
	return uv_poll_start(&c->sup_poll, UV_READABLE, on_notification) < 0 ? -EIO : 0;
}

static void alloc_chunk(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	/* The loop is single-threaded and read callbacks consume the buffer
	 * before the next read: one buffer serves every pipe. */
	static char chunk[READ_CHUNK];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_stdout(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct gw_call *c = s->data;

	if (n < 0) {
		uv_read_stop(s);
		c->out_eof = true;
		maybe_finish(c);
		return;
	}
	if (n == 0 || c->truncated)
		return;
	size_t take = (size_t)n;
	if (take > c->out_cap - c->out_len) {
		take = c->out_cap - c->out_len;
		/* Past output_kb: keep what fits, and stop the tool rather than
		 * let it fill the gateway's memory or the model's context. */
		c->truncated = true;
		kill_tree(c);
	}
	memcpy(c->out + c->out_len, buf->base, take);
	c->out_len += take;
	if (take && c->ev->on_stdout && !c->cancelled)
		c->ev->on_stdout(c->ud, buf->base, take, c->out_len);
}

static void on_stderr(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct gw_call *c = s->data;

	if (n < 0) {
		uv_read_stop(s);
		c->err_eof = true;
		maybe_finish(c);
		return;
	}
	size_t take = (size_t)n;
	if (take > GW_STDERR_MAX - c->err_len) {
		take = GW_STDERR_MAX - c->err_len;
		c->err_truncated = true;
	}
	memcpy(c->err + c->err_len, buf->base, take);
	c->err_len += take;
	if (!c->ev->on_stderr_line || c->cancelled)
		return;
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf->base[i];
		if (ch != '\n')
			c->line[c->line_len++] = ch;
		if (ch == '\n' || c->line_len == sizeof(c->line)) {
			c->ev->on_stderr_line(c->ud, c->line, c->line_len);
			c->line_len = 0;
		}
	}
}

static void on_stdin_written(uv_write_t *w, int status)
{
	struct gw_call *c = w->data;

	/* EPIPE means the tool exited or closed stdin without reading it all:
	 * its business, not an error of the call. Closing gives it EOF. */
	(void)status;
	close_handle(c, (uv_handle_t *)&c->in_pipe);
}

/* ---- start ---- */

/* Errors that say the gateway is short of something, not that a call's
 * arguments are wrong. */
static bool resource_error(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* Resolves a per-call grant path to an O_PATH fd: {tmp} paths beneath the
 * call's tmp, everything else beneath the workspace. */
static int resolve_dyn(struct gw_call *c, const struct gw_dyn_grant *g, const struct gw_tpl_ctx *tc,
		       struct sbx_ll_rule *rule, char *msg, size_t msglen)
{
	char *path = NULL;
	const char *rel, *base, *argname = NULL;
	int dirfd, fd, r;
	struct stat st;

	for (size_t i = 0; i < g->path.n && !argname; i++)
		if (g->path.parts[i].kind == GW_TPL_ARG)
			argname = g->path.parts[i].text;
	r = gw_tpl_expand_one(&g->path, tc, &path, msg, msglen);
	if (r < 0)
		return r;
	if (!path)
		return 0; /* a missing optional argument grants nothing */
	base = g->in_tmp ? c->tmp : c->env->workspace;
	size_t bl = strlen(base);
	if (path[0] != '/')
		rel = path;
	else if (strcmp(path, base) == 0)
		rel = ".";
	else if (strncmp(path, base, bl) == 0 && path[bl] == '/')
		rel = path + bl + 1;
	else {
		snprintf(msg, msglen, "argument '%s': %s is outside the workspace (%s)",
			 argname ? argname : "?", path, c->env->workspace);
		free(path);
		return -EPERM;
	}
	if (g->in_tmp) {
		dirfd = open(c->tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			r = -errno;
			free(path);
			return r;
		}
	} else
		dirfd = c->env->workspace_fd;
	/* Resolved by the kernel beneath the base: "..", absolute symlinks and
	 * symlinks pointing outside fail (EXDEV) instead of granting whatever
	 * they point to. This is what stops {path} = "link-to-home/.ssh". */
	struct open_how how = {
	    .flags = O_PATH | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	r = fd < 0 ? -errno : 0;
	if (g->in_tmp)
		close(dirfd);
	if (fd < 0 && resource_error(r)) {
		free(path);
		return r; /* the gateway's trouble, not the argument's: worded by the caller */
	}
	if (fd < 0) {
		snprintf(msg, msglen, "argument '%s': %s %s", argname ? argname : "{tmp}", path,
			 r == -EXDEV || r == -ELOOP ? "resolves outside the workspace"
			 : r == -ENOENT		    ? "does not exist"
						    : strerror(-r));
		free(path);
		return r;
	}
	free(path);
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	rule->fd = fd;
	rule->access = sbx_access_rights(g->access, S_ISDIR(st.st_mode));
	if (!S_ISDIR(st.st_mode))
		rule->access &= SBX_LL_FS_FILE_RIGHTS;
	if (g->in_tmp && strcmp(rel, ".") == 0)
		c->tmp_access |= rule->access;
	return 1;
}

static int open_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

static void start_free(struct start *st)
{
	for (int i = 0; i < 3; i++)
		if (st->child_fds[i] >= 0)
			close(st->child_fds[i]);
	for (size_t i = 0; i < st->nextra; i++)
		close(st->extra[i].fd);
	if (st->ruleset_owned)
		close(st->ruleset);
	gw_strv_free(&st->argv);
	gw_strv_free(&st->envp);
	free(st->cwd);
	free(st);
}

/* Why a spawn failed, as the result's text: malloc'd, or NULL (ENOMEM). */
static char *start_failure(const char *file, int r, const struct sbx_spawn_error *serr)
{
	char *s;

	if (r == -ECHILD && asprintf(&s, "cannot start %s: %s failed: %s", file,
				     sbx_step_name(serr->step), strerror(serr->err)) >= 0)
		return s;
	if (r != -ECHILD && asprintf(&s, "cannot start %s: %s", file, strerror(-r)) >= 0)
		return s;
	return NULL;
}

/* The timer for timeout_s, counted from start_ns (just before the spawn).
 * Not from the loop's cached time: that was read when this loop iteration
 * began, before the request was parsed, and a timer set from it fires early
 * by that much (on a loaded machine a 1 s limit killed at 999.5 ms). The
 * cached time is in whole milliseconds, rounded down: one more covers it. */
static uint64_t timeout_from(uv_loop_t *loop, uint64_t start_ns, const struct gw_tool *tool)
{
	uint64_t limit = (uint64_t)tool->limits.timeout_s * 1000 + 1;
	uint64_t spent = (uv_hrtime() - start_ns) / 1000000;

	uv_update_time(loop);
	return spent < limit ? limit - spent : 1;
}

/* The spawn has completed (the handle on its fd, if any, is closed): the
 * child runs, or it failed before running the tool, or it was cancelled
 * before the clone. What follows needs the child: its exit, its supervisor. */
static void spawned(struct gw_call *c)
{
	struct start *st = c->start;
	struct sbx_spawn_error serr = {0};
	int r;

	while (!sbx_spawn_ready(st->op)) {
		/* Only when the loop could not watch the fd: wait here. */
		struct pollfd pfd = {.fd = sbx_spawn_fd(st->op), .events = POLLIN};
		(void)poll(&pfd, 1, -1);
	}
	r = sbx_spawn_finish(st->op, &c->child, &serr);
	st->op = NULL;
	if (r < 0) {
		/* The tool did not start, or was killed at once. Once our ends
		 * of its pipes are closed the outputs reach EOF, and the call
		 * finishes with this reason instead of a result. */
		if (r == -ECANCELED && c->timed_out) {
			if (asprintf(&c->start_error,
				     "killed: timeout after %u s (timeout_s), before the tool started",
				     c->tool->limits.timeout_s) < 0)
				c->start_error = NULL;
		} else {
			c->start_error = start_failure(st->argv.v[0], r, &serr);
		}
		c->start_failed = true;
		c->exited = true;
		c->start = NULL;
		start_free(st);
		maybe_finish(c);
		return;
	}
	if (uv_poll_init(c->env->loop, &c->exit_poll, c->child.pidfd) == 0) {
		c->exit_poll.data = c;
		c->open_handles++;
	}
	if (c->child.notify_fd >= 0) {
		r = start_supervisor(c, st->extra, st->nextra);
		if (r < 0) {
			/* Without its supervisor the tool's connects and chmods
			 * would hang: end the call rather than run it unwatched. */
			gw_log(GW_LOG_ERROR, "call %s: cannot supervise: %s", c->tool->name,
			       strerror(-r));
			c->kill_pending = true;
		}
	}
	c->start = NULL;
	start_free(st);
	if (c->kill_pending)
		kill_tree(c);
	if (!c->exit_poll.data ||
	    uv_poll_start(&c->exit_poll, UV_READABLE, on_exit_readable) < 0) {
		/* Its exit cannot be watched: kill it, and wait for that. */
		gw_log(GW_LOG_ERROR, "call %s: cannot watch the process", c->tool->name);
		kill_tree(c);
		reap(c);
	}
	gw_log(GW_LOG_DEBUG, "call %s: pid %d", c->tool->name, (int)c->child.pid);
}

static void on_spawned(uv_poll_t *p, int status, int events)
{
	struct gw_call *c = p->data;

	(void)events;
	/* On an error libuv has stopped watching: finish by waiting. */
	if (status == 0 && !sbx_spawn_ready(c->start->op))
		return;
	/* The handle lets go of the descriptor before sbx_spawn_finish closes
	 * it: libuv forgets a descriptor by its number, and by the time a
	 * later close reached epoll another call could have that number (see
	 * on_exit_readable). */
	close_handle(c, (uv_handle_t *)p);
	spawned(c);
}

int gw_call_start(const struct gw_call_env *env, struct gw_tool *tool, const cJSON *args,
		  const struct gw_call_events *ev, void *ud, struct gw_call **out, char *msg,
		  size_t msglen)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1};
	int r;
	cJSON *empty = NULL;
	struct gw_call *c;
	struct start *st;
	struct sbx_spawn_error serr = {0};

	msg[0] = '\0';
	if (!args)
		args = empty = cJSON_CreateObject();
	/* Arguments are checked before anything is created or forked. */
	r = gw_schema_validate(tool->input_schema, args, "arguments", msg, msglen);
	if (r < 0) {
		if (env->audit_fd >= 0) {
			char *a = cJSON_PrintUnformatted(args);
			audit(env, tool->name, a, NULL, false, msg);
			free(a);
		}
		cJSON_Delete(empty);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	st = calloc(1, sizeof(*st));
	if (!c || !st) {
		free(c);
		free(st);
		cJSON_Delete(empty);
		return -ENOMEM;
	}
	st->ruleset = -1;
	st->child_fds[0] = st->child_fds[1] = st->child_fds[2] = -1;
	c->env = env;
	c->tool = gw_tool_ref(tool);
	if (env->audit_fd >= 0)
		c->args_json = cJSON_PrintUnformatted(args);
	c->ev = ev;
	c->ud = ud;
	c->child.pidfd = -1;
	c->cg.procs_fd = -1;
	c->sup.listener = -1;
	c->out_cap = (size_t)tool->limits.output_kb * 1024;
	c->out = malloc(c->out_cap);
	c->err = malloc(GW_STDERR_MAX);
	r = -ENOMEM;
	if (!c->out || !c->err)
		goto cleanup;
	if (tool->uses_tmp) {
		c->tmp = make_tmp();
		if (!c->tmp) {
			r = -errno;
			snprintf(msg, msglen, "cannot create the call's {tmp} directory: %s",
				 strerror(errno));
			goto cleanup;
		}
	}

	struct gw_tpl_ctx tc = {.args = args, .workspace = env->workspace, .tmp = c->tmp};
	for (size_t i = 0; i < tool->argc; i++) {
		r = gw_tpl_expand(&tool->argv[i], &tc, &st->argv, msg, msglen);
		if (r < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < tool->nenv; i++) {
		char *val, *kv;
		r = gw_tpl_expand_one(&tool->env_vals[i], &tc, &val, msg, msglen);
		if (r < 0)
			goto cleanup;
		if (!val)
			continue;
		r = asprintf(&kv, "%s=%s", tool->env_names[i], val);
		free(val);
		if (r < 0 || (r = gw_strv_push(&st->envp, kv)) < 0) {
			r = -ENOMEM;
			goto cleanup;
		}
	}
	if (!st->envp.v) {
		/* No variables at all: execve still needs an (empty) vector. */
		st->envp.v = calloc(1, sizeof(char *));
		r = -ENOMEM;
		if (!st->envp.v)
			goto cleanup;
	}
	r = gw_tpl_expand_one(&tool->cwd, &tc, &st->cwd, msg, msglen);
	if (r < 0)
		goto cleanup;
	if (tool->stdin_tpl) {
		r = gw_tpl_expand_one(tool->stdin_tpl, &tc, &c->stdin_data, msg, msglen);
		if (r < 0)
			goto cleanup;
		c->stdin_len = c->stdin_data ? strlen(c->stdin_data) : 0;
	}
	for (size_t i = 0; i < tool->ndyn; i++) {
		if (st->nextra == sizeof(st->extra) / sizeof(st->extra[0])) {
			r = -E2BIG;
			snprintf(msg, msglen, "too many per-call grants");
			goto cleanup;
		}
		r = resolve_dyn(c, &tool->dyn[i], &tc, &st->extra[st->nextra], msg, msglen);
		if (r < 0) {
			if (!resource_error(r))
				r = -EINVAL; /* a bad argument: msg names it */
			goto cleanup;
		}
		st->nextra += (size_t)r;
	}
	r = sbx_policy_ruleset(tool->policy, st->extra, st->nextra, &st->ruleset,
			       &st->ruleset_owned);
	if (r < 0) {
		snprintf(msg, msglen, "cannot build the Landlock ruleset: %s", strerror(-r));
		goto cleanup;
	}

	if ((r = open_pipe(outp)) < 0 || (r = open_pipe(errp)) < 0)
		goto cleanup;
	if (c->stdin_data) {
		if ((r = open_pipe(inp)) < 0)
			goto cleanup;
	} else {
		inp[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (inp[0] < 0) {
			r = -errno;
			goto cleanup;
		}
	}

	/* About 4 KiB per file on average: inodes bound the kernel memory a
	 * tmpfs full of empty files would take. */
	unsigned mb = tool->limits.tmp_mb;
	snprintf(st->tmp_opts, sizeof(st->tmp_opts), "size=%um,nr_inodes=%u,mode=0700", mb,
		 mb < 4 ? 1024 : mb * 256);
	if (env->cgroup) {
		r = sbx_cgroup_call_new(env->cgroup, tool->limits.processes, &c->cg);
		if (r < 0) {
			snprintf(msg, msglen, "cannot create the call's pids cgroup: %s",
				 strerror(-r));
			goto cleanup;
		}
	}
	st->req = (struct sbx_spawn_req){
	    .file = st->argv.v[0],
	    .argv = st->argv.v,
	    .envp = st->envp.v,
	    .cwd = st->cwd,
	    .stdin_fd = inp[0],
	    .stdout_fd = outp[1],
	    .stderr_fd = errp[1],
	    .ruleset_fd = st->ruleset,
	    .filter = tool->policy->filter,
	    .limits = &tool->limits,
	    /* In a user namespace RLIMIT_NPROC counts the call's own uid. */
	    .nproc_base = env->userns ? 0 : nproc_base(env->loop),
	    .supervised = sbx_policy_supervised(tool->policy),
	    .keeper_fd = env->keeper_fd,
	    .cgroup_procs_fd = c->cg.procs_fd,
	    .userns = env->userns,
	    .uid_map = env->uid_map,
	    .gid_map = env->gid_map,
	    .inside_uid = env->inside_uid,
	    .inside_gid = env->inside_gid,
	    /* Without a mount namespace (no user namespaces, not root) the
	     * tool still runs: granted names do not resolve inside it, and
	     * {tmp} is bounded per file only (file_size_mb). explain says so. */
	    .hosts_file = env->mounts ? tool->policy->hosts_file : NULL,
	    .tmp_dir = env->mounts && c->tmp_access ? c->tmp : NULL,
	    .tmp_opts = st->tmp_opts,
	    .tmp_access = c->tmp_access,
	    .landlock_abi = tool->policy->abi,
	};
	c->tmp_mounted = st->req.tmp_dir != NULL;
	c->start_ns = uv_hrtime();
	r = sbx_spawn_start(&st->req, &st->op, &serr);
	if (r < 0) {
		char *why = start_failure(st->argv.v[0], r, &serr);
		snprintf(msg, msglen, "%s", why ? why : "cannot start the call");
		free(why);
		if (r == -ECHILD)
			r = -serr.err;
		goto cleanup;
	}
	/* The spawn is under way: the child may be reading st right now, and
	 * gets its ends of the pipes from it. */
	st->child_fds[0] = inp[0];
	st->child_fds[1] = outp[1];
	st->child_fds[2] = errp[1];
	inp[0] = outp[1] = errp[1] = -1;
	c->start = st;
	st = NULL;

	/* From here on the call ends only through maybe_finish: a failure
	 * kills the child (once it is there) and the call reports then. */
	active_calls++;
	reserved_processes += tool->limits.processes;
	uv_timer_init(env->loop, &c->timer);
	c->timer.data = c;
	c->open_handles++;
	if (uv_poll_init(env->loop, &c->start_poll, sbx_spawn_fd(c->start->op)) == 0) {
		c->start_poll.data = c;
		c->open_handles++;
	}
	uv_pipe_init(env->loop, &c->out_pipe, 0);
	c->out_pipe.data = c;
	c->open_handles++;
	uv_pipe_init(env->loop, &c->err_pipe, 0);
	c->err_pipe.data = c;
	c->open_handles++;
	/* A descriptor a handle took is the handle's to close, not cleanup's. */
	if (uv_pipe_open(&c->out_pipe, outp[0]) == 0)
		outp[0] = -1;
	if (uv_pipe_open(&c->err_pipe, errp[0]) == 0)
		errp[0] = -1;
	if (outp[0] >= 0 || errp[0] >= 0) {
		c->out_eof = c->err_eof = true;
		kill_tree(c);
	} else {
		uv_read_start((uv_stream_t *)&c->out_pipe, alloc_chunk, on_stdout);
		uv_read_start((uv_stream_t *)&c->err_pipe, alloc_chunk, on_stderr);
	}
	if (c->stdin_data) {
		uv_pipe_init(env->loop, &c->in_pipe, 0);
		c->in_pipe.data = c;
		c->open_handles++;
		if (uv_pipe_open(&c->in_pipe, inp[1]) == 0) {
			inp[1] = -1;
			uv_buf_t b = uv_buf_init(c->stdin_data, (unsigned)c->stdin_len);
			c->wreq.data = c;
			if (uv_write(&c->wreq, (uv_stream_t *)&c->in_pipe, &b, 1,
				     on_stdin_written) < 0)
				close_handle(c, (uv_handle_t *)&c->in_pipe);
		}
	}
	uv_timer_start(&c->timer, on_timeout, timeout_from(env->loop, c->start_ns, tool), 0);
	*out = c;
	r = 0;
	if (!c->start_poll.data ||
	    uv_poll_start(&c->start_poll, UV_READABLE, on_spawned) < 0) {
		/* The loop cannot watch the spawn: wait for it here. */
		close_handle(c, (uv_handle_t *)&c->start_poll);
		spawned(c);
	}

	/* What only the start needed, on success and failure alike. */
cleanup:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	if (st)
		start_free(st);
	cJSON_Delete(empty);
	if (r == 0)
		return 0;
	/* Nothing was forked: the call itself goes too. */
	if (c->cg.procs_fd >= 0)
		sbx_cgroup_call_free(env->cgroup, &c->cg);
	if (c->tmp) {
		gw_remove_tree(c->tmp);
		free(c->tmp);
	}
	if (!msg[0] && (r == -EMFILE || r == -ENFILE))
		snprintf(msg, msglen,
			 "cannot start the call: the gateway has no file descriptor left: %s (it "
			 "recovers as other calls and connections end; raise its limit with ulimit -n)",
			 strerror(-r));
	else if (!msg[0])
		snprintf(msg, msglen, "cannot start the call: %s", strerror(-r));
	audit(env, tool->name, c->args_json, NULL, false, msg);
	gw_tool_unref(c->tool);
	free(c->args_json);
	free(c->out);
	free(c->err);
	free(c->stdin_data);
	free(c);
	return r;
}
