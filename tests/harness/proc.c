/* Process, file and time helpers behind the test cluster harness. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

int64_t hp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hp_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Can `port` be bound on 127.0.0.1 right now (no listener, no connection,
 * no TIME_WAIT on it)? */
static bool port_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* The kernel's ephemeral range; Linux's default if unreadable. */
static void ephemeral_range(int *lo, int *hi)
{
	*lo = 32768;
	*hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f == NULL)
		return;
	int a, b;
	if (fscanf(f, "%d %d", &a, &b) == 2 && a > 0 && b >= a && b <= 65535) {
		*lo = a;
		*hi = b;
	}
	fclose(f);
}

/* Random ports below the ephemeral range (from 20000) or above it. */
static int port_outside_ephemeral(void)
{
	static _Atomic unsigned counter;
	int lo, hi;
	ephemeral_range(&lo, &hi);
	int below = lo > 20000 ? lo - 20000 : 0;
	int above = 65535 - hi;
	if (below + above < 100)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned x = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec ^ (counter++ << 16);
	for (int tries = 0; tries < 64; tries++) {
		x ^= x << 13; /* xorshift32 */
		x ^= x >> 17;
		x ^= x << 5;
		int k = (int)(x % (unsigned)(below + above));
		int port = k < below ? 20000 + k : hi + 1 + (k - below);
		if (port_bindable(port))
			return port;
	}
	return -1;
}

/* A port picked by the kernel (bound to port 0, then released). */
static int port_from_kernel(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* The ports this process was given lately: a caller that asks for several
 * ports before binding any of them (a whole cluster's, say) must not get
 * one twice, and a port is free again as soon as it was checked. */
#define GIVEN_RING 256
static pthread_mutex_t given_mu = PTHREAD_MUTEX_INITIALIZER;
static int given[GIVEN_RING];
static unsigned n_given;

/* Records `port` and returns true unless it was given lately. */
static bool give(int port)
{
	bool fresh = true;
	pthread_mutex_lock(&given_mu);
	for (unsigned i = 0; i < GIVEN_RING && i < n_given; i++)
		if (given[i] == port)
			fresh = false;
	if (fresh)
		given[n_given++ % GIVEN_RING] = port;
	pthread_mutex_unlock(&given_mu);
	return fresh;
}

int hp_free_port(void)
{
	for (int tries = 0; tries < 64; tries++) {
		int port = port_outside_ephemeral();
		if (port <= 0)
			port = port_from_kernel();
		if (port <= 0)
			return -1;
		if (give(port))
			return port;
	}
	return -1;
}

/* Between fork and exec only async-signal-safe calls: the test process may
 * have threads (the library's), whose locks a child must never touch. */
static void child_exec(const char *bin, char *const argv[], int logfd, pid_t parent)
{
	static const char failed[] = "harness: exec of the node program failed\n";
	/* Die with the forking thread; if it is already gone, don't start. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	int null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	/* No test descriptor (Check's pipes, sockets) may leak into a node. */
	close_range(3, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	execv(bin, argv);
	ssize_t w = write(2, failed, sizeof failed - 1);
	(void)w;
	_exit(127);
}

pid_t hp_spawn(const char *bin, char *const argv[], const char *log_path, off_t *log_start)
{
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	struct stat st;
	*log_start = fstat(logfd, &st) == 0 ? st.st_size : 0;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child_exec(bin, argv, logfd, parent);
	int saved = errno;
	close(logfd);
	errno = saved;
	return pid;
}

bool hp_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = hp_now_ms() + timeout_ms;
	int st = 0;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			if (status != NULL)
				*status = st;
			return true;
		}
		if (r < 0 && errno != EINTR)
			return false;
		if (hp_now_ms() >= deadline)
			return false;
		hp_sleep_ms(5);
	}
}

void hp_terminate(pid_t pid, int timeout_ms)
{
	kill(pid, SIGCONT); /* a stopped process cannot handle SIGTERM */
	if (kill(pid, SIGTERM) == 0 && hp_wait_exit(pid, timeout_ms, NULL))
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

char hp_proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses. */
	char *p = strrchr(buf, ')');
	return (p != NULL && p[1] == ' ') ? p[2] : 0;
}

