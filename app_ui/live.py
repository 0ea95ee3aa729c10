"""The room follows the presenter's training, on Home (room mode): the running job's live loss
chart, drawn as the Train page draws its loss panel, and a button that composes with its newest
checkpoint, "the model as it is right now", so the room hears it improve epoch by epoch. A job
that has ended stays there ``LINGER_S`` more, so the room hears the model it ended with.

The chart polls in a fragment (only it reruns, every ``POLL_S``) and is sent again only when the
run's files changed; it is an image drawn on the server (``app_ui.charts.history_png``), since
an interactive chart cost every phone ~0.5 CPU-s a redraw. The button and its piece stay
outside the fragment, so a poll never sends a piece's audio again. When what the page shows
changes (a job starts or ends, its first checkpoint lands) the fragment reruns the page once.
"""

from __future__ import annotations

import streamlit as st

from app_ui.charts import files_stamp, history_png
from app_ui.errors import action
from app_ui.music import compose, show_composition
from app_ui.ready import HOME_OPTIONS

POLL_S = 5.0      # seconds between a phone's looks at the running job (an epoch takes longer)
DRAWN = "live_chart_drawn"   # session state: the run files' stamp this session's chart shows
LINGER_S = 900.0  # an ended job stays on Home this long after its last word
# A piece as Home composes one, without the copy measures (they parse the run's corpus first)
LIVE_OPTIONS = {**HOME_OPTIONS, "metrics": False}


def live_run():
    """The latest training job (``core.training.jobs.list_jobs``: newest first) if it runs or
    ended under ``LINGER_S`` ago, with whether it runs; else ``(None, False)``."""
    import time

    from core.runs import STATES_ACTIVE
    from core.training import jobs

    listed = jobs.list_jobs()
    if not listed:
        return None, False
    run, state = listed[0]
    if state in STATES_ACTIVE:
        return run, True
    ended = float(run.status.get("updated", 0))
    return (run, False) if time.time() - ended < LINGER_S else (None, False)


def _shown(run, running: bool) -> str | None:
    """What the page outside the poll shows: which job, whether it runs, whether it has a
    checkpoint to compose with (a change of any reruns the page once)."""
    if run is None:
        return None
    return f"{run.path}:{running}:{newest_checkpoint(run) is not None}"


def newest_checkpoint(run) -> int | None:
    epochs = run.epochs()
    return epochs[-1] if epochs else None


def compose_now(run):
    """A piece by ``run``'s newest checkpoint (``ValueError`` before its first one)."""
    epoch = newest_checkpoint(run)
    if epoch is None:
        raise ValueError("the model has no checkpoint yet; it saves one after its first epoch")
    return compose(run.path, epoch, **LIVE_OPTIONS)[0]


def _chart(seen: str | None, caption, chart) -> None:
    run, running = live_run()
    if _shown(run, running) != seen:
        st.rerun(scope="app")  # a job started or ended: the heading and the button follow it
    if run is None:
        return
    status = run.status
    caption.caption(f"Epoch {status.get('epoch', 0)} of {status.get('epochs', '?')} · "
                    f"{status.get('message') or status.get('state', '')}")
    drawn = (str(run.path), files_stamp(run.path))
    if st.session_state.get(DRAWN) != drawn:   # the same figure again would cost every phone
        chart.container(key="live_chart").image(history_png(run), width="stretch")
        st.session_state[DRAWN] = drawn


def show() -> None:
    """The live section of Home: the chart (polled) and Compose with the newest checkpoint."""
    run, running = live_run()
    if run is not None:
        st.subheader(f":material/model_training: Training now: `{run.name}`" if running else
                     f":material/check_circle: Just trained: `{run.name}`")
    st.session_state.pop(DRAWN, None)   # a whole run of the page draws the chart afresh
    # The poll writes into placeholders outside its fragment: an element there stays until it
    # is replaced, so a poll that finds nothing new sends nothing (a fragment's own elements
    # must be drawn again by every one of its runs).
    caption, chart = st.empty(), st.empty()
    st.fragment(run_every=POLL_S)(_chart)(_shown(run, running), caption, chart)
    if run is None:
        return
    if newest_checkpoint(run) is None:
        st.caption(":material/hourglass_top: The model saves its first checkpoint after its "
                   "first epoch; then you can hear it here.")
        return
    if st.button("Hear the model as it is now", icon=":material/hearing:", key="live_compose",
                 width="stretch", help="A piece by the newest checkpoint of the training above."):
        with action("Composing with the model in training", hint="Press again in a moment."):
            with st.spinner("Composing…"):
                st.session_state["live_result"] = compose_now(run)
    result = st.session_state.get("live_result")
    if result is not None:
        st.caption(f"By `{result.settings.get('run')}` as it was at epoch "
                   f"{result.settings.get('epoch')}")
        show_composition(result, key="live_result", roll_height=260)
