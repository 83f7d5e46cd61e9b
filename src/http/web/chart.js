// A small live line chart in inline SVG: a fixed window of samples per series,
// redrawn on each push. No library: a polyline per series, a few gridlines,
// and a legend with each series' latest value.

import { h, svg, clear } from './dom.js';

const W = 600;
const H = 160;
const PAD_LEFT = 44;
const PAD_BOTTOM = 18;

/** series: [{ key, label, tone }]; format(v) labels the axis and legend. */
export function lineChart({ title, series, samplesMax = 60, format = String, axisMin = 1 }) {
  const data = series.map(() => []);
  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title, preserveAspectRatio: 'none' });
  const legend = h('ul', { class: 'legend' });
  const el = h('figure', { class: 'chart-box' }, h('figcaption', {}, title), plot, legend);

  function draw() {
    clear(plot);
    // axisMin keeps an idle chart's scale whole (a depth axis of 0, 5, 10, not 0, 0.5, 1).
    const max = niceMax(Math.max(axisMin, ...data.flat()));
    const innerW = W - PAD_LEFT;
    const innerH = H - PAD_BOTTOM;
    for (const f of [0, 0.5, 1]) {
      const y = innerH - f * innerH + (f === 1 ? 1 : 0);
      plot.append(svg('line', { x1: PAD_LEFT, x2: W, y1: y, y2: y, class: 'gridline' }));
      plot.append(svg('text', { x: PAD_LEFT - 6, y: Math.max(10, y + 4), class: 'axis', 'text-anchor': 'end' }, format(max * f)));
    }
    series.forEach((s, i) => {
      const points = data[i];
      if (points.length === 0) return;
      // Until the window fills, the samples there are span the width: a chart that
      // just opened reads as a trend, not as a dot at the right edge.
      const span = Math.max(2, Math.max(...data.map((d) => d.length)));
      const step = innerW / (span - 1);
      const offset = span - points.length;
      const coords = points.map((v, j) => `${(PAD_LEFT + (offset + j) * step).toFixed(1)},${(innerH - (v / max) * (innerH - 2)).toFixed(1)}`);
      plot.append(svg('polyline', { points: coords.join(' '), class: `line tone-${s.tone}` }));
      // The newest sample as a dot: visible even while the line has a single point.
      const [x, y] = coords.at(-1).split(',');
      plot.append(svg('circle', { cx: x, cy: y, r: 3, class: `dot tone-${s.tone}` }));
    });
    clear(legend).append(...series.map((s, i) => {
      const last = data[i].at(-1);
      return h('li', {}, h('span', { class: `swatch tone-${s.tone}`, 'aria-hidden': 'true' }), `${s.label} `, h('strong', {}, last === undefined ? '–' : format(last)));
    }));
  }

  /** values: one number per series, in order. */
  function push(values) {
    values.forEach((v, i) => {
      data[i].push(Number.isFinite(v) ? v : 0);
      if (data[i].length > samplesMax) data[i].shift();
    });
    draw();
  }

  draw();
  return { el, push };
}

/** Rounds an axis maximum up to 1, 2 or 5 times a power of ten. */
function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
