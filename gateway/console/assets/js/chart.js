// A stacked bar chart drawn as SVG elements (no library, no inline style): one bar per period, one
// colour per outcome. Colours come from classes in console.css. The same numbers are always shown in
// a table next to it, for screen readers and for anyone who wants the figures.
import { t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** series: [{key, label}], points: [{label, values: {key: n}}] */
export function stackedBars(title, series, points) {
  const width = Math.max(680, points.length * 48 + 80);
  const height = 280;
  const plot = { left: 56, right: 12, top: 16, bottom: 56 };
  const max = Math.max(
    1,
    ...points.map((point) => series.reduce((sum, s) => sum + (point.values[s.key] ?? 0), 0)),
  );
  const innerHeight = height - plot.top - plot.bottom;
  const slot = Math.min(64, (width - plot.left - plot.right) / Math.max(1, points.length));
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': title,
    class: 'chart',
    id: 'statistics-chart',
  });
  root.append(svg('title', {}, title));
  for (const fraction of [0, 0.5, 1]) {
    const y = plot.top + innerHeight * (1 - fraction);
    root.append(svg('line', { x1: plot.left, x2: width - plot.right, y1: y, y2: y, class: 'grid' }));
    root.append(
      svg(
        'text',
        { x: plot.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' },
        String(Math.round(max * fraction)),
      ),
    );
  }
  points.forEach((point, index) => {
    let base = plot.top + innerHeight;
    const x = plot.left + index * slot + slot * 0.15;
    for (const [seriesIndex, s] of series.entries()) {
      const value = point.values[s.key] ?? 0;
      if (value <= 0) continue;
      const barHeight = (value / max) * innerHeight;
      base -= barHeight;
      const rect = svg('rect', {
        x,
        y: base,
        width: slot * 0.7,
        height: barHeight,
        class: `series-${seriesIndex}`,
      });
      rect.append(svg('title', {}, `${point.label} · ${s.label}: ${value}`));
      root.append(rect);
    }
    root.append(
      svg(
        'text',
        { x: x + slot * 0.35, y: height - plot.bottom + 16, class: 'axis', 'text-anchor': 'middle' },
        point.label,
      ),
    );
  });
  const legend = svg('g', { class: 'legend' });
  series.forEach((s, index) => {
    const x = plot.left + index * 100;
    legend.append(svg('rect', { x, y: height - 22, width: 12, height: 12, class: `series-${index}` }));
    legend.append(svg('text', { x: x + 16, y: height - 12, class: 'axis' }, s.label));
  });
  root.append(legend);
  return root;
}

export function outcomeSeries() {
  return ['granted', 'denied', 'notFound', 'failed', 'timedOut', 'invalid'].map((key) => ({
    key,
    label: t(key),
  }));
}
