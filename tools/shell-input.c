/* dqlc: line input and Ctrl-C (see shell-input.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#ifdef DQLC_HAVE_LIBEDIT
#include <histedit.h>
#endif

#include "shell-buf.h"
#include "shell-input.h"

struct reader {
	int fd;
	int intr_fd;       /* -1: none */
	bool tty;
	bool eof;
	struct sbuf buf;   /* bytes read, not yet returned (plain reader) */
	struct sbuf line;  /* the line handed out */
	char *history_path;
#ifdef DQLC_HAVE_LIBEDIT
	EditLine *el;
	History *hist;
	char *prompt;
	bool canceled;     /* Ctrl-C while editing */
#endif
};

/* Drain the interrupt pipe; true if it held anything. */
static bool drain(int fd)
{
	char tmp[64];
	bool any = false;
	if (fd < 0)
		return false;
	while (read(fd, tmp, sizeof tmp) > 0)
		any = true;
	return any;
}

/* ---- Plain reader ---------------------------------------------------------------- */

static int plain_getline(struct reader *rd, const char *prompt, const char **line, size_t *len)
{
	char chunk[4096];
	if (rd->tty && prompt != NULL) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	for (;;) {
		char *nl = rd->buf.len > 0 ? memchr(rd->buf.p, '\n', rd->buf.len) : NULL;
		if (nl != NULL || (rd->eof && rd->buf.len > 0)) {
			size_t n = nl != NULL ? (size_t)(nl - rd->buf.p) : rd->buf.len;
			sbuf_reset(&rd->line);
			sbuf_add(&rd->line, rd->buf.p, n);
			sbuf_consume(&rd->buf, nl != NULL ? n + 1 : n);
			*line = sbuf_str(&rd->line);
			*len = rd->line.len;
			return RD_LINE;
		}
		if (rd->eof)
			return RD_EOF;
		if (rd->intr_fd >= 0) {
			struct pollfd p[2] = {{rd->fd, POLLIN, 0}, {rd->intr_fd, POLLIN, 0}};
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				return RD_ERROR;
			}
			if (p[1].revents & POLLIN) {
				drain(rd->intr_fd);
				sbuf_reset(&rd->buf);
				return RD_INTR;
			}
			if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
		}
		ssize_t n = read(rd->fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return RD_ERROR;
		}
		if (n == 0)
			rd->eof = true;
		else
			sbuf_add(&rd->buf, chunk, (size_t)n);
	}
}

struct reader *reader_open_fd(int fd)
{
	struct reader *rd = xmalloc(sizeof *rd);
	memset(rd, 0, sizeof *rd);
	rd->fd = fd;
	rd->intr_fd = -1;
	return rd;
}

/* ---- libedit ------------------------------------------------------------------- */

#ifdef DQLC_HAVE_LIBEDIT
static struct reader *el_reader(EditLine *el)
{
	void *p = NULL;
	el_get(el, EL_CLIENTDATA, &p);
	return p;
}

static char *prompt_fn(EditLine *el)
{
	struct reader *rd = el_reader(el);
	return rd->prompt != NULL ? rd->prompt : (char *)"";
}

/* UTF-8 sequence length from its first byte (1 for anything invalid). */
static size_t u8_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

/* libedit's character source: standard input, or Ctrl-C (as ^C) when the
 * interrupt pipe becomes readable. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
	struct reader *rd = el_reader(el);
	unsigned char b[4];
	size_t n = 0, need = 1;
	for (;;) {
		struct pollfd p[2] = {{rd->fd, POLLIN, 0}, {rd->intr_fd, POLLIN, 0}};
		if (poll(p, rd->intr_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (rd->intr_fd >= 0 && (p[1].revents & POLLIN)) {
			drain(rd->intr_fd);
			*wc = 3; /* ^C: bound to dqlc-cancel */
			return 1;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t r = read(rd->fd, &b[n], 1);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		if (n == 0)
			need = u8_len(b[0]);
		n++;
		if (n < need)
			continue;
		if (need == 1) {
			*wc = (wchar_t)b[0];
		} else {
			mbstate_t st;
			wchar_t w;
			memset(&st, 0, sizeof st);
			*wc = mbrtowc(&w, (const char *)b, n, &st) == n ? w : (wchar_t)0xfffd;
		}
		return 1;
	}
}

/* ^C: abandon the line (el_gets returns it; the caller drops it). */
static unsigned char cancel_fn(EditLine *el, int ch)
{
	(void)ch;
	el_reader(el)->canceled = true;
	return CC_NEWLINE;
}

