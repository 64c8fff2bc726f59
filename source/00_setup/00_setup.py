# %% [markdown] id=markdown-1
# # 00 · Setting up
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# This notebook is not graded. It checks that everything the course needs is in place:
# the libraries and their versions, whether TensorFlow and PyTorch see a GPU, where the
# course data lives, and how to check and submit your work. It ends with a short numpy
# primer (axes, `keepdims`, broadcasting) that the first graded notebook relies on.
#
# **Goals**
# 1. Run a notebook of the course from top to bottom (in JupyterLab or Google Colab).
# 2. Read the device report: CPU only, or which GPU; see what a GPU changes for a matrix product.
# 3. Know where the data comes from, how to run the tests, and how to submit.
# 4. Predict the shape of a numpy result before you run it.

# %% setup id=setup-1
# Set-up: in Colab this installs the course package; elsewhere it does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{{COURSE_PIP}}"], check=True)

# %% setup id=setup-2
import dlcourse.env  # noqa: F401  (quiets TensorFlow before it loads)
from dlcourse.env import device_report, in_colab, seed_everything

seed_everything(0)

# %% [markdown] id=markdown-2
# ## 1 · Devices
#
# Each framework reports what it sees. On a laptop or on this course's servers you will see
# "CPU only"; in Colab with *Runtime > Change runtime type > T4 GPU* you will see the GPU's
# name and its **compute capability** (7.5 for a Tesla T4). Every notebook of the course runs
# on the CPU; a GPU only makes training faster.

# %% id=code-1
report = device_report(("numpy", "torch", "tensorflow", "keras"))

# %% [markdown] id=markdown-3
# PyTorch code in this course takes a `device` argument, and `torch_device()` picks the GPU
# when there is one. The same tensor code runs on both:

# %% id=code-2
import torch

from dlcourse.env import torch_device

device = torch_device()
x = torch.ones(2, 3, device=device)
print(f"a tensor on {x.device}: sum = {x.sum().item():g}")

# %% [markdown] id=markdown-4
# ### CPU against GPU
#
# A neural network spends most of its time multiplying matrices, and a GPU does thousands
# of multiply-adds at once. The cell below times the same product of two `n x n` matrices on
# the CPU and, when there is one, on the GPU. Two details make the timing fair: the first
# product on a device is a warm-up (it loads libraries and allocates memory), and GPU calls
# return before the work is done, so we wait for it (`torch.cuda.synchronize()`) before
# reading the clock.
#
# **Expected:** on a Colab T4 the GPU is tens of times faster for `n = 2048`; without a GPU
# the cell says so and times the CPU only.

# %% id=code-3
import time