/* Read [from, end) of a file (at most `cap` bytes, the last ones) into a new
 * NUL-terminated buffer. */
static char *read_range(const char *path, off_t from, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) != 0 || st.st_size < from)
		goto out;
	size_t want = (size_t)(st.st_size - from);
	if (want > cap) {
		from = st.st_size - (off_t)cap;
		want = cap;
	}
	buf = malloc(want + 1);
	if (buf == NULL)
		goto out;
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, from + (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

bool hp_file_contains(const char *path, off_t from, const char *needle)
{
	size_t len = 0;
	char *buf = read_range(path, from, 1 << 20, &len);
	if (buf == NULL)
		return false;
	bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

void hp_print_tail(const char *path, int lines, const char *prefix, FILE *out)
{
	size_t len = 0;
	char *buf = read_range(path, 0, 16384, &len);
	if (buf == NULL) {
		fprintf(out, "%s(no log at %s)\n", prefix, path);
		return;
	}
	/* Walk back over `lines` newlines (ignoring a final one). */
	size_t start = len;
	if (start > 0 && buf[start - 1] == '\n')
		start--;
	int seen = 0;
	while (start > 0 && seen < lines) {
		start--;
		if (buf[start] == '\n' && ++seen == lines) {
			start++;
			break;
		}
	}
	char *save = NULL;
	for (char *line = strtok_r(buf + start, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		fprintf(out, "%s%s\n", prefix, line);
	fflush(out);
	free(buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

int hp_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The janitor's program: collect pids until EOF; "disarm" means all is
 * clean.  On EOF, SIGKILL the pids still listed, wait (bounded) until they
 * are gone or zombies, then remove the directory. */
static const char janitor_script[] =
    "dir=$1; pids=\n"
    "while read -r op pid; do\n"
    "  case $op in\n"
    "  +) pids=\"$pids $pid\" ;;\n"
    "  -) keep=; for p in $pids; do [ \"$p\" = \"$pid\" ] || keep=\"$keep $p\"; done; "
    "pids=$keep ;;\n"
    "  disarm) exit 0 ;;\n"
    "  esac\n"
    "done\n"
    "for p in $pids; do kill -9 \"$p\" 2>/dev/null; done\n"
    "n=0\n"
    "while [ $n -lt 100 ]; do\n"
    "  busy=\n"
    "  for p in $pids; do\n"
    "    s=; [ -r /proc/$p/stat ] && read -r s < /proc/$p/stat 2>/dev/null\n"
    "    s=${s##*) }; s=${s%% *}\n"
    "    [ -z \"$s\" ] || [ \"$s\" = Z ] || busy=1\n"
    "  done\n"
    "  [ -z \"$busy\" ] && break\n"
    "  sleep 0.05; n=$((n + 1))\n"
    "done\n"
    "rm -rf -- \"$dir\"\n";

int hp_janitor_start(struct hp_janitor *j, const char *dir)
{
	int sv[2];
	j->pid = -1;
	j->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	char *const argv[] = {"sh", "-c", (char *)janitor_script, "dqlc-test-janitor",
			      (char *)dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		/* Own session: neither Check's killpg of the test's group nor a
		 * terminal's ^C may take it down before it has cleaned up. */
		setsid();
		int null = open("/dev/null", O_RDWR);
		if (dup2(sv[1], 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	j->pid = pid;
	j->fd = sv[0];
	return 0;
}

static void janitor_send(struct hp_janitor *j, const char *line)
{
	size_t len = strlen(line), off = 0;
	while (j->fd >= 0 && off < len) {
		/* MSG_NOSIGNAL: a dead janitor must not kill the test. */
		ssize_t n = send(j->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

void hp_janitor_note(struct hp_janitor *j, char op, pid_t pid)
{
	char line[64];
	snprintf(line, sizeof line, "%c %ld\n", op, (long)pid);
	janitor_send(j, line);
}

void hp_janitor_disarm(struct hp_janitor *j)
{
	if (j->fd < 0)
		return;
	janitor_send(j, "disarm\n");
	close(j->fd);
	j->fd = -1;
	if (j->pid > 0 && !hp_wait_exit(j->pid, 5000, NULL)) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	j->pid = -1;
}
