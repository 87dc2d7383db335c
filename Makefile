# postie's build. Every program named in TARGETS is built from the .c files in
# programs/<name>/, linked with programs/lib/ (one archive) and skalibs/s6.
#
#   make                 build everything into build/bin
#   make test            install test dependencies, build, run every test
#   make test SAN=1      the same under AddressSanitizer + UBSan (build-san/)
#   make LIBC=glibc      everything on glibc, dynamically linked (build-glibc/)
#   make fuzz            run the libFuzzer targets (FUZZTIME=seconds each)
#   make run             install what is missing, build, run a demo instance
#   make bench           benchmarks against Postfix and OpenSMTPD
#   make install DESTDIR=... PREFIX=...   (programs, man pages, doc/, LICENSE;
#                        sendmail also as PREFIX/sbin/sendmail, PREFIX/lib/sendmail,
#                        PREFIX/bin/mailq, PREFIX/bin/newaliases)
#   make clean           remove the builds; make distclean: also ext-cache/

PREFIX ?= /usr/local
DESTDIR ?=
HOMEDIR ?= /etc/postie
SAN ?=
LIBC ?= musl

# Which C library, which build directory (doc/design.md, "The build").
#
# The default build links every program statically against musl (conf-cc,
# conf-ld): a musl program starts in ~0.05 ms of CPU where a glibc one
# takes ~0.6 ms (glibc probes the CPU with cpuid, which traps on a virtual
# machine), and four or more programs are exec'd per message. skalibs and
# BearSSL for musl are built from Debian's source packages into
# build/ext/<name>-<version>/ (package/ext), once: conf-cc and conf-ld name
# those directories, and the Makefile builds every build/ext/ directory
# they name (skalibs, BearSSL, libxcrypt). A program whose folder's file
# `libc` says glibc (none today) is linked statically against glibc
# instead, with conf-cc-glibc and conf-ld-glibc.
#
# SAN=1 (build-san/): every program on glibc, dynamically linked, with
# AddressSanitizer and UBSan (they need glibc). LIBC=glibc (build-glibc/):
# every program on glibc, dynamically linked, for a platform without musl.
# MEMLIMIT: the default memory limit of the network services (bytes);
# sanitizers reserve terabytes of address space, so none under SAN.
ifeq ($(SAN),1)
override LIBC := glibc
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MEMLIMIT := =
else ifeq ($(LIBC),glibc)
BUILD := build-glibc
SANFLAGS :=
MEMLIMIT := 64000000
else ifeq ($(LIBC),musl)
BUILD := build
SANFLAGS :=
MEMLIMIT := 64000000
else
$(error LIBC must be musl or glibc, not $(LIBC))
endif

# The compile and link lines of each C library: the first line of each conf
# file. The libraries the default build makes for itself are the
# directories build/ext/<name>-<version> that conf-cc and conf-ld name.
CC_musl := $(shell head -n 1 conf-cc) -DPOSTIE_HOME_DEFAULT='"$(HOMEDIR)"'
LD_musl := $(shell head -n 1 conf-ld)
CC_glibc := $(shell head -n 1 conf-cc-glibc) $(SANFLAGS) -DPOSTIE_HOME_DEFAULT='"$(HOMEDIR)"'
LD_glibc := $(shell head -n 1 conf-ld-glibc) $(SANFLAGS) $(if $(filter musl,$(LIBC)),-static)
LIBS := -lskarnet
EXTCACHE ?= ext-cache
EXTDIRS := $(if $(filter musl,$(LIBC)),$(shell head -q -n 1 conf-cc conf-ld | tr ' ' '\n' | sed -n -e 's|^\(-[IL]\)\{0,1\}\(build/ext/[A-Za-z0-9][A-Za-z0-9.+_-]*-[0-9][A-Za-z0-9.+~_]*\).*|\2|p' | sort -u))
EXTDONE := $(addsuffix /.done,$(EXTDIRS))

