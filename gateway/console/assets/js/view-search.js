// Audit search with every filter of GET /v1/audit/events, and one event in full.
import { api, clearErrors, showError, timeParam } from './api.js';
import {
  checkboxes,
  checkedValues,
  el,
  field,
  formatTime,
  input,
  requesterText,
  select,
  table,
} from './dom.js';
import { t } from './i18n.js';

export const KINDS = [
  'lookup',
  'access-refused',
  'registry-change',
  'policy-change',
  'audit-access',
  'subscription',
  'change-notice',
];
export const OUTCOMES = ['granted', 'denied', 'not-found', 'failed', 'timed-out', 'invalid'];
/** A search also filters on the steps of a change notice (`denied` is shared with lookups). */
const SEARCH_OUTCOMES = [...OUTCOMES, 'released', 'delivered', 'retrying', 'dead-lettered'];

// The last search survives opening an event and coming back.
let lastQuery;

function eventRow(row) {
  const event = row.event ?? {};
  const purpose = event.purpose ?? {};
  return [
    el(
      'a',
      { href: `#/event/${row.sequence}`, 'aria-label': `${t('open')} ${row.sequence}` },
      String(row.sequence),
    ),
    formatTime(event.at),
    event.kind,
    requesterText(event.requester) || event.actor || event.claimedIssuer || '',
    event.provider ?? '',
    event.certificateType ?? '',
    event.outcome ?? event.action ?? (event.status ? `${event.status} ${event.reason ?? ''}` : ''),
    purpose.matter ?? '',
    purpose.caseRef ?? '',
    purpose.officer ?? '',
  ];
}

export async function searchView(view) {
  const headers = [
    t('sequence'),
    t('at'),
    t('kind'),
    t('requester'),
    t('provider'),
    t('certificateType'),
    t('outcome'),
    t('matter'),
    t('caseRef'),
    t('officer'),
  ];
  const results = el('div', { id: 'search-results', 'aria-live': 'polite' });
  const form = el(
    'form',
    { id: 'search-form', class: 'filters', novalidate: true },
    checkboxes('search-kind', t('kind'), KINDS, (kind) => kind),
    field('search-requester', t('requester'), input({ name: 'requester' })),
    field('search-provider', t('provider'), input({ name: 'provider' })),
    field('search-certificateType', t('certificateType'), input({ name: 'certificateType' })),
    checkboxes('search-outcome', t('outcome'), SEARCH_OUTCOMES, (outcome) => outcome),
    field('search-matter', t('matter'), input({ name: 'matter' })),
    field('search-lookupId', t('lookupId'), input({ name: 'lookupId' })),
    field('search-from', t('from'), input({ name: 'from' }), t('timeHint')),
    field('search-to', t('to'), input({ name: 'to' }), t('timeHint')),
    field(
      'search-order',
      t('order'),
      select([
        ['desc', t('newestFirst')],
        ['asc', t('oldestFirst')],
      ]),
    ),
    field('search-limit', t('limit'), input({ type: 'number', min: '1', max: '500', value: '50' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('find'))),
    el('p', { class: 'form-message', role: 'alert' }),
  );

  const value = (id) => form.querySelector(`#search-${id}`).value.trim();
  const query = () => ({
    kind: checkedValues(form, 'search-kind').join(','),
    requester: value('requester'),
    provider: value('provider'),
    certificateType: value('certificateType'),
    outcome: checkedValues(form, 'search-outcome').join(','),
    matter: value('matter'),
    lookupId: value('lookupId'),
    from: timeParam(value('from')),
    to: timeParam(value('to')),
    order: value('order'),
    limit: value('limit'),
  });

  async function run(params, appendTo) {
    try {
      const page = await api('/v1/audit/events', { query: params });
      clearErrors(form);
      lastQuery = params;
      const rows = page.events.map(eventRow);
      const body = appendTo ?? results;
      if (!appendTo) body.replaceChildren();
      body.append(
        rows.length > 0 ? table(t('results'), headers, rows, { id: 'events-table' }) : el('p', {}, t('none')),
      );
      if (page.nextCursor) {
        const more = el('button', { type: 'button', class: 'more' }, t('nextPage'));
        more.addEventListener('click', () => {
          more.remove();
          const { order, ...rest } = params;
          run({ ...rest, cursor: page.nextCursor }, body);
        });
        body.append(more);
      }
    } catch (error) {
      showError(form, error, 'search');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(query());
  });
  view.append(el('h2', {}, t('search')), form, results);
  await run(lastQuery ?? { limit: '50' });
}

function flatten(value, prefix = '', rows = []) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, rows);
  } else {
    rows.push([prefix, Array.isArray(value) ? JSON.stringify(value) : String(value)]);
  }
  return rows;
}

export async function eventView(view, sequence) {
  view.append(el('p', {}, el('a', { href: '#/search' }, t('back'))));
  const heading = el('h2', {}, `${t('event')} ${sequence ?? ''}`);
  view.append(heading);
  try {
    const row = await api(`/v1/audit/events/${encodeURIComponent(sequence ?? '')}`);
    view.append(
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, t('sequence')),
        el('dd', {}, String(row.sequence)),
        el('dt', {}, t('hash')),
        el('dd', { class: 'mono' }, row.hash),
        el('dt', {}, t('prevHash')),
        el('dd', { class: 'mono' }, row.prevHash),
      ),
      table(t('event'), [t('field'), t('value')], flatten(row.event), { id: 'event-fields' }),
      el('h3', {}, t('eventJson')),
      el('pre', { class: 'json', id: 'event-json' }, JSON.stringify(row.event, null, 2)),
    );
  } catch (error) {
    view.append(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
  }
}
