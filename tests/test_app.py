"""The Streamlit pages under ``streamlit.testing.v1.AppTest``: each page runs without an
exception, its key widgets exist (found by key), Home's Compose yields audio, and bad input
shows a plain message instead of a traceback.

The app is pointed at a tiny real run trained once per session (``COMPOSER_RUNS_ROOTS``) and
at a temporary data folder (``COMPOSER_DATA``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 120


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, tiny_run):
    """The environment the app runs in here (the shared tiny run as its user runs, a data folder
    of its own); restored after this module."""
    base = tmp_path_factory.getbasetemp() / "app"
    base.mkdir(exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("COMPOSER_DATA", "COMPOSER_RUNS_ROOTS", "COMPOSER_DEMO",
                                            "COMPOSER_READY_PIECES")}
    runs = base / "runs"
    if not (runs / "tiny").is_dir():
        shutil.copytree(tiny_run.path, runs / "tiny")
    run = runs / "tiny"
    os.environ["COMPOSER_DATA"] = str(base / "data")
    os.environ["COMPOSER_RUNS_ROOTS"] = str(run.parent)
    os.environ.pop("COMPOSER_DEMO", None)
    os.environ["COMPOSER_READY_PIECES"] = "2"  # Home's pool, small: it composes while tests run
    yield run
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("COMPOSER_DEMO", "1")


def page(name: str):
    """An AppTest of the real entry point, switched to ``pages/<name>.py`` and run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if name != "home":
        at.switch_page(f"pages/{name}.py")
    return at.run()


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert not errors, errors


def has_key(at, key: str) -> bool:
    return key in at.session_state


def players(at) -> list[str]:
    """The pages of the piano rolls that play along (``core.render.player``) that hold audio."""
    pages = [e.proto.srcdoc for e in at.get("iframe")]
    # "UklGR" and "T2dnU" are "RIFF" and "OggS" in base64: the start of a WAV or an Ogg Vorbis
    return [p for p in pages if "data-composer-player" in p
            and ('"text/plain">UklGR' in p or '"text/plain">T2dnU' in p)]


# --- pages -----------------------------------------------------------------------------------
def test_every_page_run_holds_homes_pool(app_env, monkeypatch):
    """``streamlit_app.py`` runs every page, not only Home, inside ``core.generation.pool.all_busy``: the
    pool composes ahead only while no visitor is being served."""
    import core.generation.pool

    runs = []

    @contextlib.contextmanager
    def recording():
        runs.append("in")
        yield
        runs.append("out")
    monkeypatch.setattr(core.generation.pool, "all_busy", recording)
    for name in ("home", "corpus", "train", "gallery", "generate"):
        ok(page(name))
    assert runs == ["in", "out"] * 5


def test_entry_point_routes_to_home(app_env):
    at = page("home")
    ok(at)
    assert any("Composer Studio" in t.value for t in at.title)


def test_home_compose_yields_audio_and_piano_roll(app_env):
    at = page("home")
    ok(at)
    at.button(key="home_compose").click().run()
    ok(at)
    assert players(at), "no piano roll with audio after Compose"
    assert at.get("download_button"), "no downloads after Compose"
    # a rerun keeps the piece (session state), without composing again
    at.run()
    assert players(at)


def test_corpus_preview_marks_what_a_generated_piece_copies(app_env):
    """A sample of the memorising run, loaded as a corpus, previewed against that run: its
    copied passages are listed under the roll, each with Play the original."""
    import time

    from core import corpus
    from core.runs import Run

    run = Run(ROOT / "checkpoints" / "bach-memorise-events")
    result = corpus.load(str(run.sample_path(run.epochs()[-1], ".mid")))
    at = page("corpus")
    at.session_state["corpus_result"] = result
    at.run()
    ok(at)
    choice = at.selectbox(key="corpus_copies_run")
    assert choice.options[0] == "no run" and not [b for b in at.button if b.label == "Play the original"]
    choice.select_index(choice.options.index("bach-memorise-events")).run()
    for _ in range(60):   # the run's training pieces are read in the background, once
        ok(at)
        if [b for b in at.button if b.label == "Play the original"]:
            break
        time.sleep(1)
        at.run()
    assert [b for b in at.button if b.label == "Play the original"]


def test_corpus_page_loads_a_builtin_corpus_and_previews(app_env):
    at = page("corpus")
    ok(at)
    for key in ("corpus_builtin", "corpus_max_pieces", "corpus_load", "corpus_upload",
                "corpus_upload_name", "corpus_upload_load"):
        assert has_key(at, key) or at.button(key=key), key
    at.selectbox(key="corpus_builtin").select("bach-chorales")
    at.number_input(key="corpus_max_pieces").set_value(4)
    at.button(key="corpus_load").click().run()
    ok(at)
    assert [m for m in at.metric if m.label == "Pieces"][0].value == "4"
    assert at.table, "no vocabulary table"
    assert at.selectbox(key="corpus_preview").options
    assert players(at)


