"""core.render: FluidSynth and fallback audio, soundfont resolution, piano roll, MusicXML."""

from __future__ import annotations

import io
import re
import threading
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.piece import Piece, Track, from_note_list
from core.render import (Audio, FluidSynthUnavailable, describe_backend, find_soundfont, fluid,
                         piano_roll, render_audio, render_wav, soundfonts, to_musicxml)


def _fluidsynth_problem() -> str | None:
    try:
        fluid.load_fluidsynth()
    except FluidSynthUnavailable as e:
        return str(e)
    return None if find_soundfont() else "no soundfont found"


FLUID_PROBLEM = _fluidsynth_problem()
needs_fluidsynth = pytest.mark.skipif(FLUID_PROBLEM is not None,
                                      reason=f"FluidSynth cannot render here: {FLUID_PROBLEM}")


# --- pieces ---------------------------------------------------------------------------------
def melody(tempo: float = 120.0) -> Piece:
    """C major scale up and down in quarter notes, 16 beats (8 s at 120 bpm), with a C#4."""
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 72, 71, 69, 67, 65, 64, 61, 60]
    return from_note_list("scale", [(i, i + 1, p, 90) for i, p in enumerate(pitches)], tempo=tempo)


def drums(bars: int = 2) -> Piece:
    rows = []
    for b in range(bars):
        rows += [(4 * b + e / 2, 4 * b + e / 2 + 0.25, 42, 80) for e in range(8)]
        rows += [(4 * b, 4 * b + 0.5, 36, 110), (4 * b + 1, 4 * b + 1.5, 38, 100),
                 (4 * b + 2, 4 * b + 2.5, 36, 110), (4 * b + 3, 4 * b + 3.5, 38, 100)]
    return from_note_list("beat", rows, is_drum=True)


def band() -> Piece:
    """Piano, bass and drums: three tracks, one of them on the drum channel."""
    notes = [(0, 2, 60, 80, 0), (0, 2, 64, 80, 0), (2, 4, 67, 90, 0),
             (0, 4, 36, 100, 1),
             (0, 0.5, 36, 110, 2), (1, 1.5, 38, 100, 2), (2, 2.5, 42, 70, 2)]
    return Piece("band", np.array(notes, float), [Track(0), Track(33, name="Bass"), Track(0, True)])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def wav_info(data: bytes) -> tuple[int, int, int, int]:
    """``(channels, sample width in bytes, sample rate, frames)`` of a WAV file's bytes."""
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()


@pytest.fixture
def no_fluidsynth(monkeypatch):
    """Make FluidSynth look uninstalled, as on a machine without libfluidsynth."""
    monkeypatch.setattr(fluid, "_FLUIDSYNTH", ImportError("simulated: no libfluidsynth"))


# --- FluidSynth -----------------------------------------------------------------------------
@needs_fluidsynth
def test_fluidsynth_wav_is_audible_and_has_the_right_length():
    piece = melody()
    audio = render_audio(piece)
    assert audio.backend == "fluidsynth" and audio.warning is None
    assert audio.samples.dtype == np.float32 and audio.samples.shape[1] == 2
    assert audio.duration == pytest.approx(piece.duration_seconds + 1.0, abs=0.01)  # 1 s tail
    assert rms(audio.samples) > 0.02
    assert np.abs(audio.samples).max() <= 1.0
    # every second of the scale sounds, not only its start
    per_second = [rms(audio.samples[i * 44100:(i + 1) * 44100]) for i in range(8)]
    assert min(per_second) > 0.01

    data = render_wav(piece)
    channels, width, rate, frames = wav_info(data)
    assert (channels, width, rate) == (2, 2, 44100)
    assert frames == pytest.approx((piece.duration_seconds + 1.0) * 44100, abs=2)


def test_the_page_preview_is_ogg_vorbis_of_the_same_audio_at_a_fraction_of_the_size():
    import io

    import soundfile

    audio = render_audio(melody(), sample_rate=32000, stereo=False)
    ogg = audio.ogg_bytes()
    assert ogg[:4] == b"OggS" and len(ogg) < len(audio.wav_bytes()) / 4
    decoded, rate = soundfile.read(io.BytesIO(ogg), dtype="float32")
    assert rate == 32000 and abs(len(decoded) - len(audio.samples)) < 0.01 * rate
    n = min(len(decoded), len(audio.samples))
    assert rms(decoded[:n] - audio.samples[:n]) < 0.1 * rms(audio.samples)  # lossy, yet the same


