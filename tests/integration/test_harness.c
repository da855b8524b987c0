/*
 * Tests of the real-node test harness (tests/harness/cluster.h) and of
 * dqlc-node: clusters form and agree on a leader, failover, SIGSTOP/SIGCONT,
 * restart, growth, cleanup in every exit path, and go-dqlite's shell sees
 * the same leader.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

#define GO_DQLITE_SHELL "/usr/bin/dqlite"
#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif

/* Ask node i of tc whom it considers leader (through the library). */
static dqlc_node_info_t leader_seen_by(dqlc_test_cluster_t *tc, int i)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	dqlc_node_info_t info;
	int rc = dqlc_connect_node(tc_node_address(tc, i), NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect to node %d: %s", i, err.message);
	rc = dqlc_conn_leader(conn, &info, &err);
	ck_assert_msg(rc == 0, "LEADER on node %d: %s", i, err.message);
	dqlc_conn_close(conn);
	return info;
}

/* The members as the leader sees them; caller frees with dqlc_nodes_free. */
static dqlc_node_info_t *members(dqlc_test_cluster_t *tc, int leader, size_t *n)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	dqlc_node_info_t *nodes = NULL;
	int rc = dqlc_connect_node(tc_node_address(tc, leader), NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect to the leader: %s", err.message);
	rc = dqlc_conn_cluster(conn, &nodes, n, &err);
	ck_assert_msg(rc == 0, "CLUSTER: %s", err.message);
	dqlc_conn_close(conn);
	return nodes;
}

/* The member entry for harness node i, or NULL. */
static const dqlc_node_info_t *find_member(const dqlc_node_info_t *nodes, size_t n,
					   dqlc_test_cluster_t *tc, int i)
{
	for (size_t k = 0; k < n; k++)
		if (nodes[k].id == tc_node_id(tc, i) &&
		    strcmp(nodes[k].address, tc_node_address(tc, i)) == 0)
			return &nodes[k];
	return NULL;
}

/* Every running node names node `leader`. */
static void assert_all_agree(dqlc_test_cluster_t *tc, int leader)
{
	for (int i = 0; i < tc_size(tc); i++) {
		if (!tc_node_running(tc, i))
			continue;
		dqlc_node_info_t info = leader_seen_by(tc, i);
		ck_assert_msg(strcmp(info.address, tc_node_address(tc, leader)) == 0,
			      "node %d names '%s', not node %d (%s)", i, info.address, leader,
			      tc_node_address(tc, leader));
		ck_assert_uint_eq(info.id, tc_node_id(tc, leader));
	}
}

/* Exactly `want` members, all with the given role, each a harness node. */
static void assert_members(dqlc_test_cluster_t *tc, int leader, size_t want, int role)
{
	size_t n = 0;
	dqlc_node_info_t *nodes = members(tc, leader, &n);
	ck_assert_uint_eq(n, want);
	for (int i = 0; i < (int)want; i++) {
		const dqlc_node_info_t *m = find_member(nodes, n, tc, i);
		ck_assert_msg(m != NULL, "node %d (%s) is not a member", i, tc_node_address(tc, i));
		ck_assert_msg(m->role == role, "node %d is a %s", i, dqlc_role_name(m->role));
	}
	dqlc_nodes_free(nodes);
}

static bool pid_gone(pid_t pid)
{
	char s = hp_proc_state(pid);
	return s == 0 || s == 'Z'; /* a zombie of someone else is dead too */
}

static bool path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The 3-node tests share a checked fixture: it runs in the test's own
 * process, and its teardown also runs after a failure under CK_FORK=no. */
static dqlc_test_cluster_t *tc;

static void three_nodes(void)
{
	tc = tc_start(3, NULL);
	ck_assert_ptr_nonnull(tc);
}

static void destroy_cluster(void)
{
	tc_destroy(tc);
	tc = NULL;
}

/* ---- forming a cluster ----------------------------------------------------- */

START_TEST(test_three_nodes_agree)
{
	ck_assert_int_eq(tc_size(tc), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(tc_node_id(tc, i), (uint64_t)i + 1);
		ck_assert_int_gt(tc_node_pid(tc, i), 0);
		ck_assert(tc_node_running(tc, i));
		ck_assert_msg(strncmp(tc_node_address(tc, i), "127.0.0.1:", 10) == 0, "%s",
			      tc_node_address(tc, i));
	}
	char want[256];
	snprintf(want, sizeof want, "%s,%s,%s", tc_node_address(tc, 0), tc_node_address(tc, 1),
		 tc_node_address(tc, 2));
	ck_assert_str_eq(tc_addresses(tc), want);
	char uri[300];
	snprintf(uri, sizeof uri, "dqlite://%s/app", want);
	ck_assert_str_eq(tc_uri(tc, "app"), uri);

	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	assert_all_agree(tc, l);
	assert_members(tc, l, 3, DQLC_ROLE_VOTER);
}
END_TEST

