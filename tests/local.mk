# Tests.  Check is required for `make check`.
if HAVE_CHECK
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = libdqlc-core.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test-wire
tests_unit_test_wire_SOURCES = tests/unit/test_wire.c
tests_unit_test_wire_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_wire_LDADD = $(TEST_LIBS)

TESTS += $(check_PROGRAMS)
else
check-local:
	@echo "Check (https://libcheck.github.io/check/) is required for 'make check'." >&2
	@echo "Debian: apt-get install check, then re-run ./configure." >&2
	@exit 1
endif
