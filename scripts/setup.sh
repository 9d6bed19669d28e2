#!/usr/bin/env bash
# Set up everything the toolkit needs on a fresh Debian 12 machine: clang-14, llvm-14, OpenCL headers (apt),
# and a virtual environment .venv with the package and its Python dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v clang-14 >/dev/null 2>&1 || packages+=(clang-14)
command -v llvm-as-14 >/dev/null 2>&1 || packages+=(llvm-14)
[ -e /usr/include/CL/cl.h ] || packages+=(opencl-headers)  # host code of the OpenCL suites
compgen -G "/usr/lib/llvm-14/lib/clang/*/include/omp.h" >/dev/null || packages+=(libomp-14-dev)  # OpenMP suites
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || packages+=(python3-venv)
if ((${#packages[@]})); then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${packages[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat setup.py pyproject.toml | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[tf,mpi,test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