/* ---- failover ------------------------------------------------------------------ */

START_TEST(test_kill_leader_elects_another)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	pid_t pid = tc_node_pid(tc, l);
	ck_assert_int_eq(tc_kill(tc, l), 0);
	ck_assert_int_eq(tc_node_pid(tc, l), 0);
	ck_assert(!tc_node_running(tc, l));
	ck_assert_msg(kill(pid, 0) == -1 && errno == ESRCH, "killed node %ld still exists",
		      (long)pid);

	int m = tc_wait_leader_change(tc, l, 10000);
	ck_assert_int_ge(m, 0);
	ck_assert_int_ne(m, l);
	assert_all_agree(tc, m);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0); /* tc_kill is expected */
}
END_TEST

START_TEST(test_stop_and_continue_follower)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	int f = (l + 1) % 3;
	pid_t pid = tc_node_pid(tc, f);
	ck_assert_int_eq(tc_stop(tc, f), 0);
	ck_assert_int_eq(hp_proc_state(pid), 'T');
	ck_assert(!tc_node_running(tc, f));

	/* A stopped node accepts TCP (the kernel does) but never answers. */
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(dqlc_config_set(cfg, "request_timeout_ms", "300", NULL), 0);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	dqlc_node_info_t info;
	int rc = dqlc_connect_node(tc_node_address(tc, f), cfg, &conn, &err);
	if (rc == 0)
		rc = dqlc_conn_leader(conn, &info, &err);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	ck_assert_msg(rc == DQLC_ETIMEDOUT, "a stopped node answered: rc %d (%s)", rc,
		      err.message);

	/* Two of three voters still agree. */
	ck_assert_int_eq(tc_leader(tc), l);

	ck_assert_int_eq(tc_cont(tc, f), 0);
	ck_assert_int_ne(hp_proc_state(pid), 'T');
	ck_assert(tc_node_running(tc, f));
	ck_assert_int_eq(tc_leader(tc), l);
	assert_all_agree(tc, l);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0); /* tc_kill is expected */
}
END_TEST

/* ---- restart and growth ----------------------------------------------------------- */

START_TEST(test_restart_killed_follower)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	int f = (l + 2) % 3;
	pid_t old = tc_node_pid(tc, f);
	const char *addr = tc_node_address(tc, f);
	ck_assert_int_eq(tc_kill(tc, f), 0);
	ck_assert_int_eq(tc_restart(tc, f), 0);
	ck_assert_int_gt(tc_node_pid(tc, f), 0);
	ck_assert_int_ne(tc_node_pid(tc, f), old);
	ck_assert_str_eq(tc_node_address(tc, f), addr);
	ck_assert_uint_eq(tc_node_id(tc, f), (uint64_t)f + 1);

	int now = tc_leader(tc); /* waits until the restarted node agrees */
	ck_assert_int_ge(now, 0);
	dqlc_node_info_t info = leader_seen_by(tc, f);
	ck_assert_str_eq(info.address, tc_node_address(tc, now));
	assert_members(tc, now, 3, DQLC_ROLE_VOTER);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0); /* tc_kill is expected */
}
END_TEST

START_TEST(test_restart_killed_leader_rejoins)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(tc_kill(tc, l), 0);
	int m = tc_wait_leader_change(tc, l, 10000);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(tc_restart(tc, l), 0);
	int now = tc_leader(tc);
	ck_assert_int_ge(now, 0);
	assert_all_agree(tc, now);
	assert_members(tc, now, 3, DQLC_ROLE_VOTER);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0); /* tc_kill is expected */
}
END_TEST

