/* Shared benchmark plumbing; see common.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/common.h"
#include "gateway/call.h"

extern char **environ;

#define PROTOCOL "2025-06-18"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- samples ---- */

void samples_add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *grown = realloc(s->v, cap * sizeof(*grown));
		if (!grown) {
			fprintf(stderr, "bench: out of memory\n");
			exit(1);
		}
		s->v = grown;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double samples_pct(struct samples *s, double p)
{
	size_t rank;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	/* Nearest rank: the smallest sample with at least p% at or below it. */
	rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

void samples_free(struct samples *s)
{
	free(s->v);
	*s = (struct samples){0};
}

/* ---- output and options ---- */

void bench_result(const char *bench, const char *metric, double value, const char *unit,
		  const char *op, double target)
{
	const char *verdict = "-";

	if (!unit[0])
		unit = "-"; /* keeps the fields of the line in place */

	if (strcmp(op, "<=") == 0)
		verdict = value <= target ? "PASS" : "BELOW";
	else if (strcmp(op, ">=") == 0)
		verdict = value >= target ? "PASS" : "BELOW";
	else if (strcmp(op, "<") == 0)
		verdict = value < target ? "PASS" : "BELOW";
	if (op[0])
		printf("RESULT %s %s %.3f %s %s %g %s\n", bench, metric, value, unit, op, target,
		       verdict);
	else
		printf("RESULT %s %s %.3f %s - - -\n", bench, metric, value, unit);
	fflush(stdout);
}

void bench_opts(int argc, char **argv, const char *const *names, unsigned *vals,
		const char *const *snames, const char **svals, bool *smoke, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		bool found = false;
		if (smoke && strcmp(argv[i], "--smoke") == 0) {
			*smoke = true;
			continue;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s %s\n", argv[0], usage);
			exit(0);
		}
		for (size_t k = 0; names && names[k] && !found; k++) {
			if (strcmp(argv[i], names[k]) == 0 && i + 1 < argc) {
				char *end;
				unsigned long v = strtoul(argv[++i], &end, 10);
				if (*end || v == 0 || v > 100000000) {
					fprintf(stderr, "%s: %s wants a positive number\n", argv[0],
						names[k]);
					exit(2);
				}
				vals[k] = (unsigned)v;
				found = true;
			}
		}
		for (size_t k = 0; snames && snames[k] && !found; k++) {
			if (strcmp(argv[i], snames[k]) == 0 && i + 1 < argc) {
				svals[k] = argv[++i];
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "%s: unknown or incomplete option %s\nusage: %s %s\n",
				argv[0], argv[i], argv[0], usage);
			exit(2);
		}
	}
}

const char *bench_toolcell(const char *opt)
{
	const char *env = getenv("TOOLCELL_BIN");

	if (opt)
		return opt;
	if (env && *env)
		return env;
	return TOOLCELL_BUILD_BIN;
}

/* ---- processes ---- */

int bare_spawn_wait(const char *file, char *const argv[], int null_fd)
{
	static char *const no_env[] = {NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r, status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, null_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, null_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, null_fd, 2);
	r = posix_spawn(&pid, file, &fa, NULL, argv, no_env);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return status;
}

pid_t bench_spawn_fds(const char *file, char *const argv[], int in, int out, int err, int null_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in >= 0 ? in : null_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out >= 0 ? out : null_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err >= 0 ? err : null_fd, 2);
	r = posix_spawn(&pid, file, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r ? -r : pid;
}

long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

double proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long ut = 0, st = 0;
	char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces): utime is
	 * field 14, stime 15; field 3 follows the last ')'. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 14; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int proc_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int proc_count_children(pid_t pid)
{
	char path[512], buf[4096];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fscanf(f, "%4095s", buf) == 1)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

