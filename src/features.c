/* What the server at the other end of a connection supports (PROTOCOL.md
 * §9), learned lazily and without ever sending a 1.11 server anything that
 * crashes or wedges it (§10).
 *
 *  - SCHEMA1 (more than 255 parameters) and UNKNOWN_REQ, both 1.12+: one
 *    CLUSTER request with format 2, the first time a call needs to know.
 *    1.11 treats every format other than 0 as 1 and answers SERVERS; 1.12
 *    and later answer FAILURE 1005 "unrecognized cluster format".  Any node
 *    answers it, leader or not, before OPEN.  (Checked against 1.11.1 and
 *    1.18.1 nodes.)
 *  - PREPARE_TAIL (1.15+): learned from the first PREPARE sent with schema 1,
 *    which goes only to servers known to be 1.12+: STMT_WITH_OFFSET means
 *    yes; FAILURE "unrecognized schema version" (1.12-1.14 accept only
 *    schema 0 there) means no.  (A 1.11 server would ignore the schema byte
 *    and answer a plain STMT, but it never gets one.)
 *
 * Nothing is probed on a connection that never needs to know: plain SQL with
 * up to 255 parameters costs no extra round trip.
 */
#include <string.h>

#include "conn.h"
#include "error.h"
#include "sqltext.h"

#define ALL_PROBED (DQLC__FEAT_SCHEMA1 | DQLC__FEAT_UNKNOWN_REQ)

int dqlc__conn_probe(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err)
{
	static const uint8_t format2[8] = {2, 0, 0, 0, 0, 0, 0, 0};
	dqlc_error_t e;
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t saved;
	int rv;
	if ((c->features_known & ALL_PROBED) == ALL_PROBED)
		return 0;
	saved = c->wbuf.len;
	rv = dqlc__enc_raw(&c->wbuf, DQLC__REQ_CLUSTER, format2, sizeof format2, err);
	if (rv != 0) {
		c->wbuf.len = saved;
		return rv;
	}
	memset(&e, 0, sizeof e);
	rv = dqlc__conn_call(c, DQLC__RESP_SERVERS, deadline, false, &hdr, &body, &e);
	if (rv == 0) {
		/* Read as format 1: a 1.11 server. */
		c->features &= ~ALL_PROBED;
		c->features_known |= ALL_PROBED | DQLC__FEAT_PREPARE_TAIL;
		c->features &= ~DQLC__FEAT_PREPARE_TAIL;
		return 0;
	}
	if (rv == DQLC_ESQL && c->last_server_code == 1005) {
		/* Checked formats, answered unknown ones: 1.12 or later. */
		c->last_server_code = 0;
		c->features |= ALL_PROBED;
		c->features_known |= ALL_PROBED;
		return 0;
	}
	if (err != NULL)
		*err = e;
	dqlc__err_prefix(err, "asking %s which protocol features it has", c->address);
	return rv;
}

int dqlc__conn_params_ready(struct dqlc_conn *c, size_t n, int64_t deadline, dqlc_error_t *err)
{
	if (n <= 255)
		return 0;
	return dqlc__conn_probe(c, deadline, err);
}

int dqlc__conn_sql_check(struct dqlc_conn *c, const char *sql, int64_t deadline,
			 dqlc_error_t *err)
{
	int rv;
	/* dqlite's VFS supports only its own journal mode and page size.
	 * 1.11 answers a change with a FAILURE whose message it then frees
	 * although it is static: the node aborts.  From 1.12 the same
	 * FAILURE ("only WAL mode is supported", "changing page size is not
	 * supported") is all that happens, and setting the mode it already
	 * has (journal_mode=WAL) works. */
	if (!dqlc__sql_sets_pragma(sql, "JOURNAL_MODE") && !dqlc__sql_sets_pragma(sql, "PAGE_SIZE"))
		return 0;
	if ((rv = dqlc__conn_probe(c, deadline, err)) != 0)
		return rv;
	if (c->features & DQLC__FEAT_SCHEMA1)
		return 0;
	return dqlc__err(err, DQLC_EINVAL,
			 "refusing to change journal_mode or page_size on this dqlite 1.11 "
			 "server: it aborts when they change (servers from 1.12 refuse the "
			 "change themselves); dqlite manages both (WAL, 4096)");
}

bool dqlc__conn_learn_no_tail(struct dqlc_conn *c, const dqlc_error_t *e)
{
	if ((c->features_known & DQLC__FEAT_PREPARE_TAIL) || e == NULL || e->code != DQLC_ESQL ||
	    (e->sqlite_code != 1005 && e->sqlite_code != 1) ||
	    strstr(e->message, "unrecognized schema version") == NULL)
		return false;
	c->features &= ~DQLC__FEAT_PREPARE_TAIL;
	c->features_known |= DQLC__FEAT_PREPARE_TAIL;
	return true;
}

unsigned dqlc__conn_tail_features(const struct dqlc_conn *c)
{
	if ((c->features_known & DQLC__FEAT_PREPARE_TAIL) || !(c->features & DQLC__FEAT_SCHEMA1))
		return c->features;
	return c->features | DQLC__FEAT_PREPARE_TAIL;
}
