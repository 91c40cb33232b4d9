/* Grants -> Landlock rules, checked against what the kernel can enforce. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/policy.h"

const struct sbx_limits sbx_limits_default = {
    .timeout_s = 30,
    .cpu_s = 30,
    .memory_mb = 512,
    .processes = 64,
    .open_files = 256,
    .file_size_mb = 64,
    .output_kb = 1024,
    .tmp_mb = 64,
};

const struct sbx_limit_key sbx_limit_keys[SBX_NLIMITS + 1] = {
    {"timeout_s", offsetof(struct sbx_limits, timeout_s), 86400},
    {"cpu_s", offsetof(struct sbx_limits, cpu_s), 86400},
    {"memory_mb", offsetof(struct sbx_limits, memory_mb), 1 << 20},
    {"processes", offsetof(struct sbx_limits, processes), 65536},
    {"open_files", offsetof(struct sbx_limits, open_files), 1 << 20},
    {"file_size_mb", offsetof(struct sbx_limits, file_size_mb), 1 << 20},
    {"output_kb", offsetof(struct sbx_limits, output_kb), 1 << 20},
    {"tmp_mb", offsetof(struct sbx_limits, tmp_mb), 1 << 20},
    {NULL, 0, 0},
};

/* What "@system" means. Deliberately not all of /etc: as root, /etc/shadow and
 * /etc/ssl/private are readable by uid 0 even without capabilities, so only the
 * files ordinary programs need to start and to print names are listed. */
static const struct sbx_path_grant system_paths[] = {
    {"/usr", SBX_READ | SBX_EXEC, "@system", true},
    {"/bin", SBX_READ | SBX_EXEC, "@system", true},
    {"/sbin", SBX_READ | SBX_EXEC, "@system", true},
    {"/lib", SBX_READ | SBX_EXEC, "@system", true},
    {"/lib32", SBX_READ | SBX_EXEC, "@system", true},
    {"/lib64", SBX_READ | SBX_EXEC, "@system", true},
    {"/libx32", SBX_READ | SBX_EXEC, "@system", true},
    {"/etc/ld.so.cache", SBX_READ, "@system", true},
    {"/etc/ld.so.conf", SBX_READ, "@system", true},
    {"/etc/ld.so.conf.d", SBX_READ, "@system", true},
    {"/etc/alternatives", SBX_READ, "@system", true},
    {"/etc/localtime", SBX_READ, "@system", true},
    {"/etc/timezone", SBX_READ, "@system", true},
    {"/etc/passwd", SBX_READ, "@system", true},
    {"/etc/group", SBX_READ, "@system", true},
    {"/etc/nsswitch.conf", SBX_READ, "@system", true},
    {"/etc/locale.alias", SBX_READ, "@system", true},
    {"/etc/mime.types", SBX_READ, "@system", true},
    {"/etc/magic", SBX_READ, "@system", true},
    {"/etc/gitconfig", SBX_READ, "@system", true},
    {"/etc/ssl/certs", SBX_READ, "@system", true},
    {"/dev/null", SBX_READ | SBX_WRITE, "@system", true},
    {"/dev/zero", SBX_READ, "@system", true},
    {"/dev/full", SBX_READ | SBX_WRITE, "@system", true},
    {"/dev/random", SBX_READ, "@system", true},
    {"/dev/urandom", SBX_READ, "@system", true},
};

const struct sbx_path_grant *sbx_system_paths(size_t *n)
{
	*n = sizeof(system_paths) / sizeof(system_paths[0]);
	return system_paths;
}

uint64_t sbx_access_rights(unsigned access, bool is_dir)
{
	uint64_t r = 0;

	/* execve opens the program for reading, and Landlock checks that open:
	 * an exec grant without read could never be used. */
	if (access & (SBX_READ | SBX_WRITE | SBX_EXEC))
		r |= SBX_LL_FS_READ_FILE | (is_dir ? SBX_LL_FS_READ_DIR : 0);
	if (access & SBX_WRITE) {
		r |= SBX_LL_FS_WRITE_FILE | SBX_LL_FS_TRUNCATE;
		if (is_dir)
			r |= SBX_LL_FS_REMOVE_DIR | SBX_LL_FS_REMOVE_FILE | SBX_LL_FS_MAKE_DIR |
			     SBX_LL_FS_MAKE_REG | SBX_LL_FS_MAKE_SYM | SBX_LL_FS_MAKE_SOCK |
			     SBX_LL_FS_MAKE_FIFO | SBX_LL_FS_REFER;
	}
	if (access & SBX_EXEC)
		r |= SBX_LL_FS_EXECUTE;
	/* MAKE_CHAR, MAKE_BLOCK and IOCTL_DEV are never granted: creating device
	 * nodes or driving devices is not something a tool manifest can ask for. */
	return r;
}