PROGS := $(shell sed -e 's/\#.*//' TARGETS)
# Each C program's C library: programs/<prog>/libc (musl or glibc); in
# the glibc builds, glibc for all.
CPROGS := $(foreach p,$(PROGS),$(if $(wildcard programs/$(p)/$(p).sh),,$(p)))
$(foreach p,$(CPROGS),$(if $(wildcard programs/$(p)/libc),,$(error programs/$(p)/libc is missing: it names the program's C library, musl or glibc)))
$(foreach p,$(CPROGS),$(if $(filter musl glibc,$(shell cat programs/$(p)/libc)),,$(error programs/$(p)/libc must say musl or glibc)))
libc_of = $(if $(filter musl,$(LIBC)),$(strip $(shell cat programs/$(1)/libc)),glibc)
LIBCS := $(sort $(foreach p,$(CPROGS),$(call libc_of,$(p))) $(if $(filter musl,$(LIBC)),musl,glibc))
LIBSRC := $(wildcard programs/lib/*.c)
LIBHDR := $(wildcard programs/lib/*.h)
# Every header a program folder keeps for itself: a change to one rebuilds
# the objects that may include it (coarse, but never stale).
PROGHDR := $(wildcard programs/*/*.h)
UNITSRC := $(wildcard tests/unit/*.c)
UNITBIN := $(patsubst tests/unit/%.c,$(BUILD)/test/%,$(UNITSRC))
BINS := $(addprefix $(BUILD)/bin/,$(PROGS))
# The unit tests use the build's main C library.
UNITLIBC := $(if $(filter musl,$(LIBC)),musl,glibc)

.PHONY: all test unit run bench install clean distclean deps
.SECONDARY:

all: $(BINS) $(UNITBIN)

# One library from a Debian source package, for musl: fetched once into
# $(EXTCACHE) (kept by make clean), verified by apt, built here.
build/ext/%/.done: package/ext
	sh package/ext $* build/ext/$* $(EXTCACHE) "$(firstword $(CC_musl))"

# A program's own flags: programs/<prog>/cflags, if that file exists (e.g.
# -Os for a program whose size matters more than its own CPU). Its key,
# the flags without spaces ("-Os"), names the copy of programs/lib
# compiled with the same flags, which the program links (below): one copy
# per distinct set of flags, shared by the programs that ask for it.
cflags_of = $(strip $(shell cat programs/$(1)/cflags 2>/dev/null))
space := $(subst ,, )
libkey_of = $(subst $(space),,$(call cflags_of,$(1)))
LIBKEYS := $(sort $(foreach p,$(CPROGS),$(call libkey_of,$(p))))
$(foreach p,$(CPROGS),$(if $(call libkey_of,$(p)),$(eval LIBFLAGS_$(call libkey_of,$(p)) := $(call cflags_of,$(p)))))
comma := ,
$(foreach k,$(LIBKEYS),$(if $(findstring $(comma),$(k))$(findstring :,$(k))$(findstring %,$(k)),$(error programs/*/cflags: a comma, colon or percent sign cannot name a build directory)))

# programs/lib's archive and every object, once per C library in use and
# set of flags: $(BUILD)/<libc>/libpostie.a (objects in obj/lib/) with the
# compile line alone, $(BUILD)/<libc>/libpostie<key>.a (obj<key>/lib/)
# with a program's cflags added.
define libc_rules
$(BUILD)/$(1)/obj$(2)/lib/%.o: programs/lib/%.c $(LIBHDR) conf-cc$(if $(filter glibc,$(1)),-glibc) $(if $(filter musl,$(1)),$(EXTDONE))
	@mkdir -p $$(@D)
	$$(CC_$(1)) $(LIBFLAGS_$(2)) -c -o $$@ $$<

$(BUILD)/$(1)/libpostie$(2).a: $(patsubst programs/lib/%.c,$(BUILD)/$(1)/obj$(2)/lib/%.o,$(LIBSRC))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LIBCS),$(eval $(call libc_rules,$(l),))$(foreach k,$(LIBKEYS),$(eval $(call libc_rules,$(l),$(k)))))

# A program's own objects also take the flags in programs/<prog>/cflags
# (above); the objects depend on it.
.SECONDEXPANSION:
define obj_rule
$(BUILD)/$(1)/obj/%.o: programs/%.c $(LIBHDR) $(PROGHDR) conf-cc$(if $(filter glibc,$(1)),-glibc) $(if $(filter musl,$(1)),$(EXTDONE)) $$$$(wildcard $$$$(dir programs/$$$$*)cflags)
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(shell cat $$(dir $$<)cflags 2>/dev/null) -c -o $$@ $$<
endef
$(foreach l,$(LIBCS),$(eval $(call obj_rule,$(l))))