def test_bad_upload_shows_a_plain_message():
    from app_ui.uploads import check_size, load_uploads

    with pytest.raises(ValueError, match="first"):
        load_uploads([])
    with pytest.raises(ValueError, match="limit is 1 MB"):
        check_size([("big.mid", b"\0" * (2 * 2**20))], limit_mb=1)
    with pytest.raises(ValueError) as info:
        load_uploads([("junk.mid", b"this is not a MIDI file"), ("notes.txt", b"hello")])
    message = str(info.value)  # every file named with its reason, in one plain sentence
    assert "junk.mid: not a MIDI file" in message and "notes.txt" in message
    assert "\n" not in message


def test_upload_button_without_files_shows_message_not_traceback(app_env):
    at = page("corpus")
    at.button(key="corpus_upload_load").click().run()
    assert not at.exception
    assert any("Reading your files failed" in e.value for e in at.error)


def test_train_page_has_its_settings_and_shows_a_job(app_env):
    from core.paths import user_runs_dir

    # a finished run in the user's runs folder is a job the page lists
    target = user_runs_dir() / "tiny-job"
    if not target.exists():
        shutil.copytree(app_env, target)
    at = page("train")
    ok(at)
    for key in ("train_corpus", "train_encoding", "train_preset", "train_size", "train_for", "train_amount",
                "train_checkpoint_every", "train_val_share", "train_max_pieces", "train_job"):
        assert has_key(at, key), key
    assert any("tiny-job" in o for o in at.selectbox(key="train_job").options)
    at.selectbox(key="train_job").select(str(target)).run()
    ok(at)
    assert at.get("plotly_chart"), "no loss chart for the job"


