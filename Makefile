# mixgeo - plain GNU Makefile.  `make help` lists the targets.
#
# Libraries: build/libmixgeo.a (src/), build/libmganalysis.a (analysis/),
# each also shared: build/libmixgeo.so.0.1.0 with the links .so.0 (soname) and
# .so; program build/mixgeo (src/cli/, linked statically against our own
# libraries), tests build/tests/test_* (tests/test_*.c), benchmarks
# build/bench/* (bench/*.c), examples build/examples/* (examples/*.c, linked
# against the shared libraries and run by `make check`).

CC      ?= cc
PREFIX  ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include/mixgeo
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Debian's /usr/bin/python3 searches $(PREFIX)/lib/python3/dist-packages.
PYTHONDIR    ?= $(PREFIX)/lib/python3/dist-packages
# The interpreter of the Python module and its tests: Debian's, which has
# python3-numpy (`python3` on PATH may be another one, e.g. pyenv's).
PYTHON  ?= /usr/bin/python3
export PYTHON
VERSION   := 0.1.0
SOVERSION := 0
PKGS    := openblas lapacke cmocka libcjson zlib nettle
DEBPKGS := libopenblas-dev liblapacke-dev libcmocka-dev libcjson-dev \
           zlib1g-dev nettle-dev pkg-config gnuplot-nox dataset-fashion-mnist \
           python3-numpy python3-pytest clang libclang-rt-dev \
           slurmctld slurmd slurm-client munge libdnnl-dev
# What the shared libraries link (and their .pc files require): libmixgeo
# MG_PKGS; libmganalysis libmixgeo plus every other package of PKGS but the
# tests' and the program's own (so a package added to PKGS for analysis/ is
# picked up; one added for src/ goes into MG_PKGS).
MG_PKGS  := openblas zlib
ANA_PKGS := $(filter-out $(MG_PKGS) cmocka,$(PKGS))

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2 -march=x86-64-v2 -mtune=generic
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     := -Wall -Wextra -Wshadow
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -Ianalysis -MMD -MP
# oneDNN (src/conv_dnnl.c) has no .pc file; -lgomp: its OpenMP runtime, whose
# thread count conv_dnnl.c sets.
DNNL_LIBS := -ldnnl -lgomp
LDLIBS   := $(PKG_LIBS) $(DNNL_LIBS) -lm -lpthread

# Shared libraries: every library object is compiled with -fPIC, so one set
# of objects serves the .a and the .so (measured with bench_train's MLP
# against a `make B=build-nopic PIC=` build: no training-speed cost).
# --no-undefined: a missing library is a link error, not a surprise at load
# time; --as-needed: DT_NEEDED lists only the libraries actually used.
PIC        := -fPIC
SO_LDFLAGS  = -shared -Wl,--no-undefined -Wl,--as-needed
MG_SOLIBS  := $(shell pkg-config --libs $(MG_PKGS) 2>/dev/null) $(DNNL_LIBS) -lm -lpthread
ANA_SOLIBS := $(shell pkg-config --libs $(ANA_PKGS) $(MG_PKGS) 2>/dev/null) -lm -lpthread

