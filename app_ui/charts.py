"""Plotly figures of run data: loss curves, and copy/loop rate per checkpoint."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORS = {"loss": "#1f77b4", "val_loss": "#ff7f0e", "accuracy": "#2ca02c", "val_accuracy": "#d62728",
          "copy_rate": "#d62728", "loop_rate": "#9467bd",
          "d_loss": "#d62728", "g_loss": "#1f77b4", "mse": "#7f7f7f",
          "d_accuracy": "#d62728", "frozen_d": "#ff9896", "frozen_g": "#aec7e8"}
NAMES = {"loss": "training loss", "val_loss": "validation loss", "accuracy": "training accuracy",
         "val_accuracy": "validation accuracy",
         "d_loss": "discriminator loss", "val_d_loss": "discriminator loss (validation)",
         "g_loss": "generator loss", "val_g_loss": "generator loss (validation)",
         "mse": "pre-training squared error", "val_mse": "squared error (validation)",
         "d_accuracy": "discriminator accuracy", "val_d_accuracy": "discriminator accuracy (validation)",
         "frozen_d": "batches with D frozen", "frozen_g": "batches with G frozen"}
#: A GAN's panels (``core.models.crnngan``): it has no single loss to watch.
GAN_PANELS = ((("Losses (a balance, not a descent)", ("d_loss", "val_d_loss", "g_loss", "val_g_loss",
                                                       "mse", "val_mse"))),
              (("Discriminator accuracy (0.5: fooled)", ("d_accuracy", "val_d_accuracy", "frozen_d",
                                                         "frozen_g"))))


def history_figure(rows: list[dict[str, float]], best_epoch: int | None = None,
                   height: int = 340, baseline: float | None = None) -> go.Figure:
    """Loss and validation loss (left) and accuracy (right) per epoch, from ``Run.history()``;
    for a GAN its losses (left) and its discriminator's accuracy (right). ``baseline``: the
    corpus's n-gram held-out loss (``run.json``'s ``baseline``), drawn as a line on the loss."""
    gan = any("d_loss" in r or "mse" in r for r in rows)
    panels = GAN_PANELS if gan else (("Loss (lower is better)", ("loss", "val_loss")),
                                     ("Accuracy", ("accuracy", "val_accuracy")))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[title for title, _ in panels],
                        horizontal_spacing=0.08)
    epochs = [r["epoch"] for r in rows]
    for col, (_, keys) in enumerate(panels, start=1):
        for key in keys:
            ys = [r.get(key) for r in rows]
            if any(y is not None for y in ys):
                fig.add_trace(go.Scatter(x=epochs, y=ys, name=NAMES[key], mode="lines+markers",
                                         line=dict(color=COLORS[key.removeprefix("val_")],
                                                   dash="dot" if key.startswith("val") else None)),
                              row=1, col=col)
    if baseline is not None and not gan:   # the validation loss is comparable with it
        fig.add_hline(y=baseline, line=dict(color="#555555", dash="dash", width=2), row=1, col=1,
                      annotation_text="3-gram: what note statistics alone reach",
                      annotation_position="top right")
    if best_epoch is not None:
        fig.add_vline(x=best_epoch, line=dict(color="gray", dash="dash"), row=1, col=1,
                      annotation_text=f"best: epoch {best_epoch}", annotation_position="top right")
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.25))
    if not rows:
        fig.add_annotation(text="waiting for the first epoch…", showarrow=False, xref="paper",
                           yref="paper", x=0.5, y=0.5)
    return fig


def run_history_figure(run, height: int = 340) -> go.Figure:
    """:func:`history_figure` of a run folder: its history, best epoch and n-gram baseline.

    Built once per change of the run's files and shared by every session that shows it (a room
    of phones polls the same live chart; a subplot figure costs tens of milliseconds to build):
    callers hand it to ``st.plotly_chart`` (which copies it) and must not change it."""
    return _history_figure(str(run.path), files_stamp(run.path), height)


def files_stamp(folder: Path) -> tuple:
    """What :func:`run_history_figure` reads, by modification time and size."""
    stamp = []
    for name in ("history.csv", "best.json", "run.json"):
        try:
            st = (folder / name).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append(None)
    return tuple(stamp)


@functools.lru_cache(maxsize=8)
def _history_png(path: str, stamp: tuple, width_px: int) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from core.runs import Run

    run = Run(path)
    rows, best, baseline = run.history(), run.best_epoch(), run.baseline_nll()
    fig = Figure(figsize=(width_px / 100, 3.2), dpi=100)   # no pyplot: no global state
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    epochs = [r["epoch"] for r in rows]
    for key, dash in (("loss", "-"), ("val_loss", ":")):
        points = [(e, r[key]) for e, r in zip(epochs, rows) if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), dash, marker="o", color=COLORS[key.removeprefix("val_")],
                    linewidth=2.5, label=NAMES[key])
    if baseline is not None:
        ax.axhline(baseline, color="#555555", linestyle="--", linewidth=2,
                   label="3-gram: what note statistics alone reach")
    if best is not None:
        ax.axvline(best, color="gray", linestyle="--", linewidth=1)
    if not rows:
        ax.text(0.5, 0.5, "waiting for the first epoch…", transform=ax.transAxes, ha="center",
                fontsize=13)
    ax.set_xlabel("epoch")
    ax.set_title("Loss (lower is better)", fontsize=12)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=9, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def history_png(run, width_px: int = 800) -> bytes:
    """The loss panel of :func:`history_figure` as a PNG drawn on the server, for a room of
    phones: an interactive chart costs every phone a redraw of ~0.5 CPU-s each epoch (20
    headless browsers on 2 cores spent 12.7 CPU-s every 20 s on it), an image almost nothing.
    Drawn once per change of the run's files, shared by every session."""
    return _history_png(str(run.path), files_stamp(run.path), width_px)


