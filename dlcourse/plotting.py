"""Plots the notebooks share: loss curves, decision boundaries, image grids, and the drawn figures.

The figures of the lectures (a network with its shapes, a computational graph, the LSTM cell, a
transposed convolution) are drawn here with matplotlib patches, so that they render wherever the
notebook is opened (JupyterLab, Colab, the feedback pages) without any committed image file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle


def plot_losses(losses, title: str = "Training loss", ax=None, label: str | None = None):
    """Loss per epoch."""
    ax = ax or plt.subplots(figsize=(5, 3))[1]
    ax.plot(np.arange(1, len(losses) + 1), losses, label=label)
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    if label:
        ax.legend()
    return ax


def plot_decision_boundary(predict, X, y, ax=None, title: str = "Decision boundary", steps: int = 200):
    """Shade the class `predict(points)` gives over the plane of 2-D inputs `X`."""
    ax = ax or plt.subplots(figsize=(5, 4))[1]
    x0, x1 = X[:, 0], X[:, 1]
    pad0, pad1 = 0.1 * np.ptp(x0) + 0.1, 0.1 * np.ptp(x1) + 0.1
    g0, g1 = np.meshgrid(np.linspace(x0.min() - pad0, x0.max() + pad0, steps),
                         np.linspace(x1.min() - pad1, x1.max() + pad1, steps))
    labels = np.asarray(predict(np.c_[g0.ravel(), g1.ravel()])).reshape(g0.shape)
    ax.contourf(g0, g1, labels, alpha=0.3, cmap="coolwarm")
    ax.scatter(x0, x1, c=y, cmap="coolwarm", edgecolors="k", s=20)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    return ax


def show_images(images, labels=None, class_names=None, rows: int = 4, cols: int = 10,
                cmap: str = "binary", size: float = 1.2, vmin=None, vmax=None, row_labels=None,
                title: str | None = None):
    """A `rows x cols` grid of images with their class names as titles.

    `labels` may be shorter than `images`: only the first images get a title. `vmin` and `vmax`
    fix the grey scale (0 and 1, or -1 and 1), the same for every image; without them each image
    is stretched to its own range. `row_labels` names each row at its left; `title` goes above
    the grid. Images are arrays or CPU tensors, (H, W), (H, W, C) or (1, H, W)."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if row_labels is None:
            ax.axis("off")
        else:  # keep the axes (a y-label needs them), without ticks or frame
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i % cols == 0 and i // cols < len(row_labels):
                ax.set_ylabel(row_labels[i // cols], rotation=0, ha="right", va="center", fontsize=8)
        if i >= len(images):
            continue
        img = np.asarray(images[i]).squeeze()
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=vmin, vmax=vmax)  # colour images keep theirs
        if labels is not None and i < len(labels):
            label = labels[i]
            ax.set_title(class_names[int(label)] if class_names is not None else str(label), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history, metrics=("loss", "accuracy"), title: str = "", axes=None):
    """Training and validation curves, one panel per metric.

    `history`: a Keras `History` or a dict of per-epoch lists such as
    {"loss": [...], "val_loss": [...]}; a metric is drawn when its training curve is there,
    and its "val_" twin beside it when that is there too. Returns the axes.
    """
    curves = getattr(history, "history", history)
    metrics = [m for m in metrics if m in curves]
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3), squeeze=False)
        axes = axes[0]
        if title:
            fig.suptitle(title)
    for ax, metric in zip(axes, metrics, strict=False):
        epochs = np.arange(1, len(curves[metric]) + 1)
        ax.plot(epochs, curves[metric], "o-", ms=3, label="training")
        if f"val_{metric}" in curves:
            ax.plot(np.arange(1, len(curves[f"val_{metric}"]) + 1), curves[f"val_{metric}"], "o-", ms=3,
                    label="validation")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.legend()
    plt.tight_layout()
    return axes


# ---------------------------------------------------------------- drawing primitives

