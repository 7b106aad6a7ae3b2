// The customer 360 panel: who, where on the ladder, what they are worth, what is wrong, what
// happened lately. Everything from GET /customers/{id}.
import { count, day, fill, h, label, money, pct, when } from './dom.js';

function fact(name, value, id) {
  return h('div', { class: 'fact' }, h('span', { class: 'fact-name', text: name }),
    h('span', { class: 'fact-value', id, text: value }));
}

function header(c) {
  const stage = c.loyalty ? c.loyalty.stage : null;
  const tier = c.value ? c.value.tier : null;
  return h('div', { class: 'customer-head' },
    h('h3', { id: 'customer-id', text: c.customer_id }),
    h('span', { id: 'customer-stage', class: `badge stage-${stage || 'none'}`, 'data-stage': stage || '',
      title: c.loyalty ? c.loyalty.reason : 'no loyalty stage yet', text: stage ? label(stage) : 'no stage' }),
    h('span', { id: 'customer-tier', class: `badge tier-${tier || 'none'}`,
      text: tier ? `${tier} tier` : 'no value tier' }),
    c.alias_path.length
      ? h('p', { class: 'note', text: `${c.requested_id} was merged into ${c.customer_id}` }) : null,
    c.merged_ids.length ? h('p', { class: 'note', text: `also known as ${c.merged_ids.join(', ')}` }) : null,
    c.loyalty ? h('p', { class: 'reason', text: `Stage since ${day(c.loyalty.since)}: ${c.loyalty.reason}` }) : null);
}

function facts(c) {
  const f = c.figures;
  const clv = c.clv;
  return h('div', { class: 'facts' },
    fact('Lifetime value (12 months)', clv ? money(clv.clv_minor, clv.currency) : '–', 'customer-clv'),
    fact('Still active (P alive)', clv ? pct(clv.p_alive, 0) : '–'),
    fact('Total spend', money(f.total_spend_minor, f.currency)),
    fact('Purchases', count(f.purchase_count)),
    fact('Last purchase', day(f.last_purchase_at)),
    fact('Last contact', day(f.last_seen_at)),
    fact('Open complaints', count(f.open_complaints)),
    fact('Last survey score', f.last_score === null ? '–' : pct(f.last_score, 0)),
    fact('Channels', (f.channels || []).join(', ') || '–'));
}

function warnings(c) {
  if (!c.warnings.length) return h('p', { class: 'ok', text: 'No open churn warning.' });
  return h('ul', { class: 'warnings' }, c.warnings.map((w) => h('li', { class: `severity-${w.severity}` },
    h('span', { class: `pill severity-${w.severity}`, text: w.severity }),
    ` ${w.reasons.map(label).join(', ')} `,
    h('span', { class: 'note', text: `raised ${day(w.raised_at)} · priority ${w.priority.toFixed(2)}` }))));
}

function complaints(c) {
  if (!c.open_complaints.length) return null;
  return h('ul', { class: 'complaints' }, c.open_complaints.map((k) => h('li', {},
    h('span', { class: k.overdue ? 'pill severity-critical' : 'pill', text: k.overdue ? 'overdue' : 'open' }),
    ` ${k.complaint_id}: ${label(k.category)} (${k.severity}), filed ${day(k.filed_at)}, ${k.age_days} days old`,
    k.promised_by ? `, promised by ${day(k.promised_by)}` : '')));
}

function stagePath(c) {
  if (!c.stage_changes.length) return null;
  const changes = [...c.stage_changes].reverse(); // oldest first, left to right
  return h('ol', { class: 'stage-path', 'aria-label': 'loyalty stage history' },
    changes.map((change) => h('li', { class: `stage-${change.to_stage}`, title: change.reason },
      h('span', { class: 'stage-name', text: label(change.to_stage) }),
      h('span', { class: 'note', text: day(change.occurred_at) }))));
}

const TOUCHPOINTS_SHOWN = 12;

function timeline(c) {
  return h('table', { class: 'timeline' },
    h('thead', {}, h('tr', {}, ['When', 'What', 'Channel', 'Detail'].map((t) => h('th', { text: t })))),
    h('tbody', {}, c.timeline.slice(0, TOUCHPOINTS_SHOWN).map((item) => h('tr', {},
      h('td', { text: when(item.occurred_at) }), h('td', { text: label(item.event_type) }),
      h('td', { text: item.channel }), h('td', { text: item.summary })))));
}

/** Draw customer detail c into el. */
export function renderCustomer(el, c) {
  const open = complaints(c);
  fill(el,
    header(c),
    facts(c),
    h('div', { class: 'columns' },
      h('div', {}, h('h4', { text: 'Churn warnings' }), warnings(c),
        open ? [h('h4', { text: 'Open complaints' }), open] : null,
        h('h4', { text: 'Loyalty path' }), stagePath(c) || h('p', { class: 'note', text: 'no stage changes' })),
      h('div', {}, h('h4', { text: 'Latest touchpoints' }), timeline(c))),
    h('p', { class: 'note', text: 'Times in UTC.' }));
}
