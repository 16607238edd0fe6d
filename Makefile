# catalyst-tui build. `make` builds ./catalyst-tui; `make test` every test;
# `make check` the tests under ASan+UBSan; `make bench` the benchmarks;
# `make fuzz` the libFuzzer harnesses; `make tsan` the e2e scripts under TSan.
# Flags come from pkg-config; missing Debian packages are installed by
# scripts/deps.sh (as root) or the exact apt-get line is printed.

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SANITIZE ?=
WERROR  ?=

PKGS      := ncursesw libcurl libcjson yaml-0.1 libmicrohttpd
TEST_PKGS := criterion

# SANITIZE picks a build dir: 1 = ASan+UBSan (build-san), thread = TSan
# (build-tsan), fuzz = clang with libFuzzer coverage + ASan+UBSan (build-fuzz).
ifeq ($(SANITIZE),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD := build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(SANITIZE),fuzz)
BUILD := build-fuzz
CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
else
BUILD := build
SANFLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
        -Wcast-qual -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Icore -Itui \
             $(PKG_CFLAGS) -MMD -MP -pthread
LDLIBS_ALL = $(PKG_LIBS) -pthread -lm $(SANFLAGS)

CORE_SRC := $(wildcard core/*.c)
TUI_SRC  := $(filter-out tui/main.c,$(wildcard tui/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/core/demo_blob.o
TUI_OBJ  := $(TUI_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/tui/main.o
LIBCORE  := $(BUILD)/libcore.a
LIBTUI   := $(BUILD)/libtui.a

TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(wildcard tests/helpers/*.c)
TEST_HELPER_OBJ := $(TEST_HELPERS:%.c=$(BUILD)/%.o)
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ifneq ($(SANITIZE),)
BIN := $(BUILD)/catalyst-tui
else
BIN := catalyst-tui
endif

# Fuzzing. Every tests/fuzz/fuzz_<name>.c is a harness (LLVMFuzzerTestOneInput)
# with its seed corpus in tests/fuzz/corpus/<name>/ and the inputs that once
# crashed it in tests/fuzz/crashes/<name>/. Each harness is linked twice:
# - `make fuzz FUZZ_SECONDS=N`: with libFuzzer (clang, build-fuzz/fuzz/<name>),
#   run N seconds each on a scratch copy of its corpus (tests/fuzz/run.sh);
#   a crash input is copied to tests/fuzz/crashes/<name>/ and fails the run;
# - `make fuzz-regress`: with tests/fuzz/replay.c, any compiler, in the
#   ASan+UBSan build (build-san/replay/<name>), replaying every corpus and crash
#   file once; `make check` runs it, so a kept crash input fails until fixed.
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_HELPER_OBJ := $(filter-out %/testutil.o,$(TEST_HELPER_OBJ))

.PHONY: all deps run test check bench install uninstall clean test-bins \
        fuzz fuzz-bins fuzz-regress replay-bins tsan

all: $(BIN)

deps:
	@sh scripts/deps.sh

$(BIN): $(MAIN_OBJ) $(LIBTUI) $(LIBCORE)
	$(CC) -o $@ $(MAIN_OBJ) $(LIBTUI) $(LIBCORE) $(LDLIBS_ALL)

$(LIBCORE): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBTUI): $(TUI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The demo Sovereign is compiled in from core/demo.yaml.
$(BUILD)/core/demo_blob.o: core/demo_blob.S core/demo.yaml
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ core/demo_blob.S

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests -c -o $@ $<

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_HELPER_OBJ) $(LIBTUI) $(LIBCORE)
	$(CC) -o $@ $< $(TEST_HELPER_OBJ) $(LIBTUI) $(LIBCORE) $(TEST_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(LIBTUI) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 -o $@ $< $(LIBTUI) $(LIBCORE) $(LDLIBS_ALL)

test-bins: $(BIN) $(TEST_BINS)

# The replay build of a harness (plain main() feeding files).
$(BUILD)/replay/%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o \
                   $(FUZZ_HELPER_OBJ) $(LIBTUI) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(filter %.o,$^) $(LIBTUI) $(LIBCORE) $(LDLIBS_ALL)

# The libFuzzer build of a harness (SANITIZE=fuzz only).
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HELPER_OBJ) $(LIBTUI) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBTUI) $(LIBCORE) $(LDLIBS_ALL)

# Keep the harness objects: both links of a harness share them.
.SECONDARY: $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/fuzz/replay.o $(FUZZ_HELPER_OBJ)

replay-bins: $(FUZZ_NAMES:%=$(BUILD)/replay/%)
fuzz-bins: $(FUZZ_BINS)

# Unit tests (Criterion), then the end-to-end scripts against the real binary.
test: deps
	@$(MAKE) --no-print-directory test-bins
	@BIN=$(abspath $(BIN)) BUILD=$(BUILD) sh tests/run.sh $(TEST_BINS)

check: deps
	@$(MAKE) --no-print-directory SANITIZE=1 test-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  BIN=$(abspath $(BUILD)-san/catalyst-tui) BUILD=build-san SANITIZED=1 \
	  sh tests/run.sh $(patsubst $(BUILD)/%,build-san/%,$(TEST_BINS))
	@$(MAKE) --no-print-directory fuzz-regress

# Replays tests/fuzz/corpus/*/ and tests/fuzz/crashes/*/ under ASan+UBSan.
fuzz-regress: deps
	@$(MAKE) --no-print-directory SANITIZE=1 replay-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  sh tests/fuzz/run.sh replay build-san $(FUZZ_NAMES)

fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory SANITIZE=fuzz fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh fuzz build-fuzz $(FUZZ_NAMES)

# The e2e scripts that drive the engine, the remote poller, serve and the
# console, against a ThreadSanitizer binary; any report fails (tests/tsan.sh).
tsan:
	@sh scripts/deps.sh tsan
	@$(MAKE) --no-print-directory SANITIZE=thread build-tsan/catalyst-tui
	@BIN=$(abspath build-tsan/catalyst-tui) BUILD=build-tsan sh tests/tsan.sh

bench: $(BIN) $(BENCH_BINS)
	@sh scripts/deps.sh bench
	@BIN=$(abspath $(BIN)) BUILD=$(BUILD) sh bench/run.sh

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/catalyst-tui/themes
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/catalyst-tui
	install -m 0644 docs/catalyst-tui.1 $(DESTDIR)$(PREFIX)/share/man/man1/catalyst-tui.1
	install -m 0644 themes/*.yaml $(DESTDIR)$(PREFIX)/share/catalyst-tui/themes/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/catalyst-tui $(DESTDIR)$(PREFIX)/share/man/man1/catalyst-tui.1
	rm -rf $(DESTDIR)$(PREFIX)/share/catalyst-tui

clean:
	rm -rf build build-san build-tsan build-fuzz catalyst-tui

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