def time_matmul(device, n=2048, repeats=5):
    """Seconds for one (n, n) @ (n, n) product in float32 on `device`, best of `repeats`."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    (a @ b).sum().item()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        c = a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    del c
    return best


n = 2048
flops = 2 * n**3  # n*n results, each n multiplications and n additions
cpu_s = time_matmul(torch.device("cpu"), n)
print(f"CPU: {1000 * cpu_s:8.1f} ms  ({flops / cpu_s / 1e9:7.1f} GFLOP/s)")
if torch.cuda.is_available():
    gpu_s = time_matmul(torch.device("cuda"), n)
    print(f"GPU: {1000 * gpu_s:8.1f} ms  ({flops / gpu_s / 1e9:7.1f} GFLOP/s), "
          f"{cpu_s / gpu_s:.0f} times faster on {torch.cuda.get_device_name(0)}")
else:
    print("GPU: none found (CPU only). In Colab: Runtime > Change runtime type > T4 GPU, then run again.")

# %% [markdown] id=markdown-5
# ## 2 · Where the data lives
#
# The notebooks use small real data sets (subsets of MNIST and Fashion-MNIST, a sunspot
# series); `data/README.md` says where each file comes from and under which licence. Iris
# ships with scikit-learn, and the lung CT patches of the capstone are drawn by the course
# package itself, so neither is a file to fetch.
#
# - **In a copy of the course repository** (JupyterLab, `make lab`) the files are in its
#   `data/` folder: every notebook works offline.
# - **In Colab** only the notebook is opened, and the course package that the set-up cell
#   installs has no `data/` folder. A notebook downloads each file it reads from the student
#   repository the first time it loads it, checks it against its known checksum (sha256), and
#   keeps it in a cache folder (`~/.cache/dlcourse/data`). Each Colab notebook runs on its own
#   machine, which is wiped when the session ends: every notebook fetches its own files, again
#   in each new session.
#
# To see it happen, the cell below loads the sunspot series of notebook 06 (3 kB): here it is
# read from `data/`; in Colab it is downloaded now.

# %% id=code-load-sunspots
from dlcourse.series import load_sunspots

sunspots = load_sunspots()
print(f"{len(sunspots)} yearly sunspot numbers, {sunspots.index[0].year}-{sunspots.index[-1].year}")

# %% [markdown] id=markdown-list-data
# The next cell lists each data file of the course and where it is on this machine, without
# downloading anything: in a copy of the repository, all of them in the data folder; in
# Colab, the sunspots in the download cache and the others "not fetched yet". Copy it into
# any notebook to see what that notebook has fetched.

# %% id=code-4
from dlcourse.data import data_dir, data_files, download_dir

print(f"course data folder: {data_dir()}{'' if data_dir().is_dir() else '  (absent here)'}")
print(f"download cache:     {download_dir()}{'' if download_dir().is_dir() else '  (empty so far)'}")
for row in data_files():
    size = f"{row['mb']:7.3f} MB" if row["path"] else " " * 10
    print(f"  {row['name']:<20} {size}  {row['where']}")

# %% [markdown] id=markdown-6
# ## 3 · Exercises, tests and submitting
#
# - Each exercise is one cell that says `# YOUR CODE HERE`: replace
#   `raise NotImplementedError()` with your code and keep the function's name and arguments.
# - The cell after it runs **visible tests**. A failing test tells you what it checked,
#   what it expected, what it got and, often, the likely cause.
# - Some cells are short **questions**: set a variable to one letter (`q_topic = "b"`) or a
#   number. They are graded like exercises, and a wrong answer gets an explanation.
# - More tests are **hidden**: they run when your notebook is graded, on other inputs.
#   Passing the visible tests is necessary, not sufficient.
# - Before submitting, restart the kernel and run all cells (*Kernel > Restart Kernel and
#   Run All Cells*, in Colab *Runtime > Restart session and run all*), then run
#   `dlcourse validate NOTEBOOK.ipynb`: it runs the notebook in a fresh kernel and exits with
#   an error when a test fails. In JupyterLab, type it in a terminal; in Colab, use the cell
#   below.
# - Submit the `.ipynb` file with its original name (for example `01_softmax_cross_entropy.ipynb`).
#
# ### The Colab journey, step by step
#
# 1. **Open** the notebook with the "Open in Colab" badge at its top.
# 2. **Save a copy to your Google Drive**: *File > Save a copy in Drive*. Colab opens the copy,
#    named `Copy of <notebook>.ipynb`, from the folder `My Drive/Colab Notebooks/`; rename it to
#    its original name (click the name at the top left). Work in that copy: what you change in
#    the notebook opened from the badge is saved nowhere, and is lost when you close the tab.
# 3. **Work and save**: *File > Save* (Ctrl+S) writes your copy to Drive. The files your code
#    writes (`/content/...`, data, models) are not saved: they disappear with the session.
# 4. **Check it**: save, then run the cell below with `NOTEBOOK_TO_CHECK` set to your copy's
#    path. It connects Google Drive to the session (Colab asks for your permission), copies the
#    notebook to a scratch folder and runs `dlcourse validate` on it.
# 5. **Download it**: *File > Download > Download .ipynb* saves the notebook file on your
#    computer. Upload that file to the course's page in the learning platform (Moodle, Canvas
#    or Google Classroom), with its original name.

# %% id=code-5
# Run `dlcourse validate` on a notebook, in Colab or locally. In Colab, save the notebook
# to Drive first (File > Save a copy in Drive, then File > Save) and set its path, e.g.
#   NOTEBOOK_TO_CHECK = "/content/drive/MyDrive/Colab Notebooks/01_softmax_cross_entropy.ipynb"
# Locally, the path of a notebook of release/. Empty: nothing is run.
NOTEBOOK_TO_CHECK = ""

if NOTEBOOK_TO_CHECK:
    import shutil
    from pathlib import Path

    if in_colab() and NOTEBOOK_TO_CHECK.startswith("/content/drive/"):
        from google.colab import drive

        drive.mount("/content/drive")  # asks for your permission the first time
    notebook = Path(NOTEBOOK_TO_CHECK)
    scratch = Path("validate_scratch")  # the notebook runs here, so its files stay out of Drive
    scratch.mkdir(exist_ok=True)
    shutil.copyfile(notebook, scratch / notebook.name)
    run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "validate", str(scratch / notebook.name)])
    print("every visible test passes" if run.returncode == 0 else "some tests fail: read the lines above")
else:
    print("Set NOTEBOOK_TO_CHECK to a notebook's path and run this cell again to validate it.")

# %% [markdown] id=markdown-7
# ## 4 · A numpy primer: axes, `keepdims` and broadcasting
#
# The notebooks store a **batch** of samples as one array whose first axis is the sample:
# scores for 4 samples and 3 classes have shape `(4, 3)`, one row per sample. Three ideas do
# most of the work.
#
# **Axes.** A reduction such as `sum`, `mean` or `max` along `axis=k` removes axis `k`:
# `axis=0` combines the rows (one result per column), `axis=1` (or `axis=-1`, the last axis)
# combines the columns (one result per row).

# %% id=code-6
import numpy as np

Z = np.array([[1.0, 2.0, 3.0],
              [4.0, 5.0, 6.0],
              [0.0, 0.0, 9.0],
              [2.0, 2.0, 2.0]])  # 4 samples, 3 classes
print("Z.shape           ", Z.shape)
print("Z.sum(axis=0)     ", Z.sum(axis=0), "  shape", Z.sum(axis=0).shape, " one per class")
print("Z.sum(axis=1)     ", Z.sum(axis=1), "  shape", Z.sum(axis=1).shape, " one per sample")
print("Z.max(axis=-1)    ", Z.max(axis=-1), " (axis=-1 is the last axis, here axis 1)")
print("Z.argmax(axis=1)  ", Z.argmax(axis=1), "       the winning class of each sample")

# %% [markdown] id=markdown-8
# **`keepdims=True`** keeps the reduced axis with length 1: `(4, 3)` summed over `axis=1`
# gives `(4, 1)` instead of `(4,)`. That is the shape you need to combine the result with the
# original array again, row by row.
#
# **Broadcasting.** An arithmetic operation between arrays of different shapes compares the
# shapes **from the right**; two lengths match when they are equal or one of them is 1, and
# an axis of length 1 is repeated to fit. So `(4, 3) / (4, 1)` divides each row by its own
# number, and `(4, 3) - (3,)` subtracts the same row from every row.

# %% id=code-7
row_sums = Z.sum(axis=1, keepdims=True)
print("row sums, keepdims:", row_sums.shape)
P = Z / row_sums  # (4, 3) / (4, 1): each row divided by its own sum
print("each row now sums to", P.sum(axis=1))

col_means = Z.mean(axis=0)  # (3,)
centred = Z - col_means  # (4, 3) - (3,): the same row subtracted from every row
print("column means after centring:", centred.mean(axis=0))

# %% [markdown] id=markdown-9
# Without `keepdims` the shapes line up the wrong way. With 4 samples and 3 classes numpy
# refuses (`(4, 3)` against `(4,)`: 3 and 4 do not match). With a **square** batch (3 samples
# and 3 classes) it does not refuse: it silently divides **columns** by the row sums, which is
# the bug that no error message will show you.

# %% id=code-8
try:
    Z / Z.sum(axis=1)  # (4, 3) / (4,)
except ValueError as err:
    print("ValueError:", err)

S = Z[:3]  # 3 samples, 3 classes: square
wrong = S / S.sum(axis=1)  # (3, 3) / (3,): divides column j by the sum of row j
right = S / S.sum(axis=1, keepdims=True)
print("row sums, without keepdims:", wrong.sum(axis=1).round(3), " (not all 1)")
print("row sums, with keepdims:   ", right.sum(axis=1).round(3))

# %% [markdown] id=markdown-10
# ### Try it (not graded)
#
# Predict each answer on paper first, then check it in the cell below.
#
# 1. `X = np.ones((32, 50, 2))` is a batch of 32 sequences of 50 time steps with 2 features
#    (the shape a recurrent layer reads). What are the shapes of `X.mean(axis=1)` and of
#    `X.mean(axis=1, keepdims=True)`? Which axis would you average over to get one mean per
#    feature over the whole batch and all time steps?
# 2. Subtract each row's maximum from `Z` so that the largest entry of every row is 0 (the
#    first step of a numerically stable softmax in notebook 01). Check that
#    `(Z - ...).max(axis=1)` is all zeros.
# 3. `y = np.array([2, 0, 1, 2])` holds the true class of each sample of `Z`. Pick each
#    sample's score of its true class with one indexing expression (hint:
#    `np.arange(len(y))`), without a loop.

# %% id=code-9
# Your experiments here (this cell is not graded).

# %% [markdown] id=markdown-11
# ## What you should remember
# - Every notebook runs on a CPU; a GPU only speeds up training, and a matrix product shows
#   by how much.
# - In a copy of the course repository the data is in `data/`; in Colab each notebook
#   downloads the files it reads, checks them, and keeps them in `~/.cache/dlcourse/data`
#   until the session ends.
# - In Colab, work in your own copy in Drive, validate it, download the `.ipynb` and submit it
#   with its original name.
# - Reductions remove the axis you name; `keepdims=True` keeps it with length 1 so the result
#   broadcasts back against the array, row by row. Shapes are compared from the right.

# %% id=code-10
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,torch,tensorflow,keras,dlcourse
