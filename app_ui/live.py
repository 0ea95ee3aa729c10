"""The room follows the presenter's training, on Home (room mode): the running job's live loss
chart, drawn as the Train page draws it, and a button that composes with its newest
checkpoint, "the model as it is right now", so the room hears it improve epoch by epoch.

The chart polls in a fragment (only it reruns, every ``POLL_S``); the button and its piece stay
outside it, so a poll never sends a piece's audio again. When the running job changes (one
starts, or it ends) the fragment reruns the whole page once.
"""

from __future__ import annotations

import streamlit as st

from app_ui.charts import history_figure
from app_ui.errors import action
from app_ui.music import compose, show_composition
from app_ui.ready import HOME_OPTIONS

POLL_S = 3.0   # seconds between a phone's looks at the running job
# A piece as Home composes one, without the copy measures (they parse the run's corpus first)
LIVE_OPTIONS = {**HOME_OPTIONS, "metrics": False}


def live_run():
    """The latest running (or queued) training job, or ``None``."""
    from core.training import jobs

    active = jobs.active_jobs()
    return active[0] if active else None


def newest_checkpoint(run) -> int | None:
    epochs = run.epochs()
    return epochs[-1] if epochs else None


def compose_now(run):
    """A piece by ``run``'s newest checkpoint (``ValueError`` before its first one)."""
    epoch = newest_checkpoint(run)
    if epoch is None:
        raise ValueError("the model has no checkpoint yet; it saves one after its first epoch")
    return compose(run.path, epoch, **LIVE_OPTIONS)[0]


def _chart(seen: str | None) -> None:
    run = live_run()
    if (str(run.path) if run else None) != seen:
        st.rerun(scope="app")  # a job started or ended: the page's button follows it
    if run is None:
        return
    status = run.status
    st.caption(f"Epoch {status.get('epoch', 0)} of {status.get('epochs', '?')} · "
               f"{status.get('message') or status.get('state', '')}")
    st.plotly_chart(history_figure(run.history(), run.best_epoch()), key="live_chart",
                    width="stretch")


def show() -> None:
    """The live section of Home: the chart (polled) and Compose with the newest checkpoint."""
    run = live_run()
    if run is not None:
        st.subheader(f":material/model_training: Training now: `{run.name}`")
    st.fragment(run_every=POLL_S)(_chart)(str(run.path) if run else None)
    if run is None:
        return
    if st.button("Hear the model as it is now", icon=":material/hearing:", key="live_compose",
                 width="stretch", help="A piece by the newest checkpoint of the training above."):
        with action("Composing with the model in training", hint="Press again in a moment."):
            with st.spinner("Composing…"):
                st.session_state["live_result"] = compose_now(run)
    result = st.session_state.get("live_result")
    if result is not None:
        show_composition(result, key="live_result", roll_height=260)