const char *bench_find_exe(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/local/bin", NULL};

	for (size_t i = 0; dirs[i]; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

char *bench_tmpdir(const char *what)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || base[0] != '/')
		base = "/tmp";
	if (asprintf(&path, "%s/toolcell-bench-%s-XXXXXX", base, what) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

void bench_rm_rf(const char *dir)
{
	if (dir)
		gw_remove_tree(dir);
}

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static const char true_manifest[] =
    "{\n"
    "  \"name\": \"true\",\n"
    "  \"description\": \"Run /bin/true: the trivial tool of the benchmarks.\",\n"
    "  \"inputSchema\": { \"type\": \"object\", \"properties\": {}, "
    "\"additionalProperties\": false },\n"
    "  \"command\": [\"/bin/true\"],\n"
    "  \"grants\": { \"read\": [\"@system\", \"{workspace}\"], \"exec\": [\"@system\"] }\n"
    "}\n";

int bench_write_true_manifest(const char *dir)
{
	return write_text(dir, "true.json", true_manifest);
}

int bench_write_manifests(const char *dir, unsigned n)
{
	char name[64], *text;
	int r;

	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "gen_%03u", i);
		switch (i % 4) {
		case 0:
			r = asprintf(
			    &text,
			    "{\n  \"name\": \"%s\",\n  \"title\": \"Read file %u\",\n"
			    "  \"description\": \"Print the contents of a file inside the "
			    "workspace (generated manifest %u). Paths are relative to the "
			    "workspace "
			    "root; output is capped at 1 MiB.\",\n"
			    "  \"inputSchema\": { \"type\": \"object\", \"properties\": { "
			    "\"path\": "
			    "{ \"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096, "
			    "\"description\": \"File path, relative to the workspace root\" } }, "
			    "\"required\": [\"path\"], \"additionalProperties\": false },\n"
			    "  \"annotations\": { \"readOnlyHint\": true, \"openWorldHint\": false "
			    "},\n"
			    "  \"command\": [\"/usr/bin/cat\", \"--\", \"{path}\"],\n"
			    "  \"env\": { \"LANG\": \"C.UTF-8\" },\n"
			    "  \"grants\": { \"read\": [\"@system\", \"{workspace}\"], \"exec\": "
			    "[\"@system\"], \"limits\": { \"timeout_s\": 30, \"cpu_s\": 10, "
			    "\"memory_mb\": 256, \"processes\": 4, \"open_files\": 64, "
			    "\"output_kb\": 1024 } }\n}\n",
			    name, i, i);
			break;
		case 1:
			r = asprintf(
			    &text,
			    "{\n  \"name\": \"%s\",\n  \"title\": \"Write file %u\",\n"
			    "  \"description\": \"Create or replace a file inside the workspace "
			    "(generated manifest %u). The content is passed on stdin.\",\n"
			    "  \"inputSchema\": { \"type\": \"object\", \"properties\": { "
			    "\"path\": "
			    "{ \"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096 }, "
			    "\"content\": { \"type\": \"string\", \"maxLength\": 1048576 } }, "
			    "\"required\": [\"path\", \"content\"], \"additionalProperties\": "
			    "false "
			    "},\n"
			    "  \"command\": [\"/bin/sh\", \"-c\", \"cat > \\\"$1\\\"\", \"w\", "
			    "\"{path}\"],\n"
			    "  \"stdin\": \"{content}\",\n"
			    "  \"env\": { \"LANG\": \"C.UTF-8\", \"PATH\": \"/usr/bin:/bin\" },\n"
			    "  \"grants\": { \"read\": [\"@system\", \"{workspace}\"], \"write\": "
			    "[\"{workspace}\"], \"exec\": [\"@system\"] }\n}\n",
			    name, i, i);
			break;
		case 2:
			r = asprintf(
			    &text,
			    "{\n  \"name\": \"%s\",\n  \"title\": \"List %u\",\n"
			    "  \"description\": \"List a workspace directory (generated manifest "
			    "%u).\",\n"
			    "  \"inputSchema\": { \"type\": \"object\", \"properties\": { \"dir\": "
			    "{ "
			    "\"type\": \"string\", \"maxLength\": 4096 }, \"sort\": { \"type\": "
			    "\"string\", \"enum\": "
			    "[\"name\", \"time\", \"size\"] }, \"depth\": { \"type\": \"integer\", "
			    "\"minimum\": 1, \"maximum\": 8 } }, \"additionalProperties\": false "
			    "},\n"
			    "  \"command\": [\"/usr/bin/ls\", \"-la\", \"--sort={sort}\", \"--\", "
			    "\"{dir}\"],\n"
			    "  \"grants\": { \"read\": [\"@system\", \"{workspace}\"], \"exec\": "
			    "[\"@system\"] }\n}\n",
			    name, i, i);
			break;
		default:
			r = asprintf(
			    &text,
			    "{\n  \"name\": \"%s\",\n  \"title\": \"Fetch %u\",\n"
			    "  \"description\": \"Fetch a path from a local service (generated "
			    "manifest %u); may connect to 127.0.0.1:%u only.\",\n"
			    "  \"inputSchema\": { \"type\": \"object\", \"properties\": { \"url\": "
			    "{ "
			    "\"type\": \"string\", \"pattern\": \"^/[A-Za-z0-9/._-]*$\" } }, "
			    "\"required\": [\"url\"], \"additionalProperties\": false },\n"
			    "  \"command\": [\"/usr/bin/env\", \"--\", \"{url}\"],\n"
			    "  \"grants\": { \"read\": [\"@system\"], \"exec\": [\"@system\"], "
			    "\"net\": [\"127.0.0.1:%u\"] }\n}\n",
			    name, i, i, 8000 + i, 8000 + i);
			break;
		}
		if (r < 0)
			return -ENOMEM;
		char file[80];
		snprintf(file, sizeof(file), "%s.json", name);
		r = write_text(dir, file, text);
		free(text);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- a gateway on stdio ---- */

int gw_start(struct gw_proc *g, char *const argv[], const char *log_path)
{
	int in[2], out[2], log, null_fd;
	pid_t pid;

	memset(g, 0, sizeof(*g));
	g->pid = -1;
	g->in = g->out = -1;
	g->next_id = 1;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	pid = bench_spawn_fds(argv[0], argv, in[0], out[1], log, null_fd);
	close(in[0]);
	close(out[1]);
	if (log >= 0)
		close(log);
	close(null_fd);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return pid;
	}
	g->pid = pid;
	g->in = in[1];
	g->out = out[0];
	return 0;
}

int gw_send(struct gw_proc *g, const char *json)
{
	size_t len = strlen(json), off = 0;
	char *line = malloc(len + 1);

	if (!line)
		return -ENOMEM;
	memcpy(line, json, len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t w = write(g->in, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			free(line);
			return -e;
		}
		off += (size_t)w;
	}
	free(line);
	return 0;
}

/* Whether line is the response with this id: `"id":N` followed by , or }. */
static bool has_id(const char *line, size_t len, int id)
{
	char key[32];
	int kl = snprintf(key, sizeof(key), "\"id\":%d", id);

	for (const char *p = line; (p = memmem(p, len - (size_t)(p - line), key, (size_t)kl));
	     p++) {
		char next = p + kl < line + len ? p[kl] : '\0';
		if (next == ',' || next == '}')
			return true;
	}
	return false;
}

/* Reads lines until one for which want(line, len, id) holds; the others are
 * dropped. */
static ssize_t recv_until(struct gw_proc *g, bool (*want)(const char *, size_t, int), int id,
			  const char **line, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : bench_now_ns() + (uint64_t)timeout_ms * 1000000;

	/* Drop what the previous call returned. */
	if (g->consumed) {
		memmove(g->buf, g->buf + g->consumed, g->len - g->consumed);
		g->len -= g->consumed;
		g->consumed = 0;
	}
	for (;;) {
		char *nl;
		while ((nl = memchr(g->buf, '\n', g->len))) {
			size_t l = (size_t)(nl - g->buf);
			if (want(g->buf, l, id)) {
				*nl = '\0';
				*line = g->buf;
				g->consumed = l + 1;
				return (ssize_t)l;
			}
			/* A notification or another response: skip it. */
			memmove(g->buf, nl + 1, g->len - l - 1);
			g->len -= l + 1;
		}
		if (g->len == sizeof(g->buf))
			return -E2BIG;
		if (timeout_ms >= 0) {
			uint64_t now = bench_now_ns();
			struct pollfd pf = {.fd = g->out, .events = POLLIN};
			if (now >= deadline)
				return -ETIMEDOUT;
			int r = poll(&pf, 1, (int)((deadline - now) / 1000000) + 1);
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0)
				continue;
		}
		ssize_t n = read(g->out, g->buf + g->len, sizeof(g->buf) - g->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		g->len += (size_t)n;
	}
}

static bool any_line(const char *line, size_t len, int id)
{
	(void)line;
	(void)len;
	(void)id;
	return true;
}

ssize_t gw_recv_id(struct gw_proc *g, int id, const char **line, int timeout_ms)
{
	return recv_until(g, has_id, id, line, timeout_ms);
}

ssize_t gw_recv_line(struct gw_proc *g, const char **line, int timeout_ms)
{
	return recv_until(g, any_line, 0, line, timeout_ms);
}

int bench_line_id(const char *line)
{
	const char *p = strstr(line, "\"id\":");

	return p ? atoi(p + 5) : -1;
}

int gw_handshake(struct gw_proc *g)
{
	char req[512];
	const char *line;
	int id = g->next_id++;
	ssize_t n;
	int r;

	snprintf(req, sizeof(req),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"initialize\",\"params\":{"
		 "\"protocolVersion\":\"" PROTOCOL "\",\"capabilities\":{},\"clientInfo\":{"
		 "\"name\":\"toolcell-bench\",\"version\":\"1\"}}}",
		 id);
	r = gw_send(g, req);
	if (r < 0)
		return r;
	n = gw_recv_id(g, id, &line, 20000);
	if (n < 0)
		return (int)n;
	if (!strstr(line, "\"result\""))
		return -EPROTO;
	return gw_send(g, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

void gw_stop(struct gw_proc *g)
{
	int status;

	if (g->in >= 0)
		close(g->in);
	g->in = -1;
	if (g->pid > 0) {
		for (int i = 0; i < 500; i++) {
			if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
				g->pid = -1;
				break;
			}
			usleep(10000);
		}
		if (g->pid > 0) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, &status, 0);
		}
	}
	g->pid = -1;
	if (g->out >= 0)
		close(g->out);
	g->out = -1;
}

