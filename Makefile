# libgophercron — build, test, install.
#   make            build everything into build/
#   make check      install missing packages, build, run every test suite
#   make deps       install every Debian package the project needs
#   make install    PREFIX=/usr/local DESTDIR=...
#   make demo       a running system (etcd, service, agent, demo tasks)
#   make demo-cluster   the same with 3 etcd members and 2 agents
#   make SANITIZER=address,undefined BUILD=build/asan   sanitized build
#   make bench      benchmarks (docs/BENCHMARKS.md)
#   make fuzz       run every fuzz target for FUZZ_SECONDS each

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/gophercron
DOCDIR   ?= $(PREFIX)/share/doc/libgophercron
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR  ?=
SANITIZER ?=
FUZZ_SECONDS ?= 600
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

SOVERSION := 1
VERSION   := $(shell sed -n 's/^\#define GC_VERSION_STRING "\(.*\)"/\1/p' include/gophercron/common.h)

PKGS := libcurl libcjson sqlite3 mysqlclient libjwt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lcrypt -lpthread -lm

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wshadow -Wformat=2 -Wwrite-strings -Wvla -Wundef
OPT  ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude $(PKG_CFLAGS)
ifneq ($(SANITIZER),)
BASE_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=$(SANITIZER)
endif
LIB_CFLAGS := $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DGC_BUILDING_LIBRARY -Ilib
CFLAGS_EXTRA ?=
LDFLAGS_EXTRA ?=

