// Small SVG charts for the console (no library: a few series of at most a few hundred points,
// drawn under the page's CSP: elements and attributes only, colours from classes in
// console.css). Each bucket carries a <title> with its values: the tooltip, and what a test
// or a screen reader reads.
const SVG = 'http://www.w3.org/2000/svg';
const W = 900;
const H = 240;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function svg(name, attrs = {}, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** 0, a round step, … up to at least max (1, 2, 5 × 10^n). */
function yTicks(max) {
  if (max <= 0) return [0, 1];
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(Math.round(v * 1000) / 1000);
  return ticks;
}

/**
 * Draws `series` ({ name, values }) over the x `labels` into `container` as lines ('line') or
 * grouped bars ('bar'); `valueText(v)` formats a value for the axis and tooltips. Returns the
 * legend entries shown.
 */
export function drawChart(container, { labels, series, kind = 'line', valueText = (v) => String(v), title, emptyText }) {
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const ticks = yTicks(max);
  const top = ticks[ticks.length - 1];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = Math.max(labels.length, 1);
  const slot = plotW / n;
  const x = (i) => PAD.left + slot * (i + 0.5);
  const y = (v) => PAD.top + plotH - (v / top) * plotH;

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title ?? '' });
  for (const v of ticks) {
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid' }));
    root.append(svg('text', { x: PAD.left - 6, y: y(v) + 4, class: 'axis y' }, valueText(v)));
  }
  const every = Math.max(1, Math.ceil(n / 12));
  labels.forEach((label, i) => {
    if (i % every === 0) root.append(svg('text', { x: x(i), y: H - 8, class: 'axis x' }, label));
  });
  series.forEach((s, k) => {
    if (kind === 'bar') {
      const bw = (slot * 0.8) / series.length;
      s.values.forEach((v, i) => {
        if (!v) return;
        root.append(svg('rect', { x: x(i) - slot * 0.4 + k * bw, y: y(v), width: Math.max(bw - 1, 1), height: PAD.top + plotH - y(v), class: `s${k % 8}` }));
      });
    } else {
      const points = s.values.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
      root.append(svg('polyline', { points: points.join(' '), class: `line s${k % 8}` }));
    }
  });
  // One invisible column per bucket: its tooltip lists every series' value there.
  labels.forEach((label, i) => {
    const col = svg('rect', { x: PAD.left + slot * i, y: PAD.top, width: slot, height: plotH, class: 'hover' });
    col.append(svg('title', {}, `${label} — ${series.map((s) => `${s.name}: ${s.values[i] === null ? '–' : valueText(s.values[i])}`).join(', ')}`));
    root.append(col);
  });

  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((s, k) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch s${k % 8}`;
    li.append(swatch, `${s.name}`);
    legend.append(li);
  });
  const nodes = [root, legend];
  if (!labels.length || series.every((s) => s.values.every((v) => v === null)))
    nodes.push(Object.assign(document.createElement('p'), { className: 'muted', textContent: emptyText ?? '' }));
  container.replaceChildren(...nodes);
  return series.map((s) => s.name);
}
