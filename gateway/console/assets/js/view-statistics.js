// Sharing statistics: lookups per requester x provider x certificate type over time, as a chart, the
// chart's figures and the full breakdown, and the same query as CSV.
import { api, clearErrors, showError, timeParam } from './api.js';
import { outcomeSeries, stackedBars } from './chart.js';
import { checkboxes, checkedValues, el, field, input, select, table } from './dom.js';
import { t } from './i18n.js';

const GROUPS = ['requester', 'provider', 'certificateType'];
const COUNTS = ['total', 'granted', 'denied', 'notFound', 'failed', 'timedOut', 'invalid'];

function isoDay(offsetDays) {
  const date = new Date(Date.now() + offsetDays * 86_400_000);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

function periodLabel(period) {
  return String(period ?? '').slice(0, 10);
}

const reasonsText = (reasons) =>
  Object.entries(reasons ?? {})
    .map(([reason, n]) => `${reason}: ${n}`)
    .join('; ');

const latencyText = (latency) =>
  latency ? ['p50', 'p90', 'p95', 'p99'].map((p) => latency[p] ?? '–').join(' / ') : '';

export async function statisticsView(view) {
  const output = el('div', { id: 'statistics-output', 'aria-live': 'polite' });
  const granularity = select(['day', 'week', 'month', 'hour'].map((g) => [g, t(g)]));
  const groups = checkboxes('statistics-groupBy', t('groupBy'), GROUPS, (g) => t(g));
  for (const box of groups.querySelectorAll('input')) box.checked = box.value !== 'certificateType';
  const form = el(
    'form',
    { id: 'statistics-form', class: 'filters', novalidate: true },
    field('statistics-from', t('from'), input({ value: isoDay(-30) }), t('timeHint')),
    field('statistics-to', t('to'), input({ value: isoDay(1) }), t('timeHint')),
    field('statistics-granularity', t('granularity'), granularity),
    groups,
    field('statistics-requester', t('requester'), input()),
    field('statistics-provider', t('provider'), input()),
    field('statistics-certificateType', t('certificateType'), input()),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'submit' }, t('show')),
      el('button', { type: 'button', class: 'secondary', id: 'statistics-csv' }, t('downloadCsv')),
    ),
    el('p', { class: 'form-message', role: 'alert' }),
  );
  const value = (id) => form.querySelector(`#statistics-${id}`).value.trim();
  const query = () => ({
    from: timeParam(value('from')),
    to: timeParam(value('to')),
    granularity: value('granularity'),
    groupBy: checkedValues(form, 'statistics-groupBy').join(','),
    requester: value('requester'),
    provider: value('provider'),
    certificateType: value('certificateType'),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  });

  async function show() {
    try {
      const answer = await api('/v1/statistics', { query: query() });
      clearErrors(form);
      render(answer);
    } catch (error) {
      showError(form, error, 'statistics');
    }
  }

  function render(answer) {
    const rows = answer.rows ?? [];
    const byPeriod = new Map();
    for (const row of rows) {
      const sums = byPeriod.get(row.period) ?? Object.fromEntries(COUNTS.map((key) => [key, 0]));
      for (const key of COUNTS) sums[key] += row[key] ?? 0;
      byPeriod.set(row.period, sums);
    }
    const periods = [...byPeriod.keys()].sort();
    const grouped = answer.groupBy ?? [];
    output.replaceChildren(
      periods.length === 0
        ? el('p', {}, t('none'))
        : el(
            'div',
            { class: 'chart-and-table' },
            el(
              'figure',
              {},
              stackedBars(
                t('chartTitle'),
                outcomeSeries(),
                periods.map((period) => ({ label: periodLabel(period), values: byPeriod.get(period) })),
              ),
              el('figcaption', {}, t('chartTitle')),
            ),
            table(
              t('chartTable'),
              [t('period'), ...COUNTS.map((key) => t(key))],
              periods.map((period) => [
                periodLabel(period),
                ...COUNTS.map((key) => String(byPeriod.get(period)[key])),
              ]),
              { id: 'statistics-periods' },
            ),
          ),
      rows.length === 0
        ? null
        : table(
            t('rowsTable'),
            [
              t('period'),
              ...grouped.map((g) => t(g)),
              ...COUNTS.map((key) => t(key)),
              t('deniedByReason'),
              t('latency'),
            ],
            rows.map((row) => [
              periodLabel(row.period),
              ...grouped.map((g) => row[g] ?? ''),
              ...COUNTS.map((key) => String(row[key] ?? 0)),
              reasonsText(row.deniedByReason),
              latencyText(row.latencyMs),
            ]),
            { id: 'statistics-rows' },
          ),
    );
  }

  async function downloadCsv() {
    try {
      const response = await api('/v1/statistics', { query: { ...query(), format: 'csv' }, raw: true });
      const blob = await response.blob();
      const link = el('a', {
        href: URL.createObjectURL(blob),
        download: `silobridge-statistics-${value('from')}-${value('to')}.csv`,
      });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      showError(form, error, 'statistics');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    show();
  });
  form.querySelector('#statistics-csv').addEventListener('click', downloadCsv);
  view.append(el('h2', {}, t('statistics')), form, output);
  await show();
}
