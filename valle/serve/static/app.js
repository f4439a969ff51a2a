// The valle web page: stream speech from POST /synthesize/stream and play it as it arrives.
// Plain JavaScript, no external resources (works offline).
"use strict";

const $ = (id) => document.getElementById(id);
let sampleRate = 24000;
let audioCtx = null;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function getJSON(path) {
  const r = await fetch(path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function loadVoices() {
  const health = await getJSON("health");
  sampleRate = health.sample_rate;
  $("model").textContent = `${health.codec}, ${health.sample_rate} Hz`;
  $("language").placeholder = health.language;
  const data = await getJSON("voices");
  const select = $("voice");
  select.innerHTML = "";
  for (const v of data.voices) {
    const o = document.createElement("option");
    o.value = v.name;
    o.textContent = v.error ? `${v.name} (unusable)` : `${v.name} (${v.seconds} s)`;
    o.title = v.error || v.text;
    o.disabled = Boolean(v.error);
    select.appendChild(o);
  }
}

function pcm16ToFloat(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const ints = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  const out = new Float32Array(ints.length);
  for (let i = 0; i < ints.length; i++) out[i] = ints[i] / 32768;
  return [ints, out];
}

function wavBlob(chunks, rate) {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); str(36, "data"); v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) v.setInt16(o, c[i], true);
  return new Blob([buf], { type: "audio/wav" });
}

function readFileBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",", 2)[1]);
    r.onerror = () => reject(new Error(`cannot read ${file.name}`));
    r.readAsDataURL(file);
  });
}

async function request() {
  const req = { text: $("text").value, prompt_mode: $("prompt-mode").value,
                sampling: { seed: Number($("seed").value || 0) } };
  if ($("language").value.trim()) req.language = $("language").value.trim();
  const file = $("prompt-file").files[0];
  if (file) {
    req.prompt = { audio_base64: await readFileBase64(file), text: $("prompt-text").value };
  } else if ($("voice").value) {
    req.voice = $("voice").value;
  }
  return req;
}

async function speak() {
  showError("");
  $("speak").disabled = true;
  const started = performance.now();
  const ints = [];
  let playAt = 0;
  let played = 0;
  try {
    if (!audioCtx) audioCtx = new AudioContext();
    await audioCtx.resume();
    const r = await fetch("synthesize/stream", { method: "POST", headers: { "Content-Type": "application/json" },
                                                 body: JSON.stringify(await request()) });
    if (!r.ok) throw new Error((await r.json()).error || r.statusText);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    let first = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const msg = JSON.parse(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (msg.type === "start") sampleRate = msg.sample_rate;
        if (msg.type === "error") throw new Error(msg.error);
        if (msg.type === "audio" && msg.samples > 0) {
          const [i16, f32] = pcm16ToFloat(msg.pcm16);
          ints.push(i16);
          if (first === null) first = (performance.now() - started) / 1000;
          const buffer = audioCtx.createBuffer(1, f32.length, sampleRate);
          buffer.copyToChannel(f32, 0);
          const src = audioCtx.createBufferSource();
          src.buffer = buffer;
          src.connect(audioCtx.destination);
          playAt = Math.max(playAt, audioCtx.currentTime + 0.05);
          src.start(playAt);
          playAt += buffer.duration;
          played += 1;
          document.body.dataset.chunksPlayed = String(played);
          $("status").textContent = `playing: ${played} chunks, first audio after ${first.toFixed(2)} s`;
        }
        if (msg.type === "end") {
          const rep = msg.report;
          $("status").textContent = `${rep.seconds} s of audio in ${played} chunks; first audio after ` +
            `${first === null ? "-" : first.toFixed(2)} s; RTF ${rep.rtf}`;
        }
      }
    }
    const player = $("player");
    player.src = URL.createObjectURL(wavBlob(ints, sampleRate));
    document.body.dataset.done = "1";
  } catch (e) {
    showError(e.message);
    document.body.dataset.done = "error";
  } finally {
    $("speak").disabled = false;
    refreshResults();
  }
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  row.appendChild(td);
}

function describeMetrics(m) {
  if (m === null) return "";
  if (m === "pending") return "scoring…";
  const parts = [];
  if (m.wer !== undefined) parts.push(`WER ${(100 * m.wer).toFixed(1)}%`);
  if (m.sim_prompt !== undefined) parts.push(`similarity ${m.sim_prompt.toFixed(3)}`);
  if (m.dnsmos_ovrl !== undefined) parts.push(`DNSMOS ${m.dnsmos_ovrl.toFixed(2)}`);
  if (m.flags && m.flags.length) parts.push(m.flags.join(", "));
  if (m.errors && m.errors.length) parts.push(`not scored: ${m.errors.map((e) => e.split(":")[0]).join(", ")}`);
  return parts.join("; ");
}

async function refreshResults() {
  try {
    const data = await getJSON("results");
    $("metrics-note").textContent = data.metrics_unavailable || "";
    const body = $("results").querySelector("tbody");
    body.innerHTML = "";
    for (const r of data.results) {
      const row = document.createElement("tr");
      const fixed = (x) => (typeof x === "number" ? x.toFixed(2) : x);
      for (const v of [r.id, r.time, r.text, r.voice, fixed(r.seconds), fixed(r.first_audio_seconds), fixed(r.rtf)]) {
        cell(row, v);
      }
      cell(row, describeMetrics(r.metrics));
      body.appendChild(row);
    }
  } catch (e) {
    showError(`cannot list results: ${e.message}`);
  }
}

$("speak").addEventListener("click", speak);
loadVoices().catch((e) => showError(`cannot load voices: ${e.message}`));
refreshResults();
setInterval(refreshResults, 3000);
