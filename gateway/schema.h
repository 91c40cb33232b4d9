/* The subset of JSON Schema that toolcell enforces on tool arguments (and on
 * "json" tool output). Pure: no I/O. */
#ifndef TOOLCELL_GATEWAY_SCHEMA_H
#define TOOLCELL_GATEWAY_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Checks at manifest load that `schema` only uses keywords toolcell enforces,
 * with values of the right type (a pattern must compile, minLength must be a
 * non-negative integer, required must name strings, ...). Unknown keywords are
 * errors: a schema toolcell cannot fully enforce is refused, not half-applied.
 * Returns 0, or -EINVAL with *bad set to the offending node (borrowed, inside
 * schema) and a message in msg. */
int gw_schema_check(const cJSON *schema, const cJSON **bad, char *msg, size_t msglen);

/* Validates `value` against a schema that passed gw_schema_check. Returns 0, or
 * -EINVAL with a message naming the argument and the rule, e.g.
 * "argument 'path': must be a string" or "argument 'files[2]': longer than 256
 * characters (maxLength)". `root` names the top level in messages ("arguments"
 * for tool arguments, "output" for tool output). */
int gw_schema_validate(const cJSON *schema, const cJSON *value, const char *root, char *msg,
		       size_t msglen);

#endif
