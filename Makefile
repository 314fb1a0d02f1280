# bourse: the two commands are `make demo` and `make test` (see README.md);
# `make sim-demo` runs the simulator.
# This file only wraps CMake; the build itself is CMakeLists.txt.

BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
TRACES     ?= ../shared/traces/bitbrains-rnd/2013-7
DEMO_HOSTS ?= 8
DEMO_PORT  ?= 7411
DEMO_DB    ?= $(BUILD)/demo.db

.PHONY: all deps build test bench demo sim-demo install clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOURSE_TESTS=OFF \
	  -DBOURSE_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The test build runs under AddressSanitizer and UndefinedBehaviorSanitizer.
# The plain build is for test_live_valgrind (valgrind cannot run ASan code).
test: build
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBOURSE_SANITIZE=ON \
	  -DBOURSE_WERROR=ON -DBOURSE_PLAIN_BIN=$(abspath $(BUILD))/bourse >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	ctest --test-dir $(TEST_BUILD) --output-on-failure -j $(JOBS)

# The benchmarks (bench/, docs/benchmarks.md), in the optimized build: the
# market round, the store, and the broker under a load process. Each prints
# a table and JSON lines; timing never fails them. BENCH_ARGS goes to each
# (e.g. BENCH_ARGS=--smoke for the small sizes CI runs).
BENCH_ARGS ?=
bench: build
	$(BUILD)/bench/bench_market $(BENCH_ARGS)
	$(BUILD)/bench/bench_store $(BENCH_ARGS)
	$(BUILD)/bench/bench_broker $(BENCH_ARGS)

# The main job: the loop closed on this machine, and what it changed. A
# broker on loopback (DEMO_PORT) and four emulated hosts replaying forty VMs
# of the shipped trace, one 5-minute step a second: run 1 carries resizes
# out automatically and one migration the script approves; run 2 replays
# the same window with recommendations only; then a before/after summary
# from the two databases (DEMO_DB and DEMO_DB less .db plus -recommend.db).
# DEMO_SECONDS is each run's length (about a minute in all by default).
# Without ../shared/traces it falls back to the small trace in tests/data.
DEMO_SECONDS ?= 25
demo: build
	@BOURSE="$(BUILD)/bourse" DEMO_PORT="$(DEMO_PORT)" DEMO_DB="$(DEMO_DB)" \
	  TRACES="$(TRACES)" DEMO_SECONDS="$(DEMO_SECONDS)" sh scripts/demo.sh

# The simulator on the shipped traces, every policy side by side.
# Without ../shared/traces it falls back to the small trace embedded in tests/data.
sim-demo: build
	@if [ -d "$(TRACES)" ]; then trace="$(TRACES)"; else \
	  echo "note: $(TRACES) not found, using the embedded trace tests/data/bitbrains-mini"; \
	  trace=tests/data/bitbrains-mini; fi; \
	echo "+ $(BUILD)/bourse sim --trace $$trace --hosts $(DEMO_HOSTS)"; \
	$(BUILD)/bourse sim --trace "$$trace" --hosts $(DEMO_HOSTS)

# The binary to $(PREFIX)/bin, docs to $(PREFIX)/share/doc/bourse, systemd
# units to $(PREFIX)/lib/systemd/system (docs/operations.md, "Installing").
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Fuzzing (tests/fuzz/README.md): the libFuzzer targets (wire, trace,
# config, procfile, conf), built with clang under ASan and UBSan in $(FUZZ_BUILD)
# (installs clang and libFuzzer when missing: scripts/deps.sh fuzz), each run
# for FUZZ_SECONDS on a working copy of its seed corpus; findings stay in
# $(FUZZ_BUILD)/fuzz-out/, never in the repository. `make test` replays the
# corpus and every crash found so far. FUZZ_TARGETS picks some.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= wire trace config procfile vmpolicy conf

.PHONY: fuzz
fuzz:
	@sh scripts/deps.sh fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE= \
	  -DCMAKE_C_FLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
	  -DBOURSE_SANITIZE=ON -DBOURSE_FUZZ=ON -DBOURSE_WERROR=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# OOM injection (docs/reliability.md, "OOM injection"): test_oom, the plain
# broker failing its Nth allocation, for every N from OOM_FIRST to OOM_LAST
# (default: all the allocations its counting run makes, about 25,000) by
# OOM_STRIDE, where `make test` takes 60 of them. Stride 1 over the whole
# range is about 10 hours on 2 cores (1.5 s a run).
OOM_FIRST  ?= 1
OOM_LAST   ?=
OOM_STRIDE ?= 1
.PHONY: oom
oom: build
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBOURSE_SANITIZE=ON \
	  -DBOURSE_WERROR=ON -DBOURSE_PLAIN_BIN=$(abspath $(BUILD))/bourse >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS) --target test_oom bourse_fail_alloc
	BOURSE_CONF=/dev/null BOURSE_LIVE_BIN=$(abspath $(BUILD))/bourse \
	  BOURSE_OOM_FIRST=$(OOM_FIRST) BOURSE_OOM_LAST=$(OOM_LAST) \
	  BOURSE_OOM_STRIDE=$(OOM_STRIDE) $(TEST_BUILD)/tests/test_oom

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)

# The Debian package (debian/; docs/operations.md, "Installing from the
# Debian package"): built by dpkg-buildpackage from a copy of the tree in
# $(DEB_OUT), without the tests (`make test` runs them, deb_package among
# them). deb-check installs it on THIS machine (root), starts the broker
# as its unit does, and removes it again (scripts/deb-check.sh).
DEB_OUT ?= build-deb
.PHONY: deb deb-check
deb: deps
	JOBS=$(JOBS) sh scripts/build-deb.sh $(DEB_OUT)

deb-check: deb
	sh scripts/deb-check.sh $(DEB_OUT)

# The real-VM lab (docs/lab.md): QEMU guests (TCG) on two libvirt hosts in
# namespaces of this machine, bourse resizing and migrating them, against
# static allocation on the same trace slices; the report's last line is one
# JSON object. Root only; about 3.3 GiB of RAM for 4 guests and
# 2 x LAB_SECONDS. `make lab-down` removes what it started.
LAB_DIR     ?= $(BUILD)/lab
LAB_GUESTS  ?= 4
LAB_SECONDS ?= 150
.PHONY: lab lab-down
lab: build
	LAB_DIR=$(LAB_DIR) LAB_GUESTS=$(LAB_GUESTS) LAB_SECONDS=$(LAB_SECONDS) \
	  BOURSE=$(BUILD)/bourse sh contrib/lab/run.sh

lab-down:
	LAB_DIR=$(LAB_DIR) sh contrib/lab/hosts.sh down
