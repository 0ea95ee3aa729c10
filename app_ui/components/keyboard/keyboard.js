// The keyboard that records a phrase for a model to answer (app_ui/keyboard.py mounts it with
// st.components.v2; nothing here is fetched from anywhere).
//
// Played by pointer (mouse, pen, several fingers), by the computer keyboard (A S D F G H J K L ; '
// white keys, W E T Y U O P black keys, Z / X an octave down / up; drum pads on A..' and Q..P),
// and by a MIDI keyboard through Web MIDI where the browser has it. Each note sounds at once
// (Web Audio: the Synth of synth.js, joined before this file) and is recorded as
// [pitch, start, end, velocity] in seconds; Answer sends the phrase to Python as the trigger
// "answer" ({notes, tempo, click_start}). Each key is a <button> named by its note (C4 = MIDI
// 60) or General MIDI drum name, both from Python (core.render.pianoroll).

const WHITE_CODES = ["KeyA", "KeyS", "KeyD", "KeyF", "KeyG", "KeyH", "KeyJ", "KeyK", "KeyL",
  "Semicolon", "Quote"];
const PIANO_CODES = {KeyA: 0, KeyW: 1, KeyS: 2, KeyE: 3, KeyD: 4, KeyF: 5, KeyT: 6, KeyG: 7,
  KeyY: 8, KeyH: 9, KeyU: 10, KeyJ: 11, KeyK: 12, KeyO: 13, KeyL: 14, KeyP: 15, Semicolon: 16,
  Quote: 17};
const DRUM_CODES = [...WHITE_CODES, "KeyQ", "KeyW", "KeyE", "KeyR", "KeyT", "KeyY", "KeyU", "KeyI",
  "KeyO", "KeyP"];
const CODE_LABEL = (code) => code.startsWith("Key") ? code.slice(3) : {Semicolon: ";", Quote: "'"}[code];
const BLACK = new Set([1, 3, 6, 8, 10]);
const MIN_OCTAVE = 0, MAX_OCTAVE = 8;   // the lowest key's octave: C0 .. C8
const instances = new WeakMap();        // parentElement -> the keyboard built in it

export default function (component) {
  const {parentElement, data, setTriggerValue} = component;
  let kb = instances.get(parentElement);
  if (!kb) {
    kb = new Keyboard(parentElement, data || {});
    instances.set(parentElement, kb);
  }
  kb.setTrigger(setTriggerValue);
  kb.update(data || {});
  return kb.attach();
}

class Keyboard {
  constructor(parent, data) {
    this.names = data.names || [];
    this.drums = data.drums || null;            // [[pitch, name], ...] for a drum run
    this.octave = data.octave ?? 4;
    this.octaves = data.octaves ?? 2;
    this.tempo = data.tempo ?? 120;
    this.notes = [];                            // {pitch, start, end, velocity}
    this.held = new Map();                      // source ("p<id>", "k<code>", "m<pitch>") -> note
    this.voices = new Map();                    // note -> its sounding nodes
    this.synth = new Synth();
    this.latencies = [];                        // key-to-sound, measured on each pointer press
    window.__composerKeyboard = this;          // for the benchmark and the browser tests
    this.build(parent);
  }

  setTrigger(fn) { this.trigger = fn; }

  update(data) {
    this.root.classList.toggle("large", !!data.large);
  }

