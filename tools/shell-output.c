/* dqlc: output modes (see shell-output.h). */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "shell-buf.h"
#include "shell-output.h"

static const char *const mode_names[] = {"table", "list", "json", "csv", "line"};

int out_mode_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
		if (strcasecmp(name, mode_names[i]) == 0)
			return i;
	if (strcasecmp(name, "tabular") == 0)
		return OUT_LIST;
	return -1;
}

const char *out_mode_name(int mode)
{
	if (mode < 0 || mode >= (int)(sizeof mode_names / sizeof mode_names[0]))
		return "?";
	return mode_names[mode];
}

/* ---- Values ----------------------------------------------------------------- */

void out_format_double(char *buf, size_t len, double d)
{
	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, "%s", d > 0 ? "Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strpbrk(buf, ".eE") == NULL && strlen(buf) + 3 <= len)
		strcat(buf, ".0");
}

/* Length of the UTF-8 sequence at p (1..4) and its code point, or 0 when
 * the bytes are not valid UTF-8 (overlong forms, surrogates and values
 * above U+10FFFF included). */
static size_t u8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t k;
	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return k;
}

static bool u8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;
	for (size_t i = 0; i < n; i += k) {
		if ((k = u8_decode(p + i, n - i, &cp)) == 0)
			return false;
	}
	return true;
}

/* Columns a rendered (escaped, hence valid UTF-8) string takes. */
static size_t display_width(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, k;
	uint32_t cp;
	for (size_t i = 0; i < n; i += k) {
		k = u8_decode(p + i, n - i, &cp);
		if (k == 0) {
			k = 1;
			w++;
			continue;
		}
		int cw = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
		w += cw < 0 ? 1 : (size_t)cw;
	}
	return w;
}

/* Text for people: UTF-8 as is; control characters and invalid bytes
 * escaped so a value stays on one line and shows what it holds. */
static void render_text(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;
	for (size_t i = 0; i < n; i += k) {
		k = u8_decode(p + i, n - i, &cp);
		if (k == 0 || (cp >= 0x80 && cp < 0xa0)) {
			/* an invalid byte, or a C1 control: its bytes */
			if (k == 0)
				k = 1;
			for (size_t j = 0; j < k; j++)
				sbuf_printf(b, "\\x%02x", p[i + j]);
		} else if (cp == '\n') {
			sbuf_adds(b, "\\n");
		} else if (cp == '\r') {
			sbuf_adds(b, "\\r");
		} else if (cp == '\t') {
			sbuf_adds(b, "\\t");
		} else if (cp < 0x20 || cp == 0x7f) {
			sbuf_printf(b, "\\x%02x", (unsigned)cp);
		} else {
			sbuf_add(b, p + i, k);
		}
	}
}

static void render_hex_blob(struct sbuf *b, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;
	sbuf_adds(b, "X'");
	for (size_t i = 0; i < n; i++) {
		sbuf_addc(b, hex[p[i] >> 4]);
		sbuf_addc(b, hex[p[i] & 15]);
	}
	sbuf_addc(b, '\'');
}

static bool is_number(const dqlc_value_t *v)
{
	return v->type == DQLC_TYPE_INTEGER || v->type == DQLC_TYPE_FLOAT ||
	       v->type == DQLC_TYPE_UNIXTIME || v->type == DQLC_TYPE_BOOLEAN;
}

/* A value for table, list and line modes. */
static void render_value(struct sbuf *b, const dqlc_value_t *v)
{
	char num[64];
	switch (v->type) {
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
	case DQLC_TYPE_BOOLEAN:
		sbuf_printf(b, "%" PRId64, v->v.i);
		break;
	case DQLC_TYPE_FLOAT:
		out_format_double(num, sizeof num, v->v.f);
		sbuf_adds(b, num);
		break;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		render_text(b, v->v.s.p, v->v.s.n);
		break;
	case DQLC_TYPE_BLOB:
		render_hex_blob(b, v->v.s.p, v->v.s.n);
		break;
	case DQLC_TYPE_NULL:
	default:
		sbuf_adds(b, "NULL");
		break;
	}
}