START_TEST(test_add_nodes)
{
	int i = tc_add_node(tc);
	ck_assert_int_eq(i, 3);
	ck_assert_int_eq(tc_size(tc), 4);
	ck_assert_uint_eq(tc_node_id(tc, 3), 4);
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	assert_all_agree(tc, l);
	assert_members(tc, l, 4, DQLC_ROLE_VOTER);

	/* A standby joins with the role it asked for and reports no leader
	 * (only voters do), so agreement is among the voters. */
	int s = tc_add_node_role(tc, DQLC_ROLE_STANDBY);
	ck_assert_int_eq(s, 4);
	size_t n = 0;
	dqlc_node_info_t *nodes = members(tc, l, &n);
	ck_assert_uint_eq(n, 5);
	const dqlc_node_info_t *m = find_member(nodes, n, tc, 4);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->role, DQLC_ROLE_STANDBY);
	dqlc_nodes_free(nodes);
	ck_assert_int_eq(tc_leader(tc), l);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0); /* tc_kill is expected */
}
END_TEST

START_TEST(test_crash_is_noticed)
{
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
	pid_t pid = tc_node_pid(tc, 2);
	ck_assert_int_eq(kill(pid, SIGABRT), 0); /* as if libdqlite asserted */
	int64_t deadline = hp_now_ms() + 5000;
	while (tc_unexpected_exits(tc) == 0 && hp_now_ms() < deadline)
		hp_sleep_ms(10);
	ck_assert_int_eq(tc_unexpected_exits(tc), 1);
	ck_assert_int_eq(tc_node_pid(tc, 2), 0);
	ck_assert(!tc_node_running(tc, 2));
	ck_assert_msg(kill(pid, 0) == -1 && errno == ESRCH, "crashed node was not reaped");
	/* The other two still agree. */
	ck_assert_int_ge(tc_leader(tc), 0);
}
END_TEST

/* ---- cleanup ------------------------------------------------------------------------ */

START_TEST(test_destroy_leaves_nothing)
{
	dqlc_test_cluster_t *own = tc_start(3, NULL);
	ck_assert_ptr_nonnull(own);
	pid_t pids[3];
	for (int i = 0; i < 3; i++)
		pids[i] = tc_node_pid(own, i);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", tc_dir(own));
	ck_assert(path_exists(dir));
	ck_assert_int_eq(tc_stop(own, 1), 0); /* destroy must handle a stopped node */

	tc_destroy(own);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(kill(pids[i], 0) == -1 && errno == ESRCH, "node pid %ld remains",
			      (long)pids[i]);
	ck_assert_msg(!path_exists(dir), "%s remains", dir);
	/* No child at all is left: nodes and janitor were reaped. */
	ck_assert(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}
END_TEST

/* Run `body` in a child process that reports the cluster's directory and
 * node pids on a pipe; returns the child's pid. */
struct report {
	char dir[4096];
	long pids[3];
	int n;
};

static pid_t child_with_cluster(int n, int how, struct report *r)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(fds[0]);
		dqlc_test_cluster_t *own = tc_start(n, NULL);
		if (own == NULL)
			_exit(2);
		FILE *f = fdopen(fds[1], "w");
		fprintf(f, "%s", tc_dir(own));
		for (int i = 0; i < n; i++)
			fprintf(f, " %ld", (long)tc_node_pid(own, i));
		fprintf(f, "\n");
		fclose(f);
		if (how == 0)
			exit(0); /* no tc_destroy: the atexit handler must clean up */
		pause();          /* wait for SIGKILL */
		_exit(3);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[8192];
	ck_assert_msg(fgets(line, sizeof line, f) != NULL, "child did not start a cluster");
	fclose(f);
	char *save = NULL;
	char *tok = strtok_r(line, " \n", &save);
	ck_assert_ptr_nonnull(tok);
	snprintf(r->dir, sizeof r->dir, "%s", tok);
	r->n = 0;
	while ((tok = strtok_r(NULL, " \n", &save)) != NULL && r->n < 3)
		r->pids[r->n++] = atol(tok);
	ck_assert_int_eq(r->n, n);
	return child;
}

START_TEST(test_exit_without_destroy_cleans_up)
{
	struct report r;
	pid_t child = child_with_cluster(2, 0, &r);
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The atexit handler ran before the child was gone: no waiting. */
	for (int i = 0; i < r.n; i++)
		ck_assert_msg(pid_gone((pid_t)r.pids[i]), "node pid %ld remains", r.pids[i]);
	ck_assert_msg(!path_exists(r.dir), "%s remains", r.dir);
}
END_TEST

