"""The bundled data sets and their loaders, offline: checksums, shapes, clear errors."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import numpy as np
import pytest

from dlcourse import data as D
from dlcourse.instructor import make_data

LOADERS = {"mnist": D.load_mnist, "fashion_mnist": D.load_fashion_mnist}
SIZES = {"mnist": (600, 100), "fashion_mnist": (1200, 200)}  # per class: train, test


def test_bundled_checksums_verify():
    ok = D.verify_bundled()
    assert set(ok) == set(D.BUNDLED_SHA256), f"bundled files missing from data/: {ok}"
    assert all(ok.values()), f"checksum mismatch: {ok}; run `make data --check`"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_shapes_dtypes_stratification(name):
    (X_train, y_train), (X_test, y_test) = LOADERS[name]()
    per_train, per_test = SIZES[name]
    assert X_train.shape == (10 * per_train, 28, 28) and X_train.dtype == np.uint8
    assert X_test.shape == (10 * per_test, 28, 28) and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert y_train.shape == (10 * per_train,) and y_test.shape == (10 * per_test,)
    assert np.array_equal(np.bincount(y_train, minlength=10), np.full(10, per_train))
    assert np.array_equal(np.bincount(y_test, minlength=10), np.full(10, per_test))
    assert X_train.max() == 255 and X_train.min() == 0
    # shuffled, not sorted by class
    assert (np.diff(y_train) != 0).mean() > 0.5
    with np.load(D.data_dir() / f"{name}.npz") as npz:  # provenance indices are distinct
        assert len(np.unique(npz["train_index"])) == len(npz["train_index"])
        assert len(np.unique(npz["test_index"])) == len(npz["test_index"])


def test_class_names():
    assert len(D.FASHION_CLASSES) == 10 and D.FASHION_CLASSES[9] == "Ankle boot"
    assert D.MNIST_CLASSES == tuple("0123456789")


def _copy_bundle(tmp_path):
    for name in D.BUNDLED_SHA256:
        shutil.copy(D.data_dir() / name, tmp_path / name)


def test_corrupt_file_gives_clear_error(tmp_path, monkeypatch):
    _copy_bundle(tmp_path)
    path = tmp_path / "mnist.npz"
    path.write_bytes(path.read_bytes()[:5000])  # truncated
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    with pytest.raises(D.DataError, match=r"corrupt.*sha256.*make data"):
        D.load_mnist()
    D.load_fashion_mnist()  # the other file is untouched


def test_unreadable_npz_gives_clear_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(D.DataError, match="cannot be read as a .npz"):
        D._read_split_npz(bad)
    make_data.write_npz(bad, {"x_train": np.zeros(3)})
    with pytest.raises(D.DataError, match="lacks the arrays"):
        D._read_split_npz(bad)


def test_missing_file_offline_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))  # empty folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCOURSE_DATA_URL", "http://127.0.0.1:9/data")  # nothing listens
    with pytest.raises(D.DataError, match=r"mnist.npz is missing and downloading it from"):
        D.load_mnist()
    with pytest.raises(D.DataError, match="run `make data`"):
        D.bundled_path("mnist.npz", download=False)


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on localhost serving tmp_path/served (no internet needed)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_colab_path_downloads_with_known_hash(tmp_path, monkeypatch, local_server):
    served, url = local_server
    shutil.copy(D.data_dir() / "mnist.npz", served / "mnist.npz")
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCOURSE_DATA_URL", url)
    (X_train, _), _ = D.load_mnist()
    assert X_train.shape == (6000, 28, 28)
    assert (tmp_path / "cache" / "dlcourse" / "data" / "mnist.npz").is_file()
    # a tampered download is refused
    (tmp_path / "cache" / "dlcourse" / "data" / "mnist.npz").unlink()
    (served / "mnist.npz").write_bytes(b"tampered")
    with pytest.raises(D.DataError, match="does not match its known sha256"):
        D.load_mnist()


def test_url_from_settings_and_fallback(monkeypatch):
    monkeypatch.delenv("DLCOURSE_DATA_URL", raising=False)
    url = D.bundled_url("mnist.npz")
    assert url.startswith("https://raw.githubusercontent.com/") and url.endswith("/data/mnist.npz")

    def no_config(*args, **kwargs):
        raise FileNotFoundError("no grader_config.py")

    monkeypatch.setattr("dlcourse.config.load_settings", no_config)
    assert D.bundled_url("mnist.npz") == (
        f"https://raw.githubusercontent.com/{D.DEFAULT_STUDENT_REPO}/"
        f"{D.DEFAULT_STUDENT_BRANCH}/data/mnist.npz")


def test_default_repo_matches_grader_config():
    from dlcourse.config import load_settings

    settings = load_settings()
    assert (settings.student_repo, settings.student_branch) == (
        D.DEFAULT_STUDENT_REPO, D.DEFAULT_STUDENT_BRANCH), \
        "update DEFAULT_STUDENT_REPO/BRANCH in dlcourse/data.py to match grader_config.py"


def test_read_idx_rejects_bad_files(tmp_path):
    good = tmp_path / "x-idx1-ubyte"
    good.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    assert D.read_idx(good).tolist() == [7, 8, 9]
    good.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 7, 8, 9]))
    with pytest.raises(D.DataError, match="truncated"):
        D.read_idx(good)
    good.write_bytes(b"\x1f\x8bnot really")
    with pytest.raises(D.DataError, match="not an IDX"):
        D.read_idx(good)


def test_full_without_sources_offline_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(D, "raw_dir", lambda dataset: None)
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(D.DataError, match="full mnist is not available.*needs internet"):
        D.load_mnist(full=True)


def test_npz_writer_and_sampling_are_deterministic(tmp_path):
    arrays = {"a": np.arange(1000, dtype=np.uint8), "b": np.eye(3)}
    one = make_data.write_npz(tmp_path / "one.npz", arrays)
    two = make_data.write_npz(tmp_path / "two.npz", arrays)
    assert D.sha256_file(one) == D.sha256_file(two)
    y = np.repeat(np.arange(4), 50)
    idx = make_data.stratified_indices(y, 10, seed=3)
    assert np.array_equal(idx, make_data.stratified_indices(y, 10, seed=3))
    assert len(set(idx)) == 40 and np.array_equal(np.bincount(y[idx]), [10] * 4)


def test_builders_registered():
    assert {"mnist", "fashion_mnist"} <= set(make_data.BUILDERS)
    for builder in make_data.BUILDERS.values():
        assert builder.file in D.BUNDLED_SHA256


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_rebuild_matches_recorded_hash(name, tmp_path):
    if D.raw_dir(name) is None:
        pytest.skip(f"original {name} files not installed ({D.RAW_SOURCES[name]['how']})")
    path = make_data.BUILDERS[name].build(tmp_path)
    assert D.sha256_file(path) == D.BUNDLED_SHA256[path.name]
    (X_full, y_full), _ = D.load_raw(name)
    with np.load(path) as npz:  # the subset is really drawn from the original files
        assert np.array_equal(X_full[npz["train_index"]], npz["x_train"])
        assert np.array_equal(y_full[npz["train_index"]], npz["y_train"])


def test_lung_images_are_the_same_in_every_folder_and_only_that_set(tmp_path):
    """write_lung_dataset encodes a data set once per process: a second folder gets the same
    bytes, another seed or size other images, and a folder's stale images are replaced."""
    from dlcourse.lung import write_lung_dataset

    def files(folder):
        return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}

    first = files(write_lung_dataset(tmp_path / "a" / "train", n_per_class=6, seed=3, size=32))
    assert len(first) == 12 and sum(name.endswith("_pos.png") for name in first) == 6
    assert files(write_lung_dataset(tmp_path / "b" / "train", n_per_class=6, seed=3, size=32)) == first
    other = files(write_lung_dataset(tmp_path / "a" / "train", n_per_class=6, seed=4, size=32))
    assert len(other) == 12 and other != first, "another seed draws other images into the same folder"
    smaller = files(write_lung_dataset(tmp_path / "a" / "train", n_per_class=5, seed=3, size=32))
    assert len(smaller) == 10, "a smaller set leaves none of the old images behind"
    from PIL import Image

    with Image.open(tmp_path / "b" / "train" / next(iter(first))) as im:
        assert im.size == (32, 32)


