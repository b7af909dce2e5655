# mixgeo - plain GNU Makefile.  `make help` lists the targets.
#
# Libraries: build/libmixgeo.a (src/), build/libmganalysis.a (analysis/),
# program build/mixgeo (src/cli/), tests build/tests/test_* (tests/test_*.c),
# benchmarks build/bench/* (bench/*.c).

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := openblas lapacke cmocka libcjson inih zlib nettle
DEBPKGS := libopenblas-dev liblapacke-dev libcmocka-dev libcjson-dev libinih-dev \
           zlib1g-dev nettle-dev pkg-config gnuplot-nox dataset-fashion-mnist

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2 -march=x86-64-v2 -mtune=generic
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     := -Wall -Wextra -Wshadow
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -Ianalysis -MMD -MP
LDLIBS   := $(PKG_LIBS) -lm -lpthread

B ?= build
LIB_SRC  := $(sort $(wildcard src/*.c))
ANA_SRC  := $(sort $(wildcard analysis/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
ANA_OBJ  := $(ANA_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

# The git revision the program was built from, recorded in every output
# (rewritten only when it changes, so it triggers no needless rebuilds).
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- src analysis 2>/dev/null || echo -dirty)

LIB   := $(B)/libmixgeo.a
ALIB  := $(B)/libmganalysis.a
PROG  := $(B)/mixgeo

.PHONY: FORCE all deps check test asan bench clean install help paper demo format
all: $(PROG) $(TESTS) $(BENCHES)

help:
	@echo "make deps     install missing Debian packages (apt-get)"
	@echo "make          build libraries, the mixgeo program, tests, benchmarks"
	@echo "make demo     deps + build + the main job (train and evaluate)"
	@echo "make check    deps + build + run every test"
	@echo "make asan     the tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make bench    benchmark programs (speed figures as ratios)"
	@echo "make install  PREFIX=$(PREFIX) DESTDIR=: program, libraries, headers, .pc"

# Install only what is missing; needs root (or sudo) the first time.
deps:
	@missing=""; for p in $(DEBPKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "deps: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/gitrev.h: FORCE
	@mkdir -p $(B)
	@echo '#define MIXGEO_GIT_REV "$(GIT_REV)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/src/cli/main.o: $(B)/gitrev.h
$(B)/src/cli/main.o: ALL_CFLAGS += -I$(B) -DMIXGEO_HAVE_GITREV

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ALIB): $(ANA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(PROG): $(CLI_OBJ) $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(ALIB) $(LIB) $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ALIB) $(LIB) $(LDLIBS)

$(B)/bench/%: $(B)/bench/%.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ALIB) $(LIB) $(LDLIBS)

# Tests: every cmocka executable, then the shell end-to-end tests.  One BLAS
# thread so that results are independent of the machine's core count.
NPROC := $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@OPENBLAS_NUM_THREADS=1 MIXGEO=$(abspath $(PROG)) B=$(B) sh tests/run_all.sh $(TESTS)

test: check

asan:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory B=build-asan OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" check

bench: all
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

install: $(PROG) $(LIB) $(ALIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/mixgeo
	install -m 755 $(PROG) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(ALIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 src/mixgeo.h $(wildcard analysis/*.h) $(DESTDIR)$(PREFIX)/include/mixgeo/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' mixgeo.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mixgeo.pc

# The main job on a fresh machine: packages, build, the paper's spiral model
# and a Fashion-MNIST MLP with Manifold Mixup, evaluated.
demo: deps
	@$(MAKE) --no-print-directory all
	$(PROG) train --config experiments/spiral-mm.ini --seed 1 --out runs/spiral-mm --force
	$(PROG) train --config experiments/fm-mm.ini --seed 1 --threads 2 --out runs/fm-mm --force
	$(PROG) eval runs/fm-mm --split test
	@echo "demo: runs in runs/spiral-mm and runs/fm-mm (metrics.tsv, summary.json, model.ckpt)"

# Every shipped suite (experiments/*.suite but the test suite): train,
# analyse, report.  QUICK=1: the suites' small budgets, into results/paper-quick
# (so a quick run never overwrites full results).  JOBS: runs in parallel.
PAPER_SUITES ?= $(filter-out experiments/tiny.suite,$(sort $(wildcard experiments/*.suite)))
JOBS ?= 2
PAPER_DIR = results/paper$(if $(filter 1 yes true,$(QUICK)),-quick)
PAPER_FLAGS = --root $(PAPER_DIR) $(if $(filter 1 yes true,$(QUICK)),--quick)
paper: deps
	@$(MAKE) --no-print-directory $(PROG)
	@test -n "$(PAPER_SUITES)" || { echo "make paper: no experiments/*.suite"; exit 1; }
	@$(PROG) suite run -j $(JOBS) $(PAPER_FLAGS) $(PAPER_SUITES); st=$$?; \
	  [ $$st -eq 130 ] && exit 130; \
	  $(PROG) suite report $(PAPER_FLAGS) --combined $(PAPER_DIR)/REPORT.md $(PAPER_SUITES) || st=1; \
	  $(PROG) suite status -q $(PAPER_FLAGS) $(PAPER_SUITES); \
	  echo "make paper: report in $(PAPER_DIR)/REPORT.md"; exit $$st

format:
	clang-format -i src/*.c src/*.h src/cli/*.c analysis/*.c analysis/*.h tests/*.c bench/*.c

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(ANA_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d)
