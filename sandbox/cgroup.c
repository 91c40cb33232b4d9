/* The per-call pids cgroup (see cgroup.h for the layout and why it differs
 * between v1 and v2). Locating the controller is pure text work; everything
 * else is a handful of mkdir, write and rmdir calls on cgroupfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"

#define ERR_PREFIX "no writable pids cgroup: "

/* How long a removal waits for killed tasks to finish leaving the cgroup. */
#define RMDIR_WAIT_MS 200

/* How many toolcell.<pid>.<k> names are tried when leftovers of crashed
 * gateways that had our pid already hold the plain name. */
#define PARENT_NAME_TRIES 100

/* /proc files and cgroupfs files are small; anything larger is not what we
 * think it is. */
#define TEXT_MAX (16 << 20)

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	int n;

	if (!err || errlen == 0)
		return code;
	n = snprintf(err, errlen, "%s", ERR_PREFIX);
	if (n >= 0 && (size_t)n < errlen) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* True when `word` is one of the `sep`-separated items of list[0, len). */
static bool list_has(const char *list, size_t len, char sep, const char *word)
{
	size_t wl = strlen(word);
	const char *end = list + len;

	while (list < end) {
		const char *e = memchr(list, sep, (size_t)(end - list));
		size_t il = e ? (size_t)(e - list) : (size_t)(end - list);

		if (il == wl && memcmp(list, word, wl) == 0)
			return true;
		list += il + 1;
	}
	return false;
}

/* Decodes mountinfo's octal escapes (\040 for a space, \011, \012, \134) in
 * place: a mount point with a space must still be found. */
static void unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

/* The part of cgroup path `self` below a mount's `root` ("" or "/a/b"), or
 * NULL when the mount shows another subtree. Roots outside our cgroup
 * namespace read "/.." and never match. */
static const char *below(const char *root, const char *self)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return strcmp(self, "/") == 0 ? "" : self;
	if (strncmp(self, root, n) == 0 && (self[n] == '\0' || self[n] == '/'))
		return self + n;
	return NULL;
}

/* Our cgroup path in the v1 hierarchy with the pids controller (want_v1) or in
 * the v2 hierarchy, from /proc/self/cgroup ("ID:controllers:path" lines).
 * Returns a pointer into text, with its length in *len, or NULL. */
static const char *self_path(const char *text, bool want_v1, size_t *len)
{
	for (const char *l = text, *eol; *l; l = *eol ? eol + 1 : eol) {
		eol = strchrnul(l, '\n');
		const char *c1 = memchr(l, ':', (size_t)(eol - l));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;

		if (!c2 || c2[1] != '/')
			continue;
		if (want_v1 ? list_has(c1 + 1, (size_t)(c2 - c1 - 1), ',', "pids")
			    : (c1 - l == 1 && l[0] == '0' && c2 == c1 + 1)) {
			*len = (size_t)(eol - c2 - 1);
			return c2 + 1;
		}
	}
	return NULL;
}

struct mount {
	char *root, *point, *fstype, *super;
};

/* Splits one mountinfo line in place:
 * "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER". */
static bool parse_mount(char *line, struct mount *m)
{
	char *f[64];
	size_t n = 0, dash = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	for (size_t i = 6; i < n && !dash; i++)
		if (strcmp(f[i], "-") == 0)
			dash = i;
	if (dash == 0 || dash + 3 >= n)
		return false;
	m->root = f[3];
	m->point = f[4];
	m->fstype = f[dash + 1];
	m->super = f[dash + 3];
	unescape(m->root);
	unescape(m->point);
	return true;
}

static bool is_pids_mount(const struct mount *m, int version)
{
	if (version == 1)
		return strcmp(m->fstype, "cgroup") == 0 &&
		       list_has(m->super, strlen(m->super), ',', "pids");
	return strcmp(m->fstype, "cgroup2") == 0;
}

enum found { FOUND_NONE, FOUND_HERE, FOUND_ELSEWHERE, FOUND_ENOMEM, FOUND_TOOLONG };

/* The first mount of the hierarchy (v1 with pids, or v2) whose root contains
 * our cgroup `self`. FOUND_ELSEWHERE: there are such mounts, none shows our
 * cgroup (the first one's mount point is put in `where`). */
static enum found find_mount(const char *mountinfo, int version, const char *self,
			     struct sbx_cgroup_place *p, char *where, size_t wherelen)
{
	enum found res = FOUND_NONE;
	char *text = strdup(mountinfo);

