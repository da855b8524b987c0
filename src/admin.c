/* Cluster administration requests on one connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "error.h"

const char *dqlc_role_name(int role)
{
	switch (role) {
	case DQLC_ROLE_VOTER: return "voter";
	case DQLC_ROLE_STANDBY: return "standby";
	case DQLC_ROLE_SPARE: return "spare";
	default: return "unknown";
	}
}

void dqlc_nodes_free(dqlc_node_info_t *nodes)
{
	free(nodes);
}

/* Send what is in c->wbuf (after `saved`), expect `type`. Leader-checked
 * requests (ADD, ASSIGN, REMOVE, TRANSFER) change the cluster: a lost reply
 * means the change may have happened. */
static int admin_call(struct dqlc_conn *c, size_t saved, int enc_rv, uint8_t type,
		      bool changes, dqlc__hdr_t *hdr, const uint8_t **body, dqlc_error_t *err)
{
	int rv;
	if (enc_rv != 0) {
		c->wbuf.len = saved;
		return enc_rv;
	}
	rv = dqlc__conn_call(c, type, dqlc__conn_deadline(c), changes, hdr, body, err);
	return rv;
}

#define ADMIN_BEGIN(c, err)                                    \
	dqlc__hdr_t hdr;                                       \
	const uint8_t *body;                                   \
	size_t saved;                                          \
	int rv;                                                \
	if ((rv = dqlc__conn_enter((c), (err))) != 0)          \
		return rv;                                     \
	saved = (c)->wbuf.len

int dqlc_conn_leader(dqlc_conn_t *c, dqlc_node_info_t *out, dqlc_error_t *err)
{
	uint64_t id;
	const char *addr;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_leader: NULL out");
	memset(out, 0, sizeof *out);
	out->role = -1;
	ADMIN_BEGIN(c, err);
	rv = admin_call(c, saved, dqlc__enc_leader(&c->wbuf, err), DQLC__RESP_SERVER, false, &hdr,
			&body, err);
	if (rv == 0)
		rv = dqlc__dec_server(body, (size_t)hdr.words * 8, &id, &addr, err);
	if (rv == 0) {
		out->id = id;
		snprintf(out->address, sizeof out->address, "%s", addr);
	}
	dqlc__conn_leave(c);
	return rv;
}

