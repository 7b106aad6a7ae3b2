// The customer-service dashboard: polls the API and redraws when a new read-model snapshot
// is published. The API key comes from the URL (#key=...), once, and stays in localStorage.
import { $, count, day, duration, fill, h, label } from './dom.js';
import { renderCustomer } from './customer.js';
import { renderComplaints, renderFunnel, renderPyramid, renderWarnings } from './panels.js';

const POLL_MS = 3000;
const KEY_STORE = 'touchpoint.apiKey';
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const PHONE_RE = /^\+?[0-9][0-9 ()./-]{2,}$/;
const state = { key: null, published: null, customer: null, timer: null, warnings: { reason: '', severity: '', offset: 0, limit: 10 } };

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path) {
  let response;
  try {
    response = await fetch(path, { headers: { 'X-API-Key': state.key, Accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'cannot reach the server');
  }
  if (response.ok) return response.json();
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === 'string' ? body.detail : body.detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join('; ');
  } catch { /* not JSON: keep the status text */ }
  throw new ApiError(response.status, detail);
}

// -- the key ---------------------------------------------------------------------------------

function keyFromUrl() {
  const match = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (match) {
    localStorage.setItem(KEY_STORE, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search); // keep it out of sight
  }
  return localStorage.getItem(KEY_STORE);
}

function askForKey(message) {
  localStorage.removeItem(KEY_STORE);
  state.key = null;
  $('#main').hidden = true;
  $('#key-panel').hidden = false;
  fill($('#key-error'), message || '');
  $('#key-error').hidden = !message;
  $('#key-input').focus();
}

function problem(err) {
  if (err.status === 401) return askForKey(`${err.message}: enter a valid key.`);
  const pill = $('#freshness');
  pill.className = 'freshness down';
  fill(pill, err.status === 503 ? `Waiting for the read model: ${err.message}` : `Problem: ${err.message}`);
}

// -- polling ---------------------------------------------------------------------------------

function renderFreshness(f) {
  const pill = $('#freshness');
  const lag = f.lag_seconds;
  pill.className = `freshness ${lag < 30 ? 'live' : lag < 600 ? 'recent' : 'stale'}`;
  const upTo = f.watermark ? `Events up to ${day(f.watermark)} ${f.watermark.slice(11, 16)} UTC` : 'No events yet';
  fill(pill, h('span', { class: 'dot', 'aria-hidden': 'true' }), ` ${upTo} · updated ${duration(lag)} ago`);
  pill.title = `Snapshot published ${f.published_at}. Refreshes by itself.`;
}

function renderTiles(summary) {
  const w = summary.open_warnings;
  const tile = (name, value, cls = '') => h('div', { class: `tile ${cls}` }, h('span', { class: 'tile-value', text: value }), h('span', { class: 'tile-name', text: name }));
  fill($('#tiles'),
    tile('customers', count(summary.customers)),
    tile('buyers', count(summary.buyers)),
    tile('open churn warnings', count(w.total), w.total ? 'warn' : ''),
    tile('critical warnings', count(w.by_severity.critical || 0), w.by_severity.critical ? 'bad' : ''),
    tile('open complaints', count(summary.open_complaints)),
    tile('overdue complaints', count(summary.overdue_complaints), summary.overdue_complaints ? 'bad' : ''));
}

async function poll() {
  try {
    const summary = await api('/reports/summary');
    $('#main').hidden = false;
    renderFreshness(summary.freshness);
    renderTiles(summary);
    if (summary.freshness.published_at !== state.published) await refreshAll(summary.freshness.published_at);
  } catch (err) {
    problem(err);
  } finally {
    if (state.key) schedule();
  }
}

function schedule() { // one polling loop at most
  clearTimeout(state.timer);
  state.timer = setTimeout(poll, POLL_MS);
}

// Redraw everything from the new snapshot; it counts as shown only once all panels are drawn.
async function refreshAll(published) {
  await Promise.all([loadFunnel(), loadPyramid(), loadWarnings(), loadComplaints()]);
  if (state.customer) {
    await openCustomer(state.customer, false).catch((err) => fill($('#search-message'), err.message));
  }
  state.published = published;
}

// -- the panels ------------------------------------------------------------------------------

async function loadFunnel() {
  renderFunnel(await api('/reports/funnel'));
}

async function loadPyramid() {
  renderPyramid(await api('/reports/pyramid'));
}

async function loadWarnings() {
  const w = state.warnings;
  const query = new URLSearchParams({ limit: w.limit, offset: w.offset });
  if (w.reason) query.set('reason', w.reason);
  if (w.severity) query.set('severity', w.severity);
  renderWarnings(await api(`/warnings?${query}`), w.reason, openCustomer);
}

async function loadComplaints() {
  renderComplaints(await api('/reports/complaints?open_limit=10'), openCustomer);
}

// -- customer search -------------------------------------------------------------------------

async function openCustomer(id, scroll = true) {
  const customer = await api(`/customers/${encodeURIComponent(id)}`);
  state.customer = customer.customer_id;
  $('#customer').hidden = false;
  $('#search-results').hidden = true;
  fill($('#search-message'));
  renderCustomer($('#customer'), customer);
  if (scroll) $('#customer-card').scrollIntoView({ block: 'start' });
}

async function findBy(kind, value) {
  const found = await api(`/customers?${kind}=${encodeURIComponent(value)}&limit=20`);
  if (found.total === 1) return openCustomer(found.items[0].customer_id);
  if (!found.total) return fill($('#search-message'), `No customer with the ${kind === 'email' ? 'e-mail address' : 'phone number'} ${value}.`);
  fill($('#search-message'), `${found.total} customers share that ${kind}:`);
  const list = $('#search-results');
  list.hidden = false;
  fill(list, found.items.map((item) => h('li', {}, h('button', { class: 'link', type: 'button', text: item.customer_id, onclick: () => openCustomer(item.customer_id) }), ` ${label(item.stage)}, ${item.tier || 'no'} tier`)));
}

async function search(event) {
  event.preventDefault();
  const value = $('#search-input').value.trim();
  if (!value) return;
  fill($('#search-message'), 'Searching…');
  try {
    if (value.includes('@')) return await findBy('email', value);
    if (ID_RE.test(value)) {
      try {
        return await openCustomer(value);
      } catch (err) {
        if (!(err.status === 404 && PHONE_RE.test(value))) throw err;
      }
    }
    if (PHONE_RE.test(value)) return await findBy('phone', value);
    fill($('#search-message'), `"${value}" is not a customer id, an e-mail address or a phone number.`);
  } catch (err) {
    if (err.status === 404 || err.status === 422) return fill($('#search-message'), err.message);
    problem(err);
  }
}

// -- start -----------------------------------------------------------------------------------

function start() {
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('#key-input').value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORE, key);
    state.key = key;
    $('#key-panel').hidden = true;
    state.published = null;
    clearTimeout(state.timer);
    poll();
  });
  $('#search-form').addEventListener('submit', search);
  const page = (delta) => { state.warnings.offset = Math.max(0, state.warnings.offset + delta * state.warnings.limit); loadWarnings().catch(problem); };
  $('#warnings-prev').addEventListener('click', () => page(-1));
  $('#warnings-next').addEventListener('click', () => page(1));
  $('#warnings-reason').addEventListener('change', (e) => { state.warnings.reason = e.target.value; state.warnings.offset = 0; loadWarnings().catch(problem); });
  $('#warnings-severity').addEventListener('change', (e) => { state.warnings.severity = e.target.value; state.warnings.offset = 0; loadWarnings().catch(problem); });
  state.key = keyFromUrl();
  if (state.key) poll(); else askForKey();
}

start();
