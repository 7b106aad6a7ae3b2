// The report panels: loyalty funnel, value pyramid, churn worklist, complaint timeliness.
// Each draws one API answer into its section of index.html.
import { $, count, day, fill, h, hours, label, pct } from './dom.js';
import { barList, funnelChart, gauge, pyramidChart, rateColumns } from './charts.js';

export function renderFunnel(funnel) {
  fill($('#funnel-chart'), funnelChart(funnel));
  fill($('#funnel-note'), `${count(funnel.customers)} customers with a loyalty stage. Conversion: customers at a rung or above, of those at the rung below or above.`);
}

export function renderPyramid(pyramid) {
  fill($('#pyramid-chart'), pyramidChart(pyramid));
  fill($('#pareto'), pyramid.pareto_share === null ? 'No customer value yet.'
    : `80/20 check: the top 20% of ${count(pyramid.ranked)} customers with a value hold ${pct(pyramid.pareto_share)} of it.`);
}

const customerLink = (id, open) => h('button', { class: 'link', type: 'button', text: id, onclick: () => open(id) });

/** One page of GET /warnings; `reason`: the reason filtered on; `open(id)` shows a customer. */
export function renderWarnings(page, reason, open) {
  const rows = page.items.map((item) => h('tr', { class: `severity-${item.severity}` },
    h('td', { class: 'num', text: item.priority.toFixed(2) }),
    h('td', {}, customerLink(item.customer_id, open)),
    h('td', {}, h('span', { class: `badge tier-${item.value_tier || 'none'}`, text: item.value_tier || '–' })),
    h('td', {}, h('span', { class: `pill severity-${item.severity}`, text: item.severity })),
    h('td', { text: item.reasons.map(label).join(', ') }),
    h('td', { text: day(item.raised_at) })));
  fill($('#warnings-body'), rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'note', text: 'No open churn warning matches.' })));
  const last = Math.min(page.offset + page.limit, page.total);
  fill($('#warnings-page'), page.total ? `${page.offset + 1}–${last} of ${count(page.total)}` : '0 of 0');
  $('#warnings-prev').disabled = page.offset === 0;
  $('#warnings-next').disabled = page.next_offset === null;
  const reasons = Object.entries(page.counts.by_reason);
  fill($('#warnings-reason'), h('option', { value: '', text: `every reason (${count(page.counts.total)})` }),
    reasons.map(([code, n]) => h('option', { value: code, selected: code === reason, text: `${label(code)} (${n})` })));
  fill($('#reason-chart'), barList(reasons.map(([code, n]) => ({ label: label(code), value: n })), 'Open warnings per reason', 'reason'));
}

const OUTCOMES = { on_time: 'resolved on time', late: 'resolved late', never: 'never resolved' };

/** GET /reports/complaints; `open(id)` shows a customer. */
export function renderComplaints(t, open) {
  const kpi = (name, value, note) => h('div', { class: 'kpi' }, h('span', { class: 'kpi-value', text: value }), h('span', { class: 'kpi-name', text: name }), h('span', { class: 'note', text: note }));
  fill($('#complaint-kpis'),
    h('div', { class: 'kpi gauge-kpi' }, gauge(t.timeliness_rate, 'Timeliness rate'), h('span', { class: 'kpi-name', text: 'resolved by the deadline' }), h('span', { class: 'note', text: `${count(t.due_on_time)} of ${count(t.due)} due` })),
    kpi('median time to resolve', hours(t.median_hours_to_resolve), `${count(t.resolved)} resolved`),
    kpi('accepted resolutions', pct(t.acceptance_rate, 0), `${count(t.accepted)} of ${count(t.answered)} answered`),
    kpi('open complaints', count(t.open), `${count(t.open_overdue)} past the deadline`));
  fill($('#repurchase-chart'), rateColumns(t.repurchase.map((g) => ({
    label: OUTCOMES[g.outcome] || g.outcome, rate: g.rate, cls: `outcome-${g.outcome}`, note: `${count(g.repurchased)} of ${count(g.complaints)} bought again`,
  })), 'Customers who bought again, by how their complaint was handled'));
  const rows = t.open_complaints.map((k) => h('tr', { class: k.overdue ? 'overdue' : '' },
    h('td', {}, customerLink(k.customer_id, open)),
    h('td', { text: `${k.complaint_id} · ${label(k.category)} (${k.severity})` }),
    h('td', { text: day(k.filed_at) }), h('td', { text: day(k.deadline) }), h('td', { text: hours(k.age_hours) }),
    h('td', {}, h('span', { class: k.overdue ? 'pill severity-critical' : 'pill', text: k.overdue ? `${hours(k.hours_overdue)} overdue` : 'within deadline' }))));
  fill($('#complaints-body'), rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'note', text: 'No open complaint.' })));
  fill($('#complaints-asof'), `as of ${day(t.as_of)}`);
}