/* ---- JSON ------------------------------------------------------------------- */

static void base64(struct sbuf *b, const void *data, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t i;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		sbuf_addc(b, tab[x >> 18]);
		sbuf_addc(b, tab[(x >> 12) & 63]);
		sbuf_addc(b, tab[(x >> 6) & 63]);
		sbuf_addc(b, tab[x & 63]);
	}
	if (n - i == 1) {
		uint32_t x = (uint32_t)p[i] << 16;
		sbuf_addc(b, tab[x >> 18]);
		sbuf_addc(b, tab[(x >> 12) & 63]);
		sbuf_adds(b, "==");
	} else if (n - i == 2) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		sbuf_addc(b, tab[x >> 18]);
		sbuf_addc(b, tab[(x >> 12) & 63]);
		sbuf_addc(b, tab[(x >> 6) & 63]);
		sbuf_addc(b, '=');
	}
}

/* A JSON string of valid UTF-8 text (invalid bytes, which only a column
 * name could hold here, become U+FFFD). */
static void json_string(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;
	sbuf_addc(b, '"');
	for (size_t i = 0; i < n; i += k) {
		k = u8_decode(p + i, n - i, &cp);
		if (k == 0) {
			k = 1;
			sbuf_adds(b, "\\ufffd");
			continue;
		}
		switch (cp) {
		case '"':
			sbuf_adds(b, "\\\"");
			break;
		case '\\':
			sbuf_adds(b, "\\\\");
			break;
		case '\n':
			sbuf_adds(b, "\\n");
			break;
		case '\r':
			sbuf_adds(b, "\\r");
			break;
		case '\t':
			sbuf_adds(b, "\\t");
			break;
		case '\b':
			sbuf_adds(b, "\\b");
			break;
		case '\f':
			sbuf_adds(b, "\\f");
			break;
		default:
			if (cp < 0x20)
				sbuf_printf(b, "\\u%04x", (unsigned)cp);
			else
				sbuf_add(b, p + i, k);
		}
	}
	sbuf_addc(b, '"');
}

static void json_value(struct sbuf *b, const dqlc_value_t *v)
{
	char num[64];
	switch (v->type) {
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
		sbuf_printf(b, "%" PRId64, v->v.i);
		break;
	case DQLC_TYPE_BOOLEAN:
		sbuf_adds(b, v->v.i ? "true" : "false");
		break;
	case DQLC_TYPE_FLOAT:
		if (isnan(v->v.f)) {
			sbuf_adds(b, "null");
		} else if (isinf(v->v.f)) {
			sbuf_adds(b, v->v.f > 0 ? "1e999" : "-1e999");
		} else {
			out_format_double(num, sizeof num, v->v.f);
			sbuf_adds(b, num);
		}
		break;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		if (u8_valid(v->v.s.p, v->v.s.n)) {
			json_string(b, v->v.s.p, v->v.s.n);
		} else {
			sbuf_adds(b, "{\"$text_base64\":\"");
			base64(b, v->v.s.p, v->v.s.n);
			sbuf_adds(b, "\"}");
		}
		break;
	case DQLC_TYPE_BLOB:
		sbuf_adds(b, "{\"$blob\":\"");
		base64(b, v->v.s.p, v->v.s.n);
		sbuf_adds(b, "\"}");
		break;
	case DQLC_TYPE_NULL:
	default:
		sbuf_adds(b, "null");
		break;
	}
}

/* ---- CSV -------------------------------------------------------------------- */

static void csv_text(struct sbuf *b, const char *s, size_t n)
{
	bool quote = n == 0 || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n) ||
		     memchr(s, '\n', n) || (n >= 2 && (s[0] == 'X' || s[0] == 'x') && s[1] == '\'');
	if (!quote) {
		sbuf_add(b, s, n);
		return;
	}
	sbuf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			sbuf_addc(b, '"');
		sbuf_addc(b, s[i]);
	}
	sbuf_addc(b, '"');
}