bool bench_call_ok(const char *resp, size_t len)
{
	return memmem(resp, len, "\"isError\":false", 15) != NULL;
}

/* ---- HTTP ---- */

int http_connect(struct http_conn *c, unsigned port, const char *token)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->port = port;
	c->token = token;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		return -e;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->cap = 1 << 16;
	c->buf = malloc(c->cap);
	return c->buf ? 0 : -ENOMEM;
}

void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads more into c->buf; returns 0, or -EPIPE at EOF, or -errno. */
static int fill(struct http_conn *c)
{
	ssize_t n;

	if (c->len == c->cap) {
		char *grown = realloc(c->buf, c->cap * 2);
		if (!grown)
			return -ENOMEM;
		c->buf = grown;
		c->cap *= 2;
	}
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	c->len += (size_t)n;
	return 0;
}

/* The value of header `name` in the head [buf, end), copied to out. */
static bool header(const char *head, size_t hlen, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = head; p && p < head + hlen;) {
		const char *eol = memmem(p, hlen - (size_t)(p - head), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = (size_t)(eol - v);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol + 2;
	}
	return false;
}

int http_post(struct http_conn *c, const char *body, int *status, const char **resp,
	      size_t *resp_len)
{
	char head[1024], val[sizeof(c->sid)];
	size_t blen = strlen(body), hlen, clen = 0, body_at;
	char *end;
	int r, n;

	n = snprintf(head, sizeof(head),
		     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		     "Content-Type: application/json\r\nAccept: application/json\r\n"
		     "MCP-Protocol-Version: " PROTOCOL "\r\n%s%s%s%s%s%s"
		     "Content-Length: %zu\r\n\r\n",
		     c->port, c->token ? "Authorization: Bearer " : "", c->token ? c->token : "",
		     c->token ? "\r\n" : "", c->sid[0] ? "Mcp-Session-Id: " : "", c->sid,
		     c->sid[0] ? "\r\n" : "", blen);
	if ((r = write_all(c->fd, head, (size_t)n)) < 0 || (r = write_all(c->fd, body, blen)) < 0)
		return r;
	/* One request at a time on this connection: whatever is buffered
	 * belongs to this response. */
	c->len = 0;
	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if ((r = fill(c)) < 0)
			return r;
	hlen = (size_t)(end - c->buf) + 2;
	body_at = hlen + 2;
	if (sscanf(c->buf, "HTTP/1.1 %d", status) != 1)
		return -EPROTO;
	if (header(c->buf, hlen, "Mcp-Session-Id", val, sizeof(val)))
		snprintf(c->sid, sizeof(c->sid), "%s", val);
	if (header(c->buf, hlen, "Content-Length", val, sizeof(val))) {
		clen = strtoul(val, NULL, 10);
		while (c->len < body_at + clen)
			if ((r = fill(c)) < 0)
				return r;
		*resp = c->buf + body_at;
		*resp_len = clen;
		return 0;
	}
	if (header(c->buf, hlen, "Transfer-Encoding", val, sizeof(val)) &&
	    strcasecmp(val, "chunked") == 0) {
		/* De-chunk in place: the body is moved down over the chunk
		 * headers as they are read. */
		size_t out = body_at, in = body_at;
		for (;;) {
			char *crlf;
			while (!(crlf = memmem(c->buf + in, c->len - in, "\r\n", 2)))
				if ((r = fill(c)) < 0)
					return r;
			size_t sz = strtoul(c->buf + in, NULL, 16);
			in = (size_t)(crlf - c->buf) + 2;
			while (c->len < in + sz + 2)
				if ((r = fill(c)) < 0)
					return r;
			if (sz == 0)
				break;
			memmove(c->buf + out, c->buf + in, sz);
			out += sz;
			in += sz + 2;
		}
		*resp = c->buf + body_at;
		*resp_len = out - body_at;
		return 0;
	}
	*resp = c->buf + body_at;
	*resp_len = 0;
	return 0;
}