  // --- the page ---------------------------------------------------------------------------
  build(parent) {
    const root = document.createElement("div");
    root.className = "kb";
    root.innerHTML = `
      <div class="kb-bar">
        <span class="kb-group kb-octave">
          <button type="button" class="kb-ctl" data-act="down" aria-label="Octave down" title="Octave down (Z)">−</button>
          <span class="kb-range" aria-live="polite"></span>
          <button type="button" class="kb-ctl" data-act="up" aria-label="Octave up" title="Octave up (X)">+</button>
        </span>
        <span class="kb-group">
          <label class="kb-click"><input type="checkbox" data-act="click"> Click</label>
          <label class="kb-tempo"><input type="number" min="40" max="240" step="1" data-act="tempo" aria-label="Tempo (bpm)"> bpm</label>
        </span>
        <button type="button" class="kb-ctl kb-midi" data-act="midi" hidden>MIDI keyboard</button>
        <span class="kb-group kb-edit">
          <button type="button" class="kb-ctl" data-act="undo">Undo</button>
          <button type="button" class="kb-ctl" data-act="clear">Clear</button>
          <button type="button" class="kb-ctl kb-answer" data-act="answer">Answer</button>
        </span>
      </div>
      <div class="kb-keys" role="group" aria-label="Keyboard"></div>
      <canvas class="kb-roll" height="70" aria-label="What you played"></canvas>
      <div class="kb-status" aria-live="polite"></div>`;
    parent.appendChild(root);
    this.root = root;
    this.parent = parent;
    this.keysEl = root.querySelector(".kb-keys");
    this.roll = root.querySelector(".kb-roll");
    this.status = root.querySelector(".kb-status");
    this.tempoInput = root.querySelector('[data-act="tempo"]');
    this.tempoInput.value = this.tempo;
    if (this.drums) root.querySelector(".kb-octave").hidden = true;
    if (navigator.requestMIDIAccess) root.querySelector(".kb-midi").hidden = false;

    root.querySelector(".kb-bar").addEventListener("click", (e) => this.onControl(e));
    this.tempoInput.addEventListener("change", () => {
      const t = Math.round(Number(this.tempoInput.value));
      this.tempo = Math.min(240, Math.max(40, Number.isFinite(t) ? t : 120));
      this.tempoInput.value = this.tempo;
      if (this.synth.clickTimer) { this.synth.stopClick(); this.synth.startClick(this.tempo); }
    });
    root.querySelector('[data-act="click"]').addEventListener("change", (e) =>
      e.target.checked ? this.synth.startClick(this.tempo) : this.stopClick());
    this.bindPointers();
    this.drawKeys();
    this.refresh();
  }

  drawKeys() {
    this.keysEl.textContent = "";
    this.keysEl.classList.toggle("drums", !!this.drums);
    if (this.drums) {
      this.drums.forEach(([pitch, name], i) => {
        const b = this.keyButton(pitch, name, "pad");
        if (DRUM_CODES[i]) b.dataset.code = CODE_LABEL(DRUM_CODES[i]);
        this.keysEl.appendChild(b);
      });
      return;
    }
    const low = 12 * (this.octave + 1);
    const whites = [];
    for (let p = low; p <= low + 12 * this.octaves && p <= 127; p++) {
      if (!BLACK.has(p % 12)) whites.push(p);
    }
    const width = 100 / whites.length;
    whites.forEach((p, i) => {
      const b = this.keyButton(p, this.names[p] || String(p), "white");
      b.style.left = `${i * width}%`;
      b.style.width = `${width}%`;
      this.keysEl.appendChild(b);
      const black = p + 1;
      if (BLACK.has(black % 12) && black <= low + 12 * this.octaves && black <= 127) {
        const k = this.keyButton(black, this.names[black] || String(black), "black");
        k.style.left = `${(i + 1) * width - width * 0.32}%`;
        k.style.width = `${width * 0.64}%`;
        this.keysEl.appendChild(k);
      }
    });
    for (const [code, offset] of Object.entries(PIANO_CODES)) {
      const key = this.keysEl.querySelector(`[data-pitch="${low + offset}"]`);
      if (key) key.dataset.code = CODE_LABEL(code);
    }
    const range = this.root.querySelector(".kb-range");
    range.textContent = `${this.names[low]}–${this.names[Math.min(127, low + 12 * this.octaves)]}`;
  }

