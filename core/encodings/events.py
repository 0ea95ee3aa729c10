"""``events``: the default, an event vocabulary built by MidiTok.

Notes become events: where they start (``flavor="remi"``: ``Bar`` and ``Position`` tokens;
``flavor="tsd"``: ``TimeShift`` tokens), then ``Pitch``, ``Velocity`` and ``Duration``. The
vocabulary, the token names and the ids are MidiTok's (``miditok.REMI`` / ``miditok.TSD``), with
one change: id 0 (MidiTok's ``PAD_None``) is named ``"PAD"``. It is fixed by the parameters, so
``fit`` learns nothing. The saved state is MidiTok's own JSON config dict; nothing is pickled.

Parameters: ``beat_res`` positions per beat (default 8, a 32nd note; durations use the same
resolution up to 4 beats and half of it up to 12 beats), ``num_velocities`` velocity bins
(default 8), ``flavor``. Bars are 4 beats (4/4): a ``Piece`` has no time signature.

Known losses: all melodic tracks are merged into one stream (MidiTok's ``use_programs=False``):
instrument identity and programs are lost and decoding gives one track, program 0; drum tracks
are dropped; onsets move to the ``1 / beat_res`` grid, durations to the nearest duration token
(at most 12 beats); velocities are binned to ``num_velocities`` values; tempo is not encoded.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from core.encodings.base import PAD, PAD_NAME, BeatClock, Tokenizer, register
from core.piece import END, PITCH, START, VELOCITY, Piece, Track

if TYPE_CHECKING:
    import miditok
    import symusic

# MidiTok (about 1 s to import) is imported only when an events tokenizer is made.
FLAVORS = {"remi": "REMI", "tsd": "TSD"}  # the MidiTok class of each flavor
TICKS_PER_BEAT = 480  # resolution of the score handed to MidiTok; it resamples to beat_res


@register
class EventTokenizer(Tokenizer):
    """REMI / TSD events through MidiTok; see the module docstring."""

    name = "events"

    def __init__(self, flavor: str = "remi", beat_res: int = 8, num_velocities: int = 8) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}, not {flavor!r}")
        if beat_res < 1 or not 1 <= num_velocities <= 127:
            raise ValueError(f"beat_res must be at least 1 and num_velocities in 1..127, got "
                             f"{beat_res} and {num_velocities}")
        super().__init__(flavor=flavor, beat_res=beat_res, num_velocities=num_velocities)
        import miditok

        config = miditok.TokenizerConfig(
            pitch_range=(0, 127), beat_res={(0, 4): beat_res, (4, 12): max(1, beat_res // 2)},
            num_velocities=num_velocities, special_tokens=["PAD"], use_programs=False,
            use_time_signatures=False, use_pitchdrum_tokens=False)
        self._use(getattr(miditok, FLAVORS[flavor])(config))

    def _use(self, miditok_tokenizer: "miditok.MusicTokenizer") -> None:
        self._miditok = miditok_tokenizer
        names = sorted(miditok_tokenizer.vocab, key=miditok_tokenizer.vocab.get)
        if miditok_tokenizer.vocab[names[0]] != PAD or not names[0].startswith("PAD"):
            raise ValueError(f"MidiTok's id 0 is {names[0]!r}, expected its PAD token")
        self._vocab = [PAD_NAME] + names[1:]

    @property
    def velocities(self) -> np.ndarray:
        """The velocities decoded notes can have (one per bin, ascending)."""
        return np.asarray(self._miditok.velocities)

    def beat_clock(self, batch: int) -> "EventClock | None":
        return EventClock.of(self, batch)

    def _fit(self, pieces: Sequence[Piece]) -> None:
        """Nothing to learn: the vocabulary is fixed by the parameters."""

    def encode(self, piece: Piece) -> np.ndarray:
        notes = piece.select(self.instrument_kind).notes
        if not len(notes):
            return np.zeros(0, dtype=np.int32)
        sequences = self._miditok.encode(_score(notes))
        return np.asarray(sequences[0].ids if sequences else [], dtype=np.int32)

    def decode(self, tokens: Sequence[int] | np.ndarray) -> Piece:
        ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
        ids = ids[(ids > PAD) & (ids < len(self._vocab))]
        if not len(ids):
            return Piece("decoded", np.zeros((0, 5)), [Track()])
        score = self._miditok.decode([ids.tolist()])
        rows = []
        for track in score.tracks:
            n = track.notes.numpy()
            start, end = n["time"] / score.tpq, (n["time"] + n["duration"]) / score.tpq
            rows.append(np.column_stack([start, end, n["pitch"], n["velocity"], 0 * start]))
        return Piece("decoded", np.concatenate(rows) if rows else np.zeros((0, 5)), [Track()])

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    def _state(self) -> dict[str, Any]:
        return {"tokenization": type(self._miditok).__name__,
                "config": self._miditok.config.to_dict(serialize=True)}

    def _load_state(self, state: dict[str, Any]) -> None:
        import miditok

        if state["tokenization"] not in FLAVORS.values():  # never getattr a name from a file
            raise ValueError(f"unknown MidiTok tokenization {state['tokenization']!r}")
        config = _config_from_json(state["config"])
        self._use(getattr(miditok, state["tokenization"])(config))


def _score(notes: np.ndarray) -> "symusic.Score":
    """A one-track ``symusic.Score`` (``TICKS_PER_BEAT`` ticks per beat) of ``Piece.notes`` rows."""
    import symusic

    start = np.round(notes[:, START] * TICKS_PER_BEAT).clip(0).astype(np.int32)
    end = np.round(notes[:, END] * TICKS_PER_BEAT).astype(np.int32)
    track = symusic.Track("merged", 0, False)
    track.notes = symusic.Note.from_numpy(
        start, np.maximum(end - start, 1), notes[:, PITCH].clip(0, 127).astype(np.int8),
        notes[:, VELOCITY].clip(1, 127).astype(np.int8))
    score = symusic.Score(TICKS_PER_BEAT)
    score.tracks.append(track)
    return score


def _config_from_json(config: dict[str, Any]) -> "miditok.TokenizerConfig":
    """Undo ``TokenizerConfig.to_dict(serialize=True)`` after a JSON round trip (tuple and int
    keys became strings, tuples became lists), as MidiTok's own file loader does."""
    import miditok

    config = copy.deepcopy(config)
    for key in ("beat_res", "beat_res_rest"):
        config[key] = {tuple(map(int, k.split("_"))): v for k, v in config[key].items()}
    config["time_signature_range"] = {int(k): v for k, v in config["time_signature_range"].items()}
    config["chord_maps"] = {k: tuple(v) for k, v in config["chord_maps"].items()}
    return miditok.TokenizerConfig.from_dict(config)


