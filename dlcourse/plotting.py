"""Plots the notebooks share: loss curves, decision boundaries, image grids."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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
                cmap: str = "binary", size: float = 1.2):
    """A `rows x cols` grid of images with their class names as titles."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i >= len(images):
            continue
        img = np.asarray(images[i])
        ax.imshow(img.squeeze(), cmap=cmap if img.ndim == 2 or img.shape[-1] == 1 else None)
        if labels is not None:
            label = labels[i]
            ax.set_title(class_names[int(label)] if class_names is not None else str(label), fontsize=8)
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
