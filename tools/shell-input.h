/* dqlc: reading lines (libedit when interactive and available) and turning
 * Ctrl-C into something the shell can act on. */
#ifndef DQLC_SHELL_INPUT_H
#define DQLC_SHELL_INPUT_H

#include <stdbool.h>
#include <stddef.h>

struct reader;

enum { RD_LINE = 0, RD_EOF, RD_INTR, RD_ERROR };

/* Interactive input from the terminal on standard input: libedit (emacs
 * key bindings, ~/.editrc, history in history_path if not NULL) when the
 * build has it, else plain lines with a prompt.  intr_fd: readable when
 * Ctrl-C was pressed while waiting for input (see intr_start). */
struct reader *reader_open_tty(int intr_fd, const char *history_path);
/* Lines from a file descriptor (a script or a pipe); no prompt. */
struct reader *reader_open_fd(int fd);
/* Next line, without its '\n', valid until the next call.  RD_INTR: Ctrl-C
 * (the partial line is dropped). */
int reader_getline(struct reader *rd, const char *prompt, const char **line, size_t *len);
/* Remember a line in the history (interactive readers only). */
void reader_history_add(struct reader *rd, const char *line);
/* Close; an interactive reader saves its history first. */
void reader_close(struct reader *rd);

/* Ctrl-C handling for interactive mode.  Blocks SIGINT in the calling
 * thread -- call it before any other thread exists, so every thread
 * inherits the mask -- and starts a thread that waits for it.  On each
 * Ctrl-C the thread calls on_intr(arg); when that returns false (nothing
 * was running), a byte is written to the pipe whose read end is returned
 * (for reader_open_tty).  Returns -1 on failure. */
int intr_start(bool (*on_intr)(void *arg), void *arg);

#endif
