#!/usr/bin/env bash
# Regenerates vmlinux/x86/vmlinux.h from the running kernel's BTF. CO-RE makes one header good for
# every kernel (field offsets are relocated at load time), so this is run rarely: when a program
# needs a type or field the committed header lacks. Say in vmlinux/README.md which kernel it came from.
set -euo pipefail
out="$(dirname "$0")/../vmlinux/x86/vmlinux.h"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $(uname -r)"
