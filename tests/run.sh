#!/usr/bin/env bash
# README's test command: install what the tests need where it is missing (Debian's Fashion-MNIST, Chromium and its
# driver for the page checks, Graphviz for the model picture; the Python packages), then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v dot >/dev/null || missing+=(graphviz)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "tests/run.sh: not root, so not installing ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
  fi
fi

python -m pip install -q -r requirements.txt -r requirements-optional.txt
python -m pytest -q -n 2 tests "$@"