def test_train_page_draws_the_baseline_and_plays_the_first_and_newest_samples(app_env):
    from core.paths import user_runs_dir
    from core.runs import Run

    target = user_runs_dir() / "learning-job"
    if not target.exists():
        shutil.copytree(app_env, target)
    run = Run(target)
    run.write_status(state="running", epoch=2, epochs=10, pid=os.getpid(), budget_s=180,
                     elapsed_s=90)
    at = page("train")
    at.selectbox(key="train_job").select(str(target)).run()
    ok(at)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    baseline = [s for s in figure["layout"]["shapes"] if s.get("line", {}).get("dash") == "dash"
                and s.get("y0") == s.get("y1")]
    assert [s["y0"] for s in baseline] == [pytest.approx(run.baseline_nll())]
    assert any("what note statistics alone reach" in a.get("text", "")
               for a in figure["layout"]["annotations"])
    assert any("Hear it learn" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert "Epoch 1 (the first)" in captions and "Epoch 2 (the newest)" in captions
    progress = at.get("progress")[0].proto
    assert progress.value == 50 and "1:30 of 3:00" in progress.text   # the budget's clock


def test_train_page_offers_resume_for_a_stopped_job(app_env):
    from core.paths import user_runs_dir
    from core.runs import Run

    target = user_runs_dir() / "stopped-job"
    if not target.exists():
        shutil.copytree(app_env, target)
    Run(target).write_status(state="stopped", epoch=1, epochs=2, pid=None)
    at = page("train")
    at.selectbox(key="train_job").select(str(target)).run()
    ok(at)
    assert at.button(key="train_resume").label.startswith("Resume")
    assert not [b for b in at.button if b.key == "train_stop"]


def test_train_page_refuses_bad_settings_with_a_message(app_env):
    at = page("train")
    at.number_input(key="train_max_pieces").set_value(1)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("Starting the training failed" in e.value for e in at.error)


def test_gallery_page_shows_runs_and_checkpoints(app_env):
    at = page("gallery")
    ok(at)
    assert any(o == app_env.name for o in at.selectbox(key="gallery_run").options)
    at.selectbox(key="gallery_run").select(str(app_env)).run()
    ok(at)
    assert at.get("plotly_chart")
    assert has_key(at, "gallery_listen")
    assert (app_env / "samples").is_dir()  # the tiny run's checkpoints have their samples
    assert len(at.get("plotly_chart")) >= 2  # loss, copy/loop rate
    assert players(at)  # the sample's piano roll, playing along


def test_generate_page_generates_and_keeps_earlier_results(app_env):
    at = page("generate")
    ok(at)
    for key in ("gen_run", "gen_length", "gen_temperature", "gen_top_k", "gen_anti_loop",
                "gen_primer_kind", "gen_seed", "gen_variations"):
        assert has_key(at, key), key
    at.selectbox(key="gen_run").select(str(app_env))
    at.slider(key="gen_length").set_value(10)
    at.number_input(key="gen_seed").set_value(3)
    at.button(key="gen_go").click().run()
    ok(at)
    assert len(players(at)) == 1
    at.slider(key="gen_temperature").set_value(1.5)
    at.button(key="gen_go").click().run()
    ok(at)
    assert len(players(at)) == 2, "the earlier result should stay below the new one"


def test_generate_page_gives_the_gan_a_noise_scale_and_no_token_controls(app_env):
    from core.paths import SHIPPED_RUNS

    gan = SHIPPED_RUNS / "bach-crnngan-continuous"
    at = page("generate")
    at.selectbox(key="gen_run").select(str(gan)).run()
    ok(at)
    sliders = {s.key for s in at.slider}  # the widgets on the page now
    assert "gen_noise_scale" in sliders and not {"gen_top_k", "gen_anti_loop"} & sliders
    at.radio(key="gen_primer_kind_gan").set_value("none")
    at.slider(key="gen_length").set_value(10)
    at.number_input(key="gen_seed").set_value(3)
    at.button(key="gen_go").click().run()
    ok(at)
    assert len(players(at)) == 1
    assert any("do not apply" in c.value for c in at.caption)


def test_generate_bad_primer_is_a_message_not_a_traceback(app_env):
    at = page("generate")
    at.selectbox(key="gen_run").select(str(app_env))
    at.radio(key="gen_primer_kind").set_value("text")
    at.run()
    at.text_input(key="gen_primer_typed").set_value("this is not music ###")
    at.slider(key="gen_length").set_value(10)
    at.button(key="gen_go").click().run()
    assert not at.exception
    assert any("Generating failed" in e.value for e in at.error)


def test_failed_job_shows_its_reason_and_a_way_forward(app_env):
    from core.paths import user_runs_dir
    from core.runs import Run

    target = user_runs_dir() / "failed-job"
    target.mkdir(parents=True, exist_ok=True)
    Run(target).write_status(state="failed", epoch=0, epochs=2, pid=None,
                             message="the corpus has 1 usable piece(s); training needs at least 2")
    at = page("train")
    at.selectbox(key="train_job").select(str(target)).run()
    assert not at.exception
    assert any("needs at least 2" in e.value for e in at.error)
    assert any("start a new run" in i.value for i in at.info)


def test_a_job_killed_with_kill_9_shows_as_interrupted_with_a_resume_button(app_env):
    import signal
    import subprocess

    from core.paths import user_runs_dir
    from core.runs import Run

    target = user_runs_dir() / "killed-job"
    shutil.copytree(app_env, target, dirs_exist_ok=True)
    victim = subprocess.Popen(["sleep", "60"])   # the job's process, killed without a word
    Run(target).write_status(state="running", epoch=2, epochs=9, pid=victim.pid, message="")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    status = json.loads((target / "status.json").read_text())  # its last word, a minute ago
    (target / "status.json").write_text(json.dumps({**status, "updated": status["updated"] - 60}))
    at = page("train")
    at.selectbox(key="train_job").select(str(target)).run()
    ok(at)
    assert any("ended without finishing" in w.value for w in at.warning)
    assert "train_resume" in [b.key for b in at.button]


def test_checkpoint_from_another_vocabulary_is_a_message(app_env, tmp_path, monkeypatch):
    from core import corpus
    from core.encodings import get_tokenizer

    other = tmp_path / "other-vocab"  # the tiny run with a tokenizer fitted on other pieces
    shutil.copytree(app_env, other)
    get_tokenizer("chords").fit(corpus.load("bach-chorales", max_pieces=2).pieces) \
        .save(other / "tokenizer.json")
    monkeypatch.setenv("COMPOSER_RUNS_ROOTS", os.pathsep.join([str(app_env.parent), str(tmp_path)]))
    at = page("generate")
    at.selectbox(key="gen_run").select(str(other))
    at.slider(key="gen_length").set_value(10)
    at.button(key="gen_go").click().run()
    assert not at.exception
    assert any("Generating failed" in e.value and "vocabulary" in e.value for e in at.error)


@pytest.mark.filterwarnings("ignore:FluidSynth is not available:RuntimeWarning")
def test_missing_fluidsynth_falls_back_with_a_visible_warning(app_env, monkeypatch):
    from core.render import fluid

    def unavailable():
        raise fluid.FluidSynthUnavailable("FluidSynth is not available (test)")
    monkeypatch.setattr(fluid, "load_fluidsynth", unavailable)
    monkeypatch.setenv("COMPOSER_READY_PIECES", "0")  # rendered at the press, not made earlier
    at = page("home")
    at.button(key="home_compose").click().run()
    ok(at)
    assert players(at)
    assert any("simple synthesizer" in w.value for w in at.warning)


def test_two_visitors_pressing_compose_get_pieces_of_their_own(app_env):
    first, second = page("home"), page("home")
    for at in (first, second, first):
        at.button(key="home_compose").click().run()
        ok(at)
    assert len({players(first)[0], players(second)[0]}) == 2


def test_demo_mode_has_no_training_upload_or_deletion(app_env, demo):
    at = page("train")
    assert not at.exception  # (an earlier test's failed job may show its st.error here)
    assert not has_key(at, "train_corpus")
    assert not [b for b in at.button if b.key in ("train_stop", "train_resume")]
    at = page("corpus")
    ok(at)
    assert not has_key(at, "corpus_upload")
    at = page("gallery")
    ok(at)
    assert not has_key(at, "gallery_delete_sure")


def test_demo_mode_shows_the_piano_roll_large(app_env, demo):
    at = page("home")
    at.button(key="home_compose").click().run()
    ok(at)
    rolls = players(at)
    assert rolls and all('<body class="large">' in p for p in rolls)
    assert [t.label for t in at.tabs] == ["Piano roll", "Score"]
