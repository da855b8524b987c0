/* Process, file and time helpers behind the test cluster harness. */
#ifndef DQLC_TEST_PROC_H
#define DQLC_TEST_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

int64_t hp_now_ms(void); /* CLOCK_MONOTONIC */
void hp_sleep_ms(int ms);

/* A free TCP port on 127.0.0.1, or -1.  Free when asked: a caller must
 * still handle losing a race for it (to another process).  Never one of the
 * last 256 this process was given, so ports asked for one after the other
 * before any is bound are distinct.  Chosen outside the kernel's ephemeral
 * range (ip_local_port_range) when possible: a node killed and restarted
 * must bind its port again, and an ephemeral port, once free, can be taken
 * by any process's outgoing connection for as long as that lives. */
int hp_free_port(void);

/*
 * fork + exec `bin` with `argv`, stdout and stderr appended to `log_path`,
 * stdin from /dev/null, no other inherited descriptor, an empty signal mask,
 * and PR_SET_PDEATHSIG(SIGKILL): the child dies with the calling THREAD.
 * *log_start receives the log's size before the child wrote anything.
 * Returns the pid or -1 (errno set).
 */
pid_t hp_spawn(const char *bin, char *const argv[], const char *log_path, off_t *log_start);

/* Wait up to timeout_ms for `pid` (our child) to exit, reaping it.  Returns
 * true with *status set if it did. */
bool hp_wait_exit(pid_t pid, int timeout_ms, int *status);

/* SIGTERM, wait up to timeout_ms, then SIGKILL; always reaps. */
void hp_terminate(pid_t pid, int timeout_ms);

/* State letter of any process from /proc ('R', 'S', 'T', 'Z', ...), or 0
 * when there is no such process. */
char hp_proc_state(pid_t pid);

/* Does the file contain `needle` at or after byte `from`? */
bool hp_file_contains(const char *path, off_t from, const char *needle);

/* Copy the last `lines` lines of a file to `out`, each prefixed. */
void hp_print_tail(const char *path, int lines, const char *prefix, FILE *out);

/* rm -rf; 0 or -1. */
int hp_rm_rf(const char *path);

/*
 * The janitor: a small sh process in its own session that outlives us.  It
 * learns our node pids as we start and reap them; when our end of its socket
 * closes without a "disarm" (we died, even by SIGKILL, or exited without
 * cleaning up) it kills those pids and removes the directory.
 */
struct hp_janitor {
	pid_t pid;
	int fd;
};
int hp_janitor_start(struct hp_janitor *j, const char *dir);
void hp_janitor_note(struct hp_janitor *j, char op /* '+' or '-' */, pid_t pid);
/* Tell it all is clean, then reap it. */
void hp_janitor_disarm(struct hp_janitor *j);

#endif