	if (!text)
		return FOUND_ENOMEM;
	for (char *l = text, *next; *l && res != FOUND_HERE; l = next) {
		char *eol = strchrnul(l, '\n');
		const char *rel;
		struct mount m;

		next = *eol ? eol + 1 : eol;
		*eol = '\0';
		if (!parse_mount(l, &m) || !is_pids_mount(&m, version))
			continue;
		if (res == FOUND_NONE)
			snprintf(where, wherelen, "%s", m.point);
		res = FOUND_ELSEWHERE;
		rel = self[0] ? below(m.root, self) : NULL;
		if (!rel)
			continue;
		if (strlen(m.point) + strlen(rel) >= sizeof(p->self)) {
			res = FOUND_TOOLONG;
			snprintf(where, wherelen, "%s", m.point);
			break;
		}
		p->version = version;
		snprintf(p->top, sizeof(p->top), "%s", m.point);
		/* A mount at "/" would give "//a"; never seen, but cheap. */
		snprintf(p->self, sizeof(p->self), "%s%s",
			 strcmp(m.point, "/") == 0 && *rel ? "" : m.point, rel);
		res = FOUND_HERE;
	}
	free(text);
	return res;
}

int sbx_cgroup_locate(const char *mountinfo, const char *self_cgroup, struct sbx_cgroup_place *p,
		      char *err, size_t errlen)
{
	struct sbx_cgroup_place found;
	char where[PATH_MAX] = "", self[PATH_MAX];
	int version;
	enum found res = FOUND_NONE;

	if (!mountinfo || !self_cgroup)
		return fail(err, errlen, -EINVAL, "nothing to read the mounts from");
	/* A v1 hierarchy with pids first: the kernel binds a controller to one
	 * hierarchy only, so cgroup2 cannot have pids while it exists. */
	for (version = 1; version <= 2; version++) {
		size_t len = 0;
		const char *s = self_path(self_cgroup, version == 1, &len);

		if (!s || len >= sizeof(self)) {
			s = "";
			len = 0;
		}
		snprintf(self, sizeof(self), "%.*s", (int)len, s);
		res = find_mount(mountinfo, version, self, &found, where, sizeof(where));
		if (res != FOUND_NONE)
			break;
	}
	switch (res) {
	case FOUND_HERE:
		*p = found;
		return 0;
	case FOUND_ENOMEM:
		return fail(err, errlen, -ENOMEM, "out of memory");
	case FOUND_TOOLONG:
		return fail(err, errlen, -ENAMETOOLONG, "%s%s: path too long", where, self);
	case FOUND_ELSEWHERE:
		if (!self[0])
			return fail(
			    err, errlen, -ENOENT,
			    "the cgroup %s hierarchy is mounted at %s but /proc/self/cgroup "
			    "has no line for it",
			    version == 1 ? "v1 pids" : "v2", where);
		return fail(err, errlen, -ENOENT,
			    "our cgroup %s is outside the cgroup %s hierarchy mounted at %s", self,
			    version == 1 ? "v1 pids" : "v2", where);
	case FOUND_NONE:
		break;
	}
	return fail(err, errlen, -ENOENT,
		    "neither a cgroup v1 hierarchy with pids nor cgroup2 is mounted "
		    "(/proc/self/mountinfo)");
}

/* Reads a whole small file (a /proc or cgroupfs file) into a NUL-terminated
 * buffer the caller frees. Returns its length or -errno. */