@functools.lru_cache(maxsize=32)
def _history_figure(path: str, stamp: tuple, height: int) -> go.Figure:
    from core.runs import Run

    run = Run(path)
    return history_figure(run.history(), run.best_epoch(), height, baseline=run.baseline_nll())


def copying_figure(points: list[tuple[int, dict[str, Any]]], height: int = 340) -> go.Figure:
    """Copy rate and loop rate (0-100 %) of each checkpoint's sample against its epoch."""
    fig = go.Figure()
    epochs = [e for e, _ in points]
    for key, name in (("copy_rate", "copied from the corpus"), ("loop_rate", "stuck in a loop")):
        ys = [m.get(key) for _, m in points]
        if any(y is not None for y in ys):
            fig.add_trace(go.Scatter(x=epochs, y=[None if y is None else 100 * y for y in ys],
                                     name=name, mode="lines+markers",
                                     line=dict(color=COLORS[key], width=3)))
    heldout = next((m["heldout_copy_rate"] for _, m in points
                    if isinstance(m.get("heldout_copy_rate"), (int, float))), None)
    if heldout is not None:  # real music the model never saw shares this much with the corpus
        fig.add_hline(y=100 * heldout, line=dict(color=COLORS["copy_rate"], dash="dot"),
                      annotation_text="held-out chorales' own copy rate",
                      annotation_position="bottom right")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      title="When does the model start copying?",
                      xaxis_title="epoch", yaxis_title="% of the sample", yaxis_range=[0, 100],
                      legend=dict(orientation="h", y=-0.25))
    return fig


def empty_roll(message: str, height: int = 320) -> go.Figure:
    """An empty piano roll with a message: where the music will appear (and it loads Plotly
    in the browser ahead of time, so the real roll draws at once)."""
    fig = go.Figure(go.Bar(x=[], y=[], orientation="h"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="Time (s)", range=[0, 20]),
                      yaxis=dict(title="Pitch", range=[48, 84], showticklabels=False))
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=18))
    return fig