int http_handshake(struct http_conn *c)
{
	const char *resp;
	size_t len;
	int status, r;

	c->sid[0] = '\0';
	r = http_post(c,
		      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		      "\"protocolVersion\":\"" PROTOCOL "\",\"capabilities\":{},\"clientInfo\":{"
		      "\"name\":\"toolcell-bench\",\"version\":\"1\"}}}",
		      &status, &resp, &len);
	if (r < 0)
		return r;
	if (status != 200 || !c->sid[0])
		return -EPROTO;
	r = http_post(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &status,
		      &resp, &len);
	if (r < 0)
		return r;
	return status == 202 || status == 200 ? 0 : -EPROTO;
}

int http_gw_start(pid_t *pid, unsigned *port, const char **token, const char *toolcell,
		  const char *manifests, const char *workspace, const char *tmpdir)
{
	static char tok[65];
	char tokfile[4096], logfile[4096], buf[8192];
	int null_fd, log, fd;
	pid_t p;

	/* A token of our own, in a file only we can read. */
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (int i = 0; i < 64; i++)
		tok[i] = "0123456789abcdef"[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	tok[64] = '\0';
	snprintf(tokfile, sizeof(tokfile), "%s/token", tmpdir);
	snprintf(logfile, sizeof(logfile), "%s/http.log", tmpdir);
	fd = open(tokfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, tok, 64) != 64) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	char *const argv[] = {(char *)toolcell, "serve",	   "--http",	  "127.0.0.1:0",
			      "--token-file",	tokfile,	   "--manifests", (char *)manifests,
			      "--workspace",	(char *)workspace, NULL};
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	log = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	p = bench_spawn_fds(toolcell, argv, -1, -1, log, null_fd);
	close(null_fd);
	close(log);
	if (p < 0)
		return p;
	/* Wait for "serving MCP at http://127.0.0.1:PORT/mcp" in its log. */
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(logfile, "re");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			const char *at = strstr(buf, "serving MCP at http://127.0.0.1:");
			if (at) {
				*port = (unsigned)strtoul(
				    at + strlen("serving MCP at http://127.0.0.1:"), NULL, 10);
				*pid = p;
				*token = tok;
				return 0;
			}
		}
		if (waitpid(p, &(int){0}, WNOHANG) == p) {
			fprintf(stderr, "bench: the HTTP gateway exited:\n%s\n", buf);
			return -ECHILD;
		}
		usleep(5000);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return -ETIMEDOUT;
}

void http_gw_stop(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}
