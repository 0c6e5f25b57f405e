// The department scorecard for performance assessment (绩效考核): providers' timeliness, connector
// availability, latency and schema-rejected replies; requesters' denials by reason.
import { api, clearErrors, showError, timeParam } from './api.js';
import { el, field, input, table } from './dom.js';
import { t } from './i18n.js';

const percent = (fraction) =>
  typeof fraction === 'number' && Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : '–';
const number = (value) => (value === undefined || value === null ? '–' : String(value));

function monthStart(offset) {
  const now = new Date();
  const date = new Date(now.getFullYear(), now.getMonth() + offset, 1);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-01`;
}

/** `answeredWithinDeadline` may be a count or a share; shown as a share of lookups either way. */
function withinDeadline(provider) {
  const value = provider.answeredWithinDeadline;
  if (typeof value !== 'number') return '–';
  return percent(value > 1 || provider.lookups === 0 ? value / Math.max(1, provider.lookups) : value);
}

export async function scorecardView(view) {
  const output = el('div', { id: 'scorecard-output', 'aria-live': 'polite' });
  const form = el(
    'form',
    { id: 'scorecard-form', class: 'filters', novalidate: true },
    field('scorecard-from', t('from'), input({ value: monthStart(0) }), t('timeHint')),
    field('scorecard-to', t('to'), input({ value: monthStart(1) }), t('timeHint')),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('show'))),
    el('p', { class: 'form-message', role: 'alert' }),
  );

  async function show() {
    try {
      const answer = await api('/v1/statistics/scorecard', {
        query: {
          from: timeParam(form.querySelector('#scorecard-from').value),
          to: timeParam(form.querySelector('#scorecard-to').value),
        },
      });
      clearErrors(form);
      output.replaceChildren(
        table(
          t('providers'),
          [
            t('department'),
            t('lookups'),
            t('withinDeadline'),
            t('timedOut'),
            t('availability'),
            t('p50'),
            t('p95'),
            t('schemaRejected'),
          ],
          (answer.providers ?? []).map((provider) => [
            provider.department,
            number(provider.lookups),
            withinDeadline(provider),
            number(provider.timedOut),
            percent(provider.availability),
            number(provider.latencyMs?.p50),
            number(provider.latencyMs?.p95),
            number(provider.schemaRejectedReplies),
          ]),
          { id: 'scorecard-providers' },
        ),
        table(
          t('requesters'),
          [t('department'), t('lookups'), t('denied'), t('deniedByReason')],
          (answer.requesters ?? []).map((requester) => [
            requester.department,
            number(requester.lookups),
            number(requester.denied),
            Object.entries(requester.deniedByReason ?? {})
              .map(([reason, n]) => `${reason}: ${n}`)
              .join('; '),
          ]),
          { id: 'scorecard-requesters' },
        ),
        el('p', {}, el('a', { href: 'public.html' }, t('publicPage'))),
      );
    } catch (error) {
      showError(form, error, 'scorecard');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    show();
  });
  view.append(el('h2', {}, t('scorecard')), form, output);
  await show();
}
