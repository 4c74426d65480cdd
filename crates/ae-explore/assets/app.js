// ae explore: the page. Plain JavaScript, no build step; every number comes from the run's
// own model through the read-only JSON API of the `ae explore` server.

const $ = (id) => document.getElementById(id);
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf'];
const ZOOM_MIN = 140; // an item is drawn at least this many pixels wide

// What the tests and the console can look at.
const state = {
  info: null, map: null, item: null, code: null, decodes: 0, lastDecodeMs: null,
  decodeTimes: [], mapDecoded: null, sliderDecoded: null, strip: null, anomalies: null,
  ready: false,
};
window.ae = { state };

async function api(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`/api/${path}${query ? `?${query}` : ''}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
  return body;
}

function showError(e) {
  const box = $('error');
  box.hidden = false;
  box.textContent = String(e.message || e);
}

function clearError() { $('error').hidden = true; }

function labelName(label) {
  const names = state.info.class_names;
  return label == null ? '' : (names[label] !== undefined && names[label] !== '' ? names[label] : String(label));
}

function colour(label) {
  return label == null ? '#1f77b4' : PALETTE[label % PALETTE.length];
}

// ---------------------------------------------------------------------------------------
// Drawing an item: an image, or a table row as bars (standardized values).

function drawItem(canvas, values, reference = null, size = ZOOM_MIN) {
  if (state.info.kind === 'image') drawImage(canvas, values, size);
  else drawBars(canvas, values, reference);
}

function drawImage(canvas, values, size) {
  const [c, h, w] = state.info.shape;
  const zoom = Math.max(1, Math.round(size / w));
  canvas.width = w * zoom;
  canvas.height = h * zoom;
  const small = document.createElement('canvas');
  small.width = w; small.height = h;
  const ctx = small.getContext('2d');
  const image = ctx.createImageData(w, h);
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) {
      const v = values[(c === 3 ? k : 0) * plane + p];
      image.data[4 * p + k] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
    image.data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  const out = canvas.getContext('2d');
  out.imageSmoothingEnabled = false;
  out.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function drawBars(canvas, values, reference) {
  const n = values.length;
  const names = state.info.columns.length === n ? state.info.columns : values.map((_, i) => `x${i}`);
  const row = 16;
  canvas.width = 320;
  canvas.height = n * row + 20;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const left = 110, width = canvas.width - left - 10, mid = left + width / 2;
  const scale = (v) => Math.max(-1, Math.min(1, v / 3)) * (width / 2);
  ctx.font = '11px sans-serif';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < n; i++) {
    const y = 10 + i * row;
    ctx.fillStyle = '#334';
    ctx.fillText(names[i].slice(0, 16), 4, y + row / 2);
    if (reference) {
      ctx.fillStyle = 'rgba(120,120,140,0.35)';
      const r = scale(reference[i]);
      ctx.fillRect(Math.min(mid, mid + r), y + 2, Math.abs(r), row - 4);
    }
    ctx.fillStyle = values[i] >= 0 ? '#1f77b4' : '#d62728';
    const s = scale(values[i]);
    ctx.fillRect(Math.min(mid, mid + s), y + 5, Math.abs(s), row - 10);
  }
  ctx.strokeStyle = '#889';
  ctx.beginPath(); ctx.moveTo(mid, 6); ctx.lineTo(mid, canvas.height - 6); ctx.stroke();
  ctx.fillStyle = '#556';
  ctx.fillText('−3σ', left, canvas.height - 5);
  ctx.fillText('+3σ', left + width - 20, canvas.height - 5);
}

function figure(values, caption, reference = null, size = 84) {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.className = 'item';
  drawItem(canvas, values, reference, size);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(canvas, cap);
  return fig;
}

// ---------------------------------------------------------------------------------------
// The map.

const map = { bounds: null, hover: null, click: null };

function mapTransform() {
  const canvas = $('map');
  const pts = state.map.points;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of pts) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const pad = 0.05;
  const dx = (x1 - x0) || 1, dy = (y1 - y0) || 1;
  map.bounds = { x0: x0 - pad * dx, x1: x1 + pad * dx, y0: y0 - pad * dy, y1: y1 + pad * dy,
    w: canvas.width, h: canvas.height };
}

function toScreen([x, y]) {
  const b = map.bounds;
  return [(x - b.x0) / (b.x1 - b.x0) * b.w, (1 - (y - b.y0) / (b.y1 - b.y0)) * b.h];
}

function fromScreen(px, py) {
  const b = map.bounds;
  return [b.x0 + px / b.w * (b.x1 - b.x0), b.y0 + (1 - py / b.h) * (b.y1 - b.y0)];
}

function drawMap() {
  const canvas = $('map');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const labels = state.map.labels;
  state.map.points.forEach((p, i) => {
    const [sx, sy] = toScreen(p);
    ctx.fillStyle = colour(labels ? labels[i] : null);
    ctx.globalAlpha = 0.7;
    ctx.beginPath(); ctx.arc(sx, sy, 2.5, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.globalAlpha = 1;
  const mark = (i, stroke) => {
    if (i == null) return;
    const [sx, sy] = toScreen(state.map.points[i]);
    ctx.strokeStyle = stroke; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.stroke();
  };
  mark(state.item?.index, '#000');
  if (map.click) {
    const [sx, sy] = map.click;
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(sx - 8, sy); ctx.lineTo(sx + 8, sy); ctx.moveTo(sx, sy - 8); ctx.lineTo(sx, sy + 8); ctx.stroke();
  }
}

function nearestItem(px, py, radius) {
  let best = null, bestD = radius * radius;
  state.map.points.forEach((p, i) => {
    const [sx, sy] = toScreen(p);
    const d = (sx - px) ** 2 + (sy - py) ** 2;
    if (d <= bestD) { best = i; bestD = d; }
  });
  return best;
}

function canvasPoint(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * canvas.width / rect.width,
    (event.clientY - rect.top) * canvas.height / rect.height];
}

const itemCache = new Map();
async function item(index) {
  if (!itemCache.has(index)) itemCache.set(index, api('item', { index }));
  return itemCache.get(index);
}

async function onMapMove(event) {
  const [px, py] = canvasPoint($('map'), event);
  const i = nearestItem(px, py, 6);
  const tip = $('map-tip');
  if (i == null) { tip.hidden = true; map.hover = null; return; }
  if (map.hover === i) return;
  map.hover = i;
  const it = await item(i);
  if (map.hover !== i) return;
  drawItem($('map-tip-item'), it.input, null, 56);
  $('map-tip-text').textContent = `item ${i}${it.label != null ? ` · ${labelName(it.label)}` : ''}`;
  tip.style.left = `${px + 12}px`;
  tip.style.top = `${py + 12}px`;
  tip.hidden = false;
}

async function onMapClick(event) {
  const [px, py] = canvasPoint($('map'), event);
  const [x, y] = fromScreen(px, py);
  map.click = [px, py];
  try {
    const decoded = await api('plane', { x, y });
    state.mapDecoded = decoded;
    drawItem($('map-decoded'), decoded.values);
    $('map-decoded-text').textContent = `(${x.toFixed(2)}, ${y.toFixed(2)})`;
    const near = nearestItem(px, py, 4);
    if (near != null) await selectItem(near);
    drawMap();
    clearError();
  } catch (e) { showError(e); }
}

function drawLegend() {
  const legend = $('legend');
  legend.replaceChildren();
  for (const label of state.info.labels) {
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colour(label);
    const name = document.createElement('span');
    name.textContent = labelName(label);
    legend.append(swatch, name);
  }
}

// ---------------------------------------------------------------------------------------
// The chosen item and the sliders.

async function selectItem(index) {
  const n = state.info.items;
  index = Math.max(0, Math.min(n - 1, Number(index) || 0));
  const it = await item(index);
  state.item = it;
  state.code = it.code.slice();
  $('item-index').value = index;
  drawItem($('slider-input'), it.input);
  drawItem($('attr-input'), it.input);
  buildSliders();
  drawItem($('slider-out'), it.reconstruction, it.input);
  state.sliderDecoded = it.reconstruction;
  await moveAttribute();
  if (state.map) drawMap();
}

function sliderRange(dim) {
  const mean = state.info.code_mean[dim];
  const std = state.info.code_std[dim] > 1e-6 ? state.info.code_std[dim] : 1;
  return [mean - 4 * std, mean + 4 * std];
}

function buildSliders() {
  const box = $('sliders');
  box.replaceChildren();
  for (const dim of state.info.dims) {
    const [lo, hi] = sliderRange(dim);
    const value = state.code[dim];
    const label = document.createElement('label');
    label.textContent = `z${dim}`;
    label.title = `standard deviation ${state.info.code_std[dim].toFixed(3)}`;
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.id = `slider-${dim}`;
    slider.dataset.dim = dim;
    slider.min = Math.min(lo, value);
    slider.max = Math.max(hi, value);
    slider.step = 'any'; // any value, so that the item's own code is one of them
    slider.value = value;
    const shown = document.createElement('span');
    shown.textContent = value.toFixed(2);
    slider.addEventListener('input', () => {
      state.code[dim] = Number(slider.value);
      shown.textContent = Number(slider.value).toFixed(2);
      requestDecode();
    });
    box.append(label, slider, shown);
  }
}

// Latest wins: while a decode is in flight, only the newest code waits for the next one.
let inFlight = false, pending = false;
async function requestDecode() {
  if (inFlight) { pending = true; return; }
  inFlight = true;
  try {
    do {
      pending = false;
      const code = state.code.slice();
      const started = performance.now();
      const decoded = await api('decode', { code: code.join(',') });
      const ms = performance.now() - started;
      state.lastDecodeMs = ms;
      state.decodeTimes.push(ms);
      state.decodes += 1;
      state.sliderDecoded = decoded.values;
      drawItem($('slider-out'), decoded.values, state.item?.input);
      $('slider-ms').textContent = ms.toFixed(1);
    } while (pending);
    clearError();
  } catch (e) { showError(e); } finally { inFlight = false; }
}

// ---------------------------------------------------------------------------------------
// Interpolation, attributes, anomalies, samples.

async function interpolate() {
  try {
    const from = Number($('interp-from').value), to = Number($('interp-to').value);
    const strip = await api('interpolate', {
      from, to, steps: Number($('interp-steps').value), spherical: $('interp-spherical').checked ? 1 : 0,
    });
    state.strip = strip;
    const [a, b] = await Promise.all([item(from), item(to)]);
    const box = $('interp-strip');
    box.replaceChildren(figure(a.input, `item ${from}`));
    strip.items.forEach((values, k) => {
      const fig = figure(values, `t=${strip.times[k].toFixed(2)}`);
      fig.classList.add('step');
      box.append(fig);
    });
    box.append(figure(b.input, `item ${to}`));
    clearError();
  } catch (e) { showError(e); }
}

let direction = null;
async function loadDirection() {
  const from = $('attr-from').value, to = $('attr-to').value;
  direction = null;
  if (from === '' || to === '') return;
  try {
    direction = await api('attribute', { from, to });
    clearError();
  } catch (e) { showError(e); }
}

async function moveAttribute() {
  const strength = Number($('attr-strength').value);
  $('attr-strength-value').textContent = strength.toFixed(2);
  if (!direction || !state.item) return;
  const code = state.item.code.map((z, i) => z + strength * direction.direction[i]);
  try {
    const decoded = await api('decode', { code: code.join(',') });
    drawItem($('attr-out'), decoded.values, state.item.input);
    $('attr-text').textContent = `${labelName(Number($('attr-from').value))} → ${labelName(Number($('attr-to').value))}, ` +
      `means of ${direction.from_count} and ${direction.to_count} items`;
  } catch (e) { showError(e); }
}

function drawHistogram(scores, threshold) {
  const canvas = $('anomaly-histogram');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const finite = scores.filter(Number.isFinite);
  if (!finite.length) return;
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (threshold != null) { lo = Math.min(lo, threshold); hi = Math.max(hi, threshold); }
  const bins = 40, span = (hi - lo) || 1;
  const counts = new Array(bins).fill(0);
  for (const s of finite) counts[Math.min(bins - 1, Math.floor((s - lo) / span * bins))] += 1;
  const top = Math.max(...counts);
  const [left, bottom, w, h] = [40, canvas.height - 24, canvas.width - 50, canvas.height - 40];
  ctx.fillStyle = '#1f77b4';
  counts.forEach((c, k) => {
    const bh = c / top * h;
    ctx.fillRect(left + k * w / bins + 1, bottom - bh, w / bins - 2, bh);
  });
  ctx.fillStyle = '#334';
  ctx.font = '11px sans-serif';
  ctx.fillText(lo.toPrecision(3), left, canvas.height - 8);
  ctx.fillText(hi.toPrecision(3), left + w - 30, canvas.height - 8);
  ctx.fillText(`${state.info.score} over ${finite.length} items`, left + w / 2 - 60, canvas.height - 8);
  if (threshold != null) {
    const x = left + (threshold - lo) / span * w;
    ctx.strokeStyle = '#d62728'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x, 10); ctx.lineTo(x, bottom); ctx.stroke();
    ctx.fillStyle = '#d62728';
    ctx.fillText(`threshold ${threshold.toPrecision(3)}`, Math.min(x + 4, canvas.width - 110), 14);
  }
}

let anomaliesLoaded = false;
async function loadAnomalies() {
  if (anomaliesLoaded) return;
  try {
    const report = await api('anomalies', { count: 12 });
    state.anomalies = report;
    drawHistogram(report.scores, report.threshold);
    const list = $('anomaly-list');
    list.replaceChildren();
    for (const a of report.top) {
      const li = document.createElement('li');
      li.dataset.index = a.index;
      li.dataset.score = a.score;
      const text = document.createElement('span');
      text.textContent = `item ${a.index}${a.label != null ? ` (${labelName(a.label)})` : ''}: ${report.score} ${a.score.toPrecision(4)}` +
        (report.threshold != null && a.score > report.threshold ? ' · above the threshold' : '');
      li.append(figure(a.input, 'item'), figure(a.reconstruction, 'reconstruction', a.input), text);
      list.append(li);
    }
    anomaliesLoaded = true;
    clearError();
  } catch (e) { showError(e); }
}

async function sample() {
  try {
    const report = await api('sample', {
      source: $('sample-source').value, count: Number($('sample-count').value), seed: Number($('sample-seed').value),
    });
    $('sample-grid').replaceChildren(...report.items.map((values, k) => figure(values, `#${k}`)));
    clearError();
  } catch (e) { showError(e); }
}

