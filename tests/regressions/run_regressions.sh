#!/bin/sh
# Runs the regression replayer (first argument) over the regression traces (the rest).
set -eu
exec "$@"