static void csv_value(struct sbuf *b, const dqlc_value_t *v)
{
	switch (v->type) {
	case DQLC_TYPE_NULL:
		break;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		csv_text(b, v->v.s.p, v->v.s.n);
		break;
	default:
		render_value(b, v);
		break;
	}
}

/* ---- Result sets ---------------------------------------------------------------- */

struct cell {
	char *s;
	size_t w;
	bool right;
};

static void pad(struct sbuf *b, size_t n)
{
	while (n-- > 0)
		sbuf_addc(b, ' ');
}

static void out_table(struct sbuf *b, const dqlc_result_t *r)
{
	size_t nc = dqlc_result_column_count(r), nr = dqlc_result_row_count(r);
	size_t *w = xmalloc(nc * sizeof *w), *hw = xmalloc(nc * sizeof *hw);
	struct cell *cells = xmalloc((nr * nc > 0 ? nr * nc : 1) * sizeof *cells);
	struct sbuf tmp = SBUF_INIT;

	for (size_t c = 0; c < nc; c++) {
		const char *name = dqlc_result_column_name(r, c);
		sbuf_reset(&tmp);
		render_text(&tmp, name, strlen(name));
		hw[c] = w[c] = display_width(tmp.p, tmp.len);
	}
	for (size_t i = 0; i < nr; i++) {
		for (size_t c = 0; c < nc; c++) {
			const dqlc_value_t *v = dqlc_result_value(r, i, c);
			struct cell *cl = &cells[i * nc + c];
			sbuf_reset(&tmp);
			render_value(&tmp, v);
			cl->s = xstrdup(sbuf_str(&tmp));
			cl->w = display_width(tmp.p, tmp.len);
			cl->right = is_number(v);
			if (cl->w > w[c])
				w[c] = cl->w;
		}
	}
	/* Header, centered like psql's. */
	for (size_t c = 0; c < nc; c++) {
		const char *name = dqlc_result_column_name(r, c);
		size_t left = (w[c] - hw[c]) / 2;
		if (c > 0)
			sbuf_addc(b, '|');
		sbuf_addc(b, ' ');
		pad(b, left);
		render_text(b, name, strlen(name));
		if (c + 1 < nc)
			pad(b, w[c] - hw[c] - left + 1);
	}
	sbuf_addc(b, '\n');
	for (size_t c = 0; c < nc; c++) {
		if (c > 0)
			sbuf_addc(b, '+');
		for (size_t k = 0; k < w[c] + 2; k++)
			sbuf_addc(b, '-');
	}
	sbuf_addc(b, '\n');
	for (size_t i = 0; i < nr; i++) {
		for (size_t c = 0; c < nc; c++) {
			struct cell *cl = &cells[i * nc + c];
			if (c > 0)
				sbuf_addc(b, '|');
			sbuf_addc(b, ' ');
			if (cl->right)
				pad(b, w[c] - cl->w);
			sbuf_adds(b, cl->s);
			if (c + 1 < nc)
				pad(b, (cl->right ? 0 : w[c] - cl->w) + 1);
			free(cl->s);
		}
		sbuf_addc(b, '\n');
	}
	sbuf_printf(b, "(%zu row%s)\n", nr, nr == 1 ? "" : "s");
	sbuf_free(&tmp);
	free(cells);
	free(w);
	free(hw);
}

static void out_list(struct sbuf *b, const dqlc_result_t *r)
{
	size_t nc = dqlc_result_column_count(r), nr = dqlc_result_row_count(r);
	for (size_t i = 0; i < nr; i++) {
		for (size_t c = 0; c < nc; c++) {
			if (c > 0)
				sbuf_addc(b, '|');
			render_value(b, dqlc_result_value(r, i, c));
		}
		sbuf_addc(b, '\n');
	}
}

