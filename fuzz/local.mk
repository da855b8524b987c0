# libFuzzer target for the wire decoders: `make fuzz FUZZ_SECONDS=60`.
# Built only with clang (automake's CC is gcc), by a plain rule straight from
# the codec sources, never as part of `all` or `check`.  The committed seed
# corpus is copied to a temporary directory so fuzzing never modifies it.
EXTRA_DIST += fuzz/fuzz_decode.c fuzz/corpus

FUZZ_SECONDS = 60
FUZZ_RUNOPTS = -detect_leaks=1 -error_exitcode=77 -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1
FUZZ_CCOPTS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter
FUZZ_SRCS = \
	$(top_srcdir)/fuzz/fuzz_decode.c \
	$(top_srcdir)/src/wire/buf.c \
	$(top_srcdir)/src/wire/encode.c \
	$(top_srcdir)/src/wire/decode.c \
	$(top_srcdir)/src/wire/rows.c \
	$(top_srcdir)/src/error.c
FUZZ_HDRS = \
	$(top_srcdir)/src/wire/wire.h \
	$(top_srcdir)/src/wire/buf.h \
	$(top_srcdir)/src/error.h \
	$(top_srcdir)/include/dqlite-client.h

if HAVE_CLANG
fuzz/fuzz-decode: $(FUZZ_SRCS) $(FUZZ_HDRS) build-config.h
	@$(MKDIR_P) fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_CCOPTS) -include $(top_builddir)/build-config.h \
	  -I$(top_srcdir)/include -I$(top_srcdir)/src -o $@ $(FUZZ_SRCS)

fuzz: fuzz/fuzz-decode
	@dir=`mktemp -d "$${TMPDIR:-/tmp}/dqlc-fuzz.XXXXXX"` || exit 1; \
	cp $(top_srcdir)/fuzz/corpus/* "$$dir"/ && chmod -R u+w "$$dir" || { rm -rf "$$dir"; exit 1; }; \
	echo "fuzzing for $(FUZZ_SECONDS)s (corpus copy in $$dir)"; \
	./fuzz/fuzz-decode $(FUZZ_RUNOPTS) -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=./fuzz/ "$$dir"; rc=$$?; \
	rm -rf "$$dir"; \
	if test $$rc -ne 0; then echo "fuzz: FAILED (exit $$rc); reproducer in ./fuzz/" >&2; fi; \
	exit $$rc
else
fuzz:
	@echo "make fuzz needs clang with libFuzzer; configure did not find clang" >&2; exit 1
endif

CLEANFILES += fuzz/fuzz-decode
.PHONY: fuzz
