// Small DOM and formatting helpers. Data is only ever set as text (never as HTML).

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An HTML element: h('p', {class: 'note'}, 'text', h('b', {}, 'bold')). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  appendAll(el, children);
  return el;
}

/** An SVG element, same call shape as h. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  appendAll(el, children);
  return el;
}

/** Replace the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

export const $ = (selector) => document.querySelector(selector);

export const label = (code) => (code ? String(code).replace(/_/g, ' ') : '–');

export function pct(ratio, digits = 1) {
  return ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(digits)}%`;
}

export function count(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en');
}

/** Minor units of a currency as money, e.g. 123456 EUR -> "€1,234.56". */
export function money(minor, currency) {
  if (minor === null || minor === undefined) return '–';
  const amount = Number(minor) / 100;
  if (!currency) return amount.toLocaleString('en', { maximumFractionDigits: 2 });
  try {
    return amount.toLocaleString('en', { style: 'currency', currency, maximumFractionDigits: 2 });
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

/** An ISO instant as "2025-04-30 10:00" (UTC). */
export function when(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().slice(0, 16).replace('T', ' ');
}

export function day(iso) {
  return iso ? when(iso).slice(0, 10) : '–';
}

/** A duration in seconds as words: "12 s", "5 min", "3 h", "4 days". */
export function duration(seconds) {
  const value = Math.max(0, Number(seconds) || 0);
  if (value < 90) return `${Math.round(value)} s`;
  if (value < 90 * 60) return `${Math.round(value / 60)} min`;
  if (value < 48 * 3600) return `${Math.round(value / 3600)} h`;
  return `${Math.round(value / 86400)} days`;
}

export function hours(h) {
  return h === null || h === undefined ? '–' : duration(Number(h) * 3600);
}
