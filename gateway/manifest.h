/* Tool manifests: loaded, validated completely (every problem reported with
 * FILE:LINE:COL) and compiled into a sandbox policy once, at start-up. */
#ifndef TOOLCELL_GATEWAY_MANIFEST_H
#define TOOLCELL_GATEWAY_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "gateway/json.h"
#include "gateway/template.h"
#include "sandbox/netaddr.h"
#include "sandbox/policy.h"

/* What a tool's stdout is: text, one JSON object (structuredContent), or a
 * JSON array of MCP content blocks (gateway/content.h). */
enum gw_output { GW_OUTPUT_TEXT, GW_OUTPUT_JSON, GW_OUTPUT_CONTENT };

/* A grant path that is only known per call: it names {tmp} or an argument. */
struct gw_dyn_grant {
	struct gw_tpl path;
	unsigned access; /* SBX_READ | SBX_WRITE | SBX_EXEC */
	char *origin;	 /* "grants.write[0]" */
	bool in_tmp;	 /* starts with {tmp}: resolved beneath the call's {tmp} */
};

struct gw_tool {
	char *name;
	char *file;		    /* the manifest it came from */
	cJSON *listing;		    /* its tools/list entry */
	const cJSON *input_schema;  /* borrowed from listing */
	const cJSON *output_schema; /* borrowed from listing, or NULL */
	struct gw_tpl *argv;
	size_t argc;
	struct gw_tpl *stdin_tpl; /* NULL: stdin is /dev/null */
	struct gw_tpl cwd;	  /* default "{workspace}" */
	char **env_names;
	struct gw_tpl *env_vals;
	size_t nenv;
	enum gw_output output;
	struct gw_dyn_grant *dyn;
	size_t ndyn;
	bool uses_tmp;
	struct sbx_limits limits;
	struct sbx_net_entry *net; /* grants.net, parsed (not resolved) */
	size_t nnet;
	uint16_t *listen; /* grants.listen: TCP ports the tool may bind */
	size_t nlisten;
	struct sbx_path_grant *static_grants; /* expanded; paths owned */
	size_t nstatic;
	struct sbx_policy *policy; /* NULL when loaded without compiling */
	unsigned refs;		   /* the toolset's and each running call's */
};

struct gw_ceiling;

/* Checks a compiled tool against the operator's ceiling (gateway/ceiling.c).
 * Returns 0, or -EPERM with err naming the grant that exceeds it. */
int gw_ceiling_check(const struct gw_ceiling *ceiling, const struct gw_tool *t, char *err,
		     size_t errlen);

/* Problems found while loading, each "FILE:LINE:COL: message". */
struct gw_diag {
	char **msgs;
	size_t n;
};

void gw_diag_add(struct gw_diag *d, const char *file, unsigned line, unsigned col, const char *fmt,
		 ...) __attribute__((format(printf, 5, 6)));
void gw_diag_free(struct gw_diag *d);

/* One JSON file being checked (manifests and the ceiling): problems are
 * reported at the line and column of the node they concern. */
struct gw_jctx {
	const char *file;
	const struct gw_json_doc *doc;
	struct gw_diag *diag;
	int errors;
	bool oom;
};

/* Adds "FILE:LINE:COL: message" for node (at its key when at_key). */
void gw_err_at(struct gw_jctx *c, const cJSON *node, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parses a net list ("host:port" strings) or a listen list (TCP ports) named
 * `name` in messages ("grants.net", "net"): every entry checked, repeats
 * refused. *out (owned; NULL when empty) and *n are only appended to. */
void gw_parse_net(struct gw_jctx *c, const cJSON *arr, const char *name, struct sbx_net_entry **out,
		  size_t *n);
void gw_parse_listen(struct gw_jctx *c, const cJSON *arr, const char *name, uint16_t **out,
		     size_t *n);

/* Reports every key of obj that is not in the NULL-terminated `known`. */
void gw_check_keys(struct gw_jctx *c, const cJSON *obj, const char *where,
		   const char *const *known);

struct gw_load_opts {
	const char *workspace;		     /* absolute, resolved */
	const struct sbx_features *features; /* for compile */
	const struct sbx_filter *filter;     /* for compile */
	bool compile;			     /* false: validate only (pure; no kernel) */
	sbx_net_resolver resolve;	     /* for net grants; NULL: the system's */
	/* Why `processes` cannot be enforced (a root gateway without a pids
	 * cgroup), or NULL: every tool is then refused (fail closed). */
	const char *processes_unenforceable;
	const struct gw_ceiling *ceiling; /* --ceiling, or NULL */
};

/* Loads one manifest from text[0..len). `file` is used in messages. Returns 0
 * and *out (refs = 1; release with gw_tool_unref), or -EINVAL with every problem
 * appended to diag. */
int gw_tool_load(const char *file, const char *text, size_t len, const struct gw_load_opts *opts,
		 struct gw_tool **out, struct gw_diag *diag);

struct gw_tool *gw_tool_ref(struct gw_tool *t);
void gw_tool_unref(struct gw_tool *t);

struct gw_toolset {
	struct gw_tool **tools; /* sorted by name */
	size_t n;
};

/* Loads every *.json in the given directories and files (directories sorted by
 * file name). Duplicate tool names are errors. Returns 0 and *out, or -errno
 * with diag filled; on error nothing is returned, so a gateway never serves a
 * half-valid set. */
int gw_toolset_load(char *const *paths, size_t npaths, const struct gw_load_opts *opts,
		    struct gw_toolset **out, struct gw_diag *diag);
void gw_toolset_free(struct gw_toolset *ts);
struct gw_tool *gw_toolset_find(const struct gw_toolset *ts, const char *name);

#endif