// ---------------------------------------------------------------------------------------
// Tabs and start.

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === `tab-${name}`);
  if (name === 'anomalies') loadAnomalies();
}

function option(select, value, text) {
  const o = document.createElement('option');
  o.value = value; o.textContent = text;
  select.append(o);
}

async function start() {
  try {
    state.info = await api('info');
    const info = state.info;
    $('run-info').textContent = `${info.run}: ${info.model}, ${info.latent}-value code, ${info.items} items (${info.kind === 'image' ? 'images' : 'table rows'})`;
    $('item-index').max = info.items - 1;
    $('map-projection').textContent = { code: 'the code itself', pca: 'its first two principal components', umap: 'UMAP' }[info.projection] || info.projection;
    $('interp-to').value = Math.min(1, info.items - 1);
    $('interp-spherical').checked = info.vae;
    for (const label of info.labels) {
      option($('attr-from'), label, labelName(label));
      option($('attr-to'), label, labelName(label));
    }
    if (info.labels.length > 1) $('attr-to').value = info.labels[1];
    if (info.vae) option($('sample-source'), 'prior', 'the prior');
    option($('sample-source'), 'gmm', 'a Gaussian mixture of the training codes');
    state.map = await api('map');
    mapTransform();
    drawLegend();
    await loadDirection();
    await selectItem(0);
    drawMap();
    window.ae.toScreen = (index) => {
      const [sx, sy] = toScreen(state.map.points[index]);
      const rect = $('map').getBoundingClientRect();
      return [rect.left + sx * rect.width / $('map').width, rect.top + sy * rect.height / $('map').height];
    };
    state.ready = true;
  } catch (e) { showError(e); }
}

for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
$('map').addEventListener('mousemove', onMapMove);
$('map').addEventListener('mouseleave', () => { $('map-tip').hidden = true; map.hover = null; });
$('map').addEventListener('click', onMapClick);
$('item-index').addEventListener('change', () => selectItem($('item-index').value).catch(showError));
$('item-random').addEventListener('click', () => selectItem(Math.floor(Math.random() * state.info.items)).catch(showError));
$('slider-reset').addEventListener('click', () => selectItem(state.item.index).catch(showError));
$('interp-go').addEventListener('click', interpolate);
$('attr-from').addEventListener('change', async () => { await loadDirection(); await moveAttribute(); });
$('attr-to').addEventListener('change', async () => { await loadDirection(); await moveAttribute(); });
$('attr-strength').addEventListener('input', moveAttribute);
$('sample-go').addEventListener('click', sample);
start();
