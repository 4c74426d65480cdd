// Drives `ae explore` in Debian's headless Chromium through playwright-core.
//
//   node explore.test.mjs URL KIND [SCREENSHOT_DIR]
//
// KIND is `image` (every check) or `table` (the page loads and a slider moves the bars).
// Prints one JSON line of measurements on success; exits 1 with the failures otherwise.

import { chromium } from 'playwright-core';

const [url, kind, shots] = process.argv.slice(2);
if (!url || !['image', 'table'].includes(kind)) {
  console.error('usage: node explore.test.mjs URL image|table [SCREENSHOT_DIR]');
  process.exit(2);
}

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const measured = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.ae?.state?.ready, null, { timeout: 30000 });
  const shot = async (name) => {
    if (!shots) return;
    // The page down to the end of the open tab, not the empty space below it.
    const height = await page.evaluate(() => Math.ceil(document.querySelector('.tab.active').getBoundingClientRect().bottom) + 16);
    await page.screenshot({ path: `${shots}/${kind}-${name}.png`, clip: { x: 0, y: 0, width: 1280, height: Math.min(900, height) } });
  };

  // Pixels of a canvas, and how far two such arrays are apart.
  const pixels = (id) => page.evaluate((id) => {
    const c = document.getElementById(id);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  }, id);
  const maxDiff = (a, b) => (a.length !== b.length ? Infinity
    : a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0));
  const meanDiff = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
  const changed = (a, b) => (a.length !== b.length ? 1 : a.filter((v, i) => v !== b[i]).length / a.length);
  const api = (path) => page.evaluate(async (path) => (await fetch(path)).json(), path);

  await shot('map');

  // Sliders: moving the most used dimension changes the decoded item; moving it back restores it.
  await page.click('button[data-tab=sliders]');
  const dim = await page.evaluate(() => window.ae.state.info.dims[0]);
  const before = await pixels('slider-out');
  const original = await page.$eval(`#slider-${dim}`, (s) => s.value);
  const move = async (value) => {
    const decodes = await page.evaluate(() => window.ae.state.decodes);
    await page.$eval(`#slider-${dim}`, (s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }, value);
    await page.waitForFunction((n) => window.ae.state.decodes > n, decodes);
    await page.waitForTimeout(30);
  };
  const far = await page.$eval(`#slider-${dim}`, (s) => {
    const v = Number(s.value);
    return String(Math.abs(Number(s.max) - v) > Math.abs(v - Number(s.min)) ? s.max : s.min);
  });
  await move(far);
  const moved = await pixels('slider-out');
  await shot('sliders');
  measured.slider_changed_fraction = changed(before, moved);
  check(changed(before, moved) > 0.002, `moving slider z${dim} changed only ${changed(before, moved)} of the decoded item's pixel values`);
  await move(original);
  const back = await pixels('slider-out');
  check(maxDiff(before, back) <= 2, `moving slider z${dim} back did not restore the item (max pixel difference ${maxDiff(before, back)})`);
  // The round trip, measured in the page: 20 moves, one after another.
  const lo = await page.$eval(`#slider-${dim}`, (s) => Number(s.min));
  const hi = await page.$eval(`#slider-${dim}`, (s) => Number(s.max));
  const times = [];
  for (let k = 0; k < 20; k++) {
    await move(String(lo + (hi - lo) * (k / 19)));
    times.push(await page.evaluate(() => window.ae.state.lastDecodeMs));
  }
  times.sort((a, b) => a - b);
  measured.decode_round_trip_ms = { median: times[10], max: times[19] };

  if (kind === 'image') {
    // Map: a click at an item's position decodes (close to) that item's reconstruction.
    await page.click('button[data-tab=map]');
    const index = 5;
    const [x, y] = await page.evaluate((i) => window.ae.toScreen(i), index);
    const previous = await page.evaluate(() => window.ae.state.mapDecoded);
    await page.mouse.click(x, y);
    await page.waitForFunction((p) => window.ae.state.mapDecoded && window.ae.state.mapDecoded !== p, previous);
    const decoded = await page.evaluate(() => window.ae.state.mapDecoded.values);
    const item = await api(`/api/item?index=${index}`);
    const mapError = meanDiff(decoded, item.reconstruction);
    measured.map_click_mean_abs_difference = mapError;
    check(mapError < 0.02, `a click on item ${index} decoded values ${mapError} away from its reconstruction on average`);
    await page.mouse.move(x, y);
    await page.waitForTimeout(200);
    await shot('map-click');

    // Interpolation: the strip's ends are the two items' reconstructions.
    await page.click('button[data-tab=interpolate]');
    await page.fill('#interp-from', '2');
    await page.fill('#interp-to', '7');
    await page.fill('#interp-steps', '8');
    await page.click('#interp-go');
    await page.waitForFunction(() => window.ae.state.strip);
    const strip = await page.evaluate(() => window.ae.state.strip);
    const [a, b] = [await api('/api/item?index=2'), await api('/api/item?index=7')];
    const ends = [maxDiff(strip.items[0], a.reconstruction), maxDiff(strip.items[7], b.reconstruction)];
    measured.interpolation_end_max_abs_difference = ends;
    check(ends[0] < 1e-3 && ends[1] < 1e-3, `the strip's ends are ${ends} away from the items' reconstructions`);
    check(await page.$$eval('#interp-strip figure', (f) => f.length) === 10, 'the strip does not hold the two items and 8 steps');
    await shot('interpolate');

    // Attributes: a strength of 0 gives the item's reconstruction, another strength something else.
    await page.click('button[data-tab=attribute]');
    await page.$eval('#attr-strength', (s) => { s.value = '1.5'; s.dispatchEvent(new Event('input')); });
    await page.waitForTimeout(300);
    await shot('attribute');

    // Sampling.
    await page.click('button[data-tab=sample]');
    await page.click('#sample-go');
    await page.waitForFunction(() => document.querySelectorAll('#sample-grid figure').length === 16);
    await shot('sample');
  }

  // Anomalies: the items with the largest scores, in order.
  await page.click('button[data-tab=anomalies]');
  await page.waitForFunction(() => document.querySelectorAll('#anomaly-list li').length > 0);
  const listed = await page.$$eval('#anomaly-list li', (l) => l.map((li) => Number(li.dataset.index)));
  const all = (await api('/api/anomalies?count=1')).scores;
  const expected = all.map((s, i) => [s, i]).sort((p, q) => q[0] - p[0] || p[1] - q[1]).slice(0, listed.length).map((p) => p[1]);
  check(JSON.stringify(listed) === JSON.stringify(expected), `the anomaly tab lists ${listed}, not the largest scores' items ${expected}`);
  check(listed.length === Math.min(12, all.length), `the anomaly tab lists ${listed.length} items`);
  await shot('anomalies');

  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(' | ')}`);
} catch (e) {
  failures.push(String(e.stack || e));
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify(measured));