def canvas(figsize=(8, 4), ax=None):
    """A blank axes for a drawing: equal aspect, no ticks or frame. Returns (fig, ax)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def draw_node(ax, xy, text="", kind="circle", size=0.4, color="white", fontsize=12, edgecolor="black",
              **text_kw):
    """A labelled node centred at `xy`: a circle of radius `size` (kind="circle") or a rounded box
    (kind="box") of half-width and half-height `size` (a number or a pair). Returns the patch."""
    x, y = xy
    if kind == "circle":
        patch = Circle(xy, size, facecolor=color, edgecolor=edgecolor, lw=1.3, zorder=3)
    else:
        hw, hh = (size, size) if np.isscalar(size) else size
        patch = FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh, boxstyle="round,pad=0.02,rounding_size=0.12",
                               facecolor=color, edgecolor=edgecolor, lw=1.3, zorder=3)
    ax.add_patch(patch)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4, **text_kw)
    return patch


def draw_arrow(ax, start, end, label=None, below=None, color="black", shrink=(0.0, 0.0), offset=0.26,
               fontsize=10, label_color="tab:green", below_color="tab:red", head=True, lw=1.4):
    """An arrow from `start` to `end`, cut `shrink` = (at start, at end) data units short (the radius
    of the nodes it joins), with `label` on its left (above, for a left-to-right arrow) and `below`
    on its right, `offset` data units away from the line, at its middle."""
    p0, p1 = np.asarray(start, float), np.asarray(end, float)
    u = (p1 - p0) / max(np.linalg.norm(p1 - p0), 1e-12)
    a, b = p0 + u * shrink[0], p1 - u * shrink[1]
    ax.add_patch(FancyArrowPatch(tuple(a), tuple(b), arrowstyle="-|>" if head else "-", mutation_scale=14,
                                 color=color, lw=lw, zorder=2, shrinkA=0, shrinkB=0))
    mid, normal = (a + b) / 2, np.array([-u[1], u[0]])
    for text, sign, col in ((label, 1, label_color), (below, -1, below_color)):
        if text:
            x, y = mid + sign * offset * normal
            ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=col, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))


def draw_grid(ax, values, origin=(0, 0), colors=None, fmt="{:g}", fontsize=11, title=None, cell=1.0):
    """A matrix drawn as a grid of annotated squares, row 0 at the top, its top-left corner at
    `origin`; `colors` (same shape, or None for white) fills the cells."""
    values = np.asarray(values)
    x0, y0 = origin
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            fc = "white" if colors is None else colors[r][c]
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 1) * cell), cell, cell, facecolor=fc,
                                   edgecolor="black", lw=1.0))
            ax.text(x0 + (c + 0.5) * cell, y0 - (r + 0.5) * cell, fmt.format(values[r, c]), ha="center",
                    va="center", fontsize=fontsize)
    if title:
        ax.text(x0 + cols * cell / 2, y0 + 0.35 * cell, title, ha="center", va="bottom", fontsize=fontsize)


# ---------------------------------------------------------------- the lectures' figures

def draw_network_shapes(dims=(2, 4, 3, 1), n_obs=3, ax=None):
    """A fully connected network (sigmoid layers, row-major `z = a_prev @ W + b`) with the shape
    of every array for a batch of `n_obs` rows: the input X, each W and b, each Z and A, the output."""
    fig, ax = canvas((11, 5.6), ax)
    xs = np.arange(len(dims)) * 3.4
    pos = [np.linspace(-(d - 1) / 2, (d - 1) / 2, d) * 1.1 for d in dims]
    radius = 0.3
    last = len(dims) - 1
    for k in range(last):
        for y0 in pos[k]:
            for y1 in pos[k + 1]:
                ax.plot([xs[k] + radius, xs[k + 1] - radius], [y0, y1], color="0.7", lw=0.8, zorder=1)
        ax.text((xs[k] + xs[k + 1]) / 2, 2.85, f"$W^{{({k + 1})}}$: ({dims[k]}, {dims[k + 1]})\n"
                f"$b^{{({k + 1})}}$: ({dims[k + 1]},)", ha="center", va="center", fontsize=12,
                bbox=dict(boxstyle="round", fc="lightyellow", ec="0.6"))
    for k, d in enumerate(dims):
        colour = "lightgreen" if k == 0 else ("salmon" if k == last else "lightblue")
        for y in pos[k]:
            draw_node(ax, (xs[k], y), kind="circle", size=radius, color=colour)
        if k == 0:
            label = f"input $X$\n({n_obs}, {d})"
        elif k == last:
            label = f"output layer {k}\n$z^{{({k})}}$: ({n_obs}, {d})\n$\\hat y = a^{{({k})}}$: ({n_obs}, {d})"
        else:
            label = f"hidden layer {k}\n$z^{{({k})}}$: ({n_obs}, {d})\n$a^{{({k})}}$: ({n_obs}, {d})"
        ax.text(xs[k], -3.05, label, ha="center", va="center", fontsize=12)
    ax.text(xs[-1] / 2, -4.25, f"$z^{{(k)}} = a^{{(k-1)}} W^{{(k)}} + b^{{(k)}}$,  $a^{{(k)}} = \\sigma(z^{{(k)}})$,  "
            f"$a^{{(0)}} = X$: one row per observation; each $b$ is added to all {n_obs} rows "
            f"(broadcast as $(1, n)$)", ha="center", va="center", fontsize=10.5, color="0.25")
    ax.set(xlim=(-1.3, xs[-1] + 1.3), ylim=(-4.6, 3.5))
    ax.set_title(f"The slides' network {'-'.join(map(str, dims))}, row-major, N = {n_obs}", fontsize=13)
    return fig


def draw_computational_graph(a=3.0, b=1.0, c=4.0, d=2.0, ax=None):
    """The graph of z = (a + b)(c - d): forward values (green, above each edge) and the gradients
    of z (red, below each edge), computed from the given leaves."""
    x, y = a + b, c - d
    z = x * y
    grads = {"a": y, "b": y, "c": x, "d": -x}
    fig, ax = canvas((11, 5.4), ax)
    r = 0.42
    leaves = {"a": (0, 5.6), "b": (0, 3.4), "c": (0, 1.6), "d": (0, -0.6)}
    vals = {"a": a, "b": b, "c": c, "d": d}
    plus, minus, times, out = (4.5, 4.5), (4.5, 0.5), (8.5, 2.5), (11.5, 2.5)
    for name, xy in leaves.items():
        draw_node(ax, xy, f"${name}$", size=r, color="lightgreen", fontsize=14)
    for xy, op, col in ((plus, "+", "lightblue"), (minus, "\u2212", "lightblue"), (times, "\u00d7", "lightblue")):
        draw_node(ax, xy, op, size=r, color=col, fontsize=18)
    ax.text(plus[0], plus[1] + 0.7, "$x = a + b$", ha="center", fontsize=12)
    ax.text(minus[0], minus[1] - 0.75, "$y = c - d$", ha="center", va="top", fontsize=12)
    ax.text(times[0], times[1] + 0.7, "$z = x \\cdot y$", ha="center", fontsize=12)
    for name in "ab":
        draw_arrow(ax, leaves[name], plus, f"${name} = {vals[name]:g}$",
                   f"$\\partial z/\\partial {name} = {grads[name]:g}$", shrink=(r, r))
    for name in "cd":
        draw_arrow(ax, leaves[name], minus, f"${name} = {vals[name]:g}$",
                   f"$\\partial z/\\partial {name} = {grads[name]:g}$", shrink=(r, r))
    draw_arrow(ax, plus, times, f"$x = {x:g}$", f"$\\partial z/\\partial x = y = {y:g}$", shrink=(r, r))
    draw_arrow(ax, minus, times, f"$y = {y:g}$", f"$\\partial z/\\partial y = x = {x:g}$", shrink=(r, r))
    draw_arrow(ax, times, out, f"$z = {z:g}$", "$\\partial z/\\partial z = 1$", shrink=(r, 0.1))
    ax.text(out[0] + 0.15, out[1], "$z$", ha="left", va="center", fontsize=14)
    ax.text(5.8, -1.9, "green, above: forward values (left to right)     red, below: gradients of z "
            "(right to left, by the chain rule)", ha="center", fontsize=10.5, color="0.25")
    ax.set(xlim=(-0.8, 12.5), ylim=(-2.3, 6.3))
    ax.set_title(f"$z = (a + b)(c - d)$ with $a = {a:g}$, $b = {b:g}$, $c = {c:g}$, $d = {d:g}$", fontsize=13)
    return fig


def draw_lstm_cell(ax=None, formulas: bool = True):
    """The LSTM cell: the cell-state line with its forget (x) and write (+) steps, the four blocks
    i, f, c~, o computed from x_t and h_{t-1}, and the output h_t = o * tanh(c_t).

    With `formulas=False` the drawing shows the paths only (no equations), for a student who
    derives the cell from it."""
    fig, ax = canvas((11, 6.2), ax)
    ax.add_patch(FancyBboxPatch((-0.6, -0.5), 10.4, 6.2, boxstyle="round,pad=0.05,rounding_size=0.4",
                                facecolor="0.96", edgecolor="0.5", lw=1.2, zorder=0))
    top, bus = 5.0, 0.2
    gate_y, hw, hh = 1.5, 0.6, 0.38
    gates = {"f": (1.6, "$\\sigma$", "forget $f$", "#f4b183"), "i": (3.4, "$\\sigma$", "input $i$", "#a9d18e"),
             "c": (5.0, "tanh", "candidate $\\tilde c$", "#9dc3e6"), "o": (6.8, "$\\sigma$", "output $o$", "#ffd966")}
    r = 0.3
    forget, write, mult_ic = (1.6, top), (4.2, top), (4.2, 3.3)
    tanh_c, mult_o = (8.6, 3.3), (8.6, gate_y)
    # the cell state line
    draw_arrow(ax, (-2.0, top), forget, shrink=(0, r), lw=2.4, color="tab:purple")
    draw_arrow(ax, forget, write, shrink=(r, r), lw=2.4, color="tab:purple")
    draw_arrow(ax, write, (11.2, top), shrink=(r, 0), lw=2.4, color="tab:purple")
    ax.text(-2.1, top + 0.35, "$c_{t-1}$", fontsize=14, color="tab:purple")
    ax.text(10.6, top + 0.35, "$c_t$", fontsize=14, color="tab:purple")
    ax.text(6.3, top + 0.3, "cell state (the memory)", fontsize=10.5, color="tab:purple", ha="center")
    # the inputs: h_{t-1} from the left, x_t from below, joined on one bus
    draw_arrow(ax, (-2.0, bus), (6.8, bus), head=False, lw=1.6)
    ax.text(-2.1, bus - 0.45, "$h_{t-1}$", fontsize=14)
    draw_arrow(ax, (0.4, -1.5), (0.4, bus), head=False, lw=1.6)
    ax.text(0.55, -1.35, "$x_t$", fontsize=14)
    ax.plot([0.4], [bus], "ko", ms=5)
    ax.text(3.7, -0.25, "$z = x_t W + h_{t-1} U + b$, split into four blocks (Keras: i, f, c, o)",
            fontsize=10, ha="center", va="top", color="0.3")
    for gx, act, label, colour in gates.values():
        draw_arrow(ax, (gx, bus), (gx, gate_y - hh), lw=1.4)
        draw_node(ax, (gx, gate_y), act, kind="box", size=(hw, hh), color=colour, fontsize=13)
        ax.text(gx, gate_y + hh + 0.12, label, ha="center", va="bottom", fontsize=10)
    # f scales the old memory; i * c~ is written into it
    draw_arrow(ax, (1.6, gate_y + hh + 0.45), forget, shrink=(0, r),
               label="$f \\odot c_{t-1}$" if formulas else None, label_color="black", offset=0.75)
    draw_node(ax, forget, "\u00d7", size=r, fontsize=15)
    draw_arrow(ax, (3.4, gate_y + hh + 0.45), mult_ic, shrink=(0, r))
    draw_arrow(ax, (5.0, gate_y + hh + 0.45), mult_ic, shrink=(0, r))
    draw_node(ax, mult_ic, "\u00d7", size=r, fontsize=15)
    draw_arrow(ax, mult_ic, write, shrink=(r, r), label="$i \\odot \\tilde c$" if formulas else None,
               label_color="black", offset=0.6)
    draw_node(ax, write, "+", size=r, fontsize=15)
    # the output h_t = o * tanh(c_t)
    ax.plot([8.6], [top], "ko", ms=5)
    draw_arrow(ax, (8.6, top), tanh_c, shrink=(0, 0.42))
    draw_node(ax, tanh_c, "tanh", kind="box", size=(0.45, 0.3), color="white", fontsize=11)
    draw_arrow(ax, tanh_c, mult_o, shrink=(0.3, r))
    draw_arrow(ax, (6.8 + hw, gate_y), mult_o, shrink=(0, r))
    draw_node(ax, mult_o, "\u00d7", size=r, fontsize=15)
    draw_arrow(ax, mult_o, (11.2, gate_y), shrink=(r, 0), lw=2.0, color="tab:blue",
               label="$h_t = o \\odot \\tanh(c_t)$" if formulas else None, label_color="tab:blue", offset=0.35)
    ax.text(10.6, gate_y - 0.55, "$h_t$", fontsize=14, color="tab:blue")
    ax.set(xlim=(-2.4, 11.6), ylim=(-1.7, 6.1))
    ax.set_title("The LSTM cell: $c_t = f \\odot c_{t-1} + i \\odot \\tilde c$,  $h_t = o \\odot \\tanh(c_t)$"
                 if formulas else "The LSTM cell: what flows where (\u00d7 multiplies, + adds)", fontsize=13)
    return fig


def transposed_conv2d(x, kernel, stride=2):
    """Single-channel transposed convolution without padding: every input pixel x[i, j] adds the
    copy x[i, j] * kernel into the output at (i * stride, j * stride). Output side (n - 1) s + k."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    (n_h, n_w), (k_h, k_w) = x.shape, kernel.shape
    out = np.zeros(((n_h - 1) * stride + k_h, (n_w - 1) * stride + k_w))
    for i in range(n_h):
        for j in range(n_w):
            out[i * stride:i * stride + k_h, j * stride:j * stride + k_w] += x[i, j] * kernel
    return out