LIB_SRC   := $(sort $(wildcard lib/*.c lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_A     := $(BUILD)/lib/libgophercron.a
LIB_SO    := $(BUILD)/lib/libgophercron.so.$(VERSION)
LIB_SONAME:= libgophercron.so.$(SOVERSION)

TOOLS       := gcron-service gcron-agent gcronctl
TOOLS_COMMON_SRC := $(wildcard tools/common/*.c)
TOOLS_COMMON_OBJ := $(TOOLS_COMMON_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_BINS   := $(TOOLS:%=$(BUILD)/bin/%)

EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BINS:= $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

HARNESS_SRC := $(filter-out tests/lib/gc-harness.c,$(wildcard tests/lib/*.c))
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRC   := $(wildcard tests/integration/test_*.c)
INTEG_BINS  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
BENCH_SRC   := $(wildcard tests/bench/bench_*.c)
BENCH_BINS  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/tests/bench/%)
RELI_SRC    := $(wildcard tests/reliability/*.c)
RELI_BINS   := $(RELI_SRC:tests/reliability/%.c=$(BUILD)/tests/reliability/%)
TEST_CFLAGS := $(BASE_CFLAGS) -Ilib -Itests/lib

.PHONY: all lib tools examples tests check check-unit check-integration \
	check-reliability deps install uninstall clean format format-check \
	header-test fuzz bench demo demo-cluster analyze

all: lib tools examples tests

lib: $(LIB_A) $(BUILD)/lib/libgophercron.so
tools: $(TOOL_BINS)
examples: $(EXAMPLE_BINS)
tests: $(UNIT_BINS) $(INTEG_BINS) $(FUZZ_BINS) $(BENCH_BINS) $(RELI_BINS) $(BUILD)/tests/gc-harness

$(BUILD)/obj/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(OBJ_CFLAGS) $(CFLAGS_EXTRA) -MMD -MP -c $< -o $@

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itools/common $(CFLAGS_EXTRA) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(CFLAGS_EXTRA) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -o $@ $^ $(PKG_LIBS) $(SAN_LDFLAGS)

$(BUILD)/lib/libgophercron.so: $(LIB_SO)
	ln -sf $(notdir $(LIB_SO)) $(BUILD)/lib/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $@

# Tools link the static library so they run from build/ and after install
# without a library path.
define tool_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c)) $(TOOLS_COMMON_OBJ) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$(filter %.o,$$^) $(LIB_A) $(PKG_LIBS) $(SAN_LDFLAGS) $(LDFLAGS_EXTRA)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(LIB_A) $(PKG_LIBS) $(SAN_LDFLAGS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) -lcmocka $(SAN_LDFLAGS) $(LDFLAGS_EXTRA)

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) -lcmocka $(SAN_LDFLAGS) $(LDFLAGS_EXTRA)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) $(SAN_LDFLAGS) $(LDFLAGS_EXTRA)

$(BUILD)/tests/reliability/%: $(BUILD)/obj/tests/reliability/%.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) $(SAN_LDFLAGS) $(LDFLAGS_EXTRA)

$(BUILD)/tests/gc-harness: $(BUILD)/obj/tests/lib/gc-harness.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) $(SAN_LDFLAGS)

# Fuzz targets: libFuzzer entry point + a standalone driver (gcc builds it).
$(BUILD)/tests/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/driver/standalone.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS) $(SAN_LDFLAGS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The admin page is embedded with .incbin, which the assembler resolves
# against its working directory and not the source file's: the object gets
# the files' absolute directory, so it builds from any working directory and
# into any BUILD. Rebuilt when a file changes.
ADMIN_DIR := $(abspath lib/service/admin)
$(BUILD)/obj/lib/service/admin_assets.o: $(wildcard lib/service/admin/*)
$(BUILD)/obj/lib/service/admin_assets.o: OBJ_CFLAGS = -DGC__ADMIN_DIR='"$(ADMIN_DIR)"'
# gcronctl carries its completion script the same way.
$(BUILD)/obj/tools/gcronctl/completion.o: tools/gcronctl/completion.bash
$(BUILD)/obj/tools/gcronctl/completion.o: CFLAGS_EXTRA += -DGC__CTL_DIR='"$(abspath tools/gcronctl)"'

# ---------------------------------------------------------------- tests
deps:
	@tests/lib/deps.sh all

check:
	@tests/lib/deps.sh check
	@$(MAKE) --no-print-directory -j$(JOBS) all header-test
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/clang CC=clang lib tools examples
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/asan SANITIZER=address,undefined OPT="-O1 -g" all
	@tests/run.sh all

check-unit: all
	@tests/run.sh unit

check-integration: all
	@tests/run.sh integration

check-reliability: all
	@tests/run.sh reliability

header-test:
	@tests/lib/header-test.sh $(CC)

fuzz: all
	@tests/run.sh fuzz $(FUZZ_SECONDS)

bench: all
	@tests/lib/deps.sh bench
	@tests/bench/run.sh

# A whole system on this machine until Ctrl-C (examples/demo/demo.sh --help).
demo:
	@tests/lib/deps.sh demo
	@$(MAKE) --no-print-directory lib tools
	@DEMO_BIN=$(BUILD)/bin examples/demo/demo.sh

demo-cluster:
	@tests/lib/deps.sh demo
	@$(MAKE) --no-print-directory lib tools
	@DEMO_BIN=$(BUILD)/bin examples/demo/demo-cluster.sh

analyze:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--std=c11 -Iinclude -Ilib -DGC__ADMIN_DIR='"$(ADMIN_DIR)"' \
		$(LIB_SRC)

format:
	clang-format -i $(LIB_SRC) lib/*.h include/gophercron/*.h include/*.h

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) lib/*.h include/gophercron/*.h

# ---------------------------------------------------------------- install
# The man pages and systemd units name the default paths; installed, they
# name the ones of this install.
INSTALL_PATHS = -e 's|/usr/local/share/gophercron/|$(DATADIR)/|g' \
	-e 's|/usr/local/share/doc/libgophercron/|$(DOCDIR)/|g' \
	-e 's|/usr/local/bin/|$(BINDIR)/|g' \
	-e 's|/etc/gophercron/|$(SYSCONFDIR)/gophercron/|g'

install: lib tools
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/gophercron \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/gophercron.h $(DESTDIR)$(INCDIR)/
	install -m 644 include/gophercron/*.h $(DESTDIR)$(INCDIR)/gophercron/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libgophercron.so
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/libgophercron.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libgophercron.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DATADIR)/config $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(DOCDIR)
	for m in docs/man/*.1; do \
	    sed $(INSTALL_PATHS) $$m > $(DESTDIR)$(MANDIR)/man1/$${m##*/} && \
	        chmod 644 $(DESTDIR)$(MANDIR)/man1/$${m##*/} || exit 1; \
	done
	for u in examples/systemd/*.service; do \
	    sed $(INSTALL_PATHS) $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
	        chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 examples/config/*.toml $(DESTDIR)$(DATADIR)/config/
	install -m 644 examples/*.c examples/README.md $(DESTDIR)$(DATADIR)/examples/
	install -m 644 README.md docs/OPERATIONS.md LICENSE $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 tools/gcronctl/completion.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gcronctl

uninstall:
	rm -rf $(DESTDIR)$(INCDIR)/gophercron $(DESTDIR)$(INCDIR)/gophercron.h
	rm -f $(DESTDIR)$(LIBDIR)/libgophercron.* $(DESTDIR)$(LIBDIR)/pkgconfig/libgophercron.pc
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(TOOLS:%=$(DESTDIR)$(MANDIR)/man1/%.1)
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/gcron-service.service $(DESTDIR)$(SYSTEMDUNITDIR)/gcron-agent.service
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gcronctl

clean:
	rm -rf build
