# bourse: the two commands are `make demo` and `make test` (see README.md).
# This file only wraps CMake; the build itself is CMakeLists.txt.

BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
TRACES     ?= ../shared/traces/bitbrains-rnd/2013-7
DEMO_HOSTS ?= 8

.PHONY: all deps build test demo clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOURSE_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The test build runs under AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBOURSE_SANITIZE=ON >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	ctest --test-dir $(TEST_BUILD) --output-on-failure -j $(JOBS)

# The main job: the simulator on the shipped traces, every policy side by side.
# Without ../shared/traces it falls back to the small trace embedded in tests/data.
demo: build
	@if [ -d "$(TRACES)" ]; then trace="$(TRACES)"; else \
	  echo "note: $(TRACES) not found, using the embedded trace tests/data/bitbrains-mini"; \
	  trace=tests/data/bitbrains-mini; fi; \
	echo "+ $(BUILD)/bourse sim --trace $$trace --hosts $(DEMO_HOSTS)"; \
	$(BUILD)/bourse sim --trace "$$trace" --hosts $(DEMO_HOSTS)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
