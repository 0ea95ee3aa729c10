"""Generate: pick a model and checkpoint, set the sampling sliders and a primer, compose, compare."""

import streamlit as st

from app_ui import action, page_guard
from app_ui.answer import phrase_options, played
from app_ui.layout import header
from app_ui.music import (checkpoint_choices, checkpoint_label, compose, default_run,
                          show_composition, usable_runs)
from app_ui.rights import granted
from app_ui.routing import routed_page
from core.models.config import PRESETS
from core.settings import SamplingSettings, bounds

routed_page()  # a deep link to this page still runs streamlit_app.py first

KEEP = 12  # earlier results kept on the page (newest first)
PRIMERS = {"note": "A single note", "corpus": "A window from the corpus",
           "text": "Notes I type", "midi": "A MIDI file I upload", "play": "What I play",
           "none": "Noise alone (as in the paper)"}   # "none": a GAN's only

header("Generate", "Every knob of the sampler. Low temperature plays safe (and may loop or "
       "copy), high temperature takes risks; top-k keeps only the k likeliest next tokens; "
       "anti-loop steers away from repeating the same bars.")


def _primer(kind: str, key: str) -> dict | None:
    """The primer widgets for ``kind``; returns the primer arguments of ``Generator.generate``."""
    if kind == "note":
        pitch = st.slider("Start note (MIDI pitch, 60 = middle C)", 21, 108, 60, key=f"{key}_note")
        return {"primer": "note", "primer_note": int(pitch)}
    if kind == "text":
        text = st.text_input("Notes, e.g. `C4 E4 G4 C5` (or token names of the model's encoding)",
                             "C4 E4 G4 C5", key=f"{key}_typed")
        return {"primer": "text", "primer_text": text}
    if kind == "none":
        return {"primer": "none"}
    if kind == "midi":
        up = st.file_uploader("Primer MIDI file", type=["mid", "midi", "rmi"], key=f"{key}_midi")
        if up is None:
            return None
        return {"primer": "midi", "primer_midi": up.getvalue()}
    return {"primer": "corpus"}


