#!/bin/sh
# Run HERE (the CPU machine with network), in the repository root, before the device call:
# fills .carry/ (ignored by git through .git/info/exclude) with what the device machine lacks:
# pure-Python wheels (keras, namex, traitlets, pooch, platformdirs), optree's cp312 wheel
# (keras needs it; compiled, manylinux x86-64) and this machine's bwrap binary. About 3 MiB,
# well within the 64 MiB that travels. The versions are the course's own (.venv's pip list).
set -e
grep -qx '/.carry/' .git/info/exclude 2>/dev/null || \
    echo '/.carry/' >> "$(git rev-parse --git-path info/exclude)"
rm -rf .carry && mkdir -p .carry/whl
pin() { .venv/bin/python -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
for name in keras namex optree traitlets pooch platformdirs; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
        -d .carry/whl "$name==$(pin "$name")"
done
cp "$(command -v bwrap)" .carry/bwrap
du -sh .carry
