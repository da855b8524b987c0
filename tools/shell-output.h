/* dqlc: output modes.
 *
 *   table  psql-style aligned columns: a centered header, a separator,
 *          numbers right-aligned, text left-aligned, a "(N rows)" footer.
 *          NULL is shown as NULL, blobs as X'hex', control characters and
 *          bytes that are not UTF-8 as \n, \r, \t, \xNN.
 *   list   values separated by '|', no header (go-dqlite's "tabular"
 *          output; same value rendering as table).
 *   json   an array of objects keyed by column name, one row per line:
 *          integers and floats as numbers (a float always has a '.' or an
 *          exponent; infinities as 1e999/-1e999, NaN as null), text as
 *          strings, NULL as null, booleans as true/false, blobs as
 *          {"$blob":"BASE64"}, text that is not valid UTF-8 as
 *          {"$text_base64":"BASE64"}.
 *   csv    RFC 4180: a header line, CRLF line ends, fields quoted when they
 *          hold , " CR or LF; NULL is an empty field, empty text is "",
 *          blobs are X'hex' (text that starts with X' is quoted).
 *   line   "column = value" per line, names right-aligned, a blank line
 *          between rows (sqlite3 -line); values as in table mode.
 */
#ifndef DQLC_SHELL_OUTPUT_H
#define DQLC_SHELL_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "dqlite-client.h"

enum { OUT_TABLE = 0, OUT_LIST, OUT_JSON, OUT_CSV, OUT_LINE };

/* A mode by name ("tabular" is list, as in go-dqlite); -1 if unknown. */
int out_mode_parse(const char *name);
const char *out_mode_name(int mode);

/* A result set in the given mode. */
void out_result(FILE *f, int mode, const dqlc_result_t *r);

/* Rows affected and last insert id of an exec (.changes on). */
void out_changes(FILE *f, int mode, int64_t rows_affected, int64_t last_insert_id);

/* .cluster: table and list modes print go-dqlite's "idhex|address|role";
 * json prints go-dqlite's keys ID, Address, Role (number). */
void out_cluster(FILE *f, int mode, const dqlc_node_info_t *nodes, size_t n);

/* .describe: "address|failure domain|weight" (go-dqlite), or json
 * {"FailureDomain":N,"Weight":N} (go-dqlite's keys). */
void out_describe(FILE *f, int mode, const char *address, uint64_t failure_domain,
		  uint64_t weight);

/* A float the way every mode prints it: the shortest of %.15g..%.17g that
 * reads back exactly, with ".0" added to integral values; Inf, -Inf, NaN. */
void out_format_double(char *buf, size_t len, double d);

#endif
