// The keyboard's sound (Web Audio, nothing fetched): a two-oscillator voice per note, drum
// sounds from noise and swept sines, and a click track scheduled ahead on the audio clock.
// Concatenated before keyboard.js by app_ui/keyboard.py (one module for st.components.v2).

class Synth {
  constructor() {
    this.ctx = null;
    this.clickTimer = null;
    this.clickStart = null;   // performance.now() seconds of the first click, while it runs
  }

  context() {
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.ctx = new Ctx({latencyHint: "interactive"});
      this.out = this.ctx.createGain();
      this.out.gain.value = 0.3;
      this.out.connect(this.ctx.destination);
    }
    if (this.ctx.state === "suspended") this.ctx.resume();
    return this.ctx;
  }

  note(pitch, velocity, drums) {
    const ctx = this.context();
    if (!ctx) return null;
    const t = ctx.currentTime, level = velocity / 127;
    const gain = ctx.createGain();
    gain.connect(this.out);
    if (drums) return this.drum(ctx, pitch, level, gain, t);
    const f = 440 * Math.pow(2, (pitch - 69) / 12);
    const oscs = [["triangle", f, 1], ["sine", 2 * f, 0.3]].map(([type, freq, amp]) => {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.type = type; o.frequency.value = freq; g.gain.value = amp;
      o.connect(g).connect(gain);
      o.start(t);
      return o;
    });
    gain.gain.setValueAtTime(0, t);
    gain.gain.linearRampToValueAtTime(level, t + 0.005);
    gain.gain.setTargetAtTime(level * 0.35, t + 0.005, 0.25);
    return {oscs, gain};
  }

  drum(ctx, pitch, level, gain, t) {
    const tonal = {35: 55, 36: 60, 41: 80, 43: 95, 45: 110, 47: 130, 48: 150, 50: 175}[pitch];
    const long = [49, 51, 52, 53, 55, 57, 59, 46].includes(pitch);
    const decay = tonal ? 0.35 : long ? 0.9 : [42, 44].includes(pitch) ? 0.06 : 0.18;
    gain.gain.setValueAtTime(level, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + decay);
    let src;
    if (tonal) {
      src = ctx.createOscillator();
      src.frequency.setValueAtTime(tonal * 2.5, t);
      src.frequency.exponentialRampToValueAtTime(tonal, t + 0.08);
      src.connect(gain);
    } else {
      src = ctx.createBufferSource();
      src.buffer = this.noise || (this.noise = noiseBuffer(ctx));
      const filter = ctx.createBiquadFilter();
      filter.type = [38, 39, 40, 37].includes(pitch) ? "bandpass" : "highpass";
      filter.frequency.value = filter.type === "bandpass" ? 1800 : 7000;
      src.connect(filter).connect(gain);
    }
    src.start(t);
    src.stop(t + decay + 0.05);
    return null;   // a drum rings out on its own
  }

  release(voice) {
    if (!voice || !this.ctx) return;
    const t = this.ctx.currentTime;
    voice.gain.gain.cancelScheduledValues(t);
    voice.gain.gain.setValueAtTime(voice.gain.gain.value, t);
    voice.gain.gain.setTargetAtTime(0, t, 0.05);
    voice.oscs.forEach((o) => o.stop(t + 0.4));
  }

  startClick(tempo) {
    const ctx = this.context();
    if (!ctx) return;
    const beat = 60 / tempo, first = ctx.currentTime + 0.1;
    this.clickStart = performance.now() / 1000 + 0.1;
    let next = first, count = 0;
    const schedule = () => {   // a look-ahead of 0.1 s, topped up every 25 ms
      while (next < ctx.currentTime + 0.1) {
        const o = ctx.createOscillator(), g = ctx.createGain();
        o.frequency.value = count % 4 === 0 ? 1500 : 1000;
        g.gain.setValueAtTime(0.5, next);
        g.gain.exponentialRampToValueAtTime(0.001, next + 0.03);
        o.connect(g).connect(this.out);
        o.start(next); o.stop(next + 0.04);
        next += beat; count += 1;
      }
    };
    schedule();
    this.clickTimer = setInterval(schedule, 25);
  }

  stopClick() {
    clearInterval(this.clickTimer);
    this.clickTimer = null;
    this.clickStart = null;
  }
}

function noiseBuffer(ctx) {
  const buffer = ctx.createBuffer(1, ctx.sampleRate, ctx.sampleRate);
  const d = buffer.getChannelData(0);
  for (let i = 0; i < d.length; i++) d[i] = Math.random() * 2 - 1;
  return buffer;
}
