"""Gallery: every run as a card; for one run its model card, loss curves, and its checkpoints by
epoch with copy and loop rate — the chart that shows when the model starts copying — with each
checkpoint's sample to hear, and two checkpoints side by side."""

import streamlit as st

from app_ui import action, page_guard
from app_ui.charts import copying_figure, run_history_figure
from app_ui.copies import first_run, show_checkpoint_passages, show_heldout_borrowing
from app_ui.layout import header
from app_ui.music import all_runs, midi_file_piece, show_checkpoint_sample
from app_ui.rights import granted
from app_ui.routing import routed_page

routed_page()  # a deep link to this page still runs streamlit_app.py first

COLUMNS = 3

header("Gallery", "Trained models and their checkpoints. Early checkpoints babble, late ones "
       "may start to copy the corpus note for note: listen along the epochs.")


def _facts(run) -> dict:
    """The numbers on a run's card, all read from its folder."""
    cfg, rows = run.config, run.history()
    spec = cfg.get("spec", {})
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    return {
        "corpus": spec.get("corpus", "?"), "encoding": spec.get("encoding", "?"),
        "preset": spec.get("preset", "?"), "size": spec.get("size") or "default",
        "params": cfg.get("params"), "epochs": rows[-1]["epoch"] if rows else 0,
        "planned": spec.get("epochs"), "best_val": min(vals) if vals else None,
        "seconds": sum(r.get("seconds", 0.0) for r in rows),
        "gan": any("d_loss" in r or "mse" in r for r in rows),
    }


def _card(run, container) -> None:
    f = _facts(run)
    with container.container(border=True):
        st.markdown(f"**{run.name}** {'· :material/verified: gallery' if run.shipped else '· :material/person: yours'}")
        st.caption(f"{f['corpus']} · {f['preset']} / {f['encoding']} · {f['size']}")
        params = f"{f['params'] / 1e6:.2f} M" if f["params"] else "—"
        minutes = f"{f['seconds'] / 60:.1f} min" if f["seconds"] else "—"
        if f["best_val"] is not None:
            measure = f"best val loss **{f['best_val']:.3f}**"
        elif f["gan"]:
            measure = "adversarial: no loss to minimise"
        else:
            measure = "best val loss **—**"
        st.markdown(f"{params} parameters · {f['epochs']}/{f['planned'] or '?'} epochs  \n"
                    f"{measure} · trained {minutes}")
        st.button("Open", key=f"gallery_open_{run.name}", on_click=st.session_state.__setitem__,
                  args=("gallery_run", str(run.path)), width="stretch")


def _sample_piece(run, epoch: int):
    path = run.sample_path(epoch, ".mid")
    return midi_file_piece(str(path), path.stat().st_mtime) if path.is_file() else None


def _table(run, points) -> dict[str, list]:
    """Per checkpoint: how much its sample copies and loops, and its held-out loss per token."""
    def col(key, scale=1.0, digits=1):
        return [round(scale * m[key], digits) if isinstance(m.get(key), (int, float)) else None
                for _, m in points]
    table = {"epoch": [e for e, _ in points], "copied %": col("copy_rate", 100),
             "longest copy (s)": col("longest_copy_seconds"), "loop %": col("loop_rate", 100),
             "held-out copied %": col("heldout_copy_rate", 100),
             "held-out NLL / token": col("nll_token", digits=3),
             "3-gram baseline": col("baseline_nll_token", digits=3),
             # a GAN's (core.evaluation.music_measures), each next to the held-out pieces' own
             "held-out squared error": col("val_mse", digits=3),
             "polyphony %": col("polyphony", 100), "held-out polyphony %": col("heldout_polyphony", 100),
             "in scale %": col("scale_consistency", 100),
             "held-out in scale %": col("heldout_scale_consistency", 100),
             "repeated patterns %": col("repetitions", 100),
             "held-out repeated %": col("heldout_repetitions", 100),
             "tone span": col("tone_span"), "held-out tone span": col("heldout_tone_span")}
    return {k: v for k, v in table.items() if k == "epoch" or any(x is not None for x in v)}


def _delete(run) -> None:
    from app_ui.runs import delete_run

    with st.expander("Delete this run"):
        sure = st.checkbox(f"Yes, delete {run.name} and all its checkpoints", key="gallery_delete_sure")
        if st.button("Delete", icon=":material/delete:", key="gallery_delete", disabled=not sure):
            with action("Deleting the run", hint="Stop its training first."):
                delete_run(run)
                st.session_state.pop("gallery_run", None)
                st.rerun()


with page_guard("Gallery"):
    runs = all_runs()
    if not runs:
        st.info("No runs yet. Train one on the Train page; it appears here as soon as it has "
                "finished its first epoch.", icon=":material/photo_library:")
        st.stop()

    for i in range(0, len(runs), COLUMNS):
        for run, col in zip(runs[i:i + COLUMNS], st.columns(COLUMNS)):
            _card(run, col)

    paths = [str(r.path) for r in runs]
    if st.session_state.get("gallery_run") not in paths:  # first: a run whose chart shows copying
        st.session_state["gallery_run"] = paths[first_run(runs)]
    chosen = st.selectbox("Run", paths, key="gallery_run", format_func=lambda p: p.rsplit("/", 1)[-1])
    run = runs[paths.index(chosen)]

    st.header(run.name)
    if run.config.get("description"):  # which run is which, and why (shipped runs say so)
        st.markdown(run.config["description"])
    card = run.model_card()
    if card:
        with st.expander("Model card", expanded=False):
            st.markdown(card)
    st.plotly_chart(run_history_figure(run), key="gallery_history",
                    width="stretch")

    epochs = run.epochs()
    if not epochs:
        st.info("This run has no checkpoints yet.", icon=":material/hourglass_empty:")
    else:
        points = [(e, run.sample_metrics(e)) for e in epochs]
        if any(m for _, m in points):
            st.plotly_chart(copying_figure(points), key="gallery_copying", width="stretch")
            st.dataframe(_table(run, points), hide_index=True, key="gallery_table")
            show_heldout_borrowing(run)
            st.subheader("What each checkpoint copies")
            show_checkpoint_passages(run, epochs, lambda e: _sample_piece(run, e))
        else:
            st.caption("This run's checkpoints have no sample metrics yet.")

        st.subheader("Listen to a checkpoint")
        listen = st.select_slider("Epoch", epochs, value=epochs[-1], key="gallery_listen")
        show_checkpoint_sample(run, listen, key="gallery_listen")

        if len(epochs) > 1:
            st.subheader("Compare two checkpoints")
            left, right = st.columns(2)
            a = left.selectbox("Left", epochs, index=0, key="gallery_cmp_a")
            b = right.selectbox("Right", epochs, index=len(epochs) - 1, key="gallery_cmp_b")
            with left:
                show_checkpoint_sample(run, a, key="gallery_cmp_a")
            with right:
                show_checkpoint_sample(run, b, key="gallery_cmp_b")

    if not run.shipped and granted():
        _delete(run)