int dqlc_conn_cluster(dqlc_conn_t *c, dqlc_node_info_t **nodes, size_t *n, dqlc_error_t *err)
{
	dqlc__node_t *raw = NULL;
	size_t count = 0, i;
	if (nodes == NULL || n == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_cluster: NULL out");
	*nodes = NULL;
	*n = 0;
	ADMIN_BEGIN(c, err);
	rv = admin_call(c, saved, dqlc__enc_cluster(&c->wbuf, 1, err), DQLC__RESP_SERVERS, false,
			&hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_servers(body, (size_t)hdr.words * 8, 1, &raw, &count, err);
	if (rv == 0) {
		*nodes = calloc(count > 0 ? count : 1, sizeof **nodes);
		if (*nodes == NULL) {
			rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
		} else {
			for (i = 0; i < count; i++) {
				(*nodes)[i].id = raw[i].id;
				snprintf((*nodes)[i].address, sizeof (*nodes)[i].address, "%s",
					 raw[i].address);
				(*nodes)[i].role = raw[i].role <= 2 ? (int)raw[i].role : -1;
			}
			*n = count;
		}
	}
	free(raw);
	dqlc__conn_leave(c);
	return rv;
}

static int simple(struct dqlc_conn *c, int enc_rv, size_t saved, bool changes,
		  dqlc_error_t *err)
{
	dqlc__hdr_t hdr;
	const uint8_t *body;
	int rv = admin_call(c, saved, enc_rv, DQLC__RESP_EMPTY, changes, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_empty(body, (size_t)hdr.words * 8, err);
	dqlc__conn_leave(c);
	return rv;
}

#define SIMPLE_BEGIN(c, err)                           \
	size_t saved;                                  \
	int rv;                                        \
	if ((rv = dqlc__conn_enter((c), (err))) != 0)  \
		return rv;                             \
	saved = (c)->wbuf.len

int dqlc_conn_add(dqlc_conn_t *c, uint64_t id, const char *address, dqlc_error_t *err)
{
	if (address == NULL || id == 0)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_add: need a non-zero id and an address");
	SIMPLE_BEGIN(c, err);
	return simple(c, dqlc__enc_add(&c->wbuf, id, address, err), saved, true, err);
}

int dqlc_conn_assign(dqlc_conn_t *c, uint64_t id, int role, dqlc_error_t *err)
{
	if (role < DQLC_ROLE_VOTER || role > DQLC_ROLE_SPARE)
		return dqlc__err(err, DQLC_EINVAL, "role %d is not voter, standby or spare", role);
	SIMPLE_BEGIN(c, err);
	return simple(c, dqlc__enc_assign(&c->wbuf, id, role, err), saved, true, err);
}

int dqlc_conn_remove(dqlc_conn_t *c, uint64_t id, dqlc_error_t *err)
{
	SIMPLE_BEGIN(c, err);
	return simple(c, dqlc__enc_remove(&c->wbuf, id, err), saved, true, err);
}

int dqlc_conn_transfer(dqlc_conn_t *c, uint64_t id, dqlc_error_t *err)
{
	SIMPLE_BEGIN(c, err);
	return simple(c, dqlc__enc_transfer(&c->wbuf, id, err), saved, true, err);
}

int dqlc_conn_set_weight(dqlc_conn_t *c, uint64_t weight, dqlc_error_t *err)
{
	SIMPLE_BEGIN(c, err);
	return simple(c, dqlc__enc_weight(&c->wbuf, weight, err), saved, false, err);
}

int dqlc_conn_describe(dqlc_conn_t *c, uint64_t *failure_domain, uint64_t *weight,
		       dqlc_error_t *err)
{
	uint64_t fd_, w;
	ADMIN_BEGIN(c, err);
	rv = admin_call(c, saved, dqlc__enc_describe(&c->wbuf, 0, err), DQLC__RESP_METADATA, false,
			&hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_metadata(body, (size_t)hdr.words * 8, &fd_, &w, err);
	if (rv == 0) {
		if (failure_domain)
			*failure_domain = fd_;
		if (weight)
			*weight = w;
	}
	dqlc__conn_leave(c);
	return rv;
}

void dqlc_dump_free(dqlc_dump_t *d)
{
	size_t i;
	if (d == NULL)
		return;
	for (i = 0; i < d->n_files; i++) {
		free(d->files[i].name);
		free(d->files[i].data);
	}
	free(d->files);
	free(d);
}

int dqlc_conn_dump(dqlc_conn_t *c, const char *database, dqlc_dump_t **out, dqlc_error_t *err)
{
	dqlc__file_t *files = NULL;
	size_t n = 0, i;
	dqlc_dump_t *d = NULL;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_dump: NULL out");
	*out = NULL;
	ADMIN_BEGIN(c, err);
	if (database == NULL)
		database = c->cfg->database;
	rv = admin_call(c, saved, dqlc__enc_dump(&c->wbuf, database, err), DQLC__RESP_FILES, false,
			&hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_files(body, (size_t)hdr.words * 8, &files, &n, err);
	if (rv == 0) {
		d = calloc(1, sizeof *d);
		if (d != NULL)
			d->files = calloc(n > 0 ? n : 1, sizeof *d->files);
		for (i = 0; d != NULL && d->files != NULL && i < n; i++) {
			d->files[i].name = strdup(files[i].name);
			d->files[i].data = malloc(files[i].size > 0 ? files[i].size : 1);
			d->n_files = i + 1;
			if (d->files[i].name == NULL || d->files[i].data == NULL)
				break;
			memcpy(d->files[i].data, files[i].data, files[i].size);
			d->files[i].size = files[i].size;
		}
		if (d == NULL || d->files == NULL || i < n) {
			dqlc_dump_free(d);
			rv = dqlc__err(err, DQLC_ENOMEM, "out of memory for the dump");
		} else {
			*out = d;
		}
	}
	free(files);
	dqlc__conn_leave(c);
	return rv;
}

int dqlc_dump_write(const dqlc_dump_t *d, const char *dir, dqlc_error_t *err)
{
	size_t i;
	if (d == NULL || dir == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_dump_write: NULL argument");
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return dqlc__err_sys(err, DQLC_EIO, errno, "mkdir %s", dir);
	for (i = 0; i < d->n_files; i++) {
		char path[4096];
		size_t off = 0;
		int fd;
		if (strchr(d->files[i].name, '/') != NULL)
			return dqlc__err(err, DQLC_EPROTO, "dump file name '%s' contains '/'",
					 d->files[i].name);
		snprintf(path, sizeof path, "%s/%s", dir, d->files[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return dqlc__err_sys(err, DQLC_EIO, errno, "open %s", path);
		while (off < d->files[i].size) {
			ssize_t w = write(fd, (char *)d->files[i].data + off, d->files[i].size - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = errno;
				close(fd);
				return dqlc__err_sys(err, DQLC_EIO, e, "write %s", path);
			}
			off += (size_t)w;
		}
		if (close(fd) != 0)
			return dqlc__err_sys(err, DQLC_EIO, errno, "close %s", path);
	}
	return 0;
}
