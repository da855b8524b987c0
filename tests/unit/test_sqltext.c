/*
 * Unit tests for the little SQL lexer (src/sqltext.c) that transaction
 * tracking, RETURNING detection and the statement cache rely on.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sqltext.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_first_keyword)
{
	static const struct {
		const char *sql, *kw;
	} t[] = {
	    {"SELECT 1", "SELECT"},
	    {"select 1", "SELECT"},
	    {"  \t\n InSeRt INTO t VALUES (1)", "INSERT"},
	    {"-- a comment\nUPDATE t SET a = 1", "UPDATE"},
	    {"/* block */ DELETE FROM t", "DELETE"},
	    {"/* a */ -- b\n /* c */ begin", "BEGIN"},
	    {"with_x AS", "WITH_X"},
	    {"a$b", "A$B"},
	    {"", ""},
	    {"   ", ""},
	    {"-- only a comment", ""},
	    {"/* unterminated", ""},
	    {"'string' SELECT", ""},
	    {"(SELECT 1)", ""},
	    {"; SELECT 1", "SELECT"},
	    {";;\n;  commit", "COMMIT"},
	    {";", ""},
	    {"; ;", ""},
	};
	char kw[32];
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++) {
		memset(kw, 'x', sizeof kw);
		ck_assert_ptr_eq(dqlc__sql_first_keyword(t[i].sql, kw, sizeof kw), kw);
		ck_assert_msg(strcmp(kw, t[i].kw) == 0, "'%s': got '%s', want '%s'", t[i].sql, kw,
			      t[i].kw);
	}
	/* a small buffer: truncated, terminated */
	memset(kw, 'x', sizeof kw);
	dqlc__sql_first_keyword("transaction", kw, 4);
	ck_assert_str_eq(kw, "TRA");
	ck_assert_int_eq(kw[4], 'x');
}
END_TEST

START_TEST(test_has_keyword)
{
	static const struct {
		const char *sql;
		bool want;
	} t[] = {
	    {"INSERT INTO t VALUES (1) RETURNING id", true},
	    {"insert into t values (1) returning id", true},
	    {"INSERT INTO t VALUES (1)\nReturning *", true},
	    {"INSERT INTO t VALUES ('returning')", false},
	    {"INSERT INTO t VALUES ('it''s returning')", false},
	    {"INSERT INTO t VALUES ('a''') RETURNING x", true},
	    {"INSERT INTO \"returning\" VALUES (1)", false},
	    {"INSERT INTO \"a\"\"returning\" VALUES (1)", false},
	    {"INSERT INTO `returning` VALUES (1)", false},
	    {"INSERT INTO `a``returning` VALUES (1)", false},
	    {"INSERT INTO [returning] VALUES (1)", false},
	    {"INSERT INTO t VALUES (1) -- returning", false},
	    {"INSERT INTO t VALUES (1) -- x\nRETURNING id", true},
	    {"INSERT INTO t VALUES (1) /* returning */", false},
	    {"INSERT INTO t VALUES (1) /* x */ RETURNING id", true},
	    {"INSERT INTO t VALUES (1) /* a/b returning */", false},
	    {"INSERT INTO t VALUES (1) /* a*b returning * / */", false},
	    {"INSERT INTO t VALUES (1) /**/RETURNING id", true},
	    {"INSERT INTO returning_log VALUES (1)", false},
	    {"INSERT INTO t(no_returning) VALUES (1)", false},
	    {"INSERT INTO t VALUES (1)RETURNING(id)", true},
	    {"SELECT 'unterminated RETURNING", false},
	    {"SELECT \"unterminated RETURNING", false},
	    {"SELECT [unterminated RETURNING", false},
	    {"SELECT 1 /* unterminated RETURNING", false},
	    {"", false},
	    {"RETURNING", true},
	};
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(dqlc__sql_has_keyword(t[i].sql, "RETURNING") == t[i].want,
			      "'%s': want %d", t[i].sql, t[i].want);
	ck_assert(dqlc__sql_has_keyword("begin immediate", "IMMEDIATE"));
	ck_assert(!dqlc__sql_has_keyword("begin immediate", "IMMEDIAT"));
	ck_assert(!dqlc__sql_has_keyword("begin immediate", "BEGIN IMMEDIATE"));
}
END_TEST

