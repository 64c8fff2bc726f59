"""Real time series bundled with the course (notebook 06_rnn_lstm).

`load_sunspots()` reads `data/sunspots.csv`: the yearly mean sunspot numbers 1700-2008
(309 values) of the National Geophysical Data Center (NOAA), public domain, as shipped
by statsmodels (`statsmodels.datasets.sunspots`); provenance in `data/README.md`.
The file is checked against its sha256 below. When the package is installed without
the repository's `data/` folder (Google Colab), the same file is fetched once from the
student repository and checked against the same hash.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from .data import BUNDLED_SHA256, DataError, data_dir

__all__ = ["SUNSPOTS_FILE", "SUNSPOTS_SHA256", "load_sunspots", "sunspots_path"]

SUNSPOTS_FILE = "sunspots.csv"
SUNSPOTS_SHA256 = BUNDLED_SHA256[SUNSPOTS_FILE]
_FIRST_YEAR, _LAST_YEAR = 1700, 2008


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _download(name: str, digest: str) -> Path:
    """Fetch `name` from the student repository into the user cache, verified."""
    try:
        from .data import bundled_url

        url = bundled_url(name)
    except ImportError:
        url = f"https://raw.githubusercontent.com/dl-course-br/deep-learning-course/main/data/{name}"
    try:
        import pooch
    except ImportError:
        raise DataError(
            f"{data_dir() / name} is missing and pooch (needed to download it) is not "
            "installed: `pip install pooch`, or set DLCOURSE_DATA to a folder holding the file."
        ) from None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dlcourse" / "data"
    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=name,
                                   path=cache, progressbar=False))
    except ValueError as err:  # pooch's hash mismatch
        raise DataError(f"the downloaded {name} from {url} does not match its known sha256 "
                        f"({err}).") from None
    except Exception as err:  # network errors of all kinds
        raise DataError(
            f"{data_dir() / name} is missing and downloading it from {url} failed "
            f"({type(err).__name__}: {err}). Check your internet connection, or set "
            "DLCOURSE_DATA to a folder holding the file."
        ) from None


def sunspots_path(download: bool = True) -> Path:
    """Path of the verified `sunspots.csv` (downloaded when missing and `download`)."""
    local = data_dir() / SUNSPOTS_FILE
    if not local.is_file():
        if not download:
            raise DataError(f"{local} is missing: restore it from git "
                            f"(`git checkout -- data/{SUNSPOTS_FILE}`).")
        return _download(SUNSPOTS_FILE, SUNSPOTS_SHA256)
    got = _sha256(local)
    if got != SUNSPOTS_SHA256:
        raise DataError(
            f"{local} is corrupt or was edited: its sha256 is {got}, expected "
            f"{SUNSPOTS_SHA256}. Restore it from git (`git checkout -- data/{SUNSPOTS_FILE}`)."
        )
    return local


def load_sunspots(as_numpy: bool = False, download: bool = True):
    """Yearly mean sunspot numbers, 1700-2008 (309 values, none missing).

    Returns a float64 pandas Series named "sunspots" whose index is a DatetimeIndex of
    the years (January 1st of each year, named "date"); with `as_numpy=True`, the
    tuple `(years, values)` of int64 and float64 arrays instead.
    """
    import pandas as pd

    path = sunspots_path(download=download)
    try:
        frame = pd.read_csv(io.BytesIO(path.read_bytes()))
    except Exception as err:  # unreadable despite the right hash: should not happen
        raise DataError(f"{path} cannot be read as CSV ({type(err).__name__}: {err}).") from None
    if list(frame.columns) != ["year", "sunspots"] or len(frame) != _LAST_YEAR - _FIRST_YEAR + 1:
        raise DataError(f"{path} does not hold the columns year,sunspots for "
                        f"{_FIRST_YEAR}-{_LAST_YEAR}.")
    years = frame["year"].to_numpy(dtype=np.int64)
    values = frame["sunspots"].to_numpy(dtype=np.float64)
    if as_numpy:
        return years, values
    index = pd.DatetimeIndex(pd.to_datetime(years.astype(str), format="%Y"), name="date")
    return pd.Series(values, index=index, name="sunspots")


STATSMODELS_VERSION = "0.15.0"  # any version since 0.5 ships the same yearly file


def write_sunspots_csv(out_dir, statsmodels_csv=None) -> Path:
    """Rebuild `sunspots.csv` in `out_dir` from statsmodels' copy of the NOAA yearly series.

    `statsmodels_csv` is the path of `statsmodels/datasets/sunspots/sunspots.csv`; by default
    it is read from an importable statsmodels, else from its wheel fetched with
    `pip download statsmodels==0.15.0 --no-deps` into a temporary folder (nothing is
    installed). The result must have the sha256 `SUNSPOTS_SHA256`.
    """
    import subprocess
    import sys
    import tempfile
    import zipfile

    member = "statsmodels/datasets/sunspots/sunspots.csv"
    if statsmodels_csv is not None:
        raw = Path(statsmodels_csv).read_bytes()
    else:
        try:
            import statsmodels

            raw = (Path(statsmodels.__file__).parent / member.split("/", 1)[1]).read_bytes()
        except ImportError:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                "--only-binary=:all:", f"statsmodels=={STATSMODELS_VERSION}",
                                "-d", tmp], check=True)
                wheel = next(Path(tmp).glob("statsmodels-*.whl"))
                with zipfile.ZipFile(wheel) as zf:
                    raw = zf.read(member)
    lines = raw.decode("ascii").split()
    if lines[0].replace('"', "") != "YEAR,SUNACTIVITY":
        raise DataError(f"unexpected header in statsmodels' sunspots.csv: {lines[0]!r}")
    rows = ["year,sunspots"]
    for line in lines[1:]:
        year, value = line.split(",")
        rows.append(f"{int(year)},{float(value):g}")
    out = Path(out_dir) / SUNSPOTS_FILE
    out.write_text("\n".join(rows) + "\n", encoding="ascii")
    return out
