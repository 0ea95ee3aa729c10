"""Train: set up a training run, start it as a background job, and watch it live.

The job is its own process (``core.training.jobs``); this page only reads its run folder, so closing the
tab or reloading the app never stops it, and reopening the page shows it again.
"""

import streamlit as st

from app_ui import action, page_guard, training
from app_ui.charts import run_history_figure
from app_ui.music import show_checkpoint_sample
from app_ui.layout import demo_notice, header
from app_ui.rights import granted
from app_ui.uploads import uploaded_sets
from app_ui.routing import routed_page

routed_page()  # a deep link to this page still runs streamlit_app.py first

from core.settings import DEFAULT_MINUTES  # noqa: E402  (plain Python: no TensorFlow)

POLL_S = 1.5  # seconds between looks at a running job's folder
STATE_ICONS = {"queued": "hourglass_empty", "running": "directions_run", "stopping": "pan_tool",
               "stopped": "pause_circle", "finished": "check_circle", "failed": "error",
               "interrupted": "warning", "unknown": "help"}

header("Train", "Train an LSTM on a corpus. Training runs in the background: you can close "
       "this tab and come back later.")


def _fmt_seconds(s) -> str:
    if s is None:
        return "—"
    s = int(s)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def _setup_form() -> None:
    """The settings and the Start button."""
    from core import corpus
    from core.models import config as presets
    from core.encodings import encoding_names
    from core.settings import TrainSpec

    uploads = {f"{p.name} (your upload)": str(p) for p in uploaded_sets()}
    builtin = [b["name"] for b in corpus.list_builtin()]
    corpora = builtin + corpus.benchmark_sources() + list(uploads)
    with st.form("train_form", border=True):
        c1, c2, c3, c4 = st.columns(4)
        corpus_choice = c1.selectbox("Corpus", corpora, key="train_corpus",
                                     index=builtin.index("bach-chorales") if "bach-chorales" in builtin else 0)
        encodings = encoding_names()
        encoding = c2.selectbox("Encoding", encodings, key="train_encoding",
                                index=encodings.index("events") if "events" in encodings else 0)
        names = presets.preset_names()
        preset = c3.selectbox("Preset", names, key="train_preset",
                              index=names.index("studio") if "studio" in names else 0)
        size = c4.selectbox("Size", ["small", "medium", "large"], key="train_size")
        c1, c2, c3, c4 = st.columns(4)
        by_time = c1.radio("Train for", ["minutes", "epochs"], horizontal=True, key="train_for",
                           help="A time budget ends with a checkpoint when the time is up.") == "minutes"
        amount = c1.number_input("Minutes or epochs", 1.0, 24 * 60.0, float(DEFAULT_MINUTES), 1.0,
                                 format="%g", key="train_amount")
        every = c2.number_input("Checkpoint every … epochs", 1, 100, 1, key="train_checkpoint_every")
        val_share = c3.slider("Validation share", 0.05, 0.5, 0.1, 0.05, key="train_val_share",
                              help="Pieces held out to measure how well the model generalises.")
        max_pieces = c4.number_input("Pieces to use (0 = all)", 0, 100_000, 0, key="train_max_pieces")
        with st.expander("Advanced"):
            a1, a2, a3, a4, a5 = st.columns(5)
            window = a1.number_input("Window (tokens, 0 = preset default)", 0, 1024, 0, key="train_window")
            batch = a2.number_input("Batch size (0 = preset default)", 0, 4096, 0, key="train_batch")
            lr = a3.number_input("Learning rate (0 = preset default)", 0.0, 1.0, 0.0, format="%.4f",
                                 key="train_lr")
            patience = a4.number_input("Stop after … epochs without a better validation loss "
                                       "(0 = never)", 0, 1000, 0, key="train_patience")
            seed = a5.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
            transpose = st.number_input("Also train on each piece transposed up and down by 1 to "
                                        "… semitones (0 = off)", 0, 12, 0, key="train_transpose")
            st.caption("C-RNN-GAN only (the crnngan preset, on the continuous encodings):")
            g1, g2, g3 = st.columns(3)
            pretrain = g1.number_input("Pre-training epochs (generator alone, squared error)", 0,
                                       1000, 6, key="train_pretrain_epochs")
            matching = g2.checkbox("Feature matching", True, key="train_feature_matching",
                                   help="The generator matches the discriminator's view of real "
                                        "music instead of only fooling it (the paper's remedy "
                                        "for collapse).")
            freeze = g3.checkbox("Freeze the side far ahead", True, key="train_freeze")
        submitted = st.form_submit_button("Start training", icon=":material/play_arrow:", type="primary", key="train_start")
    if submitted:
        with action("Starting the training", hint="Check the settings (at least 2 pieces, a "
                    "validation share below 0.9) and start again."):
            spec = TrainSpec(corpus=uploads.get(corpus_choice, corpus_choice), encoding=encoding,
                             preset=preset, size=size, checkpoint_every=int(every),
                             **({"minutes": float(amount)} if by_time else {"epochs": max(int(amount), 1)}),
                             val_share=float(val_share), max_pieces=int(max_pieces) or None,
                             window=int(window) or None, batch_size=int(batch) or None,
                             learning_rate=float(lr) or None, patience=int(patience) or None,
                             seed=int(seed), transpose=int(transpose) or None,
                             **({"pretrain_epochs": int(pretrain), "feature_matching": matching,
                                 "freeze": freeze} if preset == "crnngan" else {}))
            run = training.start(spec)  # the session's right first (app_ui.rights)
            st.session_state["train_job"] = str(run.path)
            st.toast(f"Started {run.name}", icon=":material/directions_run:")


