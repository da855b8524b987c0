/*
 * libFuzzer target for the wire decoders.
 *
 * Input: [1 selector byte][one or more messages, each 8-byte header + body],
 * i.e. what a server would put on the socket after a request.  The selector
 * picks the decoder (and, for SERVERS / STMT, the format or schema); the low
 * nibble is enough, so every byte value means something.  ROWS keeps
 * decoding messages into one result while batches end with PART, as the
 * connection layer does.  Every decoded string and blob is read end to end
 * so that the sanitizers see any pointer that escapes the body.
 *
 * Bodies are copied into exact-size heap blocks: an over-read by one byte
 * is an ASan report, not a silent read of the next message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY (1u << 20)

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;
	size_t i;
	for (i = 0; i < n; i++)
		acc ^= b[i];
	sink ^= acc;
}

static void touch_str(const char *s)
{
	touch(s, strlen(s) + 1);
}

static void touch_values(const dqlc_value_t *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		switch (v[i].type) {
		case DQLC_TYPE_TEXT:
		case DQLC_TYPE_ISO8601:
			/* text is NUL-terminated in the body, right at n */
			touch(v[i].v.s.p, v[i].v.s.n + 1);
			if (v[i].v.s.p[v[i].v.s.n] != '\0')
				abort();
			break;
		case DQLC_TYPE_BLOB:
			touch(v[i].v.s.p, v[i].v.s.n);
			break;
		case DQLC_TYPE_INTEGER:
		case DQLC_TYPE_FLOAT:
		case DQLC_TYPE_NULL:
		case DQLC_TYPE_UNIXTIME:
			break;
		case DQLC_TYPE_BOOLEAN:
			if (v[i].v.i != 0 && v[i].v.i != 1)
				abort();
			break;
		default:
			abort(); /* the decoder let an unknown type through */
		}
	}
}

/* Copy the next message's body into its own heap block.  Returns 0 and
 * advances the input, or non-zero at the end or on a framing error. */
static int next_body(const uint8_t **data, size_t *size, dqlc__hdr_t *h, uint8_t **body,
		     size_t *len)
{
	const uint8_t *b;
	size_t used;
	dqlc_error_t e;

	if (dqlc__wire_frame(*data, *size, MAX_BODY, h, &b, &used, &e) != 0) {
		if (e.code != DQLC_EPROTO)
			abort();
		return 1;
	}
	*len = (size_t)h->words * 8;
	*body = malloc(*len);
	if (*body == NULL)
		return 1;
	memcpy(*body, b, *len);
	*data += used;
	*size -= used;
	return 0;
}

/* A failed decode must say DQLC_EPROTO with a message. */
static void check_fail(int rc, const dqlc_error_t *e)
{
	if (rc == 0)
		return;
	if (rc != DQLC_EPROTO || e->code != rc || e->message[0] == '\0')
		abort();
}

static void fuzz_rows(const uint8_t *data, size_t size, uint64_t max_rows)
{
	dqlc__rows_t rows;
	uint8_t *bodies[64];
	size_t nbodies = 0, i;
	bool more = true;

	dqlc__rows_init(&rows);
	rows.max_rows = max_rows;
	while (more && nbodies < 64) {
		dqlc__hdr_t h;
		dqlc_error_t e;
		size_t len, nrows = rows.nrows;
		int rc;

		if (next_body(&data, &size, &h, &bodies[nbodies], &len) != 0)
			break;
		rc = dqlc__dec_rows(bodies[nbodies], len, &rows, &more, &e);
		nbodies++;
		check_fail(rc, &e);
		if (rc != 0) {
			if (rows.nrows != nrows) /* a failed batch adds nothing */
				abort();
			break;
		}
		if (max_rows != 0 && rows.nrows > max_rows)
			abort();
	}
	for (i = 0; i < rows.ncols && rows.names != NULL; i++)
		touch_str(rows.names[i]);
	touch_values(rows.vals, rows.nrows * rows.ncols);
	dqlc__rows_clear_values(&rows);
	dqlc__rows_free(&rows);
	for (i = 0; i < nbodies; i++)
		free(bodies[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dqlc__hdr_t h;
	dqlc_error_t e;
	uint8_t *body = NULL;
	size_t len, n, i;
	uint64_t a, b;
	uint32_t x, y;
	const char *s;
	dqlc__node_t *nodes = NULL;
	dqlc__file_t *files = NULL;
	unsigned sel;
	int rc = 0;

	if (size < 1)
		return 0;
	sel = data[0] & 0x0f;
	data++;
	size--;
	if (sel == 7) { /* ROWS: high bits of the selector pick a max_rows */
		fuzz_rows(data, size, (uint64_t)(data[-1] >> 4) * 3);
		return 0;
	}
	if (next_body(&data, &size, &h, &body, &len) != 0)
		return 0;
	switch (sel) {
	case 0:
		rc = dqlc__dec_failure(body, len, &a, &s, &e);
		if (rc == 0)
			touch_str(s);
		break;
	case 1:
		rc = dqlc__dec_server(body, len, &a, &s, &e);
		if (rc == 0)
			touch_str(s);
		break;
	case 2:
		rc = dqlc__dec_welcome(body, len, &a, &e);
		break;
	case 3:
	case 11:
		rc = dqlc__dec_servers(body, len, sel == 11, &nodes, &n, &e);
		for (i = 0; rc == 0 && i < n; i++)
			touch_str(nodes[i].address);
		free(nodes);
		break;
	case 4:
		rc = dqlc__dec_db(body, len, &x, &e);
		break;
	case 5:
		rc = dqlc__dec_stmt(body, len, h.schema, &x, &y, &a, &b, &e);
		if (h.schema > 1 && rc == 0)
			abort();
		break;
	case 6:
		rc = dqlc__dec_result(body, len, &a, &b, &e);
		break;
	case 8:
		rc = dqlc__dec_empty(body, len, &e);
		break;
	case 9:
		rc = dqlc__dec_files(body, len, &files, &n, &e);
		for (i = 0; rc == 0 && i < n; i++) {
			touch_str(files[i].name);
			touch(files[i].data, (size_t)files[i].size);
		}
		free(files);
		break;
	case 10:
		rc = dqlc__dec_metadata(body, len, &a, &b, &e);
		break;
	default: /* 12..15: the legacy LEADER reply */
		rc = dqlc__dec_server_legacy(body, len, &s, &e);
		if (rc == 0)
			touch_str(s);
		break;
	}
	check_fail(rc, &e);
	free(body);
	return 0;
}