with page_guard("Generate"):
    runs = usable_runs()
    if not runs:
        st.info("No trained model yet: train one on the Train page.", icon=":material/tune:")
        st.stop()
    paths = [str(r.path) for r in runs]
    if st.session_state.get("gen_run") not in paths:
        default = default_run()
        st.session_state["gen_run"] = str(default.path) if default and str(default.path) in paths else paths[0]
    labels = {str(r.path): r for r in runs}

    keys_area = st.container()   # the keyboard, full width, when starting from what I play
    left, right = st.columns([1, 2], gap="large")
    with left:
        chosen = st.selectbox("Model", paths, key="gen_run",
                              format_func=lambda p: labels[p].name)
        run = labels[chosen]
        spec = run.config.get("spec", {})
        st.caption(f"{spec.get('corpus', '?')} · {spec.get('preset', '?')}/{spec.get('encoding', '?')}")
        choices = checkpoint_choices(run)
        epoch = st.selectbox("Checkpoint", choices, key=f"gen_epoch_{run.name}",
                             format_func=lambda e: checkpoint_label(run, e))
        seconds = st.slider("Length (seconds)", 5, 120, 30, 5, key="gen_length")
        preset = PRESETS.get(run.config.get("model", {}).get("preset"))
        gan = preset is not None and preset.reads == "notes"   # the C-RNN-GAN
        roll = bool(run.config.get("model", {}).get("pitches"))   # a piano-roll model: cells
        top_k, top_p, anti_loop, penalty = 0, 1.0, 0.0, 1.0
        if gan:   # a GAN draws no tokens: its one knob is the noise
            temperature = st.slider("Noise scale", 0.1, 2.0, 1.0, 0.05, key="gen_noise_scale",
                                    help="How widely the generator's random input varies: 1 as in "
                                         "training, lower for tamer music, higher for wilder.")
            st.caption("A GAN writes real-valued notes, not tokens: top-k, top-p, anti-loop and "
                       "the repetition penalty do not apply to it.")
            max_tokens = 20_000
        else:
            temperature = st.slider("Temperature", 0.1, 2.0, 1.0, 0.05, key="gen_temperature")
            top_k = st.slider("Top-k (0 = off)", 0, 200, 20, 1, key="gen_top_k")
            anti_loop = st.slider("Anti-loop strength", 0.0, 1.0, 0.5, 0.05, key="gen_anti_loop",
                                  help="Breaks loops; for the biaxial model, the original's "
                                       "conservativity relief after silent steps.")
            with st.expander("More"):
                top_p = st.slider("Top-p (1 = off)", 0.5, 1.0, 1.0, 0.01, key="gen_top_p")
                max_tokens = st.number_input("Token limit (stops here even if shorter than the "
                                             "length)", 64, int(bounds(SamplingSettings, "length")[1]),
                                             20_000 if roll else 4096, 64, key="gen_max_tokens",
                                             help="A piano-roll model's token is one pitch at one step.")
                penalty = st.slider("Repetition penalty (1 = off)", 1.0, 2.0, 1.0, 0.05,
                                    key="gen_repetition_penalty")
        primer_kinds = [k for k in PRIMERS if not (k == "midi" and not granted())
                        and (k != "none" or gan)]
        kind = st.radio("Start from", primer_kinds, format_func=PRIMERS.get,
                        key="gen_primer_kind_gan" if gan else "gen_primer_kind")
        answered = False
        if kind == "play":   # the keyboard's Answer generates with these settings
            with keys_area:
                phrase = played(run, epoch, "gen_keys")
            if phrase is not None:
                st.session_state["gen_phrase"], answered = phrase, True
            last = st.session_state.get("gen_phrase")
            primer = phrase_options(last) if last is not None else None
            st.caption("Play on the keyboard above and press **Answer**; **Generate** answers "
                       "the last phrase again.")
        else:
            primer = _primer(kind, "gen_primer")
        c1, c2 = st.columns(2)
        seed = c1.number_input("Seed (0 = random)", 0, 2**31 - 1, 0, key="gen_seed")
        variations = c2.number_input("Variations", 1, 4, 1, key="gen_variations")
        clicked = st.button("Generate", icon=":material/music_note:", key="gen_go", type="primary",
                            width="stretch") or answered

    with right:
        if clicked:
            with action("Generating", hint="Try another checkpoint or primer, or lower the length."):
                if primer is None:
                    raise ValueError("play a phrase on the keyboard and press Answer" if kind == "play"
                                     else "choose a MIDI file to start from, or another primer")
                with st.spinner("Composing and rendering…"):
                    new = compose(run.path, epoch, score=True, metrics=True,
                                  seconds=float(seconds), length=int(max_tokens),
                                  temperature=float(temperature), top_k=int(top_k),
                                  top_p=float(top_p), anti_loop=float(anti_loop),
                                  repetition_penalty=float(penalty), seed=int(seed) or None,
                                  variations=int(variations), **primer)
                st.session_state["gen_results"] = (new + st.session_state.get("gen_results", []))[:KEEP]
                st.session_state["gen_fresh"] = len(new)
        results = st.session_state.get("gen_results", [])
        if not results:
            st.info("Set the sliders and press **Generate**. Results stay here while you try others.",
                    icon=":material/tune:")
        fresh = st.session_state.get("gen_fresh", 0)
        for i, c in enumerate(results):
            with st.container(border=True):
                tag = ":material/fiber_new: " if i < fresh else ""
                settings = c.settings
                sampler = (f"noise scale {settings.get('temperature')}"
                           if settings.get("unit") == "steps" else
                           f"temperature {settings.get('temperature')} · top-k "
                           f"{settings.get('top_k') or 'off'} · anti-loop {settings.get('anti_loop')}")
                st.markdown(f"**{tag}{c.title}**  \n<small>{sampler} · {settings.get('seconds'):g} s "
                            f"· primer {settings.get('primer')} · seed {settings.get('seed')}</small>",
                            unsafe_allow_html=True)
                show_composition(c, key=f"gen_{c.key}", roll_height=300)
        if results and st.button("Clear results", key="gen_clear"):
            st.session_state.pop("gen_results", None)
            st.rerun()
