# callsync: plain make, pkg-config, -Wall -Wextra -Werror.
#
#   make            build bin/callsyncd, bin/callsync, bin/intercom-sim
#   make test       every test; ends with "N passed, N failed"
#   make asan       the same under AddressSanitizer + UBSan (build in build-asan/)
#   make demo       README's main command: enqueue samples, drain into the simulator
#   make fuzz       longer libFuzzer runs (clang)
#   make soak       long reliability profile (not in CI)
#   make bench      benchmarks -> BENCHMARKS.md (not in CI)
#   make install    honours PREFIX and DESTDIR (UNITDIR: the systemd unit;
#                   not the simulator)
#   make install-sim  bin/intercom-sim too
#   make uninstall  removes what install put there (same variables)
#   make deb        Debian package in dist/ (debhelper, contrib/debian/)
#   make schema     schema/schema.sql from migrations/ and schema/notes.txt
#   make layers     link each layer of worker/ against the layers below it
#                   alone (part of make all; docs/architecture.md)

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DATADIR	?= $(PREFIX)/share/callsync
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
COMPLETIONSDIR ?= $(PREFIX)/share/bash-completion/completions
CC	?= cc
CFLAGS	?= -O2 -g
O	?= build
B	?= bin

PKGS	 = sqlite3 libcurl libevent jansson libcrypto libssl libsystemd
DEBPKGS	 = build-essential pkg-config libsqlite3-dev libcurl4-openssl-dev \
	   libevent-dev libjansson-dev libssl-dev libcmocka-dev \
	   libsystemd-dev systemd sqlite3 jq curl valgrind clang faketime \
	   fiu-utils prometheus stunnel4 strace tinyproxy-bin debhelper dpkg-dev \
	   lintian fakeroot chromium
WARN	 = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	   -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
	   -Wno-missing-field-initializers
ifdef SANITIZER
SAN	 = -fsanitize=$(SANITIZER) -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
endif

# Missing build dependencies: installed when run as root on Debian,
# otherwise one clear message naming the packages.
PKG_OK	:= $(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && \
	    command -v sqlite3 >/dev/null && command -v jq >/dev/null && \
	    command -v curl >/dev/null && command -v valgrind >/dev/null && \
	    command -v clang >/dev/null && command -v faketime >/dev/null && \
	    command -v fiu-run >/dev/null && command -v promtool >/dev/null && \
	    command -v systemd-analyze >/dev/null && \
	    command -v stunnel4 >/dev/null && command -v strace >/dev/null && \
	    command -v tinyproxy >/dev/null && echo yes)
# debian/rules sets CALLSYNC_PKGBUILD: a package build needs only its
# Build-Depends, which dpkg-buildpackage has checked.
ifndef CALLSYNC_PKGBUILD
ifneq ($(PKG_OK),yes)
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
ifeq ($(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo root),root)
$(info callsync: installing build dependencies: $(DEBPKGS))
DEPS_RC := $(shell (apt-get update && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y $(DEBPKGS)) >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error callsync: apt-get install failed; install by hand: apt-get install -y $(DEBPKGS))
endif
else
$(error callsync: missing build dependencies; install them with: sudo apt-get install -y $(DEBPKGS) (or run: sudo make deps))
endif
endif
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# worker/ is built in layers, one folder and one library each, lowest
# first (docs/architecture.md).  A layer's code is compiled with the
# headers of its own layer and those below it, and `make layers` links
# each layer against the libraries below it alone: an arrow up is a
# compile or a link error, not a note in a review; `make all` runs it.
LAYERS	 = core store net runtime job api daemon
reverse	 = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
_below	:=
$(foreach l,$(LAYERS),$(eval BELOW_$(l) := $(_below))$(eval _below += $(l)))
# Tests, tools and the simulator see every layer.
LAYER_INC = $(foreach l,$(LAYERS),-Iworker/$(l))
ALL_CFLAGS = $(WARN) $(SAN) $(LAYER_INC) -I$(O) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