@needs_fluidsynth
def test_fluidsynth_at_22khz_mono_with_custom_tail():
    piece = melody(tempo=240)  # 4 s
    data = render_wav(piece, 22050, stereo=False, tail=0.5)
    channels, width, rate, frames = wav_info(data)
    assert (channels, width, rate) == (1, 2, 22050)
    assert frames / rate == pytest.approx(4.5, abs=0.01)
    samples, sample_rate = render_audio(piece, 22050, stereo=False)
    assert sample_rate == 22050 and samples.ndim == 1 and rms(samples) > 0.02


@needs_fluidsynth
def test_loud_music_is_rendered_again_quieter_instead_of_clipping():
    loud = from_note_list("loud", [(0, 2, p, 127) for p in range(36, 96, 2)], program=48)
    assert 0.1 < np.abs(render_audio(loud, normalize=False).samples).max() < 32767 / 32768
    assert np.abs(render_audio(loud).samples).max() == pytest.approx(10 ** (-1 / 20), abs=1e-4)


@needs_fluidsynth
def test_fluidsynth_plays_drums_from_the_percussion_bank():
    audio = render_audio(drums())
    assert audio.backend == "fluidsynth" and rms(audio.samples) > 0.02
    assert fluid._channels(fluid_parts(band())) == [0, 1, 9]

    # A closed hi-hat (drum note 42) is mostly hiss above 4 kHz; piano F#2 (note 42) is not.
    hats = from_note_list("hats", [(i / 2, i / 2 + 0.25, 42, 90) for i in range(8)], is_drum=True)
    piano = from_note_list("piano", [(i / 2, i / 2 + 0.25, 42, 90) for i in range(8)])
    assert high_share(render_audio(hats)) > 5 * high_share(render_audio(piano))


def fluid_parts(piece: Piece):
    from core.render._music import parts
    return parts(piece)[0]


def high_share(audio: Audio, cutoff_hz: float = 4000) -> float:
    """Share of the spectral energy above ``cutoff_hz``."""
    mono = audio.samples.mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / audio.sample_rate)
    return float(power[freqs > cutoff_hz].sum() / power.sum())


@needs_fluidsynth
def test_the_synth_is_created_once_and_reused():
    render_audio(melody())
    key = (str(find_soundfont().resolve()), 44100)
    first = fluid._SYNTHS[key]
    synth = first.synth
    render_audio(drums())
    render_wav(band())
    assert fluid._SYNTHS[key] is first and first.synth is synth
    assert fluid.cached_synth(find_soundfont(), 44100) is first
    assert fluid.cached_synth(find_soundfont(), 22050) is not first  # one per sample rate


@pytest.fixture
def dry_synths(monkeypatch):
    """Synths without reverb: FluidSynth's reverb has no reset, and its modulation phase varies."""
    fluid.release_synths()
    monkeypatch.setitem(fluid.SYNTH_SETTINGS, "synth.reverb.active", 0)
    yield
    fluid.release_synths()


@needs_fluidsynth
def test_renders_do_not_depend_on_what_was_played_before(dry_synths):
    piece = melody(tempo=240)
    before = render_audio(piece, normalize=False).samples
    loud = from_note_list("loud", [(0, 8, p, 127) for p in range(40, 90, 3)], program=48)
    render_audio(loud, tail=0.0)  # ends with many notes still ringing
    after = render_audio(piece, normalize=False).samples
    assert_same_render(after, before)