def draw_transposed_conv(x=((1, 2), (3, 4)), kernel=((1, 0, 1), (0, 1, 0), (1, 0, 1)), stride=2):
    """A transposed convolution drawn step by step: the input and the kernel, the scaled kernel
    copy each input pixel stamps into the output (one colour per pixel), and their sum, where
    the cells that several copies cover add up (their number in the corner)."""
    x, kernel = np.asarray(x, float), np.asarray(kernel, float)
    out = transposed_conv2d(x, kernel, stride)
    n_h, n_w = x.shape
    k_h, k_w = kernel.shape
    palette = ["#f4b183", "#a9d18e", "#9dc3e6", "#ffd966", "#c9a0dc", "#f8cbad", "#b4c7e7", "#dbdbdb"]
    pix_col = [[palette[(i * n_w + j) % len(palette)] for j in range(n_w)] for i in range(n_h)]
    count = np.zeros(out.shape, int)
    owner = np.full(out.shape, "", dtype=object)
    for i in range(n_h):
        for j in range(n_w):
            count[i * stride:i * stride + k_h, j * stride:j * stride + k_w] += 1
            owner[i * stride:i * stride + k_h, j * stride:j * stride + k_w] = pix_col[i][j]
    fig = plt.figure(figsize=(13, 7.6))
    grid = fig.add_gridspec(2, max(n_h * n_w, 3), height_ratios=[1.1, 1])
    ax_in, ax_k, ax_out = (fig.add_subplot(grid[0, s]) for s in (slice(0, 1), slice(1, 2), slice(2, None)))
    for ax in (ax_in, ax_k, ax_out):
        canvas(ax=ax)
    draw_grid(ax_in, x, colors=pix_col, title=f"input {n_h}x{n_w}", fontsize=13)
    side = max(n_w, k_w) + 0.6
    ax_in.set(xlim=(-0.3, side), ylim=(-out.shape[0] + 0.3, 1.0))
    draw_grid(ax_k, kernel, title=f"kernel {k_h}x{k_w}", fontsize=13)
    ax_k.set(xlim=(-0.3, side), ylim=(-out.shape[0] + 0.3, 1.0))
    colours = [[("0.8" if count[r, c] > 1 else owner[r, c]) if count[r, c] else "white"
                for c in range(out.shape[1])] for r in range(out.shape[0])]
    draw_grid(ax_out, out, colors=colours, fontsize=13,
              title=f"output {out.shape[0]}x{out.shape[1]}: the sum of the copies")
    for r, c in zip(*np.nonzero(count > 1), strict=True):
        ax_out.text(c + 0.95, -r - 0.95, f"{count[r, c]}\u00d7", fontsize=8, ha="right", va="bottom", color="0.3")
    ax_out.text(out.shape[1] + 0.4, -out.shape[0] / 2,
                "grey cells: copies overlap\nand add up\n(small number:\nhow many copies)",
                ha="left", va="center", fontsize=10, color="0.25")
    ax_out.set(xlim=(-0.3, out.shape[1] + 4.0), ylim=(-out.shape[0] - 0.3, 1.0))
    for i in range(n_h):
        for j in range(n_w):
            ax = fig.add_subplot(grid[1, i * n_w + j])
            canvas(ax=ax)
            stamp = np.zeros(out.shape)
            stamp[i * stride:i * stride + k_h, j * stride:j * stride + k_w] = x[i, j] * kernel
            inside = np.zeros(out.shape, bool)
            inside[i * stride:i * stride + k_h, j * stride:j * stride + k_w] = True
            cols = [[pix_col[i][j] if inside[r, c] else "white" for c in range(out.shape[1])]
                    for r in range(out.shape[0])]
            draw_grid(ax, stamp, colors=cols, fontsize=10,
                      title=f"x[{i},{j}] = {x[i, j]:g} times the kernel,\nplaced at ({i * stride}, {j * stride})")
            ax.set(xlim=(-0.3, out.shape[1] + 0.3), ylim=(-out.shape[0] - 0.3, 1.6))
    fig.suptitle(f"Transposed convolution, stride {stride}: output side $(n - 1)\\,s + k = ({n_h} - 1)"
                 f"\\cdot {stride} + {k_h} = {out.shape[0]}$", fontsize=13)
    return fig
