// The subject report: who accessed this citizen's or company's records. Identifiers are POSTed, never
// put in the URL, and the page prints as a report (see @media print in console.css).
import { api, clearErrors, showError, timeParam } from './api.js';
import { el, field, formatTime, input, requesterText, select, table } from './dom.js';
import { t } from './i18n.js';

const IDENTIFIERS = ['residentIdNumber', 'unifiedSocialCreditCode', 'certificateNumber', 'licenceNumber'];

/** What the printed report shows of an identifier: enough to tell which, not the whole number. */
function masked(value) {
  const chars = [...value];
  if (chars.length <= 8) return '*'.repeat(chars.length);
  return chars.slice(0, 6).join('') + '*'.repeat(chars.length - 10) + chars.slice(-4).join('');
}

export async function subjectView(view) {
  const rows = el('div', { class: 'identifiers' });
  let count = 0;
  const addRow = () => {
    if (count >= 10) return;
    count += 1;
    rows.append(
      el(
        'div',
        { class: 'identifier-row' },
        field(
          `subject-type-${count}`,
          t('identifierType'),
          select(
            IDENTIFIERS.map((name) => [name, t(name)]),
            { class: 'identifier-type' },
          ),
        ),
        field(`subject-value-${count}`, t('identifierValue'), input({ class: 'identifier-value' })),
      ),
    );
  };
  addRow();
  const addButton = el('button', { type: 'button', class: 'secondary' }, t('addIdentifier'));
  addButton.addEventListener('click', addRow);
  const report = el('section', { id: 'subject-report', 'aria-live': 'polite' });
  const form = el(
    'form',
    { id: 'subject-form', class: 'filters no-print', method: 'post', action: '#', novalidate: true },
    el('p', {}, t('subjectIntro')),
    el(
      'div',
      { 'data-field': 'subject-subject' },
      rows,
      el('p', { class: 'field-error', 'aria-live': 'polite' }),
    ),
    el('div', { class: 'actions' }, addButton),
    field('subject-from', t('from'), input(), t('timeHint')),
    field('subject-to', t('to'), input(), t('timeHint')),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('runReport'))),
    el('p', { class: 'form-message', role: 'alert' }),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const subject = {};
    for (const row of rows.querySelectorAll('.identifier-row')) {
      const value = row.querySelector('.identifier-value').value.trim();
      if (value) subject[row.querySelector('.identifier-type').value] = value;
    }
    const from = timeParam(form.querySelector('#subject-from').value);
    const to = timeParam(form.querySelector('#subject-to').value);
    try {
      const answer = await api('/v1/audit/subjects/report', {
        method: 'POST',
        body: { subject, ...(from ? { from } : {}), ...(to ? { to } : {}), limit: 500 },
      });
      clearErrors(form);
      const printButton = el('button', { type: 'button', class: 'no-print', id: 'print' }, t('print'));
      printButton.addEventListener('click', () => window.print());
      report.replaceChildren(
        el('h3', {}, t('reportTitle')),
        el(
          'p',
          {},
          t('reportFor'),
          Object.entries(subject)
            .map(([name, value]) => `${t(name)} ${masked(value)}`)
            .join('; '),
        ),
        el('p', {}, t('reportMade'), `${formatTime(new Date().toISOString())}`),
        answer.accesses.length > 0
          ? table(
              t('accesses'),
              [
                t('at'),
                t('requester'),
                t('officer'),
                t('matter'),
                t('caseRef'),
                t('certificateType'),
                t('provider'),
                t('outcome'),
              ],
              answer.accesses.map((access) => [
                formatTime(access.at),
                requesterText(access.requester),
                access.officer ?? '',
                access.matter ?? '',
                access.caseRef ?? '',
                access.certificateType ?? '',
                access.provider ?? '',
                access.outcome ?? '',
              ]),
              { id: 'subject-table' },
            )
          : el('p', {}, t('none')),
        printButton,
      );
    } catch (error) {
      showError(form, error, 'subject');
    }
  });
  view.append(el('h2', { class: 'no-print' }, t('subject')), form, report);
}
