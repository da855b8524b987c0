/* Results: rows decoded from ROWS batches, plus exec outcomes. */
#ifndef DQLC_RESULT_H
#define DQLC_RESULT_H

#include "dqlite-client.h"
#include "wire/wire.h"

struct dqlc__chunk {
	struct dqlc__chunk *next;
	size_t len;
	uint8_t data[];
};

struct dqlc_result {
	dqlc__rows_t rows;
	struct dqlc__chunk *chunks; /* message bodies that values point into */
	struct dqlc__chunk *last;
	int64_t last_insert_id;
	int64_t rows_affected;
};

dqlc_result_t *dqlc__result_new(void);
/* Copy one ROWS body into the result and decode it (values point into the
 * copy).  *more tells whether more batches follow. */
int dqlc__result_add_batch(dqlc_result_t *r, const uint8_t *body, size_t len, bool *more,
			   dqlc_error_t *err);
/* Turn the server's NULL stand-ins back into NULL (ISO8601 "" means NULL),
 * for values [from, to). */
void dqlc__values_fix_nulls(dqlc_value_t *v, size_t from, size_t to);

#endif
