# Porcelain over cmake and ctest. The two commands that matter:
#   make run    install what is missing, build, start the agent on :9560
#   make test   install what is missing, build, run every test (privileged ones need root + BTF)
BUILD_DIR   ?= build
BUILD_TYPE  ?= RelWithDebInfo
BPF         ?= ON
JOBS        ?= $(shell nproc)
ARGS        ?=
CTEST_ARGS  ?=

.PHONY: all deps test-deps build compile run test unit-test privileged-test e2e-test check format clean

all: build

# What building and running need; test-deps adds the test tools (promtool, Docker, busybox).
deps:
	@./scripts/install-deps.sh --build-only

test-deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPODSTAT_BPF=$(BPF)

compile: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

build: deps
	@$(MAKE) --no-print-directory compile

run: build
	$(BUILD_DIR)/podstat $(ARGS)

check: build
	$(BUILD_DIR)/podstat --check

# ctest runs everything and prints the summary line CI reads. Privileged tests skip themselves,
# loudly, without root or kernel BTF; the banner below says so up front.
test: test-deps
	@$(MAKE) --no-print-directory compile
	@if [ "$$(id -u)" != 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then \
	  echo "############################################################################"; \
	  echo "# WARNING: not root or no kernel BTF: privileged BPF tests will be SKIPPED  #"; \
	  echo "############################################################################"; \
	fi
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

privileged-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L privileged $(CTEST_ARGS)

# Real dockerd containers (started by the tests if none runs, stopped only if they started it).
e2e-test: test-deps
	@$(MAKE) --no-print-directory compile
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e $(CTEST_ARGS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h' '*.c' | grep -v '^vmlinux/')

clean:
	rm -rf $(BUILD_DIR)
