# postie's build. Every program named in TARGETS is built from the .c files in
# programs/<name>/, linked with programs/lib/ (one archive) and skalibs/s6.
#
#   make                 build everything into build/bin
#   make test            install test dependencies, build, run every test
#   make test SAN=1      the same under AddressSanitizer + UBSan (build-san/)
#   make run             install what is missing, build, run a demo instance
#   make bench           benchmarks against Postfix and OpenSMTPD
#   make install DESTDIR=... PREFIX=...   (sendmail also as PREFIX/sbin/sendmail,
#                        PREFIX/lib/sendmail, PREFIX/bin/mailq, PREFIX/bin/newaliases)
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
HOMEDIR ?= /etc/postie
SAN ?=

# A program with a file programs/<prog>/static is linked static-pie (outside SAN builds, since
# the sanitizers need dynamic linking). Every message costs four execs
# (postie-tcpaccess, postie-smtpd, postie-queue, postie-local), and a
# dynamically linked exec spends most of its time in ld.so: static-pie
# (still position-independent, so ASLR stays) saves about 0.3 ms per exec,
# for about 0.7 MB more per program (doc/bench.md, profile notes). A program
# that needs glibc's NSS or resolver (getpwuid, getaddrinfo: they dlopen
# modules at run time) must not have one. `make STATIC=` links every program
# dynamically instead: each is then under 64 KiB of text (scenario 6 of
# make bench shows both), for systems where disk counts more than CPU.
#
# MEMLIMIT: the default memory limit of the network services (bytes);
# sanitizers reserve terabytes of address space, so none under SAN.
ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MEMLIMIT := =
STATIC :=
else
BUILD := build
SANFLAGS :=
MEMLIMIT := 64000000
STATIC := -static-pie
STATICPROGS := $(foreach p,$(shell sed -e 's/\#.*//' TARGETS),$(if $(wildcard programs/$(p)/static),$(p)))
endif

CCLINE := $(shell head -n 1 conf-cc) $(SANFLAGS) -DPOSTIE_HOME_DEFAULT='"$(HOMEDIR)"'
LDLINE := $(shell head -n 1 conf-ld) $(SANFLAGS)
LIBS := -ls6 -lskarnet

PROGS := $(shell sed -e 's/\#.*//' TARGETS)
LIBSRC := $(wildcard programs/lib/*.c)
LIBOBJ := $(patsubst programs/lib/%.c,$(BUILD)/obj/lib/%.o,$(LIBSRC))
LIBHDR := $(wildcard programs/lib/*.h)
# Every header a program folder keeps for itself: a change to one rebuilds
# the objects that may include it (coarse, but never stale).
PROGHDR := $(wildcard programs/*/*.h)
UNITSRC := $(wildcard tests/unit/*.c)
UNITBIN := $(patsubst tests/unit/%.c,$(BUILD)/test/%,$(UNITSRC))
BINS := $(addprefix $(BUILD)/bin/,$(PROGS))

.PHONY: all test unit run bench install clean deps
.SECONDARY:

all: $(BINS) $(UNITBIN)

$(BUILD)/obj/lib/%.o: programs/lib/%.c $(LIBHDR) conf-cc
	@mkdir -p $(@D)
	$(CCLINE) -c -o $@ $<

$(BUILD)/libpostie.a: $(LIBOBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $(LIBOBJ)

# A program's own objects also take the flags in programs/<prog>/cflags, if
# that file exists (e.g. -Os for a program whose size matters more than its
# own CPU); the objects depend on it.
.SECONDEXPANSION:
$(BUILD)/obj/%.o: programs/%.c $(LIBHDR) $(PROGHDR) conf-cc $$(wildcard $$(dir programs/$$*)cflags)
	@mkdir -p $(@D)
	$(CCLINE) $(shell cat $(dir $<)cflags 2>/dev/null) -c -o $@ $<

# One rule per program, generated from TARGETS: its objects are every .c file
# in its own folder; extra libraries come from programs/<prog>/libs.
define prog_rule
$(BUILD)/bin/$(1): $(patsubst programs/%.c,$(BUILD)/obj/%.o,$(wildcard programs/$(1)/*.c)) $(BUILD)/libpostie.a conf-ld $(wildcard programs/$(1)/static)
	@mkdir -p $$(@D)
	$(LDLINE) $(if $(filter $(1),$(STATICPROGS)),$(STATIC)) -o $$@ $$(filter %.o,$$^) $(BUILD)/libpostie.a $$(shell cat programs/$(1)/libs 2>/dev/null) $(LIBS)
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
$(foreach p,$(PROGS),$(eval $(if $(wildcard programs/$(p)/$(p).sh),$(call script_rule,$(p)),$(call prog_rule,$(p)))))

$(BUILD)/test/%: tests/unit/%.c $(BUILD)/libpostie.a $(LIBHDR) conf-cc conf-ld
	@mkdir -p $(@D)
	$(CCLINE) -c -o $@.o $<
	$(LDLINE) -o $@ $@.o $(BUILD)/libpostie.a -lcrypt $(LIBS)

deps:
	sh package/deps

test:
	sh package/deps --test
	$(MAKE) all
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

clean:
	rm -rf build build-san
