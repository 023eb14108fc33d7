#!/usr/bin/env bash
# Installs the Debian packages ionsim needs, and nothing else. Safe to run any number of times:
# packages already present are skipped, and apt is not touched at all when nothing is missing.
# Works as root, or as a user with sudo.
set -euo pipefail

PACKAGES=(
  # Build: Bazel 4.2.3 and the rule sets it resolves offline (third_party/README.md).
  bazel-bootstrap
  bazel-platforms
  bazel-rules-java
  # Toolchains: gcc for the default config, clang-14 for clang/fuzz configs and the sanitizers' runtimes.
  g++
  clang-14
  libclang-rt-14-dev
  # Libraries wrapped in third_party/.
  libabsl-dev
  libbenchmark-dev
  libgmock-dev
  libgtest-dev
  # The kernel module in QEMU (tools/qemu/ionsim-qemu): kbuild headers for Debian's kernel ABI (the kernel
  # itself is fetched with apt-get download, never installed), the emulator, the guest's busybox, initramfs
  # packing, the vmlinuz decompression, and make for kbuild.
  linux-headers-amd64
  qemu-system-x86
  busybox-static
  cpio
  xz-utils
  make
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
