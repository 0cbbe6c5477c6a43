#!/usr/bin/env bash
# Install everything (kindcast, test extras, Debian test tools) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