static ssize_t read_text(int dirfd, const char *path, char **out)
{
	size_t cap = 4096, len = 0;
	char *buf, *nb;
	ssize_t n;
	int fd, rc;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		return rc;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			if (cap > TEXT_MAX || !(nb = realloc(buf, cap))) {
				rc = cap > TEXT_MAX ? -EFBIG : -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
fail:
	close(fd);
	free(buf);
	return rc;
}

/* Writes a short control value ("8", "+pids") to a cgroupfs file. cgroupfs
 * takes a write whole or fails it, so there is no partial write to resume. */
static int write_text(int dirfd, const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	return rc;
}

/* Whether a space-separated controller file (cgroup.controllers,
 * cgroup.subtree_control) of `dir` lists pids: 1 or 0, or -errno when it
 * cannot be read. *text gets its content for messages (caller frees) when
 * asked and readable. */
static int lists_pids(const char *dir, const char *file, char **text)
{
	char path[PATH_MAX + 32];
	char *buf = NULL;
	ssize_t n;
	bool has;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	n = read_text(AT_FDCWD, path, &buf);
	if (n < 0 || !buf)
		return n < 0 ? (int)n : -EIO;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	has = list_has(buf, (size_t)n, ' ', "pids");
	if (text)
		*text = buf;
	else
		free(buf);
	return has;
}

/* v2: the nearest cgroup, from ours up to the top of the mount, that already
 * hands pids to its children. Ours qualifies only when it is the root: any
 * other (domain) cgroup with pids in its subtree_control cannot hold us.
 * Nearest first, so the calls stay inside as many of our ancestors' limits
 * as possible. Writes the directory to base. */
static int pick_v2_base(const struct sbx_cgroup_place *p, char *base, char *err, size_t errlen)
{
	char *offered = NULL;
	size_t toplen = strlen(p->top);
	int has = lists_pids(p->top, "cgroup.controllers", &offered);

	if (has < 0)
		return fail(err, errlen, has, "cannot read %s/cgroup.controllers: %s (%s)", p->top,
			    strerror(-has), errname(-has));
	if (!has) {
		has = fail(err, errlen, -ENOENT,
			   "the cgroup2 hierarchy at %s does not offer the pids controller "
			   "(cgroup.controllers: \"%s\")",
			   p->top, offered);
		free(offered);
		return has;
	}
	free(offered);
	snprintf(base, PATH_MAX, "%s", p->self);
	for (;;) {
		char *slash;

		/* An unreadable file is a cgroup we cannot use either. */
		if (lists_pids(base, "cgroup.subtree_control", NULL) > 0)
			return 0;
		if (strlen(base) <= toplen)
			break;
		/* base is strictly below top here, so its parent is top or
		 * below it; the parent of "/a" under a mount at "/" is "/". */
		slash = strrchr(base, '/');
		if (!slash || (size_t)(slash - base) < toplen)
			snprintf(base, PATH_MAX, "%s", p->top);
		else
			*slash = '\0';
	}
	return fail(err, errlen, -ENOENT,
		    "no cgroup from ours (%s) up to %s lists pids in cgroup.subtree_control, "
		    "and it cannot be enabled in a cgroup that holds processes",
		    p->self, p->top);
}

/* Why mkdir in dir failed, in the words a user needs. */
static int mkdir_failure(const char *dir, int e, char *err, size_t errlen)
{
	if (e == EROFS)
		return fail(err, errlen, -e, "%s is read-only (EROFS)", dir);
	if (e == EACCES || e == EPERM)
		return fail(err, errlen, -e, "%s is not writable by uid %u (%s)", dir,
			    (unsigned)geteuid(), errname(e));
	return fail(err, errlen, -e, "cannot create a cgroup in %s: %s (%s)", dir, strerror(e),
		    errname(e));
}

/* Removes an (empty) cgroup directory, giving tasks that were killed a moment
 * to finish exiting: a task leaves its cgroup in do_exit, after the signal that
 * killed it was already delivered. A directory already gone counts as
 * removed. Returns 0 or -errno. */
static int remove_cgroup(int dirfd, const char *path)
{
	long waited_ms = 0, step_ms = 1;

	for (;;) {
		struct timespec ts;

		if (unlinkat(dirfd, path, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited_ms >= RMDIR_WAIT_MS)
			return -errno;
		ts = (struct timespec){.tv_sec = 0, .tv_nsec = step_ms * 1000000};
		nanosleep(&ts, NULL);
		waited_ms += step_ms;
		step_ms = step_ms * 2 > 20 ? 20 : step_ms * 2;
	}
}

int sbx_cgroup_init_from(struct sbx_cgroup_root *r, const char *mountinfo, const char *self_cgroup,
			 char *err, size_t errlen)
{
	struct sbx_cgroup_place p = {0};
	char base[PATH_MAX], path[PATH_MAX];
	int fd = -1, rc, e = 0;
	int n;

	rc = sbx_cgroup_locate(mountinfo, self_cgroup, &p, err, errlen);
	if (rc < 0)
		return rc;
	if (p.version == 2) {
		rc = pick_v2_base(&p, base, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		/* v1 has no rule against processes and children in one cgroup:
		 * nest under our own, so whatever limit our cgroup has still
		 * bounds the calls. */
		snprintf(base, sizeof(base), "%s", p.self);
	}

	/* A directory of that name is a leftover of a crashed gateway that had
	 * our pid, or belongs to a live gateway in another pid namespace: we
	 * cannot tell which, so it is never removed, and another name is
	 * taken. */
	for (int k = 0; k < PARENT_NAME_TRIES; k++) {
		n = k ? snprintf(path, sizeof(path), "%s/toolcell.%d.%d", base, (int)getpid(), k)
		      : snprintf(path, sizeof(path), "%s/toolcell.%d", base, (int)getpid());
		if (n < 0 || (size_t)n >= sizeof(path))
			return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", base);
		if (mkdir(path, 0755) == 0) {
			e = 0;
			break;
		}
		e = errno;
		if (e != EEXIST)
			return mkdir_failure(base, e, err, errlen);
	}
	if (e)
		return fail(err, errlen, -EEXIST, "%s/toolcell.%d and %d more names are taken",
			    base, (int)getpid(), PARENT_NAME_TRIES - 1);

	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fail(err, errlen, rc, "cannot open %s: %s", path, strerror(-rc));
		goto undo;
	}
	/* v2: hand pids to the calls. Allowed here and only here: the new
	 * parent holds no processes and never will. */
	if (p.version == 2) {
		rc = write_text(fd, "cgroup.subtree_control", "+pids");
		if (rc < 0) {
			fail(err, errlen, rc,
			     "cannot enable pids in %s/cgroup.subtree_control: %s (%s)", path,
			     strerror(-rc), errname(-rc));
			goto undo;
		}
	}
	/* Whatever the hierarchy, a call cgroup is only useful with pids.max. */
	if (faccessat(fd, "pids.max", F_OK, 0) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s has no pids.max: %s", path, strerror(-rc));
		goto undo;
	}

	r->version = p.version;
	r->dirfd = fd;
	r->next = 0;
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->desc, sizeof(r->desc), "pids cgroup v%d at %s", p.version, path);
	return 0;
undo:
	if (fd >= 0)
		close(fd);
	rmdir(path);
	return rc;
}

int sbx_cgroup_init(struct sbx_cgroup_root *r, char *err, size_t errlen)
{
	char *mountinfo = NULL, *self = NULL;
	ssize_t n;
	int rc;

	n = read_text(AT_FDCWD, "/proc/self/mountinfo", &mountinfo);
	if (n < 0)
		return fail(err, errlen, (int)n, "cannot read /proc/self/mountinfo: %s",
			    strerror((int)-n));
	n = read_text(AT_FDCWD, "/proc/self/cgroup", &self);
	if (n < 0) {
		free(mountinfo);
		return fail(err, errlen, (int)n, "cannot read /proc/self/cgroup: %s",
			    strerror((int)-n));
	}
	rc = sbx_cgroup_init_from(r, mountinfo, self, err, errlen);
	free(mountinfo);
	free(self);
	return rc;
}

const char *sbx_cgroup_describe(const struct sbx_cgroup_root *r)
{
	return r && r->version ? r->desc : "no pids cgroup";
}

int sbx_cgroup_call_new(struct sbx_cgroup_root *r, unsigned max_pids, struct sbx_cgroup_call *c)
{
	char name[32], file[64], value[16];
	unsigned long n;
	int fd, rc;

	if (!r || !r->version)
		return -ENODEV;
	if (max_pids == 0)
		return -EINVAL;
	/* Numbers are never reused, so a cgroup that could not be removed
	 * never collides with a later call. */
	n = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
	snprintf(name, sizeof(name), "call.%lu", n);
	if (mkdirat(r->dirfd, name, 0755) < 0)
		return -errno;
	snprintf(file, sizeof(file), "%s/pids.max", name);
	snprintf(value, sizeof(value), "%u", max_pids);
	rc = write_text(r->dirfd, file, value);
	if (rc < 0)
		goto undo;
	snprintf(file, sizeof(file), "%s/cgroup.procs", name);
	fd = openat(r->dirfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto undo;
	}
	c->procs_fd = fd;
	memcpy(c->name, name, sizeof(c->name));
	return 0;
undo:
	unlinkat(r->dirfd, name, AT_REMOVEDIR);
	return rc;
}

int sbx_cgroup_join(int procs_fd)
{
	long n;

	/* "0" names the writer in both v1 and v2 (cgroup_procs_write_start),
	 * so the child formats no number. A raw system call and nothing else:
	 * this runs in a child that shares the gateway's memory, where a lock
	 * or an allocation could deadlock on the suspended parent's state. */
	do
		n = syscall(SYS_write, procs_fd, "0", 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

int sbx_cgroup_call_free(struct sbx_cgroup_root *r, struct sbx_cgroup_call *c)
{
	int rc;

	if (!c || !c->name[0])
		return 0;
	if (c->procs_fd >= 0)
		close(c->procs_fd);
	rc = r && r->version ? remove_cgroup(r->dirfd, c->name) : -ENODEV;
	c->procs_fd = -1;
	c->name[0] = '\0';
	return rc;
}

/* Names of the call cgroups still under the parent, collected before any is
 * removed: removing entries while readdir walks them may skip some. */
static int leftover_calls(int dirfd, char ***names, size_t *count)
{
	size_t n = 0, cap = 0;
	char **v = NULL, **nv;
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strncmp(de->d_name, "call.", 5) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	*names = v;
	*count = n;
	return rc;
}

int sbx_cgroup_fini(struct sbx_cgroup_root *r)
{
	char **names = NULL;
	size_t n = 0;
	int rc, e;

	if (!r || !r->version)
		return 0;
	rc = leftover_calls(r->dirfd, &names, &n);
	for (size_t i = 0; i < n; i++) {
		e = remove_cgroup(r->dirfd, names[i]);
		if (e < 0 && rc == 0)
			rc = e;
		free(names[i]);
	}
	free(names);
	e = remove_cgroup(AT_FDCWD, r->path);
	if (e < 0 && rc == 0)
		rc = e;
	close(r->dirfd);
	r->dirfd = -1;
	r->version = 0;
	return rc;
}
