// The playing piano roll (core/render/player.py): one <audio>, a roll drawn from the roll data
// (core.render.pianoroll.roll_data), a playhead that follows the audio's clock, the notes under
// it lit, and a click on the roll that seeks. No network: everything is in this document.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("cs-data").textContent);
  const root = document.querySelector(".cs-player");
  const audio = root.querySelector("audio");
  const plot = root.querySelector(".cs-plot");
  const gutter = root.querySelector(".cs-gutter");
  const axis = root.querySelector(".cs-axis");
  const head = root.querySelector(".cs-head");
  const tip = root.querySelector(".cs-tip");
  const button = root.querySelector(".cs-play");
  const clock = root.querySelector(".cs-time");
  const SVG = "http://www.w3.org/2000/svg";
  const span = Math.max(data.end, data.audio_seconds || 0, 1e-3);  // the time axis, seconds

  // The audio: base64 WAV in this page -> a Blob URL (seeking within a Blob is instant).
  const sound = document.getElementById("cs-audio"), b64 = sound.textContent.trim();
  if (b64) {  // the browser's own decoder (a data: URL read locally, no network)
    fetch("data:" + sound.dataset.type + ";base64," + b64).then(r => r.blob())
      .then(blob => { audio.src = URL.createObjectURL(blob); });
  } else {
    button.disabled = true;
  }

  // Rows: pitched notes on their pitch (high at the top), then one row per drum sound.
  const large = document.body.classList.contains("large");
  const height = plot.clientHeight || 200;
  const pitchRows = data.lanes.some(l => !l.drum) ? data.high - data.low + 3 : 0;
  const drumRows = data.drums.length ? data.drums.length + 1 : 0;
  const drumPx = drumRows ? Math.min(large ? 22 : 16, height / (drumRows + pitchRows * 0.5)) : 0;
  const pitchPx = pitchRows ? (height - drumPx * drumRows) / pitchRows : 0;
  const pitchY = p => (data.high + 1.5 - p) * pitchPx;            // centre of a pitch's row
  const drumY = r => pitchRows * pitchPx + (r + 1) * drumPx;      // centre of a drum's row

  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${span} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const line = (x1, y1, x2, y2) => {
    const l = document.createElementNS(SVG, "line");
    l.setAttribute("x1", x1); l.setAttribute("y1", y1); l.setAttribute("x2", x2); l.setAttribute("y2", y2);
    svg.appendChild(l);
  };
  const label = (text, y) => {
    const d = document.createElement("div");
    d.textContent = text; d.style.top = y + "px"; gutter.appendChild(d);
  };
  if (pitchRows) {
    // label every pitch, every other, ... or every C: as dense as the text fits
    const gap = large ? 20 : 13;
    const step = [1, 2, 4, 12, 24, 48].find(k => k * pitchPx >= gap) || 48;
    for (let p = data.low; p <= data.high; p++) {
      if (p % step === 0) label(data.pitch_names[p], pitchY(p));
      if (p % 12 === 0) line(0, pitchY(p) + pitchPx / 2, span, pitchY(p) + pitchPx / 2);
    }
  }
  data.drums.forEach((name, r) => label(name, drumY(r)));
  if (drumRows && pitchRows) line(0, pitchRows * pitchPx, span, pitchRows * pitchPx);
  gutter.style.width = (data.drums.length ? (large ? 170 : 120) : (large ? 56 : 42)) + "px";

  // Time ticks: about one every 80 px.
  const nice = [0.5, 1, 2, 5, 10, 15, 30, 60, 120];
  const every = nice.find(s => span / s <= Math.max(2, plot.clientWidth / 80)) || 300;
  for (let t = 0; t <= span * 0.97; t += every) {
    line(t, 0, t, height);
    const d = document.createElement("div");
    d.textContent = (every < 1 ? t.toFixed(1) : Math.round(t)) + " s";
    d.style.left = `calc(${gutter.style.width} + (100% - ${gutter.style.width}) * ${t / span})`;
    axis.appendChild(d);
  }

  // Notes: one rect each, its opacity the velocity's; all notes in one start-sorted list.
  const notes = [];
  data.lanes.forEach((lane, k) => {
    const rowPx = lane.drum ? drumPx : pitchPx;
    lane.notes.forEach(([start, end, row, vel], i) => {
      const r = document.createElementNS(SVG, "rect");
      const y = lane.drum ? drumY(row) : pitchY(row);
      r.setAttribute("x", start);
      r.setAttribute("width", Math.max(end - start, span / 2000));
      r.setAttribute("y", y - rowPx * 0.4);
      r.setAttribute("height", Math.max(rowPx * 0.8, 1));
      r.setAttribute("fill", lane.color);
      r.setAttribute("fill-opacity", 0.3 + 0.7 * Math.min(Math.max(vel, 0), 127) / 127);
      r.setAttribute("class", lane.copied && lane.copied[i] ? "note copied" : "note");
      r.dataset.lane = k; r.dataset.i = i;
      svg.appendChild(r);
      notes.push({ start, end, el: r });
    });
  });
  notes.sort((a, b) => a.start - b.start);
  plot.insertBefore(svg, head);
  if (!notes.length) {
    const e = document.createElement("div"); e.className = "cs-empty"; e.textContent = "no notes";
    plot.appendChild(e);
  }

  // The playhead follows audio.currentTime every frame while playing, and on every seek.
  const lit = new Set();
  const fmt = s => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  function show(t) {
    head.style.left = `${100 * Math.min(t / span, 1)}%`;
    root.dataset.time = t.toFixed(3);
    clock.textContent = `${fmt(t)} / ${fmt(span)}`;
    const now = new Set();
    for (const n of notes) {
      if (n.start > t) break;
      if (t < n.end) now.add(n);
    }
    for (const n of lit) if (!now.has(n)) { n.el.classList.remove("on"); lit.delete(n); }
    for (const n of now) if (!lit.has(n)) { n.el.classList.add("on"); lit.add(n); }
    root.dataset.lit = lit.size;
  }
  let frame = 0;
  function tick() { show(audio.currentTime); frame = audio.paused ? 0 : requestAnimationFrame(tick); }
  audio.addEventListener("play", () => { button.textContent = "❚❚ Pause"; if (!frame) frame = requestAnimationFrame(tick); });
  audio.addEventListener("pause", () => { button.textContent = "▶ Play"; show(audio.currentTime); });
  audio.addEventListener("ended", () => { button.textContent = "▶ Play"; show(audio.currentTime); });
  for (const ev of ["seeked", "seeking", "timeupdate", "loadedmetadata"]) {
    audio.addEventListener(ev, () => { if (audio.paused) show(audio.currentTime); });
  }
  button.addEventListener("click", () => { audio.paused ? audio.play() : audio.pause(); });

  // A click on the roll seeks the audio there (and starts it when it was at rest).
  plot.addEventListener("click", e => {
    const box = plot.getBoundingClientRect();
    const t = Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1) * span;
    if (audio.readyState >= 1) audio.currentTime = Math.min(t, audio.duration || t);
    show(t);
  });

  // Hover: the note's name, pitch, start, length and velocity, as in the Plotly roll.
  plot.addEventListener("mousemove", e => {
    const el = e.target;
    if (!el.dataset || el.dataset.lane === undefined) { tip.style.display = "none"; return; }
    const lane = data.lanes[+el.dataset.lane];
    tip.innerHTML = `${lane.hover[+el.dataset.i]}<br><i></i>`;
    tip.querySelector("i").textContent = lane.name;
    const box = root.getBoundingClientRect();
    tip.style.display = "block";
    const x = e.clientX - box.left + 12;
    tip.style.left = Math.min(x, box.width - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.max(e.clientY - box.top - tip.offsetHeight - 8, 0) + "px";
  });
  plot.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  show(0);
})();