B ?= build
LIB_SRC  := $(sort $(wildcard src/*.c))
ANA_SRC  := $(sort $(wildcard analysis/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
ANA_OBJ  := $(ANA_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
EXAMPLES := $(EX_SRC:examples/%.c=$(B)/examples/%)

# The git revision the program was built from, recorded in every output
# (rewritten only when it changes, so it triggers no needless rebuilds).
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- src analysis 2>/dev/null || echo -dirty)

LIB   := $(B)/libmixgeo.a
ALIB  := $(B)/libmganalysis.a
PROG  := $(B)/mixgeo
# Shared: the real file lib*.so.$(VERSION), the soname link lib*.so.$(SOVERSION)
# (what the loader looks for) and the link lib*.so (what -l finds).
SONAMES   := mixgeo mganalysis
SO_REAL   := $(SONAMES:%=$(B)/lib%.so.$(VERSION))
SO_SONAME := $(SONAMES:%=$(B)/lib%.so.$(SOVERSION))
SHARED    := $(SONAMES:%=$(B)/lib%.so)

.PHONY: FORCE all deps check test asan bench clean install uninstall help paper demo \
        format shared examples
all: $(PROG) $(SHARED) $(TESTS) $(BENCHES) $(EXAMPLES)

help:
	@echo "make deps      install missing Debian packages (apt-get)"
	@echo "make           build the libraries (static and shared), the mixgeo program,"
	@echo "               tests, benchmarks, examples"
	@echo "make shared    only the shared libraries $(B)/libmixgeo.so, $(B)/libmganalysis.so"
	@echo "make examples  the programs in examples/, linked against the shared libraries"
	@echo "make demo      deps + build + the main job (train and evaluate)"
	@echo "make check     deps + build + run every test and example (PYTHON=$(PYTHON))"
	@echo "make asan      the tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make bench     benchmark programs (speed figures as ratios)"
	@echo "make fuzz      build the libFuzzer harnesses fuzz/fuzz_*.c with clang in $(FUZZ_B)/,"
	@echo "               run each for FUZZ_SECONDS=$(FUZZ_SECONDS) (fuzz/README)"
	@echo "make install   PREFIX=$(PREFIX) DESTDIR=: program, static and shared libraries,"
	@echo "               headers, mixgeo.pc + mganalysis.pc, Python module (python/mixgeo/)"
	@echo "make uninstall (same PREFIX and DESTDIR) remove what install put there"
	@echo "variables: B=build (build directory), CC, OPT, CFLAGS, LDFLAGS, PREFIX, DESTDIR,"
	@echo "           BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, PYTHONDIR, PYTHON"

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
$(LIB_OBJ) $(ANA_OBJ): ALL_CFLAGS += $(PIC)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ALIB): $(ANA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libmixgeo.so.$(VERSION): $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $(SO_LDFLAGS) -Wl,-soname,libmixgeo.so.$(SOVERSION) \
	  -o $@ $(LIB_OBJ) $(MG_SOLIBS)

$(B)/libmganalysis.so.$(VERSION): $(ANA_OBJ) $(B)/libmixgeo.so
	$(CC) $(CFLAGS) $(LDFLAGS) $(SO_LDFLAGS) -Wl,-soname,libmganalysis.so.$(SOVERSION) \
	  -o $@ $(ANA_OBJ) -L$(B) -lmixgeo $(ANA_SOLIBS)

$(SO_SONAME): %.so.$(SOVERSION): %.so.$(VERSION)
	ln -sfn $(notdir $<) $@
$(SHARED): %.so: %.so.$(SOVERSION)
	ln -sfn $(notdir $<) $@

shared: $(SHARED)

$(PROG): $(CLI_OBJ) $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(ALIB) $(LIB) $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ALIB) $(LIB) $(LDLIBS)

$(B)/bench/%: $(B)/bench/%.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ALIB) $(LIB) $(LDLIBS)

# Examples use only the public API and are linked as a user would link them
# (cc x.c `pkg-config --cflags --libs mganalysis`), but against the shared
# libraries just built here, found at run time through the rpath.
$(B)/examples/%: $(B)/examples/%.o $(SHARED)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(B) -lmganalysis -lmixgeo -Wl,-rpath,$(abspath $(B))

examples: $(EXAMPLES)

# Tests: every cmocka executable and every example (each checks its own
# answer), then the shell end-to-end tests.  One BLAS thread so that results
# are independent of the machine's core count.
NPROC := $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@OPENBLAS_NUM_THREADS=1 MIXGEO=$(abspath $(PROG)) B=$(B) PYTHON=$(PYTHON) \
	  sh tests/run_all.sh $(TESTS) $(EXAMPLES)

test: check

asan:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory B=build-asan OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" check

# The benchmark programs link the libraries themselves: they run the kernels
# the mixgeo program chooses (README, Kernels) through the same variables.
bench: all
	@set -- $$($(PROG) --version | sed -n 's/^kernels: OpenBLAS \([^,]*\), oneDNN \(.*\)$$/\1 \2/p'); \
	[ $$# -eq 2 ] || { echo "bench: $(PROG) --version names no kernels" >&2; exit 1; }; \
	export OPENBLAS_CORETYPE=$$1 DNNL_MAX_CPU_ISA=$$(echo $$2 | tr a-z A-Z); \
	echo "== kernels: OpenBLAS $$1, oneDNN $$2 (those of $(PROG))"; \
	for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done; \
	echo "== bench/bench_python.py"; PYTHONPATH=python MIXGEO_LIB=$(abspath $(B))/libmganalysis.so \
	  MIXGEO=$(abspath $(PROG)) $(PYTHON) bench/bench_python.py || exit 1; \
	echo "== bench/bench_torch.py"; MIXGEO=$(abspath $(PROG)) $(PYTHON) bench/bench_torch.py

# Install: DESTDIR stages (packaging), PREFIX is where it will live.  Every
# public header (all but *_internal.h) goes into $(INCLUDEDIR), the directory
# the .pc files' Cflags name.
# ldconfig only for a real (DESTDIR-less) install as root, never an error if
# it is missing.  The Python module only when python/mixgeo/ has files.
HEADERS := src/mixgeo.h $(filter-out %_internal.h,$(sort $(wildcard analysis/*.h)))
PY_SRC  := $(sort $(wildcard python/mixgeo/*.py))
LDCONFIG = if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	  PATH="$$PATH:/sbin:/usr/sbin" ldconfig 2>/dev/null || true; fi
install: $(PROG) $(LIB) $(ALIB) $(SHARED)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(PROG) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIB) $(ALIB) $(SO_REAL) $(DESTDIR)$(LIBDIR)/
	for l in $(SONAMES:%=lib%); do \
	  ln -sfn $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) && \
	  ln -sfn $$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; \
	done
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(MG_PKGS)|' \
	    mixgeo.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/mixgeo.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(ANA_PKGS)|' \
	    mganalysis.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/mganalysis.pc
ifneq ($(PY_SRC),)
	install -d $(DESTDIR)$(PYTHONDIR)/mixgeo
	install -m 644 $(PY_SRC) $(DESTDIR)$(PYTHONDIR)/mixgeo/
endif
	@$(LDCONFIG)

# Removes the files install writes (and the Python package's bytecode), then
# our own directories if that left them empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mixgeo
	rm -f $(foreach l,$(SONAMES:%=lib%),$(addprefix $(DESTDIR)$(LIBDIR)/$(l),.a .so .so.$(SOVERSION) .so.$(VERSION)))
	rm -f $(SONAMES:%=$(DESTDIR)$(PKGCONFIGDIR)/%.pc)
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(HEADERS)))
	rm -f $(DESTDIR)$(PYTHONDIR)/mixgeo/*.py
	rm -rf $(DESTDIR)$(PYTHONDIR)/mixgeo/__pycache__
	@rmdir $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PYTHONDIR)/mixgeo 2>/dev/null || true
	@$(LDCONFIG)

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
# The full budget takes longer than one machine lives: the text records of
# finished runs (no checkpoints; experiments/records.sh) are kept in
# $(PAPER_DIR)/records/ and committed with the report; `make paper` restores
# them first, so finished runs are skipped, and packs them again after the
# runs.  FRESH=1: ignore the records and train everything.
PAPER_SUITES ?= $(filter-out experiments/tiny.suite,$(sort $(wildcard experiments/*.suite)))
JOBS ?= 2
PAPER_DIR = results/paper$(if $(filter 1 yes true,$(QUICK)),-quick)
PAPER_FLAGS = --root $(PAPER_DIR) $(if $(filter 1 yes true,$(QUICK)),--quick)
RECORDS = sh experiments/records.sh
# Suites not kept in the records: they train again in minutes, and their
# records would be megabytes (fig1-spiral's decision-region maps: 6.9 MB).
RECORDS_SKIP ?= fig1-spiral
paper: deps
	@$(MAKE) --no-print-directory $(PROG)
	@test -n "$(PAPER_SUITES)" || { echo "make paper: no experiments/*.suite"; exit 1; }
	@$(if $(filter 1 yes true,$(FRESH)),,$(RECORDS) unpack $(PAPER_DIR) $(PAPER_DIR)/records &&) \
	  $(PROG) suite run -j $(JOBS) $(PAPER_FLAGS) $(PAPER_SUITES); st=$$?; \
	  $(RECORDS) pack $(PAPER_DIR) $(PAPER_DIR)/records "$(RECORDS_SKIP)" || st=1; \
	  [ $$st -eq 130 ] && exit 130; \
	  $(PROG) suite report $(PAPER_FLAGS) --combined $(PAPER_DIR)/REPORT.md $(PAPER_SUITES) || st=1; \
	  $(PROG) suite status -q $(PAPER_FLAGS) $(PAPER_SUITES); \
	  echo "make paper: report in $(PAPER_DIR)/REPORT.md"; exit $$st

format:
	clang-format -i src/*.c src/*.h src/cli/*.c analysis/*.c analysis/*.h tests/*.c bench/*.c \
	  examples/*.c fuzz/*.c fuzz/*.h

# ---------------------------------------------------------------- fuzzing
# Every fuzz/fuzz_NAME.c is a libFuzzer harness (LLVMFuzzerTestOneInput),
# picked up by the wildcard below, with seeds in fuzz/corpus/NAME/, an
# optional dictionary fuzz/NAME.dict and every input that ever failed in
# fuzz/regressions/NAME/ (fuzz/README).
#  - `make check` replays seeds and regressions with $(B)/fuzz/replay_NAME:
#    the harness linked with fuzz/replay.c by $(CC), like the tests (so
#    `make asan` replays them under ASan + UBSan); tests/e2e_fuzz.sh runs them.
#  - `make fuzz` builds the libraries and harnesses with clang,
#    -fsanitize=fuzzer,address,undefined, in $(FUZZ_B)/ and runs each harness
#    for FUZZ_SECONDS, FUZZ_JOBS at a time; new inputs go to
#    $(FUZZ_B)/corpus/NAME/, failures to $(FUZZ_B)/artifacts/NAME/.
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_REPLAY  := $(FUZZ_NAMES:%=$(B)/fuzz/replay_%)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)
FUZZ_B       ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= $(NPROC)
# -malloc_limit_mb: one allocation above it is a failure (a parser must never
# size a buffer from a header before checking it against the input).
FUZZ_FLAGS   ?= -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer

all: $(FUZZ_REPLAY)

# Harnesses of the program's own readers (run configurations, suite files,
# the files `suite report` reads back) need src/cli/: a harness whose source
# says FUZZ_LINK_CLI links $(CLI_LIB), the program's objects with main.c
# compiled again with -Dmain=mixgeo_main_unused (main() is libFuzzer's or
# replay.c's).
FUZZ_CLI_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(shell grep -l FUZZ_LINK_CLI $(FUZZ_SRC) /dev/null))
CLI_LIB := $(B)/libmixgeo-cli.a
$(B)/src/cli/main-nomain.o: src/cli/main.c $(B)/gitrev.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(B) -DMIXGEO_HAVE_GITREV -Dmain=mixgeo_main_unused -c $< -o $@
$(CLI_LIB): $(filter-out $(B)/src/cli/main.o,$(CLI_OBJ)) $(B)/src/cli/main-nomain.o
	rm -f $@ && ar rcs $@ $^
FUZZ_CLI_TARGETS := $(FUZZ_CLI_NAMES:%=$(B)/fuzz/replay_%) $(FUZZ_CLI_NAMES:%=$(B)/fuzz/fuzz_%)
$(FUZZ_CLI_TARGETS): $(CLI_LIB)
$(FUZZ_CLI_TARGETS): FUZZ_LINK = $(CLI_LIB)
-include $(B)/src/cli/main-nomain.d

$(FUZZ_REPLAY): $(B)/fuzz/replay_%: $(B)/fuzz/fuzz_%.o $(B)/fuzz/replay.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(B)/fuzz/fuzz_$*.o $(B)/fuzz/replay.o $(FUZZ_LINK) $(ALIB) $(LIB) $(LDLIBS)

# Only inside the sub-make of fuzz-build (B=$(FUZZ_B), CC=clang).
$(FUZZ_BIN): $(B)/fuzz/fuzz_%: $(B)/fuzz/fuzz_%.o $(ALIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LINK) $(ALIB) $(LIB) $(LDLIBS)

fuzz-bins: $(FUZZ_BIN)

fuzz-build: deps
	@$(MAKE) --no-print-directory -j$(NPROC) B=$(FUZZ_B) CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" LDFLAGS="$(FUZZ_SAN)" fuzz-bins

# One target per harness, so that FUZZ_JOBS run at once; each prints one line
# (executions, corpus, time) or its log's tail and the failing input.
FUZZ_RUNS := $(FUZZ_NAMES:%=fuzz-run-%)
# The runs of one `make fuzz` mark their success in a directory of its own
# (FUZZ_PASSED), so that the closing count is right even beside another run.
FUZZ_PASSED ?=
fuzz: fuzz-build
	@d=$$(mktemp -d $(abspath $(FUZZ_B))/passed.XXXXXX) || exit 1; \
	  $(MAKE) --no-print-directory -k -j$(FUZZ_JOBS) FUZZ_PASSED=$$d $(FUZZ_RUNS); st=$$?; \
	  p=$$(ls $$d | wc -l); rm -rf $$d; \
	  echo "fuzz: $$p passed, $$(($(words $(FUZZ_NAMES)) - p)) failed"; exit $$st

$(FUZZ_RUNS): fuzz-run-%:
	@mkdir -p $(FUZZ_B)/corpus/$* $(FUZZ_B)/artifacts/$*
	@log=$(FUZZ_B)/fuzz_$*.log; \
	  dict=; [ -f fuzz/$*.dict ] && dict=-dict=fuzz/$*.dict; \
	  regs=; [ -d fuzz/regressions/$* ] && regs=fuzz/regressions/$*; \
	  if $(FUZZ_B)/fuzz/fuzz_$* $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) $$dict \
	       -artifact_prefix=$(FUZZ_B)/artifacts/$*/ $(FUZZ_B)/corpus/$* fuzz/corpus/$* $$regs \
	       >$$log 2>&1; then \
	    echo "fuzz $*: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) executions" \
	      "in $(FUZZ_SECONDS) s, no failure ($(FUZZ_B)/corpus/$*: $$(ls $(FUZZ_B)/corpus/$* | wc -l) inputs)"; \
	    $(if $(FUZZ_PASSED),touch $(FUZZ_PASSED)/$*;) \
	  else \
	    awk '/ERROR|check failed|runtime error/ { p = 1 } p && n++ < 40' $$log | grep . || \
	      tail -n 40 $$log; \
	    echo "fuzz $*: FAILED (log $$log); the input: $$(ls -t $(FUZZ_B)/artifacts/$*/* 2>/dev/null | head -1)"; \
	    echo "  fix it, then copy the input into fuzz/regressions/$*/ (replayed by make check)"; \
	    exit 1; \
	  fi

# Merge what fuzzing found into the seeds (libFuzzer -merge=1 keeps only the
# inputs that add coverage); review and commit fuzz/corpus/ afterwards.
fuzz-merge: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_B)/corpus/$$n; \
	  $(FUZZ_B)/fuzz/fuzz_$$n -merge=1 fuzz/corpus/$$n $(FUZZ_B)/corpus/$$n 2>&1 | tail -n 1; \
	done

.PHONY: fuzz fuzz-build fuzz-bins fuzz-merge $(FUZZ_RUNS)
-include $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%.d) $(B)/fuzz/replay.d

clean:
	rm -rf build build-asan $(FUZZ_B)

-include $(LIB_OBJ:.o=.d) $(ANA_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d) \
         $(EXAMPLES:=.d)