def _hear_it_learn(run) -> None:
    """The first checkpoint's sample next to the newest, as soon as each lands."""
    epochs = [e for e in run.epochs() if run.sample_path(e, ".mid").is_file()]
    if not epochs:
        return
    st.markdown("##### Hear it learn")
    first, newest = epochs[0], epochs[-1]
    cols = st.columns(2) if newest != first else [st.container()]
    for col, epoch in zip(cols, sorted({first, newest})):
        with col:
            st.caption(f"Epoch {epoch}" + (" (the first)" if epoch == first and newest != first
                                           else " (the newest)" if epoch == newest else ""))
            show_checkpoint_sample(run, epoch, key=f"train_sample_{epoch}", height=220,
                                   metrics=False)


def _job_panel(run_dir: str) -> None:
    """Live view of one job: state, progress, chart, Stop/Resume. Polls while it is active."""
    from core.training import jobs
    from core.runs import Run, RunState

    run = Run(run_dir)
    job = jobs.summary(run)
    st.markdown(f"#### :material/{STATE_ICONS.get(job.state, 'help')}: `{run.name}` — {job.state}")
    if run.status.get("message"):
        st.caption(run.status["message"])
    st.progress(job.progress, text=job.progress_text)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Loss (now)", f"{job.loss:.3f}" if job.loss is not None else "—")
    c2.metric("Tokens / s", f"{job.tokens_per_s:,.0f}" if job.tokens_per_s else "—")
    c3.metric("Time left", _fmt_seconds(job.eta_s) if job.active else "—")
    c4.metric("Device", job.device + (f" × {job.workers} workers" if job.workers > 1 else ""),
              help=job.device_name)
    st.plotly_chart(run_history_figure(run),
                    key="train_chart", width="stretch")
    _hear_it_learn(run)

    if job.state == RunState.FAILED:
        st.error(f"The training failed: {run.status.get('message') or 'no reason was recorded'}.",
                 icon=":material/error:")
        st.info("Fix the settings above and start a new run" + (", or resume from the last "
                "checkpoint." if run.epochs() else "."), icon=":material/arrow_forward:")
    elif job.state == RunState.INTERRUPTED:
        st.warning("The training process ended without finishing (the machine restarted, or it was "
                   "killed).", icon=":material/warning:")

    if not granted():  # demo mode, or the audience in a room
        return
    b1, b2, b3, _ = st.columns([1, 2, 1, 2], vertical_alignment="center")
    if job.state in (RunState.QUEUED, RunState.RUNNING):
        if b1.button("Stop", icon=":material/stop:", key="train_stop"):
            with action("Stopping", hint="Try again in a moment."):
                training.stop(run.path)
                st.toast("Asked the job to save a checkpoint and stop.", icon=":material/pan_tool:")
    if job.can_resume:
        more = b3.number_input("Train up to epoch", min_value=job.epoch + 1,
                               value=max(job.epochs, job.epoch + 1), key="train_resume_epochs",
                               label_visibility="collapsed", help="Resume trains until this epoch.")
        if b2.button(f"{job.resume_label} to epoch {int(more)}", icon=":material/play_arrow:",
                     key="train_resume"):
            with action("Resuming", hint="Start a new run instead."):
                training.resume(run.path, epochs=int(more))
                st.rerun(scope="app")
    # when the job stops being active, rerun the whole page once so the polling ends
    was_active = st.session_state.get("train_was_active", {}).get(run_dir)
    st.session_state.setdefault("train_was_active", {})[run_dir] = job.active
    if was_active and not job.active:
        st.rerun(scope="app")


with page_guard("Train"):
    from core.training import jobs
    from core.runs import STATES_ACTIVE

    if not granted():
        demo_notice("Training")
    else:
        _setup_form()

    job_list = jobs.list_jobs()
    if not job_list:
        st.caption("No training jobs yet.")
    else:
        st.subheader("Jobs")
        paths = [str(r.path) for r, _ in job_list]
        states = {str(r.path): s for r, s in job_list}
        if st.session_state.get("train_job") not in paths:
            active = [p for p in paths if states[p] in STATES_ACTIVE]
            st.session_state["train_job"] = active[0] if active else paths[0]
        chosen = st.selectbox("Job", paths, key="train_job",
                              format_func=lambda p: p.rsplit("/", 1)[-1])
        with st.expander(f"All jobs ({len(job_list)})"):
            st.dataframe({"run": [r.name for r, _ in job_list], "state": [s for _, s in job_list],
                          "epoch": [f"{r.status.get('epoch', 0)}/{r.status.get('epochs', '?')}"
                                    for r, _ in job_list]}, hide_index=True, key="train_jobs_table")
        every = POLL_S if states.get(chosen) in STATES_ACTIVE else None
        st.fragment(run_every=every)(_job_panel)(chosen)