  keyButton(pitch, name, kind) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `key ${kind}`;
    b.dataset.pitch = pitch;
    b.setAttribute("aria-label", name);
    b.title = name;
    const label = document.createElement("span");
    label.className = "key-name";
    label.textContent = kind === "pad" || pitch % 12 === 0 ? name : "";
    label.setAttribute("aria-hidden", "true");
    b.appendChild(label);
    return b;
  }

  shiftOctave(by) {
    if (this.drums) return;
    const next = Math.min(MAX_OCTAVE - this.octaves + 1, Math.max(MIN_OCTAVE, this.octave + by));
    if (next !== this.octave) { this.octave = next; this.drawKeys(); }
  }

  onControl(e) {
    const act = e.target.closest("[data-act]")?.dataset.act;
    if (act === "down") this.shiftOctave(-1);
    else if (act === "up") this.shiftOctave(1);
    else if (act === "undo") { this.notes.pop(); this.refresh(); }
    else if (act === "clear") { this.notes = []; this.refresh(); }
    else if (act === "midi") this.connectMidi();
    else if (act === "answer") this.answer();
  }

  // --- input --------------------------------------------------------------------------------
  bindPointers() {
    const el = this.keysEl;
    const keyAt = (x, y) => {
      const hit = (this.parent.elementFromPoint ? this.parent : document).elementFromPoint(x, y);
      const key = hit && hit.closest ? hit.closest(".key") : null;
      return key && el.contains(key) ? key : null;
    };
    const velocityOf = (key, e) => {   // nearer the front of the key: louder
      const r = key.getBoundingClientRect();
      const depth = r.height ? Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) : 0.7;
      return Math.round(50 + 70 * depth);
    };
    // The audio graph is made when a pointer comes over the keys (it may not sound before a
    // press, but it exists), so the first press does not wait for it.
    el.addEventListener("pointerover", () => this.synth.context(), {once: true});
    el.addEventListener("pointerdown", (e) => {
      const key = e.target.closest(".key");
      if (!key) return;
      e.preventDefault();
      try { el.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic pointer */ }
      this.press(`p${e.pointerId}`, Number(key.dataset.pitch), velocityOf(key, e), e.timeStamp);
    });
    el.addEventListener("pointermove", (e) => {
      const source = `p${e.pointerId}`;
      const note = this.held.get(source);
      if (!note || this.drums) return;   // a glide moves between piano keys, not pads
      const key = keyAt(e.clientX, e.clientY);
      if (key && Number(key.dataset.pitch) !== note.pitch) {
        this.release(source);
        this.press(source, Number(key.dataset.pitch), note.velocity, e.timeStamp);
      }
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      el.addEventListener(type, (e) => this.release(`p${e.pointerId}`));
    }
    el.addEventListener("click", (e) => {   // Enter or Space on a focused key (detail 0)
      const key = e.target.closest(".key");
      if (!key || e.detail !== 0) return;
      this.press("enter", Number(key.dataset.pitch), 90, e.timeStamp);
      setTimeout(() => this.release("enter"), 300);
    });
    el.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  attach() {
    if (this.detach) this.detach();   // called again without its clean-up: listeners once only
    const typesText = (t) => t.tagName === "INPUT" &&
      !["checkbox", "radio", "range", "button", "submit", "reset"].includes(t.type);
    const editable = (t) => t && (t.isContentEditable || typesText(t) || ["TEXTAREA", "SELECT"].includes(t.tagName));
    const target = (e) => (e.composedPath ? e.composedPath()[0] : e.target);
    const pitchOf = (code) => {
      if (this.drums) {
        const i = DRUM_CODES.indexOf(code);
        return i >= 0 && i < this.drums.length ? this.drums[i][0] : null;
      }
      const offset = PIANO_CODES[code];
      const p = offset === undefined ? null : 12 * (this.octave + 1) + offset;
      return p !== null && p <= 127 ? p : null;
    };
    const down = (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || editable(target(e)) || !this.root.isConnected) return;
      const octave = {KeyZ: -1, KeyX: 1}[e.code];
      const pitch = pitchOf(e.code);
      if (octave === undefined && pitch === null) return;
      e.preventDefault();
      e.stopImmediatePropagation();   // Streamlit's own keys (R reruns) do not see it
      if (e.repeat) return;
      if (octave) this.shiftOctave(octave);
      else this.press(`k${e.code}`, pitch, 90, e.timeStamp);
    };
    const up = (e) => {
      if (this.held.has(`k${e.code}`)) {
        e.preventDefault();
        e.stopImmediatePropagation();
        this.release(`k${e.code}`);
      }
    };
    document.addEventListener("keydown", down, true);
    document.addEventListener("keyup", up, true);
    const blur = () => [...this.held.keys()].forEach((s) => this.release(s));
    window.addEventListener("blur", blur);
    this.detach = () => {
      this.detach = null;
      document.removeEventListener("keydown", down, true);
      document.removeEventListener("keyup", up, true);
      window.removeEventListener("blur", blur);
      blur();
      if (!this.root.isConnected) { this.stopClick(); this.disconnectMidi(); }
    };
    return this.detach;
  }

  connectMidi() {
    const button = this.root.querySelector(".kb-midi");
    navigator.requestMIDIAccess().then((access) => {
      this.midi = access;
      const listen = () => {
        const inputs = [...access.inputs.values()];
        inputs.forEach((input) => { input.onmidimessage = (m) => this.onMidi(m); });
        button.textContent = inputs.length ? `MIDI: ${inputs.map((i) => i.name).join(", ")}`
                                           : "MIDI: no keyboard found";
      };
      access.onstatechange = listen;
      listen();
    }, () => { button.textContent = "MIDI: not allowed"; });
  }

  disconnectMidi() {
    if (!this.midi) return;
    for (const input of this.midi.inputs.values()) input.onmidimessage = null;
    this.midi.onstatechange = null;
  }

  onMidi(message) {
    const [status, pitch, velocity] = message.data;
    const kind = status & 0xf0;
    if (kind === 0x90 && velocity > 0) this.press(`m${pitch}`, pitch, velocity, message.timeStamp);
    else if (kind === 0x80 || kind === 0x90) this.release(`m${pitch}`);
  }

  // --- notes --------------------------------------------------------------------------------
  press(source, pitch, velocity, eventStamp) {
    if (this.held.has(source)) this.release(source);
    const now = performance.now();
    const note = {pitch, start: now / 1000, end: null, velocity};
    this.held.set(source, note);
    this.notes.push(note);
    this.voices.set(note, this.synth.note(pitch, velocity, !!this.drums));
    if (Number.isFinite(eventStamp) && source[0] === "p") {
      const ctx = this.synth.ctx;
      this.latencies.push({handler_ms: performance.now() - eventStamp,
                           base_latency_ms: ctx ? 1000 * (ctx.baseLatency || 0) : null,
                           output_latency_ms: ctx ? 1000 * (ctx.outputLatency || 0) : null,
                           state: ctx ? ctx.state : "none", sample_rate: ctx ? ctx.sampleRate : null});
      if (this.latencies.length > 200) this.latencies.shift();
    }
    this.light(pitch, true);
    this.refresh();
  }

  release(source) {
    const note = this.held.get(source);
    if (!note) return;
    this.held.delete(source);
    note.end = performance.now() / 1000;
    this.synth.release(this.voices.get(note));
    this.voices.delete(note);
    if (![...this.held.values()].some((n) => n.pitch === note.pitch)) this.light(note.pitch, false);
    this.refresh();
  }

  light(pitch, on) {
    const key = this.keysEl.querySelector(`[data-pitch="${pitch}"]`);
    if (key) key.classList.toggle("on", on);
  }

  answer() {
    const now = performance.now() / 1000;
    const notes = this.notes.map((n) => [n.pitch, n.start, n.end ?? now, n.velocity]);
    const origin = Math.min(...notes.map((n) => n[1]), this.synth.clickStart ?? Infinity);
    const shift = (t) => Math.max(0, t - (Number.isFinite(origin) ? origin : 0));
    this.trigger("answer", {
      notes: notes.map(([p, s, e, v]) => [p, shift(s), shift(e), v]),
      tempo: this.tempo,
      click_start: this.synth.clickStart === null ? null : shift(this.synth.clickStart),
      sent: Date.now(),   // a new value for every press, even of the same phrase
    });
  }

  refresh() {
    const n = this.notes.length;
    const playing = this.held.size > 0;
    if (!n) {
      this.status.textContent = this.drums ? "Tap the pads (or keys A S D F…), then press Answer."
        : "Play a phrase (mouse, touch, keys A W S E D…, or a MIDI keyboard), then press Answer.";
    } else {
      const now = performance.now() / 1000;
      const span = Math.max(...this.notes.map((x) => x.end ?? now)) - this.notes[0].start;
      this.status.textContent = `${n} note${n > 1 ? "s" : ""} · ${span.toFixed(1)} s`;
    }
    this.root.querySelector('[data-act="answer"]').disabled = n === 0;
    this.drawRoll();
    if (playing && !this.frame) {
      this.frame = requestAnimationFrame(() => { this.frame = null; this.refresh(); });
    }
  }

  drawRoll() {
    const c = this.roll;
    const width = Math.max(200, Math.round(c.getBoundingClientRect().width || 600));
    if (c.width !== width) c.width = width;
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (!this.notes.length) return;
    const now = performance.now() / 1000;
    const t0 = this.notes[0].start;
    const t1 = Math.max(t0 + 2, ...this.notes.map((n) => n.end ?? now));
    const pitches = this.notes.map((n) => n.pitch);
    const lo = Math.min(...pitches) - 1, hi = Math.max(...pitches) + 1;
    const row = c.height / (hi - lo + 1);
    g.fillStyle = getComputedStyle(this.root).getPropertyValue("--kb-note") || "#636efa";
    for (const n of this.notes) {
      const x = (n.start - t0) / (t1 - t0) * c.width;
      const w = Math.max(2, ((n.end ?? now) - n.start) / (t1 - t0) * c.width);
      g.globalAlpha = 0.35 + 0.65 * n.velocity / 127;
      g.fillRect(x, c.height - (n.pitch - lo + 1) * row, w, Math.max(2, row - 1));
    }
    g.globalAlpha = 1;
  }

  stopClick() {
    this.synth.stopClick();
    const box = this.root.querySelector('[data-act="click"]');
    if (box) box.checked = false;
  }
}
