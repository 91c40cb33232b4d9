/* The operator's ceiling (--ceiling FILE): the most any tool may be granted.
 *
 * The file is one JSON object of the shape of a manifest's "grants": "read",
 * "write" and "exec" list paths (absolute, "@system", starting with
 * "{workspace}", or exactly "{tmp}"), "net" lists "host:port" entries,
 * "listen" TCP ports, and "limits" the largest value of each limit. A missing
 * read/write/exec/net/listen key allows nothing of that kind (the ceiling is
 * deny-by-default like a manifest); a missing limit is no bound, because every
 * manifest limit is already bounded and defaulted by the manifest itself.
 *
 * A tool whose grants are not within the ceiling is refused when manifests
 * load (gw_ceiling_check, declared in gateway/manifest.h, called by
 * gw_tool_load after the tool's policy compiles). */
#ifndef TOOLCELL_GATEWAY_CEILING_H
#define TOOLCELL_GATEWAY_CEILING_H

#include <stddef.h>

#include "gateway/manifest.h"

/* Parses a ceiling from text[0..len). `file` is used in messages; workspace
 * (absolute) is what "{workspace}" stands for, and what per-call argument
 * grants lie beneath. Paths are canonicalized now (realpath where they exist).
 * Returns 0 and *out (caller owns: gw_ceiling_free), or -EINVAL (-ENOMEM) with
 * every problem appended to diag as "FILE:LINE:COL: message"; *out is written
 * only on success. */
int gw_ceiling_parse(const char *file, const char *text, size_t len, const char *workspace,
		     struct gw_ceiling **out, struct gw_diag *diag);

/* Reads the file at `path` and parses it as gw_ceiling_parse does. A file that
 * cannot be read is reported as "PATH:0:0: cannot read: why" (-errno). */
int gw_ceiling_load(const char *path, const char *workspace, struct gw_ceiling **out,
		    struct gw_diag *diag);

/* Frees a ceiling; NULL is a no-op. */
void gw_ceiling_free(struct gw_ceiling *c);

#endif