int sbx_policy_supported(const struct sbx_features *f, char *err, size_t errlen)
{
	if (f->landlock_abi < SBX_LANDLOCK_ABI_MIN) {
		if (f->landlock_abi == 0)
			snprintf(
			    err, errlen,
			    "Landlock is not available on this kernel (%s); toolcell needs "
			    "Landlock ABI %d: %s. Boot a kernel with CONFIG_SECURITY_LANDLOCK=y "
			    "and \"landlock\" in the lsm= list",
			    strerror(f->landlock_errno), SBX_LANDLOCK_ABI_MIN,
			    SBX_LANDLOCK_ABI_MIN_WHY);
		else
			snprintf(err, errlen,
				 "this kernel has Landlock ABI %d; toolcell needs ABI %d: %s",
				 f->landlock_abi, SBX_LANDLOCK_ABI_MIN, SBX_LANDLOCK_ABI_MIN_WHY);
		return -EOPNOTSUPP;
	}
	if (!f->seccomp_filter) {
		snprintf(
		    err, errlen,
		    "seccomp filters are not available on this kernel (CONFIG_SECCOMP_FILTER); "
		    "toolcell needs them to deny namespaces, mount, ptrace, bpf and io_uring");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* One O_PATH fd per distinct path, shared by every policy that names it:
 * 200 tools granting @system would otherwise hold thousands of descriptors.
 * Policies are built and freed on the gateway's one loop thread. */
struct path_fd {
	char *path;
	int fd;
	unsigned refs;
};
static struct path_fd *path_fds;
static size_t npath_fds;

static int path_fd_get(const char *path)
{
	struct path_fd *grown;
	int fd;

	for (size_t i = 0; i < npath_fds; i++) {
		if (strcmp(path_fds[i].path, path) == 0) {
			path_fds[i].refs++;
			return path_fds[i].fd;
		}
	}
	/* O_PATH follows symlinks here, at load, in the gateway: a rule is bound
	 * to the inode the operator's path names now, and later renames or
	 * symlink swaps by a tool cannot move it. */
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	grown = realloc(path_fds, (npath_fds + 1) * sizeof(*grown));
	if (!grown) {
		close(fd);
		return -ENOMEM;
	}
	path_fds = grown;
	path_fds[npath_fds] = (struct path_fd){.path = strdup(path), .fd = fd, .refs = 1};
	if (!path_fds[npath_fds].path) {
		close(fd);
		return -ENOMEM;
	}
	npath_fds++;
	return fd;
}

static void path_fd_put(int fd)
{
	for (size_t i = 0; i < npath_fds; i++) {
		if (path_fds[i].fd != fd)
			continue;
		if (--path_fds[i].refs == 0) {
			close(fd);
			free(path_fds[i].path);
			path_fds[i] = path_fds[--npath_fds];
		}
		return;
	}
}

void sbx_policy_free(struct sbx_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		path_fd_put(p->rules[i].fd);
		free(p->rule_paths[i]);
	}
	free(p->rules);
	free(p->rule_paths);
	sbx_net_free(p->net);
	if (p->hosts_file) {
		unlink(p->hosts_file);
		rmdir(p->hosts_dir);
	}
	free(p->hosts_file);
	free(p->hosts_dir);
	free(p->listen);
	free(p->write_roots);
	if (p->ruleset_fd >= 0)
		close(p->ruleset_fd);
	free(p);
}

bool sbx_policy_supervised(const struct sbx_policy *p)
{
	return p->profile & (SBX_FILTER_NOTIFY_CONNECT | SBX_FILTER_NOTIFY_META);
}

static int add_ports(int ruleset_fd, const struct sbx_policy *p)
{
	for (size_t i = 0; i < p->nlisten; i++) {
		int r = sbx_landlock_add_port(ruleset_fd, p->listen[i], SBX_LL_NET_BIND_TCP);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The names a tool may reach, with the addresses the gateway resolved, as a
 * hosts(5) file: the tool resolves them from it (bound over /etc/hosts in its
 * mount namespace) and never asks a DNS server, which it could not reach. */
static int write_hosts(struct sbx_policy *p, char *err, size_t errlen)
{
	const char *base = getenv("TMPDIR");
	size_t len = strlen(p->net->hosts);
	int fd, r;

	if (!base || base[0] != '/')
		base = "/tmp";
	if (asprintf(&p->hosts_dir, "%s/toolcell-hosts.XXXXXX", base) < 0) {
		p->hosts_dir = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(p->hosts_dir)) {
		r = -errno;
		snprintf(err, errlen, "grants.net: cannot create %s: %s", p->hosts_dir,
			 strerror(-r));
		free(p->hosts_dir);
		p->hosts_dir = NULL;
		return r;
	}
	/* The directory is 0700 and the gateway's: no other user can swap the
	 * file; the tool reads it through the bind mount. */
	if (asprintf(&p->hosts_file, "%s/hosts", p->hosts_dir) < 0) {
		p->hosts_file = NULL;
		rmdir(p->hosts_dir);
		return -ENOMEM;
	}
	fd = open(p->hosts_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p->net->hosts, len) != (ssize_t)len) {
		r = fd < 0 ? -errno : -EIO;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "grants.net: cannot write %s: %s", p->hosts_file,
			 strerror(-r));
		unlink(p->hosts_file);
		rmdir(p->hosts_dir);
		free(p->hosts_file);
		p->hosts_file = NULL;
		return r;
	}
	close(fd);
	/* Readable through the bind mount: a read rule on the file itself, kept
	 * with the static rules so per-call rulesets have it too. */
	struct sbx_ll_rule *rules = realloc(p->rules, (p->nrules + 1) * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	p->rules = rules;
	char **paths = realloc(p->rule_paths, (p->nrules + 1) * sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	p->rule_paths = paths;
	paths[p->nrules] = strdup(p->hosts_file);
	if (!paths[p->nrules])
		return -ENOMEM;
	fd = path_fd_get(p->hosts_file);
	if (fd < 0) {
		free(paths[p->nrules]);
		return fd;
	}
	rules[p->nrules] = (struct sbx_ll_rule){.fd = fd, .access = SBX_LL_FS_READ_FILE};
	p->nrules++;
	return sbx_landlock_add(p->ruleset_fd, p->abi, &rules[p->nrules - 1], 1, NULL);
}

/* The network half: resolved here, at load, by the gateway (never by the
 * tool), so the addresses a tool may reach are fixed for the life of the
 * policy. Fails closed when the kernel cannot supervise connect(2). */
static int compile_net(const struct sbx_features *f, struct sbx_policy *p,
		       const struct sbx_policy_extra *x, char *err, size_t errlen)
{
	char what[300];
	int r;

	if (x->nnet + x->nlisten == 0)
		return 0;
	if (f->landlock_abi < 4) {
		snprintf(err, errlen,
			 "grants.%s: needs Landlock ABI 4 (TCP bind and connect rules); this "
			 "kernel has ABI %d",
			 x->nnet ? "net" : "listen", f->landlock_abi);
		return -EOPNOTSUPP;
	}
	p->profile |= SBX_FILTER_INET;
	if (x->nlisten) {
		p->listen = malloc(x->nlisten * sizeof(*p->listen));
		if (!p->listen)
			return -ENOMEM;
		memcpy(p->listen, x->listen, x->nlisten * sizeof(*p->listen));
		p->nlisten = x->nlisten;
	}
	if (x->nnet == 0)
		return 0;
	if (!f->seccomp_notify) {
		snprintf(err, errlen,
			 "grants.net: restricting connections by host needs seccomp user "
			 "notifications and pidfd_getfd (Linux 5.9 or later), which this kernel "
			 "lacks");
		return -EOPNOTSUPP;
	}
	p->profile |= SBX_FILTER_NOTIFY_CONNECT;
	r = sbx_net_compile(x->net, x->nnet, x->resolve ? x->resolve : sbx_net_resolve_system,
			    &p->net, what, sizeof(what));
	if (r < 0) {
		snprintf(err, errlen, "grants.net: %s", what);
		return r;
	}
	for (size_t i = 0; i < x->nnet; i++) {
		if (x->net[i].name[0])
			return write_hosts(p, err, errlen);
	}
	return 0;
}

int sbx_policy_new(const struct sbx_features *f, const struct sbx_path_grant *g, size_t n,
		   const struct sbx_policy_extra *x, const struct sbx_limits *limits,
		   const struct sbx_filter *filter, struct sbx_policy **out, char *err,
		   size_t errlen)
{
	static const struct sbx_policy_extra none;
	struct sbx_policy *p;
	size_t failed = 0;
	int r;

	r = sbx_policy_supported(f, err, errlen);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ruleset_fd = -1;
	p->abi = f->landlock_abi;
	if (!x)
		x = &none;
	p->limits = *limits;
	p->rules = calloc(n ? n : 1, sizeof(*p->rules));
	p->rule_paths = calloc(n ? n : 1, sizeof(*p->rule_paths));
	if (!p->rules || !p->rule_paths) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int fd = path_fd_get(g[i].path);

		if (fd < 0) {
			if (g[i].optional && fd == -ENOENT)
				continue;
			r = fd;
			snprintf(err, errlen, "%s: cannot open %s: %s", g[i].origin, g[i].path,
				 strerror(-fd));
			goto fail;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			path_fd_put(fd);
			snprintf(err, errlen, "%s: cannot stat %s: %s", g[i].origin, g[i].path,
				 strerror(-r));
			goto fail;
		}
		p->rule_paths[p->nrules] = strdup(g[i].path);
		if (!p->rule_paths[p->nrules]) {
			path_fd_put(fd);
			r = -ENOMEM;
			goto fail;
		}
		/* Metadata changes are allowed beneath write roots. A device node
		 * is never one: @system grants write on /dev/null, and a tool of
		 * a root gateway must not chmod the host's /dev/null. */
		if ((g[i].access & SBX_WRITE) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
			struct sbx_inode *grown = realloc(
			    p->write_roots, (p->nwrite_roots + 1) * sizeof(*p->write_roots));
			if (!grown) {
				path_fd_put(fd);
				r = -ENOMEM;
				goto fail;
			}
			p->write_roots = grown;
			p->write_roots[p->nwrite_roots++] =
			    (struct sbx_inode){.dev = st.st_dev, .ino = st.st_ino};
		}
		p->rules[p->nrules].fd = fd;
		p->rules[p->nrules].access = sbx_access_rights(g[i].access, S_ISDIR(st.st_mode));
		if (!S_ISDIR(st.st_mode))
			p->rules[p->nrules].access &= SBX_LL_FS_FILE_RIGHTS;
		p->nrules++;
	}
	r = sbx_landlock_ruleset(p->abi, p->rules, p->nrules, &failed);
	if (r < 0) {
		snprintf(err, errlen, "Landlock refused the rule for %s: %s",
			 p->nrules ? p->rule_paths[failed] : "(ruleset)", strerror(-r));
		goto fail;
	}
	p->ruleset_fd = r;
	if (p->nwrite_roots || x->dyn_write) {
		if (!f->seccomp_notify) {
			snprintf(err, errlen,
				 "write grants: keeping chmod/chown/utimensat beneath them needs "
				 "seccomp user notifications and pidfd_getfd (Linux 5.9 or later), "
				 "which this kernel lacks");
			r = -EOPNOTSUPP;
			goto fail;
		}
		p->profile |= SBX_FILTER_NOTIFY_META;
	}
	r = compile_net(f, p, x, err, errlen);
	if (r < 0)
		goto fail;
	r = add_ports(p->ruleset_fd, p);
	if (r < 0) {
		snprintf(err, errlen, "Landlock refused a grants.listen port: %s", strerror(-r));
		goto fail;
	}
	if (p->profile == (filter ? filter->profile : 0) && filter) {
		p->filter = filter;
	} else {
		r = sbx_filter_get(p->profile, &p->filter);
		if (r < 0) {
			snprintf(err, errlen, "cannot compile the seccomp filter: %s",
				 strerror(-r));
			goto fail;
		}
	}
	*out = p;
	return 0;
fail:
	sbx_policy_free(p);
	return r;
}

int sbx_policy_ruleset(const struct sbx_policy *p, const struct sbx_ll_rule *extra, size_t nextra,
		       int *fd, bool *owned)
{
	int r;

	if (nextra == 0) {
		*fd = p->ruleset_fd;
		*owned = false;
		return 0;
	}
	r = sbx_landlock_ruleset(p->abi, p->rules, p->nrules, NULL);
	if (r < 0)
		return r;
	int rfd = r;
	r = sbx_landlock_add(rfd, p->abi, extra, nextra, NULL);
	if (r == 0)
		r = add_ports(rfd, p);
	if (r < 0) {
		close(rfd);
		return r;
	}
	*fd = rfd;
	*owned = true;
	return 0;
}