static void out_json(struct sbuf *b, const dqlc_result_t *r)
{
	size_t nc = dqlc_result_column_count(r), nr = dqlc_result_row_count(r);
	sbuf_addc(b, '[');
	for (size_t i = 0; i < nr; i++) {
		if (i > 0)
			sbuf_adds(b, ",\n");
		sbuf_addc(b, '{');
		for (size_t c = 0; c < nc; c++) {
			const char *name = dqlc_result_column_name(r, c);
			if (c > 0)
				sbuf_addc(b, ',');
			json_string(b, name, strlen(name));
			sbuf_addc(b, ':');
			json_value(b, dqlc_result_value(r, i, c));
		}
		sbuf_addc(b, '}');
	}
	sbuf_adds(b, "]\n");
}

static void out_csv(struct sbuf *b, const dqlc_result_t *r)
{
	size_t nc = dqlc_result_column_count(r), nr = dqlc_result_row_count(r);
	for (size_t c = 0; c < nc; c++) {
		const char *name = dqlc_result_column_name(r, c);
		if (c > 0)
			sbuf_addc(b, ',');
		csv_text(b, name, strlen(name));
	}
	sbuf_adds(b, "\r\n");
	for (size_t i = 0; i < nr; i++) {
		for (size_t c = 0; c < nc; c++) {
			if (c > 0)
				sbuf_addc(b, ',');
			csv_value(b, dqlc_result_value(r, i, c));
		}
		sbuf_adds(b, "\r\n");
	}
}

/* "name = value" lines with names right-aligned to the widest. */
static void line_field(struct sbuf *b, const char *name, size_t width, const char *value)
{
	struct sbuf tmp = SBUF_INIT;
	render_text(&tmp, name, strlen(name));
	pad(b, width - display_width(tmp.p, tmp.len));
	sbuf_add(b, tmp.p, tmp.len);
	sbuf_adds(b, " = ");
	sbuf_adds(b, value);
	sbuf_addc(b, '\n');
	sbuf_free(&tmp);
}

static size_t name_width(const char *name)
{
	struct sbuf tmp = SBUF_INIT;
	size_t w;
	render_text(&tmp, name, strlen(name));
	w = display_width(tmp.p, tmp.len);
	sbuf_free(&tmp);
	return w;
}

static void out_line(struct sbuf *b, const dqlc_result_t *r)
{
	size_t nc = dqlc_result_column_count(r), nr = dqlc_result_row_count(r), width = 0;
	struct sbuf tmp = SBUF_INIT;
	for (size_t c = 0; c < nc; c++) {
		size_t w = name_width(dqlc_result_column_name(r, c));
		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < nr; i++) {
		if (i > 0)
			sbuf_addc(b, '\n');
		for (size_t c = 0; c < nc; c++) {
			sbuf_reset(&tmp);
			render_value(&tmp, dqlc_result_value(r, i, c));
			line_field(b, dqlc_result_column_name(r, c), width, sbuf_str(&tmp));
		}
	}
	sbuf_free(&tmp);
}

static void flush_buf(FILE *f, struct sbuf *b)
{
	if (b->len > 0)
		fwrite(b->p, 1, b->len, f);
	sbuf_free(b);
}

void out_result(FILE *f, int mode, const dqlc_result_t *r)
{
	struct sbuf b = SBUF_INIT;
	switch (mode) {
	case OUT_LIST:
		out_list(&b, r);
		break;
	case OUT_JSON:
		out_json(&b, r);
		break;
	case OUT_CSV:
		out_csv(&b, r);
		break;
	case OUT_LINE:
		out_line(&b, r);
		break;
	case OUT_TABLE:
	default:
		out_table(&b, r);
		break;
	}
	flush_buf(f, &b);
}