START_TEST(test_sigkill_of_harness_cleans_up)
{
	struct report r;
	pid_t child = child_with_cluster(2, 1, &r);
	ck_assert(path_exists(r.dir));
	ck_assert_int_eq(kill(child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	/* PDEATHSIG kills the nodes; the janitor removes the directory. */
	int64_t deadline = hp_now_ms() + 10000;
	bool clean = false;
	while (!clean && hp_now_ms() < deadline) {
		clean = !path_exists(r.dir);
		for (int i = 0; i < r.n; i++)
			clean = clean && pid_gone((pid_t)r.pids[i]);
		if (!clean)
			hp_sleep_ms(20);
	}
	for (int i = 0; i < r.n; i++)
		ck_assert_msg(pid_gone((pid_t)r.pids[i]), "node pid %ld remains", r.pids[i]);
	ck_assert_msg(!path_exists(r.dir), "%s remains", r.dir);
}
END_TEST

/* ---- dqlc-node itself ------------------------------------------------------------------ */

/* Run dqlc-node with extra arguments; returns its exit status, output in log. */
static int run_node(const char *args, const char *log)
{
	const char *bin = getenv("DQLC_NODE_BIN");
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "timeout 20 '%s' %s >'%s' 2>&1", bin != NULL ? bin : DQLC_NODE_BIN_DEFAULT,
		 args, log);
	int st = system(cmd);
	ck_assert_msg(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
	return WEXITSTATUS(st);
}

START_TEST(test_node_refuses_bad_usage_and_taken_port)
{
	dqlc_test_cluster_t *own = tc_start(1, NULL);
	ck_assert_ptr_nonnull(own);
	char log[4200], args[8192];
	snprintf(log, sizeof log, "%s/usage.log", tc_dir(own));

	ck_assert_int_eq(run_node("--id 1", log), 2);
	ck_assert(hp_file_contains(log, 0, "required"));
	ck_assert_int_eq(run_node("--id 1 --address localhost:1 --dir /nonexistent", log), 2);
	ck_assert(hp_file_contains(log, 0, "IPv4"));
	ck_assert_int_eq(run_node("--id 1 --address 127.0.0.1:1 --dir x --join 127.0.0.1:2", log),
			 2);
	ck_assert(hp_file_contains(log, 0, "bootstraps"));

	/* The running node holds its port: a second one cannot bind it. */
	snprintf(args, sizeof args, "--id 7 --address %s --dir '%s/other'", tc_node_address(own, 0),
		 tc_dir(own));
	ck_assert_int_eq(run_node(args, log), 3);
	ck_assert(hp_file_contains(log, 0, "cannot bind"));
	tc_destroy(own);
}
END_TEST

/* ---- interop ------------------------------------------------------------------------------ */

START_TEST(test_go_shell_sees_same_leader)
{
	ck_assert_msg(access(GO_DQLITE_SHELL, X_OK) == 0,
		      GO_DQLITE_SHELL " missing: install Debian's go-dqlite");
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "timeout 20 " GO_DQLITE_SHELL " -s %s interop .leader 2>&1",
		 tc_addresses(tc));
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[512] = "";
	char *got = fgets(line, sizeof line, p);
	int st = pclose(p);
	ck_assert_msg(got != NULL, "no output from: %s", cmd);
	line[strcspn(line, "\r\n")] = '\0';
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d, said: %s", cmd, st,
		      line);
	ck_assert_str_eq(line, tc_node_address(tc, l));
}
END_TEST

static TCase *tcase(Suite *s, const char *name, double timeout)
{
	TCase *t = tcase_create(name);
	tcase_set_timeout(t, timeout); /* per test, fixture included */
	suite_add_tcase(s, t);
	return t;
}

static Suite *harness_suite(void)
{
	Suite *s = suite_create("harness");
	TCase *t = tcase(s, "three-nodes", 60);
	tcase_add_checked_fixture(t, three_nodes, destroy_cluster);
	tcase_add_test(t, test_three_nodes_agree);
	tcase_add_test(t, test_kill_leader_elects_another);
	tcase_add_test(t, test_stop_and_continue_follower);
	tcase_add_test(t, test_restart_killed_follower);
	tcase_add_test(t, test_restart_killed_leader_rejoins);
	tcase_add_test(t, test_add_nodes);
	tcase_add_test(t, test_go_shell_sees_same_leader);
	tcase_add_test(t, test_crash_is_noticed);

	t = tcase(s, "cleanup", 60);
	tcase_add_test(t, test_destroy_leaves_nothing);
	tcase_add_test(t, test_exit_without_destroy_cleans_up);
	tcase_add_test(t, test_sigkill_of_harness_cleans_up);

	t = tcase(s, "dqlc-node", 60);
	tcase_add_test(t, test_node_refuses_bad_usage_and_taken_port);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(harness_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
