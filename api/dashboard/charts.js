// Charts as inline SVG, drawn here: no chart library, nothing loaded from elsewhere.
import { count, label, pct, s } from './dom.js';

const LADDER = ['prospect', 'first_time_buyer', 'repeat_buyer', 'loyal', 'advocate'];

function svg(width, height, title, ...children) {
  return s('svg', {
    viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': title,
    class: 'chart',
  }, s('title', { text: title }), ...children);
}

const text = (x, y, value, cls, anchor = 'start') =>
  s('text', { x, y, class: cls, 'text-anchor': anchor, text: value });

/** The loyalty ladder as a funnel (bars centred), then the off-ladder stages. */
export function funnelChart(funnel) {
  const byStage = Object.fromEntries(funnel.stages.map((step) => [step.stage, step]));
  const max = Math.max(1, ...funnel.stages.map((step) => step.customers));
  const rows = [];
  const rowHeight = 34;
  const barArea = { x: 120, width: 210 };
  let y = 8;
  const row = (step, cls, centred) => {
    const width = Math.max(2, (barArea.width * step.customers) / max);
    const x = centred ? barArea.x + (barArea.width - width) / 2 : barArea.x;
    rows.push(
      text(112, y + 17, label(step.stage), 'axis', 'end'),
      s('rect', { x, y: y + 3, width, height: 20, rx: 3, class: `bar ${cls} stage-${step.stage}` },
        s('title', { text: `${label(step.stage)}: ${count(step.customers)} customers` })),
      text(barArea.x + barArea.width + 10, y + 13, `${count(step.customers)} · ${pct(step.share)}`, 'value'),
    );
    if (step.conversion !== null && step.conversion !== undefined) {
      rows.push(text(barArea.x + barArea.width + 10, y + 27, `↑ ${pct(step.conversion)} conversion`, 'note'));
    }
    y += rowHeight;
  };
  LADDER.filter((stage) => byStage[stage]).forEach((stage) => row(byStage[stage], 'ladder', true));
  y += 6;
  rows.push(s('line', { x1: 10, x2: 470, y1: y - 4, y2: y - 4, class: 'rule' }));
  rows.push(text(10, y + 10, 'off the ladder', 'note'));
  y += 16;
  funnel.stages.filter((step) => !LADDER.includes(step.stage)).forEach((step) => row(step, 'off', false));
  return svg(480, y + 4, 'Loyalty funnel: customers per stage', ...rows);
}

const TIER_ORDER = ['vip', 'key', 'regular', 'small'];

/** The pyramid (fixed shape, one layer per tier) and, beside each layer, the tier's share of
 * customers and of value: the 80/20 picture. */
export function pyramidChart(pyramid) {
  const layer = 48;
  const base = 200;
  const apexX = 110;
  const parts = [];
  const tiers = TIER_ORDER.map((tier) => pyramid.tiers.find((row) => row.tier === tier) || {
    tier, customers: 0, value_minor: 0, customer_share: null, value_share: null,
  });
  tiers.forEach((row, i) => {
    const top = 6 + i * layer;
    const bottom = top + layer - 4;
    const halfTop = (base / 2) * (i / tiers.length);
    const halfBottom = (base / 2) * ((i + 1) / tiers.length);
    const points = [
      [apexX - halfTop, top], [apexX + halfTop, top],
      [apexX + halfBottom, bottom], [apexX - halfBottom, bottom],
    ].map((p) => p.join(',')).join(' ');
    parts.push(
      s('polygon', { points, class: `layer tier-${row.tier}` },
        s('title', { text: `${row.tier}: ${count(row.customers)} customers` })),
      text(apexX, bottom - 8, row.tier, 'layer-label', 'middle'),
    );
    const barX = 232; // bars, then their labels in a column of their own
    const barWidth = 110;
    const labelX = barX + barWidth + 8;
    const customers = (row.customer_share || 0) * barWidth;
    const value = (row.value_share || 0) * barWidth;
    parts.push(
      s('rect', { x: barX, y: top + 6, width: Math.max(1, customers), height: 12, class: 'bar share-customers' }),
      text(labelX, top + 16, `${pct(row.customer_share)} of customers (${count(row.customers)})`, 'note'),
      s('rect', { x: barX, y: top + 22, width: Math.max(1, value), height: 12, class: `bar share-value tier-${row.tier}` }),
      text(labelX, top + 32, `${pct(row.value_share)} of value`, 'value'),
    );
  });
  return svg(500, 6 + tiers.length * layer + 4, 'Value pyramid: share of customers and of value per tier', ...parts);
}

/** Horizontal bars: rows of {label, value, note}. */
export function barList(rows, title, cls = '') {
  const max = Math.max(1, ...rows.map((row) => row.value));
  const parts = [];
  rows.forEach((row, i) => {
    const y = 4 + i * 24;
    const width = Math.max(row.value ? 2 : 0, (220 * row.value) / max);
    parts.push(
      text(150, y + 14, row.label, 'axis', 'end'),
      s('rect', { x: 158, y: y + 3, width, height: 16, rx: 2, class: `bar ${cls} ${row.cls || ''}` }),
      text(164 + width, y + 15, row.note ?? count(row.value), 'value'),
    );
  });
  return svg(480, 8 + rows.length * 24, title, ...parts);
}

/** Vertical bars of rates (0..1): rows of {label, rate, note}. */
export function rateColumns(rows, title) {
  const height = 120;
  const parts = [];
  rows.forEach((row, i) => {
    const x = 30 + i * 150;
    const barHeight = (row.rate || 0) * height;
    parts.push(
      s('rect', { x, y: 20 + height - barHeight, width: 90, height: Math.max(1, barHeight), rx: 3, class: `bar ${row.cls}` }),
      text(x + 45, 14 + height - barHeight, pct(row.rate, 0), 'value', 'middle'),
      text(x + 45, height + 38, row.label, 'axis', 'middle'),
      text(x + 45, height + 54, row.note, 'note', 'middle'),
    );
  });
  parts.push(s('line', { x1: 20, x2: 470, y1: height + 20, y2: height + 20, class: 'rule' }));
  return svg(480, height + 62, title, ...parts);
}

/** A ring gauge for one ratio (0..1). */
export function gauge(ratio, title) {
  const value = ratio === null || ratio === undefined ? 0 : Math.max(0, Math.min(1, ratio));
  const tone = ratio === null || ratio === undefined ? 'none' : value >= 0.9 ? 'good' : value >= 0.7 ? 'fair' : 'poor';
  return svg(120, 120, title,
    s('circle', { cx: 60, cy: 60, r: 46, class: 'gauge-track' }),
    s('circle', {
      cx: 60, cy: 60, r: 46, pathLength: 100, class: `gauge-value ${tone}`,
      'stroke-dasharray': `${(value * 100).toFixed(2)} 100`, transform: 'rotate(-90 60 60)',
    }),
    text(60, 67, pct(ratio, 0), 'gauge-text', 'middle'));
}