START_TEST(test_tx_effect)
{
	static const struct {
		const char *sql;
		int want;
	} t[] = {
	    {"BEGIN", 1},
	    {"begin", 1},
	    {"BEGIN;", 1},
	    {"BEGIN TRANSACTION", 1},
	    {"BEGIN IMMEDIATE", 1},
	    {"begin exclusive transaction", 1},
	    {"BEGIN DEFERRED", 1},
	    {"  -- start\n/* here */ Begin", 1},
	    {"COMMIT", -1},
	    {"commit transaction", -1},
	    {"END", -1},
	    {"end transaction;", -1},
	    {"ROLLBACK", -1},
	    {"rollback;", -1},
	    {"ROLLBACK TRANSACTION", -1},
	    {"Rollback Transaction;", -1},
	    {"ROLLBACK TO sp1", 0},
	    {"rollback to savepoint sp1", 0},
	    {"ROLLBACK TRANSACTION TO sp1", 0},
	    {"rollback transaction to savepoint sp1", 0},
	    {"ROLLBACK /* c */ TO sp", 0},
	    {"ROLLBACK -- c\n TRANSACTION -- d\n TO sp", 0},
	    {"/* x */ ROLLBACK", -1},
	    {"/*x*/BEGIN", 1},
	    {"--x\nCOMMIT", -1},
	    {"SAVEPOINT sp1", 0},
	    {"RELEASE sp1", 0},
	    {"SELECT 1", 0},
	    {"INSERT INTO t VALUES ('BEGIN')", 0},
	    {"'BEGIN'", 0},
	    {"\"COMMIT\"", 0},
	    {"-- BEGIN", 0},
	    {"/* COMMIT */ SELECT 1", 0},
	    {"BEGINNING", 0},
	    {"COMMITTED", 0},
	    {"ENDING", 0},
	    {"ROLLBACKS", 0},
	    {"", 0},
	    {"; BEGIN", 1},
	    {";;COMMIT", -1},
	    /* scripts: EXEC_SQL runs every statement; the last one counts */
	    {"INSERT INTO t VALUES (1); BEGIN", 1},
	    {"CREATE TABLE t (a); begin immediate;", 1},
	    {"BEGIN; INSERT INTO t VALUES (1); COMMIT", -1},
	    {"BEGIN; COMMIT; SELECT 1", -1},
	    {"COMMIT; BEGIN IMMEDIATE", 1},
	    {"BEGIN; ROLLBACK TO sp", 1},
	    {"BEGIN; SAVEPOINT sp; ROLLBACK TRANSACTION TO SAVEPOINT sp; RELEASE sp", 1},
	    {"SELECT 'a;BEGIN'; SELECT 1", 0},
	    {"SELECT 1 -- ; BEGIN", 0},
	    {"SELECT 1 /* ; BEGIN */ ; SELECT 2", 0},
	    {"CREATE TABLE t (\"end\"); END", -1},
	    /* a trigger body's ';' and END are its own */
	    {"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END", 0},
	    {"create trigger tr after insert on t begin delete from u; end;", 0},
	    {"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END; BEGIN", 1},
	    {"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET a = CASE WHEN 1 THEN 2 END; "
	     "END; COMMIT",
	     -1},
	    {"CREATE TRIGGER tr AFTER INSERT ON t WHEN CASE new.a WHEN 1 THEN 1 END BEGIN "
	     "SELECT 1; END",
	     0},
	    {"BEGIN; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", 1},
	    {"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; ROLLBACK", 0},
	};
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(dqlc__sql_tx_effect(t[i].sql) == t[i].want, "'%s': got %d, want %d",
			      t[i].sql, dqlc__sql_tx_effect(t[i].sql), t[i].want);
}
END_TEST

START_TEST(test_is_blank)
{
	static const struct {
		const char *sql;
		bool want;
	} t[] = {
	    {"", true},
	    {"   \t\r\n", true},
	    {";", true},
	    {" ; ;; ", true},
	    {"-- comment", true},
	    {"-- comment\n", true},
	    {"/* c */", true},
	    {"/* unterminated", true},
	    {"; -- c\n /* d */ ;", true},
	    {"SELECT 1", false},
	    {"; SELECT 1", false},
	    {"-- c\nx", false},
	    {"/* c */ x", false},
	    {"''", false},
	    {"-", false},
	    {"/", false},
	};
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(dqlc__sql_is_blank(t[i].sql) == t[i].want, "'%s': want %d", t[i].sql,
			      t[i].want);
}
END_TEST

START_TEST(test_is_multi)
{
	static const struct {
		const char *sql;
		bool want;
	} t[] = {
	    {"a; b", true},
	    {"a;b", true},
	    {"SELECT 1; SELECT 2", true},
	    {"a;", false},
	    {"a ;  \n", false},
	    {"a; -- c", false},
	    {"a; -- c\nb", true},
	    {"'x;y'", false},
	    {"SELECT 'x;y' FROM t", false},
	    {"SELECT \"a;b\" FROM t", false},
	    {"SELECT `a;b`, [c;d] FROM t", false},
	    {"SELECT 'it''s; fine'", false},
	    {"SELECT 1 -- ; SELECT 2", false},
	    {"SELECT 1 /* ; SELECT 2 */", false},
	    {"a; /* */ ;", false},
	    {"a;;;", false},
	    {"a;; b", true},
	    {"a; /* c */ b", true},
	    {"", false},
	    {";", false},
	    {"SELECT 1", false},
	};
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(dqlc__sql_is_multi(t[i].sql) == t[i].want, "'%s': want %d", t[i].sql,
			      t[i].want);
}
END_TEST

/* Truncated and odd input is never read past its end (ASan). */
START_TEST(test_no_overread)
{
	static const char *const t[] = {"'", "\"", "`", "[", "-", "/", "/*", "*/", "--",
					"''", "'a''", "\"\"\"", "[]]", "a;'", "ROLLBACK TO",
					"ROLLBACK TRANSACTION", "\xff\xfe", "BEGIN\0COMMIT"};
	char kw[8];
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++) {
		/* an exact-size heap copy, so ASan catches a read past the NUL */
		size_t n = strlen(t[i]) + 1;
		char *p = malloc(n);
		ck_assert_ptr_nonnull(p);
		memcpy(p, t[i], n);
		dqlc__sql_first_keyword(p, kw, sizeof kw);
		(void)dqlc__sql_has_keyword(p, "RETURNING");
		(void)dqlc__sql_tx_effect(p);
		(void)dqlc__sql_is_blank(p);
		(void)dqlc__sql_is_multi(p);
		free(p);
	}
}
END_TEST

static Suite *sqltext_suite(void)
{
	Suite *s = suite_create("sqltext");
	TCase *tc = tcase_create("lexing");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_first_keyword);
	tcase_add_test(tc, test_has_keyword);
	tcase_add_test(tc, test_tx_effect);
	tcase_add_test(tc, test_is_blank);
	tcase_add_test(tc, test_is_multi);
	tcase_add_test(tc, test_no_overread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sqltext_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