class EventClock(BeatClock):
    """``events`` (MidiTok REMI / TSD): MidiTok's decoding of time, one token at a time.

    ``Bar`` moves to the next bar (the first one stays at 0), ``Position_p`` to position ``p`` of
    the bar, ``TimeShift_t`` forward by ``t``; a note is ``Pitch``, ``Velocity``, ``Duration``
    in a row, ending ``Duration`` after the current time. Times are MidiTok ticks (integers),
    turned into beats as decoding does.
    """

    KINDS = ("PAD", "Bar", "Position", "TimeShift", "Pitch", "Velocity", "Duration")
    PAD, BAR, POSITION, SHIFT, PITCH, VELOCITY, DURATION = range(7)

    @classmethod
    def of(cls, tokenizer: "EventTokenizer", batch: int) -> "EventClock | None":
        """The clock, or ``None`` where MidiTok would decode other tokens or time (programs, time
        signatures, rests, no velocity or duration tokens...)."""
        m = tokenizer._miditok
        c = m.config
        kinds = {name.split("_")[0] for name in tokenizer.vocab}
        if (type(m).__name__ not in ("REMI", "TSD") or not kinds <= set(cls.KINDS)
                or c.use_programs or c.use_time_signatures or not c.use_velocities
                or 0 not in c.use_note_duration_programs):
            return None
        return cls(tokenizer, batch)

    def __init__(self, tokenizer: "EventTokenizer", batch: int) -> None:
        super().__init__(batch)
        m = tokenizer._miditok
        self.tpq = m.time_division                      # ticks per beat of the decoded score
        per_position = m._compute_ticks_per_pos(self.tpq) if type(m).__name__ == "REMI" else 0
        self.bar_ticks = 4 * self.tpq                   # 4/4: a Piece has no time signature
        self.kind, self.ticks = [self.PAD], [0]
        for name in tokenizer.vocab[1:]:
            kind, value = name.split("_", 1)
            self.kind.append(self.KINDS.index(kind))
            self.ticks.append(int(value) * per_position if kind == "Position"
                              else _ticks(value, self.tpq) if kind in ("TimeShift", "Duration") else 0)
        # per sequence: bar number (-1 before the first), its tick, the current tick, the kinds
        # of the two tokens before, the latest note end (-1: none yet)
        self.state = [[-1, 0, 0, self.PAD, self.PAD, -1] for _ in range(batch)]

    def _feed(self, i: int, token: int) -> None:
        kind, ticks = self.kind[token], self.ticks[token]
        if kind == self.PAD:
            return
        bar, bar_tick, tick, before, last, end = self.state[i]
        if kind == self.BAR:
            if bar >= 0:
                tick = bar_tick + self.bar_ticks
            bar, bar_tick = bar + 1, tick
        elif kind == self.POSITION:
            bar, tick = max(bar, 0), bar_tick + ticks
        elif kind == self.SHIFT:
            tick += ticks
        elif kind == self.DURATION and last == self.VELOCITY and before == self.PITCH \
                and tick + ticks > end:
            end = tick + ticks
            self.beats[i] = end / self.tpq
        self.state[i] = [bar, bar_tick, tick, last, kind, end]




def _ticks(value: str, ticks_per_beat: int) -> int:
    """MidiTok's duration and time-shift values ``"beats.positions.resolution"`` in ticks."""
    beats, positions, resolution = (int(v) for v in value.split("."))
    return (beats * resolution + positions) * ticks_per_beat // resolution