# One rule per program, generated from TARGETS: its objects are every .c file
# in its own folder; extra libraries come from programs/<prog>/libs.
# programs/lib's archive comes again after them, for what a library of
# libs calls in it (the functions programs/lib/crypt_libc.c gives
# libxcrypt through the linker's --wrap). A program links the copy of
# programs/lib compiled with its own cflags.
define prog_rule
$(BUILD)/bin/$(1): $(patsubst programs/%.c,$(BUILD)/$(2)/obj/%.o,$(wildcard programs/$(1)/*.c)) $(BUILD)/$(2)/libpostie$(3).a conf-ld$(if $(filter glibc,$(2)),-glibc) programs/$(1)/libc $$(wildcard programs/$(1)/libs)
	@mkdir -p $$(@D)
	$$(LD_$(2)) -o $$@ $$(filter %.o,$$^) $(BUILD)/$(2)/libpostie$(3).a $$(shell cat programs/$(1)/libs 2>/dev/null) $(BUILD)/$(2)/libpostie$(3).a $(LIBS)
endef

# A program whose folder holds <prog>.sh instead is a POSIX sh script: the
# build fills in the instance directory, its own bin directory and the
# templates' directory (package/install rewrites the last two), and the
# default memory limit of the network services.
define script_rule
$(BUILD)/bin/$(1): programs/$(1)/$(1).sh Makefile
	@mkdir -p $$(@D)
	sed -e "s|@HOMEDIR@|$(HOMEDIR)|" -e "s|@BINDIR@|$(CURDIR)/$(BUILD)/bin|" \
	  -e "s|@TEMPLATES@|$(CURDIR)/package/templates|" -e "s|@MEMLIMIT@|$(MEMLIMIT)|" $$< >$$@.tmp
	chmod 755 $$@.tmp && mv -f $$@.tmp $$@
endef
$(foreach p,$(PROGS),$(eval $(if $(wildcard programs/$(p)/$(p).sh),$(call script_rule,$(p)),$(call prog_rule,$(p),$(call libc_of,$(p)),$(call libkey_of,$(p))))))

# HOMEDIR is compiled into postie_home.o (and the unit test that checks
# it) and filled into the scripts. $(BUILD)/conf-homedir records the value
# and is rewritten only when it changes, so `make HOMEDIR=...` on a built
# tree rebuilds exactly what holds it, and nothing when it is the same.
$(BUILD)/conf-homedir: FORCE
	@mkdir -p $(@D)
	@echo '$(HOMEDIR)' | cmp -s - $@ 2>/dev/null || echo '$(HOMEDIR)' >$@
$(foreach l,$(LIBCS),$(BUILD)/$(l)/obj/lib/postie_home.o $(foreach k,$(LIBKEYS),$(BUILD)/$(l)/obj$(k)/lib/postie_home.o)) $(BUILD)/test/queue_format: $(BUILD)/conf-homedir
$(foreach p,$(PROGS),$(if $(wildcard programs/$(p)/$(p).sh),$(eval $(BUILD)/bin/$(p): $(BUILD)/conf-homedir)))
.PHONY: FORCE
FORCE:

# A unit test (or fuzz target) of a program's own module names that
# program in a line of its source, "/* links: postie-remote */": it is
# compiled with the program's folder on its include path and linked with
# an archive of the program's objects but its main file (<prog>.c or
# main.c), so that it tests the very objects the program is made of, and
# the linker takes only the members it uses. Nothing else is linked:
# neither the program's own libraries (programs/<prog>/libs, e.g.
# -lcrypt) nor another program's objects.
links_of = $(shell sed -n 's|^/\* links: \(.*\) \*/$$|\1|p' $(1))
nonmain_of = $(filter-out programs/$(1)/$(1).c programs/$(1)/main.c,$(wildcard programs/$(1)/*.c))
define progarchive_rule
$(2)/progobj/$(1).a: $(patsubst programs/%.c,$(2)/obj/%.o,$(call nonmain_of,$(1)))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach p,$(CPROGS),$(eval $(call progarchive_rule,$(p),$(BUILD)/$(UNITLIBC))))

define unit_rule
$(BUILD)/test/$(1): tests/unit/$(1).c $(foreach p,$(2),$(BUILD)/$(UNITLIBC)/progobj/$(p).a) $(BUILD)/$(UNITLIBC)/libpostie.a $(LIBHDR) $(PROGHDR) conf-cc conf-ld conf-cc-glibc conf-ld-glibc
	@mkdir -p $$(@D)
	$$(CC_$(UNITLIBC)) $(foreach p,$(2),-iquote programs/$(p)) -c -o $$@.o $$<
	$$(LD_$(UNITLIBC)) -o $$@ $$@.o $(foreach p,$(2),$(BUILD)/$(UNITLIBC)/progobj/$(p).a) $(BUILD)/$(UNITLIBC)/libpostie.a $(LIBS)
endef
$(foreach t,$(UNITSRC),$(eval $(call unit_rule,$(patsubst tests/unit/%.c,%,$(t)),$(call links_of,$(t)))))

# Man pages, made from doc/*.md with lowdown (package/mkman says which
# page goes to which section): BUILD/man/manN/, installed by make install.
MANSTAMP := $(BUILD)/man/.made
all: $(MANSTAMP)
$(MANSTAMP): $(wildcard doc/*.md) package/mkman TARGETS
	@mkdir -p $(@D)
	sh package/mkman $(BUILD)/man TARGETS $(wildcard doc/*.md)
	touch $@

deps:
	sh package/deps

test:
	sh package/deps --test
	$(MAKE) all fuzzers
	sh tests/run $(BUILD)

run:
	sh package/deps
	$(MAKE) all
	sh package/run $(BUILD)

bench:
	sh package/deps --test --bench
	$(MAKE) all
	sh tests/bench/run $(BUILD)

install: all
	sh package/install "$(BUILD)" "$(DESTDIR)" "$(PREFIX)"

# make clean: every build directory, the libraries of build/ext/ included
# (rebuilt from $(EXTCACHE) without the network). make distclean: also the
# downloaded sources.
clean:
	rm -rf build build-san build-glibc

distclean: clean
	rm -rf $(EXTCACHE)

# ---------- fuzz targets (tests/fuzz/README.md) ----------
# One libFuzzer program per tests/fuzz/<target>.c, each with its own
# LLVMFuzzerTestOneInput, built with clang under ASan and UBSan (in every
# build: they are test programs) into $(BUILD)/fuzz/, apart from the
# programs' compile line and C library: they link programs/lib compiled
# again by clang, and skalibs from the system. `make test` builds them and
# tests/run runs each for a few seconds on its committed corpus
# (tests/fuzz/fuzz-smoke). `make fuzz` runs each for FUZZTIME seconds (or
# those named in FUZZTARGETS) and adds to tests/fuzz/corpus/<target>/
# what it found that covers new code.
FUZZCC ?= clang
FUZZTIME ?= 60
FUZZTARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/*.c))
FUZZFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -iquote programs/lib
FUZZLIBOBJ := $(patsubst programs/lib/%.c,$(BUILD)/fuzz/obj/%.o,$(LIBSRC))
FUZZBIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*.c))
# A target may include a program's own source file (smtpd_addr.c, for its
# static helpers), or link the program's objects ("/* links: ... */").
FUZZPROGSRC := $(filter-out programs/lib/%,$(wildcard programs/*/*.c))

.PHONY: fuzzers fuzz
fuzzers: $(FUZZBIN)

$(BUILD)/fuzz/obj/%.o: programs/lib/%.c $(LIBHDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(BUILD)/fuzz/libpostie.a: $(FUZZLIBOBJ)
	rm -f $@ && ar rcs $@ $(FUZZLIBOBJ)

$(BUILD)/fuzz/progobj/%.o: programs/%.c $(LIBHDR) $(PROGHDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# A fuzz target names its program as a unit test does ("/* links: ... */").
define fuzzarchive_rule
$(BUILD)/fuzz/progobj/$(1).a: $(patsubst programs/%.c,$(BUILD)/fuzz/progobj/%.o,$(call nonmain_of,$(1)))
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach p,$(CPROGS),$(eval $(call fuzzarchive_rule,$(p))))

define fuzz_rule
$(BUILD)/fuzz/$(1): tests/fuzz/$(1).c $(foreach p,$(2),$(BUILD)/fuzz/progobj/$(p).a) $(BUILD)/fuzz/libpostie.a $(LIBHDR) $(PROGHDR) $(FUZZPROGSRC)
	$(FUZZCC) $(FUZZFLAGS) $(foreach p,$(2),-iquote programs/$(p)) -fsanitize=fuzzer -o $$@ $$< $(foreach p,$(2),$(BUILD)/fuzz/progobj/$(p).a) $(BUILD)/fuzz/libpostie.a -lskarnet
endef
$(foreach t,$(wildcard tests/fuzz/*.c),$(eval $(call fuzz_rule,$(patsubst tests/fuzz/%.c,%,$(t)),$(call links_of,$(t)))))

fuzz: fuzzers
	sh tests/fuzz/run $(BUILD) $(FUZZTIME) $(FUZZTARGETS)
