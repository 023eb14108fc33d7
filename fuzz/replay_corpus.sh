#!/bin/sh
# Runs a fuzz harness (first argument) over committed inputs (the rest): every seed and reproducer must pass.
set -eu
harness="$1"
shift
exec "$harness" "$@"
