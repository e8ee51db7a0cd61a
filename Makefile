# Porcelain over cmake and ctest. The two commands that matter:
#   make run    install what is missing, build, start the agent on :9560
#   make test   install what is missing, build, run every test (privileged ones need root + BTF)
# and for CI, `make sanitize`: the unit tests under ASan + UBSan in build-asan/ (see below).
BUILD_DIR   ?= build
BUILD_TYPE  ?= RelWithDebInfo
BPF         ?= ON
JOBS        ?= $(shell nproc)
ARGS        ?=
CTEST_ARGS  ?=

.PHONY: all deps test-deps matrix-deps build compile run test unit-test privileged-test e2e-test check \
        format clean fuzz bench bench-remote-write bench-exposition matrix matrix-ci sanitize \
        test-sanitize image deploy-rules

all: build

# What building and running need; test-deps adds the test tools (promtool, Docker, busybox).
deps:
	@./scripts/install-deps.sh --build-only

test-deps:
	@./scripts/install-deps.sh

matrix-deps:
	@./scripts/install-deps.sh --matrix

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

# The container image (deploy/README.md): a Release build with reproducible paths in its own tree,
# then scripts/image/build.sh writes $(IMAGE_BUILD_DIR)/image/podstat-image.tar (OCI layout plus
# Docker's manifest.json) from this machine's Debian packages, no registry, and loads it into the
# local Docker as podstat:<version> and podstat:latest (starting a dockerd if none answers).
IMAGE_BUILD_DIR ?= build-image
image: test-deps
	cmake -S . -B $(IMAGE_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DPODSTAT_BPF=ON \
	  -DPODSTAT_REPRODUCIBLE_PATHS=ON
	cmake --build $(IMAGE_BUILD_DIR) -j $(JOBS) --target podstat
	scripts/docker-test-env.sh daemon
	scripts/image/build.sh $(IMAGE_BUILD_DIR)/podstat $(IMAGE_BUILD_DIR)/image

# deploy/kubernetes/prometheusrule.yaml from the plain rules file deploy/prometheus/podstat-rules.yml
# (tests/deploy/validate.js fails when they differ).
deploy-rules:
	scripts/gen-prometheusrule.sh

# The kernel matrix (DESIGN.md section 7): Debian kernels (5.10, 6.1, 6.12 and sid's newest, from the
# mirror in this machine's apt sources, cached in MATRIX_CACHE) booted under qemu in pure cgroup v2
# and hybrid mode, plus one guest without kernel BTF; each runs podstat --check, every privileged
# test and one agent scrape. One row per kernel x mode; docs/kernels.md is regenerated from the run.
# MATRIX_ROWS picks rows (e.g. "5.10:v2 newest:hybrid"), MATRIX_TESTS a gtest filter.
MATRIX_DIR   ?= build-matrix
MATRIX_CACHE ?= $(HOME)/.cache/podstat-matrix
MATRIX_ROWS  ?=
MATRIX_TESTS ?= *
matrix: matrix-deps
	@$(MAKE) --no-print-directory compile
	TEST_FILTER='$(MATRIX_TESTS)' $(if $(MATRIX_ROWS),,DOCS=docs/kernels.md) \
	  scripts/matrix/run.sh $(BUILD_DIR) . $(MATRIX_DIR) $(MATRIX_CACHE) $(MATRIX_ROWS)

# The CI slice: the oldest and the newest kernel, pure cgroup v2.
matrix-ci:
	@$(MAKE) --no-print-directory matrix MATRIX_ROWS='5.10:v2 newest:v2'

# remote_write throughput on one core against DESIGN.md section 8 (decode+ingest >= 1 M samples/s,
# encode >= 2 M samples/s), built with Release flags in a tree of its own.
BENCH_BUILD_DIR ?= build-bench
bench-remote-write: deps
	cmake -S . -B $(BENCH_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DPODSTAT_BPF=OFF
	cmake --build $(BENCH_BUILD_DIR) -j $(JOBS) --target podstat_bench_remote_write
	$(BENCH_BUILD_DIR)/bench/podstat_bench_remote_write

# The scale benchmark (issue 14): N pseudo-containers, each a cgroup in the kubelet's cgroupfs
# layout (kubepods/burstable/pod<uid>/<id>, in cgroup v2 and the v1 hierarchies) with one process
# in its own network namespace holding 2 listeners, 4 established pairs and 1 UDP socket. In one
# run: the /proc/<pid>/net scan cAdvisor and the seeds do, as the baseline; then podstat's CPU per
# scrape (snapshot reused, and collecting each time), scrape p50/p99, background CPU over
# BENCH_IDLE_SECONDS at the default interval, RSS, series, bytes plain and gzip, BPF ns per event
# and the programs' share of a core under a pipe ping-pong and a connection churn. Prints figures,
# ratios and OK / ABOVE TARGET; asserts nothing. Release, in a tree of its own; needs root; cleans
# up after itself (also on ^C). BENCH_ARGS passes more flags
# (--load-seconds, --scrapes, --fresh-scrapes, --scan-passes: see bench/scale_bench.cc).
# docs/performance.md records a run.
N                     ?= 300
BENCH_IDLE_SECONDS    ?= 60
BENCH_ARGS            ?=
SCALE_BENCH_BUILD_DIR ?= build-scale-bench
bench: deps
	cmake -S . -B $(SCALE_BENCH_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DPODSTAT_BPF=ON
	cmake --build $(SCALE_BENCH_BUILD_DIR) -j $(JOBS) --target podstat podstat_scale_bench
	$(SCALE_BENCH_BUILD_DIR)/bench/podstat_scale_bench --containers=$(N) \
	  --idle-seconds=$(BENCH_IDLE_SECONDS) $(BENCH_ARGS)

# /metrics CPU per scrape and bytes, old (prometheus-cpp) against the streaming writer and its
# per-snapshot cache, at BENCH_CONTAINERS synthetic containers.
BENCH_CONTAINERS ?= 300 1000
bench-exposition: deps
	cmake -S . -B $(BENCH_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DPODSTAT_BPF=OFF
	cmake --build $(BENCH_BUILD_DIR) -j $(JOBS) --target podstat_bench_exposition
	$(BENCH_BUILD_DIR)/bench/podstat_bench_exposition $(BENCH_CONTAINERS)

# libFuzzer (clang, ASan + UBSan) on the remote_write decoders, FUZZ_SECONDS per target, from a
# seed corpus the encoder writes. Findings (crash-*, leak-*, oom-*, timeout-*) land in
# $(FUZZ_BUILD_DIR)/fuzz/findings/<target>/ (cleared at the next run) and fail the target.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   := fuzz_snappy fuzz_write_request fuzz_receiver fuzz_receiver_small_stack
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODSTAT_BPF=OFF -DPODSTAT_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target $(FUZZ_TARGETS) fuzz_seed_corpus
	@set -e; cd $(FUZZ_BUILD_DIR)/fuzz; \
	for t in $(FUZZ_TARGETS); do \
	  rm -rf corpus/$$t findings/$$t; mkdir -p corpus/$$t findings/$$t; \
	  ./fuzz_seed_corpus $$t corpus/$$t; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  ./$$t corpus/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -malloc_limit_mb=512 -artifact_prefix=findings/$$t/ -print_final_stats=1 2>&1 | \
	    grep -E '^(==|INFO: Seed|Done [0-9]+ runs|stat::peak_rss_mb|SUMMARY|ERROR)' || true; \
	  if ls findings/$$t/* >/dev/null 2>&1; then echo "$$t: findings in $(FUZZ_BUILD_DIR)/fuzz/findings/$$t"; exit 1; fi; \
	done

# The unit tests under ASan + UBSan (PODSTAT_SANITIZE=ON: -fsanitize=address,undefined
# -fno-omit-frame-pointer -fno-sanitize-recover=all, plus libstdc++ assertions), in a tree of its
# own, BPF included. Any finding aborts its test, leaks included, so the target fails: a dangling
# view that a plain build survives by luck does not pass here. Meant for CI next to `make test`.
SANITIZE_BUILD_DIR  ?= build-asan
SANITIZE_BUILD_TYPE ?= Debug
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
$(SANITIZE_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(SANITIZE_BUILD_DIR) -DCMAKE_BUILD_TYPE=$(SANITIZE_BUILD_TYPE) -DPODSTAT_BPF=$(BPF) \
	  -DPODSTAT_SANITIZE=ON
sanitize: deps $(SANITIZE_BUILD_DIR)/CMakeCache.txt
	cmake --build $(SANITIZE_BUILD_DIR) -j $(JOBS) --target podstat_unit_tests
	cd $(SANITIZE_BUILD_DIR) && $(SANITIZE_ENV) ctest --output-on-failure -L unit $(CTEST_ARGS)

# The unit and the privileged suites under ASan + UBSan: the privileged tests then run the
# sanitized podstat binary too, so its BPF loading, sock_diag rounds and HTTP paths are checked.
# Needs root + BTF for the privileged part (skipped loudly otherwise). CI runs `sanitize`.
test-sanitize: test-deps $(SANITIZE_BUILD_DIR)/CMakeCache.txt
	cmake --build $(SANITIZE_BUILD_DIR) -j $(JOBS)
	cd $(SANITIZE_BUILD_DIR) && $(SANITIZE_ENV) \
	  ctest --output-on-failure --timeout 600 -L 'unit|privileged' $(CTEST_ARGS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h' '*.c' | grep -v '^vmlinux/')

clean:
	rm -rf $(BUILD_DIR)