def assert_same_render(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to FluidSynth's dither noise (a few 16-bit steps)."""
    assert a.shape == b.shape
    assert rms(a - b) < 0.005 * rms(b)
    assert np.abs(a[:4410] - b[:4410]).max() < 32 / 32768  # nothing rings on from before (-60 dB)


@needs_fluidsynth
def test_concurrent_renders_are_serialised_and_correct(dry_synths):
    piece = melody(tempo=240)
    expected = render_audio(piece, normalize=False).samples
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(
        render_audio(piece, normalize=False).samples)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for samples in results:
        assert_same_render(samples, expected)


@needs_fluidsynth
def test_pretty_midi_input_keeps_its_own_timing():
    pm = pretty_midi.PrettyMIDI(initial_tempo=90)
    inst = pretty_midi.Instrument(program=40)
    inst.notes += [pretty_midi.Note(velocity=100, pitch=69, start=0.5, end=2.0)]
    inst.pitch_bends += [pretty_midi.PitchBend(pitch=2048, time=1.0)]
    pm.instruments.append(inst)
    audio = render_audio(pm, tail=0.25)
    assert audio.duration == pytest.approx(2.25, abs=0.01)
    assert rms(audio.samples[:int(0.4 * 44100)]) < 1e-3 < rms(audio.samples[44100:2 * 44100])


def test_asking_for_fluidsynth_without_it_raises(no_fluidsynth):
    with pytest.raises(FluidSynthUnavailable, match="simulated"):
        render_audio(melody(), backend="fluidsynth")


# --- the simple fallback --------------------------------------------------------------------
@pytest.mark.parametrize("piece", [melody(), drums(), band()], ids=lambda p: p.name)
def test_simple_synth_is_audible_and_says_so(piece):
    audio = render_audio(piece, backend="simple")
    assert audio.backend == "simple" and "simple synthesizer" in audio.warning
    assert audio.duration == pytest.approx(piece.duration_seconds + 1.0, abs=0.01)
    assert rms(audio.samples) > 0.02 and np.abs(audio.samples).max() <= 1.0
    channels, width, rate, frames = wav_info(audio.wav_bytes())
    assert (channels, width, rate, frames) == (2, 2, 44100, len(audio.samples))


def test_missing_fluidsynth_falls_back_with_a_visible_warning(no_fluidsynth):
    with pytest.warns(RuntimeWarning, match="FluidSynth is not available"):
        audio = render_audio(melody())
    assert audio.backend == "simple" and rms(audio.samples) > 0.02
    assert "FluidSynth is not available" in audio.warning and "libfluidsynth" in audio.warning
    assert describe_backend()["backend"] == "simple"
    assert describe_backend()["fluidsynth"] is False


def test_empty_piece_renders_the_tail_as_silence():
    empty = Piece("empty", np.zeros((0, 5)))
    audio = render_audio(empty, backend="simple", tail=0.5)
    assert audio.duration == pytest.approx(0.5) and not audio.samples.any()


@pytest.mark.parametrize("kwargs, error", [
    (dict(sample_rate=1000), ValueError), (dict(sample_rate=44100.5), ValueError),
    (dict(backend="midi"), ValueError), (dict(tail=-1), ValueError),
    (dict(soundfont="/nowhere/none.sf2"), FileNotFoundError),
])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        render_audio(melody(), **kwargs)


# --- soundfont resolution -------------------------------------------------------------------
@pytest.fixture
def fonts(tmp_path, monkeypatch):
    """Empty project and system soundfont places, no COMPOSER_SOUNDFONT."""
    project, system = tmp_path / "soundfonts", tmp_path / "system"
    project.mkdir()
    system.mkdir()
    monkeypatch.setattr(soundfonts, "SOUNDFONTS_DIR", project)
    monkeypatch.setattr(soundfonts, "SYSTEM_SOUNDFONTS", (system / "FluidR3_GM.sf2",
                                                          system / "default-GM.sf3"))
    monkeypatch.delenv(soundfonts.SOUNDFONT_ENV, raising=False)
    return project, system, monkeypatch


def touch(path: Path) -> Path:
    path.write_bytes(b"RIFF")
    return path


def test_soundfont_order_project_then_env_then_system_then_pretty_midi(fonts, tmp_path):
    project, system, monkeypatch = fonts
    bundled = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    assert find_soundfont() == bundled.resolve()

    second = touch(system / "default-GM.sf3")
    assert find_soundfont() == second
    first = touch(system / "FluidR3_GM.sf2")
    assert find_soundfont() == first

    mine = touch(tmp_path / "mine.sf2")
    monkeypatch.setenv(soundfonts.SOUNDFONT_ENV, str(mine))
    assert find_soundfont() == mine

    touch(project / "notes.txt")
    touch(project / "b-strings.sf2")
    assert find_soundfont() == project / "b-strings.sf2"
    touch(project / "A-piano.SF3")
    assert find_soundfont() == project / "A-piano.SF3"
    assert describe_backend()["soundfont_source"] == "project"


def test_a_missing_env_soundfont_is_skipped_and_reported(fonts, tmp_path):
    _, system, monkeypatch = fonts
    font = touch(system / "FluidR3_GM.sf2")
    monkeypatch.setenv(soundfonts.SOUNDFONT_ENV, str(tmp_path / "gone.sf2"))
    assert find_soundfont() == font
    info = describe_backend()
    assert info["soundfont"] == str(font) and info["soundfont_source"] == "system"
    assert any("gone.sf2" in p for p in info["problems"])


def test_no_soundfont_at_all_falls_back(fonts, no_fluidsynth):
    _, _, monkeypatch = fonts
    monkeypatch.setattr(soundfonts, "_pretty_midi_soundfont", lambda: None)
    assert find_soundfont() is None
    assert "no soundfont found" in describe_backend()["problems"]


@needs_fluidsynth
def test_describe_backend_with_fluidsynth():
    info = describe_backend()
    assert info["backend"] == "fluidsynth" and info["fluidsynth"] is True
    assert info["soundfont"] == str(find_soundfont()) and info["problems"] == []
    assert info["fluidsynth_version"] and info["fluidsynth_version"][0].isdigit()


# --- piano roll -----------------------------------------------------------------------------
def test_piano_roll_has_one_trace_per_track_with_pitch_names():
    fig = piano_roll(melody(), title="Scale")
    assert len(fig.data) == 1
    bars = fig.data[0]
    assert bars.name == "Acoustic Grand Piano" and bars.orientation == "h"
    assert len(bars.x) == 16
    assert any("C#4" in text for text in bars.hovertext)
    assert "start 7.50 s, length 0.50 s" in bars.hovertext[-1]
    assert fig.layout.title.text == "Scale"


def test_piano_roll_of_a_band_names_drums_and_shows_velocity():
    fig = piano_roll(band())
    assert [t.name for t in fig.data] == ["Acoustic Grand Piano", "Electric Bass (finger) (Bass)",
                                          "Drums"]
    drum_axis = fig.layout.yaxis2  # drums get their own panel below the pitched tracks
    assert list(drum_axis.ticktext) == ["Bass Drum 1", "Acoustic Snare", "Closed Hi Hat"]
    assert fig.data[2].yaxis == "y2" and "Acoustic Snare" in fig.data[2].hovertext[1]
    opacity = np.asarray(fig.data[0].marker.opacity)
    assert opacity[0] < opacity[2]  # velocity 80 fainter than velocity 90


def test_piano_roll_of_drums_only_and_in_beats():
    fig = piano_roll(drums(), units="beats")
    assert len(fig.data) == 1 and fig.data[0].name == "Drums"
    assert "Closed Hi Hat" in fig.layout.yaxis.ticktext
    assert fig.layout.xaxis.title.text == "Time (beats)"
    assert max(np.asarray(fig.data[0].base) + np.asarray(fig.data[0].x)) == pytest.approx(7.75)


def test_piano_roll_accepts_pretty_midi_and_empty_pieces():
    fig = piano_roll(band().to_midi())
    assert len(fig.data) == 3
    assert len(piano_roll(Piece("empty", np.zeros((0, 5)))).data) == 0


def test_piano_roll_repeated_instruments_get_numbered():
    notes = np.array([(0, 1, 60, 80, 0), (0, 1, 64, 80, 1)], float)
    fig = piano_roll(Piece("duo", notes, [Track(0), Track(0)]))
    assert [t.name for t in fig.data] == ["Acoustic Grand Piano #1", "Acoustic Grand Piano #2"]


# --- MusicXML -------------------------------------------------------------------------------
def parse_musicxml(data: bytes):
    from music21 import converter
    return converter.parse(data, format="musicxml")


def sounding_pitches(score) -> list[int]:
    """MIDI pitches of every note or chord member, counting a tied note once."""
    out = []
    for n in score.recurse().notes:
        if n.tie is None or n.tie.type == "start":
            out += [p.midi for p in n.pitches]
    return out


def test_musicxml_round_trip_keeps_every_note():
    piece = melody()
    data = to_musicxml(piece)
    assert data.startswith(b"<?xml") and b"score-partwise" in data
    score = parse_musicxml(data)
    assert sounding_pitches(score) == [int(p) for p in piece.notes[:, 2]]
    assert len(score.parts) == 1
    assert score.metadata.bestTitle == "scale"


def test_musicxml_quantizes_to_sixteenths_and_makes_chords():
    piece = from_note_list("q", [(0.02, 0.51, 60, 80), (0.0, 0.49, 64, 80), (0.52, 0.55, 67, 80),
                                 (1.0, 2.0, 72, 80)])
    score = parse_musicxml(to_musicxml(piece))
    notes = list(score.recurse().notes)
    assert [n.isChord for n in notes] == [True, False, False]
    assert [float(n.quarterLength) for n in notes] == [0.5, 0.25, 1.0]
    assert sorted(p.midi for p in notes[0].pitches) == [60, 64]


def score_parts(score) -> list[tuple[int, object]]:
    """``(part number, staff)`` for every staff of a parsed score: the staves of a grand staff
    (music21's ``PartStaff``s, ids ``<part id>-Staff<n>``) share their part's number."""
    ids = [part.id.split("-Staff")[0] for part in score.parts]
    numbers = {i: n for n, i in enumerate(dict.fromkeys(ids))}
    return [(numbers[i], part) for i, part in zip(ids, score.parts)]


def written_key(member):
    """A written note's pitch (MIDI number), or for a drum its place and notehead on the staff."""
    if type(member).__name__ == "Unpitched":
        return (member.displayName, member.notehead)
    return member.pitch.midi


def written_notes(score) -> list[tuple[int, float, float, int]]:
    """``(part, start, end, pitch)`` of every note of a parsed score (times in beats, chords
    counted per pitch), its tied pieces joined: a tie continues the note of the same voice and
    pitch that ends where the piece starts. Drums: ``(place, notehead)`` for the pitch."""
    out = []
    for n_part, part in score_parts(score):
        sounding = []
        for n in part.recurse().notes:
            voice = n.activeSite.id if type(n.activeSite).__name__ == "Voice" else "1"
            start = float(n.getOffsetInHierarchy(part))
            end = start + float(n.quarterLength)
            for member in n.notes if hasattr(n, "notes") else [n]:  # chords per member
                tie, pitch = member.tie or n.tie, written_key(member)
                if tie is not None and tie.type in ("continue", "stop"):
                    row = next(r for r in sounding if r[1:] == [voice, pitch, start])
                    row[3] = end
                    if tie.type == "stop":
                        sounding.remove(row)
                else:
                    row = [(n_part, start), voice, pitch, end]
                    out.append(row)
                    if tie is not None:
                        sounding.append(row)
    return sorted(((p, s, e, pitch) for (p, s), _, pitch, e in out), key=str)


def sixteenth_notes(piece: Piece) -> list[tuple[int, float, float, int]]:
    """What the score should hold: ``(part, start, end, pitch)`` on the 16th grid (np.round,
    at least one 16th long), each once; a drum's pitch is its place and notehead on the staff."""
    from core.render.staves import drum_position

    start = np.round(piece.notes[:, 0] * 4) / 4
    end = np.maximum(np.round(piece.notes[:, 1] * 4) / 4, start + 0.25)
    parts = {t: i for i, t in enumerate(sorted(set(piece.notes[:, 4].astype(int).tolist())))}

    def key(pitch, track):
        if piece.tracks[int(track)].is_drum:
            step, octave, head = drum_position(int(pitch))
            return (f"{step}{octave}", head)
        return int(pitch)
    return sorted({(parts[int(t)], float(s), float(e), key(p, t))
                   for s, e, p, t in zip(start, end, piece.notes[:, 2], piece.notes[:, 4])}, key=str)


def test_musicxml_writes_generated_rhythms_with_overlaps():
    # decoded from an `events` model (seed 1): music21's own notation gave rests it cannot write
    generated = Piece("seed 1", np.array([
        [0, 1, 60, 95, 0], [1, 1.5, 60, 79, 0], [1, 1.5, 62, 79, 0], [1, 2, 64, 79, 0],
        [1, 2, 72, 79, 0], [4, 5, 54, 79, 0], [6.75, 7, 43, 79, 0], [7.5, 8.5, 64, 79, 0]]))
    # 3/8 and 5/16 beats, notes over bar lines, chords, a note overlapping one of its own pitch
    awkward = Piece("awkward", np.array([
        [0, 0.375, 60, 80, 0], [0, 2.75, 48, 70, 0], [0.375, 1.625, 64, 80, 0],
        [0.375, 1.625, 67, 80, 0], [1.5, 6.25, 72, 90, 0], [3.25, 5.5, 72, 60, 0],
        [3.875, 4.125, 55, 80, 0], [9.125, 17.0, 36, 80, 1], [9.125, 10, 40, 80, 1]]),
        [Track(0), Track(33, name="Bass")])
    for piece in (generated, awkward):
        score = parse_musicxml(to_musicxml(piece))
        assert written_notes(score) == sixteenth_notes(piece)
    assert [p.partName for _, p in score_parts(score)] == ["Acoustic Grand Piano"] * 2 + ["Bass"]


def test_musicxml_of_random_pieces_keeps_every_note():
    rng = np.random.default_rng(7)
    for _ in range(6):
        n = int(rng.integers(1, 50))
        start = rng.integers(0, 160, n) / 8  # 1/8-beat steps, as the events encoding decodes
        notes = np.column_stack([start, start + rng.integers(1, 48, n) / 8, rng.integers(30, 95, n),
                                 rng.integers(1, 128, n), rng.integers(0, 2, n)])
        piece = Piece("random", notes, [Track(0), Track(40)])
        assert written_notes(parse_musicxml(to_musicxml(piece))) == sixteenth_notes(piece)


def test_musicxml_problems_are_value_errors(monkeypatch):
    from music21.musicxml.xmlObjects import MusicXMLExportException

    from core.render import score

    with pytest.raises(ValueError, match="grid"):
        to_musicxml(melody(), grid=0.1)
    with pytest.raises(ValueError, match="time signature"):
        to_musicxml(melody(), time_signature="four")

    def fail(_):
        raise MusicXMLExportException("simulated")

    monkeypatch.setattr(score, "_export", fail)
    with pytest.raises(ValueError, match="scale: music21 cannot write.*simulated"):
        to_musicxml(melody())


def test_musicxml_writes_drums_on_a_percussion_staff():
    score = parse_musicxml(to_musicxml(band(), title="Band"))
    assert len(score.parts) == 3 and score.metadata.bestTitle == "Band"
    assert sorted(sounding_pitches(score)) == [36, 60, 64, 67]
    assert written_notes(score) == sixteenth_notes(band())
    beat = parse_musicxml(to_musicxml(drums()))
    assert [p.partName for p in beat.parts] == ["Drums"]
    assert beat.parts[0].recurse().getElementsByClass("PercussionClef")
    assert written_notes(beat) == sixteenth_notes(drums())


# --- command line ---------------------------------------------------------------------------
def test_cli_renders_a_midi_file(tmp_path, capsys):
    from core.cli import main

    midi = tmp_path / "band.mid"
    midi.write_bytes(band().to_midi_bytes())
    assert main(["render", str(midi), "--wav", str(tmp_path / "band.wav"),
                 "--musicxml", str(tmp_path / "band.musicxml"),
                 "--score", str(tmp_path / "band.score.html"),
                 "--roll", str(tmp_path / "band.html"), "--backend", "simple"]) == 0
    assert wav_info((tmp_path / "band.wav").read_bytes())[:3] == (2, 2, 44100)
    assert len(sounding_pitches(parse_musicxml((tmp_path / "band.musicxml").read_bytes()))) == 4
    assert "plotly" in (tmp_path / "band.html").read_text()
    score = (tmp_path / "band.score.html").read_text()
    assert "data-composer-score" in score
    assert len(re.findall(r'<g [^>]*class="note"', score)) == band().n_notes  # every note engraved
    assert "simple" in capsys.readouterr().out