# Everything in worker/ but main() is shared by the daemon and the tools.
LIB_SRCS  = $(filter-out worker/daemon/callsyncd.c,\
	    $(foreach l,$(LAYERS),$(wildcard worker/$(l)/*.c)))
LAYER_OBJS_store = $(O)/migrations_gen.o
$(foreach l,$(LAYERS),$(eval LAYER_OBJS_$(l) += $(patsubst %.c,$(O)/%.o,\
	$(filter worker/$(l)/%,$(LIB_SRCS)))))
# Highest first, as the linker reads static libraries.
LAYER_LIBS = $(foreach l,$(call reverse,$(LAYERS)),$(O)/libcallsync-$(l).a)
DAEMON_OBJS = $(O)/worker/daemon/callsyncd.o
TOOL_SRCS = $(wildcard tools/*.c)
TOOL_OBJS = $(TOOL_SRCS:%.c=$(O)/%.o)
SIM_SRCS  = $(wildcard sim/*.c)
SIM_OBJS  = $(SIM_SRCS:%.c=$(O)/%.o)
UNIT_SRCS = $(wildcard tests/unit/t_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
MIGRATIONS = $(sort $(wildcard migrations/[0-9]*.sql))

BINS	= $(B)/callsyncd $(B)/callsync $(B)/intercom-sim

# The build date (unix seconds): times more than a year before it are
# unknown, not old (worker/core/clock.c clock_floor; a box without an RTC boots
# in 1970).  SOURCE_DATE_EPOCH when set (reproducible builds), else the
# last commit's date, else now.  A change does not rebuild clock.o: an
# older floor is still a floor.
BUILD_EPOCH ?= $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),$(shell date +%s))
$(O)/worker/core/clock.o $(O)/hooks/worker/core/clock.o: ALL_CFLAGS += \
	-DCALLSYNC_BUILD_EPOCH=$(BUILD_EPOCH)
# The crash tests' daemon: the same code plus the CALLSYNC_TEST_CRASH hook,
# which release builds do not contain.
HOOK_OBJS = $(LIB_SRCS:%.c=$(O)/hooks/%.o) $(O)/hooks/worker/daemon/callsyncd.o \
	    $(O)/migrations_gen.o

.PHONY: layers all deps test test-fast check asan asan-build demo fuzz soak bench install install-sim uninstall clean unit deb schema
all: $(BINS) $(UNIT_BINS) $(B)/tests/callsyncd-hooks layers

deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEBPKGS); \
	else echo "callsync: as root on Debian run: apt-get install -y $(DEBPKGS)"; exit 1; fi

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/hooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DCALLSYNC_TEST_HOOKS -MMD -MP -c -o $@ $<
$(B)/tests/callsyncd-hooks: $(HOOK_OBJS)
	@mkdir -p $(B)/tests
	$(CC) $(ALL_LDFLAGS) -o $@ $(HOOK_OBJS) $(PKG_LIBS) -lm $(LDLIBS)

# Migrations are compiled into the binaries (kcaldav's kcaldav-sql.c rule).
$(O)/migrations_gen.c: $(MIGRATIONS) worker/store/embed-sql.sh
	@mkdir -p $(O)
	sh worker/store/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@
$(O)/migrations_gen.o: $(O)/migrations_gen.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
# The producers' reference, generated and committed: the schema the
# migrations leave, with the prose of schema/notes.txt.  Unit test
# t_schema_sql fails while the committed file is not what this writes.
schema:
	sh schema/gen.sh >schema/schema.sql.tmp && \
	    mv schema/schema.sql.tmp schema/schema.sql

define LAYER_RULES
$(O)/worker/$(1)/%.o $(O)/hooks/worker/$(1)/%.o: LAYER_INC = \
	$(foreach b,$(BELOW_$(1)) $(1),-Iworker/$(b))
$(O)/libcallsync-$(1).a: $(LAYER_OBJS_$(1))
	rm -f $$@ && ar rcs $$@ $(LAYER_OBJS_$(1))
endef
$(foreach l,$(LAYERS),$(eval $(call LAYER_RULES,$(l))))
# The fields of struct rt and struct wsrt are the runtime's own: its
# private headers (rt_impl.h, wsrt_impl.h) refuse to compile elsewhere.
$(O)/worker/runtime/%.o $(O)/hooks/worker/runtime/%.o: ALL_CFLAGS += \
	-DCALLSYNC_RUNTIME_PRIVATE

# The link check of `make layers`: all of a layer's objects (and the
# daemon's main) linked as a program with no start files against the
# layers below it; a name only a higher layer defines is an undefined
# reference.  The tools sit beside the daemon: every layer but daemon.
LAYER_CHECK = $(CC) $(ALL_LDFLAGS) -nostartfiles -Wl,-e,0 -o $(1).elf \
	$(2) -Wl,--start-group $(foreach b,$(3),$(O)/libcallsync-$(b).a) \
	-Wl,--end-group $(PKG_LIBS) -lm $(LDLIBS) && rm -f $(1).elf && touch $(1)
$(O)/layers/%.ok: $(LAYER_LIBS) $(DAEMON_OBJS)
	@mkdir -p $(O)/layers
	@echo "layer $*: links against $(or $(BELOW_$*),nothing but libraries)"
	@$(call LAYER_CHECK,$@,$(LAYER_OBJS_$*) $(if $(filter daemon,$*),$(DAEMON_OBJS)),$(BELOW_$*))
$(O)/layers/tools.ok: $(LAYER_LIBS) $(TOOL_OBJS)
	@mkdir -p $(O)/layers
	@echo "tools: link against $(filter-out daemon,$(LAYERS))"
	@$(call LAYER_CHECK,$@,$(TOOL_OBJS),$(filter-out daemon,$(LAYERS)))
layers: $(LAYERS:%=$(O)/layers/%.ok) $(O)/layers/tools.ok

$(B)/callsyncd: $(DAEMON_OBJS) $(LAYER_LIBS)
	@mkdir -p $(B)
	$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJS) -Wl,--start-group $(LAYER_LIBS) -Wl,--end-group $(PKG_LIBS) -lm $(LDLIBS)
$(B)/callsync: $(TOOL_OBJS) $(LAYER_LIBS)
	@mkdir -p $(B)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TOOL_OBJS) -Wl,--start-group $(LAYER_LIBS) -Wl,--end-group $(PKG_LIBS) -lm $(LDLIBS)
$(B)/intercom-sim: $(SIM_OBJS)
	@mkdir -p $(B)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SIM_OBJS) $(PKG_LIBS) -lm $(LDLIBS)
$(B)/tests/%: $(O)/tests/unit/%.o $(LAYER_LIBS)
	@mkdir -p $(B)/tests
	$(CC) $(ALL_LDFLAGS) -o $@ $< -Wl,--start-group $(LAYER_LIBS) -Wl,--end-group $(PKG_LIBS) $(CMOCKA_LIBS) -lm $(LDLIBS)

# The whole suite: unit (cmocka, TAP), integration (shell, TAP), short
# fuzz, then unit and integration again on the ASan+UBSan build; one
# summary line "N passed, N failed" at the end.
test check: all asan-build
	@sh tests/run.sh --with-asan

# Only the plain build's suite (quicker while developing).
test-fast: all
	@sh tests/run.sh

asan-build:
	$(MAKE) O=build-asan B=bin-asan SANITIZER=address,undefined \
	    CFLAGS="-O1 -g" all

asan: asan-build
	@CALLSYNC_BIN=bin-asan CALLSYNC_SANITIZED=1 sh tests/run.sh

# Only what tests/demo.sh runs: the two programs and the simulator.
demo: $(BINS)
	@sh tests/demo.sh

fuzz: all
	@sh tests/fuzz/run.sh long

soak: all
	@CALLSYNC_PROFILE=soak sh tests/run.sh

bench: all $(O)/fsyncdelay.so
	@FSYNCDELAY_SO=$(O)/fsyncdelay.so sh bench/run.sh

# bench/slowdisk.sh's LD_PRELOAD shim: fsync, fdatasync slowed down.
$(O)/fsyncdelay.so: bench/fsyncdelay.c
	@mkdir -p $(O)
	$(CC) -O2 -Wall -Wextra -shared -fPIC -o $@ bench/fsyncdelay.c -ldl

# The simulator is a test fixture and the demo's stand-in, not an operator
# tool: only "make install-sim" installs it.
install: $(B)/callsyncd $(B)/callsync
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)
	install -m 0755 $(B)/callsyncd $(DESTDIR)$(SBINDIR)/callsyncd
	install -m 0755 $(B)/callsync $(DESTDIR)$(BINDIR)/
	install -m 0644 man/callsyncd.8 man/callsync.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/callsync.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 schema/schema.sql schema/record.schema.json \
	    callsync.conf.example $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	sed 's#/usr/sbin/callsyncd#$(SBINDIR)/callsyncd#g' \
	    contrib/callsyncd.service >$(DESTDIR)$(UNITDIR)/callsyncd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/callsyncd.service
	for u in callsync-audit-verify.service callsync-audit-verify.timer \
	    callsync-prune.service callsync-prune.timer; do \
		sed 's#/usr/bin/callsync #$(BINDIR)/callsync #g' \
		    contrib/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 contrib/callsync.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/callsync.conf
	install -d $(DESTDIR)$(COMPLETIONSDIR)
	install -m 0644 contrib/bash-completion/callsync \
	    $(DESTDIR)$(COMPLETIONSDIR)/callsync

# Removes exactly what install (and install-sim) put there, with the same
# PREFIX, DESTDIR and directory variables; directories stay.  Not the
# callsync user, /etc/callsync or the outbox.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/callsyncd $(DESTDIR)$(BINDIR)/callsync \
	    $(DESTDIR)$(BINDIR)/intercom-sim \
	    $(DESTDIR)$(MANDIR)/man8/callsyncd.8 \
	    $(DESTDIR)$(MANDIR)/man8/callsync.8 \
	    $(DESTDIR)$(MANDIR)/man5/callsync.conf.5 \
	    $(DESTDIR)$(DATADIR)/schema.sql \
	    $(DESTDIR)$(DATADIR)/record.schema.json \
	    $(DESTDIR)$(DATADIR)/callsync.conf.example \
	    $(DESTDIR)$(UNITDIR)/callsyncd.service \
	    $(DESTDIR)$(UNITDIR)/callsync-audit-verify.service \
	    $(DESTDIR)$(UNITDIR)/callsync-audit-verify.timer \
	    $(DESTDIR)$(UNITDIR)/callsync-prune.service \
	    $(DESTDIR)$(UNITDIR)/callsync-prune.timer \
	    $(DESTDIR)$(SYSUSERSDIR)/callsync.conf \
	    $(DESTDIR)$(COMPLETIONSDIR)/callsync
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

install-sim: $(B)/intercom-sim
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/intercom-sim $(DESTDIR)$(BINDIR)/

# The Debian package, built by debhelper from contrib/debian/ (the
# repository's top level has no debian/): the tracked files are copied
# into dist/build/callsync-VERSION/ with contrib/debian/ as its debian/,
# and dpkg-buildpackage leaves callsync_VERSION_ARCH.deb and its -dbgsym
# package in dist/.  LINTIAN=0 skips the lintian run.
VERSION	= $(shell sed -n 's/^\#define CALLSYNC_VERSION[[:space:]]*"\(.*\)"/\1/p' worker/core/version.h)
deb:
	@dv=$$(dpkg-parsechangelog -l contrib/debian/changelog -S Version) && \
	    [ "$$dv" = "$(VERSION)" ] || { echo "make deb: contrib/debian/changelog is $$dv, worker/core/version.h $(VERSION): add a changelog entry" >&2; exit 1; }
	rm -rf dist/build && mkdir -p dist/build/callsync-$(VERSION)
	{ git ls-files -co --exclude-standard 2>/dev/null || find . -type f ! -path './.git/*'; } | \
	    grep -v -e '^dist/' -e '^build' -e '^bin' | \
	    tar -cf - -T - | tar -xf - -C dist/build/callsync-$(VERSION)
	cp -R contrib/debian dist/build/callsync-$(VERSION)/debian
	cp contrib/callsync.sysusers dist/build/callsync-$(VERSION)/debian/callsync.sysusers
	cd dist/build/callsync-$(VERSION) && \
	    dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
	    { tail -30 ../build.log; echo "make deb: dpkg-buildpackage failed: dist/build/build.log" >&2; exit 1; }
	mv dist/build/*.deb dist/build/*.buildinfo dist/build/*.changes dist/
	@if [ "$(LINTIAN)" != 0 ]; then \
	    lintian --fail-on error,warning --info dist/callsync_$(VERSION)_*.changes; fi
	@ls -1 dist/*.deb

clean:
	rm -rf build build-asan bin bin-asan dist

# Keep objects make considers intermediate (the unit tests' .o files).
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