static int el_getline(struct reader *rd, const char *prompt, const char **line, size_t *len)
{
	const char *s;
	int count = 0;
	free(rd->prompt);
	rd->prompt = xstrdup(prompt != NULL ? prompt : "");
	rd->canceled = false;
	s = el_gets(rd->el, &count);
	if (rd->canceled) {
		fputs("^C\n", stdout);
		fflush(stdout);
		return RD_INTR;
	}
	if (s == NULL || count <= 0)
		return count < 0 ? RD_ERROR : RD_EOF;
	sbuf_reset(&rd->line);
	sbuf_add(&rd->line, s, (size_t)count);
	if (rd->line.len > 0 && rd->line.p[rd->line.len - 1] == '\n')
		rd->line.p[--rd->line.len] = '\0';
	*line = sbuf_str(&rd->line);
	*len = rd->line.len;
	return RD_LINE;
}
#endif

struct reader *reader_open_tty(int intr_fd, const char *history_path)
{
	struct reader *rd = reader_open_fd(STDIN_FILENO);
	rd->tty = true;
	rd->intr_fd = intr_fd;
	rd->history_path = history_path != NULL ? xstrdup(history_path) : NULL;
#ifdef DQLC_HAVE_LIBEDIT
	HistEvent ev;
	rd->el = el_init("dqlc", stdin, stdout, stderr);
	if (rd->el == NULL)
		return rd; /* plain lines */
	rd->hist = history_init();
	if (rd->hist != NULL) {
		history(rd->hist, &ev, H_SETSIZE, 1000);
		history(rd->hist, &ev, H_SETUNIQUE, 1);
		if (rd->history_path != NULL)
			history(rd->hist, &ev, H_LOAD, rd->history_path);
		el_set(rd->el, EL_HIST, history, rd->hist);
	}
	el_set(rd->el, EL_CLIENTDATA, (void *)rd);
	el_set(rd->el, EL_EDITOR, "emacs");
	el_set(rd->el, EL_SIGNAL, 1);
	el_set(rd->el, EL_PROMPT, prompt_fn);
	el_set(rd->el, EL_GETCFN, getc_fn);
	/* The wide form: libedit keeps the two strings as given.  The narrow
	 * el_set(EL_ADDFN) wcsdup()s them and never frees the copies (its own
	 * "XXX: The two strdup's leak"), which LeakSanitizer reports at exit. */
	el_wset(rd->el, EL_ADDFN, L"dqlc-cancel", L"Cancel the current input", cancel_fn);
	el_set(rd->el, EL_BIND, "^C", "dqlc-cancel", NULL);
	el_source(rd->el, NULL); /* ~/.editrc */
#endif
	return rd;
}

int reader_getline(struct reader *rd, const char *prompt, const char **line, size_t *len)
{
#ifdef DQLC_HAVE_LIBEDIT
	if (rd->el != NULL)
		return el_getline(rd, prompt, line, len);
#endif
	int rv = plain_getline(rd, prompt, line, len);
	if (rv == RD_INTR && rd->tty) {
		fputs("\n", stdout); /* after the terminal's own ^C */
		fflush(stdout);
	}
	return rv;
}

void reader_history_add(struct reader *rd, const char *line)
{
#ifdef DQLC_HAVE_LIBEDIT
	HistEvent ev;
	if (rd->hist != NULL && line[strspn(line, " \t")] != '\0')
		history(rd->hist, &ev, H_ENTER, line);
#else
	(void)rd;
	(void)line;
#endif
}

void reader_close(struct reader *rd)
{
	if (rd == NULL)
		return;
#ifdef DQLC_HAVE_LIBEDIT
	if (rd->hist != NULL) {
		HistEvent ev;
		if (rd->history_path != NULL) {
			/* The history may hold secrets: keep it private. */
			mode_t old = umask(077);
			history(rd->hist, &ev, H_SAVE, rd->history_path);
			umask(old);
		}
		history_end(rd->hist);
	}
	if (rd->el != NULL)
		el_end(rd->el);
	free(rd->prompt);
#endif
	free(rd->history_path);
	sbuf_free(&rd->buf);
	sbuf_free(&rd->line);
	free(rd);
}

/* ---- Ctrl-C ------------------------------------------------------------------------ */

static struct {
	bool (*fn)(void *arg);
	void *arg;
	int pipe_w;
	sigset_t set;
} intr;

static void *intr_thread(void *unused)
{
	(void)unused;
	for (;;) {
		int sig = 0;
		if (sigwait(&intr.set, &sig) != 0)
			continue;
		if (!intr.fn(intr.arg)) {
			ssize_t rv = write(intr.pipe_w, "c", 1);
			(void)rv; /* a full pipe is already readable */
		}
	}
	return NULL;
}

int intr_start(bool (*on_intr)(void *arg), void *arg)
{
	pthread_t t;
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
	intr.fn = on_intr;
	intr.arg = arg;
	intr.pipe_w = fds[1];
	sigemptyset(&intr.set);
	sigaddset(&intr.set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &intr.set, NULL) != 0 ||
	    pthread_create(&t, NULL, intr_thread, NULL) != 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	pthread_detach(t);
	return fds[0];
}