def test_lung_images_drawn_once_are_handed_out_as_copies():
    """A caller that scribbles on its images changes nobody else's (the draws are kept per process)."""
    from dlcourse.lung import _drawn_images, make_lung_images

    images, labels = make_lung_images(3, seed=5, size=24)
    reference = images.copy()
    images[:] = 0
    labels[:] = 7
    again, labels_again = make_lung_images(3, seed=5, size=24)
    assert np.array_equal(again, reference) and set(labels_again.tolist()) == {0, 1}
    _drawn_images.cache_clear()
    fresh, fresh_labels = make_lung_images(3, seed=5, size=24)
    assert np.array_equal(fresh, reference) and np.array_equal(fresh_labels, labels_again)


def test_iris_matches_scikit_learn_without_importing_it():
    from sklearn.datasets import load_iris

    X, y, names = D._iris()
    iris = load_iris()
    np.testing.assert_array_equal(X, iris.data)
    np.testing.assert_array_equal(y, iris.target)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert names == list(iris.target_names)


@pytest.mark.parametrize("counts", [(50, 50, 50), (7, 3, 11, 2), (5, 5, 5, 5, 1 + 1), (40, 9)])
@pytest.mark.parametrize("test_size", [0.25, 0.3, 0.5, 0.1, 7])
def test_stratified_split_is_scikit_learns_split(counts, test_size):
    """Same rows in the same order as `train_test_split(..., stratify=y)`, for many seeds; uneven
    class counts make the ties that its random tie-break decides."""
    from sklearn.model_selection import train_test_split

    y = np.repeat(np.arange(len(counts)), counts)
    y = np.random.default_rng(len(counts)).permutation(y) * 3 + 1   # labels need not be 0..k-1
    X = np.arange(len(y) * 2, dtype=np.float64).reshape(len(y), 2)
    for seed in range(25):
        try:
            theirs = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
        except ValueError:   # fewer test rows than classes: ours refuses too
            with pytest.raises(ValueError, match="at least one row per class"):
                D.stratified_split(X, y, test_size=test_size, seed=seed)
            continue
        ours = D.stratified_split(X, y, test_size=test_size, seed=seed)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_stratified_split_rejects_what_cannot_be_split():
    y = np.array([0, 0, 1, 1, 1, 2])
    X = np.zeros((6, 1))
    with pytest.raises(ValueError, match="at least 2 rows"):
        D.stratified_split(X, y, test_size=0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        D.stratified_split(X[:5], y[:5], test_size=1.5)
    with pytest.raises(ValueError, match="rows but y has"):
        D.stratified_split(X[:4], y[:5], test_size=0.5)


def test_dom_casmurro_text():
    """Notebook 06's text: verified, split 180,000 / 20,000, every character in the vocabulary."""
    train, val = D.load_dom_casmurro()
    assert (len(train), len(val)) == (180_000, D.DOM_CASMURRO_VAL_CHARS)
    assert set(train + val) <= set(D.DOM_CASMURRO_VOCAB) and len(D.DOM_CASMURRO_VOCAB) == 50
    assert train.startswith("uma noite destas, vindo da cidade para o engenho novo")