void out_changes(FILE *f, int mode, int64_t rows_affected, int64_t last_insert_id)
{
	if (mode == OUT_JSON)
		fprintf(f, "{\"rows_affected\":%" PRId64 ",\"last_insert_id\":%" PRId64 "}\n",
			rows_affected, last_insert_id);
	else
		fprintf(f, "rows affected: %" PRId64 ", last insert id: %" PRId64 "\n", rows_affected,
			last_insert_id);
}

/* ---- Cluster information ----------------------------------------------------------- */

/* go-dqlite's role names (NodeRole.String()). */
static const char *go_role_name(int role)
{
	switch (role) {
	case DQLC_ROLE_VOTER:
		return "voter";
	case DQLC_ROLE_STANDBY:
		return "stand-by";
	case DQLC_ROLE_SPARE:
		return "spare";
	default:
		return "unknown role";
	}
}

void out_cluster(FILE *f, int mode, const dqlc_node_info_t *nodes, size_t n)
{
	struct sbuf b = SBUF_INIT, tmp = SBUF_INIT;
	char id[32];
	switch (mode) {
	case OUT_JSON:
		sbuf_addc(&b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				sbuf_adds(&b, ",\n");
			sbuf_printf(&b, "{\"ID\":%" PRIu64 ",\"Address\":", nodes[i].id);
			json_string(&b, nodes[i].address, strlen(nodes[i].address));
			sbuf_printf(&b, ",\"Role\":%d}", nodes[i].role);
		}
		sbuf_adds(&b, "]\n");
		break;
	case OUT_CSV:
		sbuf_adds(&b, "id,address,role\r\n");
		for (size_t i = 0; i < n; i++) {
			sbuf_printf(&b, "%" PRIx64 ",", nodes[i].id);
			csv_text(&b, nodes[i].address, strlen(nodes[i].address));
			sbuf_printf(&b, ",%s\r\n", dqlc_role_name(nodes[i].role));
		}
		break;
	case OUT_LINE:
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				sbuf_addc(&b, '\n');
			snprintf(id, sizeof id, "%" PRIx64, nodes[i].id);
			line_field(&b, "id", 7, id);
			sbuf_reset(&tmp);
			render_text(&tmp, nodes[i].address, strlen(nodes[i].address));
			line_field(&b, "address", 7, sbuf_str(&tmp));
			line_field(&b, "role", 7, dqlc_role_name(nodes[i].role));
		}
		break;
	default:
		for (size_t i = 0; i < n; i++)
			sbuf_printf(&b, "%" PRIx64 "|%s|%s\n", nodes[i].id, nodes[i].address,
				    go_role_name(nodes[i].role));
		break;
	}
	sbuf_free(&tmp);
	flush_buf(f, &b);
}

void out_describe(FILE *f, int mode, const char *address, uint64_t failure_domain,
		  uint64_t weight)
{
	struct sbuf b = SBUF_INIT, tmp = SBUF_INIT;
	char num[32];
	switch (mode) {
	case OUT_JSON:
		sbuf_printf(&b, "{\"FailureDomain\":%" PRIu64 ",\"Weight\":%" PRIu64 "}\n",
			    failure_domain, weight);
		break;
	case OUT_CSV:
		sbuf_adds(&b, "address,failure_domain,weight\r\n");
		csv_text(&b, address, strlen(address));
		sbuf_printf(&b, ",%" PRIu64 ",%" PRIu64 "\r\n", failure_domain, weight);
		break;
	case OUT_LINE:
		render_text(&tmp, address, strlen(address));
		line_field(&b, "address", 14, sbuf_str(&tmp));
		snprintf(num, sizeof num, "%" PRIu64, failure_domain);
		line_field(&b, "failure_domain", 14, num);
		snprintf(num, sizeof num, "%" PRIu64, weight);
		line_field(&b, "weight", 14, num);
		break;
	default:
		sbuf_printf(&b, "%s|%" PRIu64 "|%" PRIu64 "\n", address, failure_domain, weight);
		break;
	}
	sbuf_free(&tmp);
	flush_buf(f, &b);
}
