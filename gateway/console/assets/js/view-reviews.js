// Review sampling (双随机、一公开): draw a sample, record each event's finding, see the summary and
// publish it.
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
import { OUTCOMES } from './view-search.js';

const FINDINGS = ['compliant', 'non-compliant', 'inconclusive'];

function findingForm(sampleId, item, onRecorded) {
  const prefix = `finding-${item.sequence}`;
  const form = el(
    'form',
    { class: 'finding-form', 'data-sequence': String(item.sequence), novalidate: true },
    field(`${prefix}-finding`, t('finding'), select(FINDINGS.map((f) => [f, t(f)]))),
    field(`${prefix}-reviewer`, t('reviewer'), input({ value: item.reviewer ?? '' })),
    field(`${prefix}-note`, t('note'), input()),
    el('button', { type: 'submit' }, t('record')),
    el('p', { class: 'form-message', role: 'alert' }),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name) => form.querySelector(`#${prefix}-${name}`).value.trim();
    try {
      await api(`/v1/audit/reviews/samples/${sampleId}/findings`, {
        method: 'POST',
        body: {
          sequence: item.sequence,
          finding: value('finding'),
          reviewer: value('reviewer'),
          ...(value('note') ? { note: value('note') } : {}),
        },
      });
      clearErrors(form);
      form.querySelector('.form-message').textContent = t('findingRecorded');
      await onRecorded();
    } catch (error) {
      showError(form, error, prefix);
    }
  });
  return form;
}

function summaryBlock(summary) {
  return el(
    'div',
    { id: 'review-summary' },
    el('h3', {}, t('summary')),
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, t('seed')),
      el('dd', { class: 'mono' }, summary.sample?.seed ?? ''),
      el('dt', {}, t('population')),
      el(
        'dd',
        {},
        `${summary.sample?.population?.count ?? ''} · ${summary.sample?.population?.digest ?? ''}`,
      ),
      el('dt', {}, t('reviewed')),
      el('dd', {}, `${summary.reviewed} / ${summary.sample?.drawn ?? ''}`),
      ...FINDINGS.flatMap((f) => [el('dt', {}, t(f)), el('dd', {}, String(summary.findings?.[f] ?? 0))]),
      el('dt', {}, t('pending')),
      el('dd', {}, String(summary.pending ?? 0)),
    ),
    (summary.nonCompliant ?? []).length > 0
      ? table(
          t('nonCompliantAccesses'),
          [
            t('sequence'),
            t('at'),
            t('requester'),
            t('matter'),
            t('certificateType'),
            t('provider'),
            t('note'),
          ],
          summary.nonCompliant.map((access) => [
            String(access.sequence),
            formatTime(access.at),
            requesterText(access.requester),
            access.matter ?? '',
            access.certificateType ?? '',
            access.provider ?? '',
            access.note ?? '',
          ]),
        )
      : null,
  );
}

export async function reviewsView(view, openId) {
  const detail = el('section', { id: 'review-sample', 'aria-live': 'polite' });
  const list = el('div', { id: 'review-list' });
  const outcomes = checkboxes('review-outcomes', t('outcomes'), OUTCOMES, (o) => o);
  outcomes.querySelector('input[value="granted"]').checked = true;
  const today = new Date();
  const form = el(
    'form',
    { id: 'review-form', class: 'filters', novalidate: true },
    field('review-from', t('from'), input({ value: `${today.getFullYear()}-01-01` }), t('timeHint')),
    field('review-to', t('to'), input({ value: new Date(Date.now() - 1000).toISOString() }), t('timeHint')),
    field('review-size', t('size'), input({ type: 'number', min: '1', max: '1000', value: '10' })),
    field('review-seed', t('seed'), input()),
    field('review-reviewers', t('reviewers'), input()),
    outcomes,
    field('review-requester', t('requester'), input()),
    field('review-provider', t('provider'), input()),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('drawSample'))),
    el('p', { class: 'form-message', role: 'alert' }),
  );

  async function showSample(id) {
    try {
      const [sample, summary] = await Promise.all([
        api(`/v1/audit/reviews/samples/${id}`),
        api(`/v1/audit/reviews/samples/${id}/summary`),
      ]);
      const publish = el('button', { type: 'button', id: 'publish' }, t('publish'));
      const published = el('p', { id: 'published', 'aria-live': 'polite' });
      publish.addEventListener('click', async () => {
        try {
          const answer = await api(`/v1/audit/reviews/samples/${id}/publication`, { method: 'POST' });
          published.replaceChildren(t('published'), el('a', { href: answer.url }, answer.url));
        } catch (error) {
          published.textContent = t('error') + error.message;
        }
      });
      detail.replaceChildren(
        el('h3', {}, `${t('samples')}: ${sample.id}`),
        table(
          t('samples'),
          [
            t('sequence'),
            t('at'),
            t('requester'),
            t('matter'),
            t('caseRef'),
            t('officer'),
            t('reviewer'),
            t('finding'),
            t('record'),
          ],
          sample.items.map((item) => [
            el('a', { href: `#/event/${item.sequence}` }, String(item.sequence)),
            formatTime(item.event?.at),
            requesterText(item.event?.requester),
            item.event?.purpose?.matter ?? '',
            item.event?.purpose?.caseRef ?? '',
            item.event?.purpose?.officer ?? '',
            item.reviewer ?? '',
            item.finding ? `${t(item.finding.finding)} (${item.finding.reviewer})` : t('pending'),
            findingForm(id, item, () => showSample(id)),
          ]),
          { id: 'review-items' },
        ),
        summaryBlock(summary),
        el('div', { class: 'actions' }, publish),
        published,
      );
    } catch (error) {
      detail.replaceChildren(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
    }
  }

  async function showList() {
    try {
      const { samples } = await api('/v1/audit/reviews/samples');
      list.replaceChildren(
        samples.length === 0
          ? el('p', {}, t('none'))
          : table(
              t('samples'),
              [t('createdAt'), t('createdBy'), t('from'), t('to'), t('size'), t('open')],
              samples.map((sample) => [
                formatTime(sample.createdAt),
                sample.createdBy,
                formatTime(sample.from),
                formatTime(sample.to),
                String(sample.size),
                el('a', { href: `#/reviews/${sample.id}` }, t('open')),
              ]),
              { id: 'review-samples' },
            ),
      );
    } catch (error) {
      list.replaceChildren(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name) => form.querySelector(`#review-${name}`).value.trim();
    const reviewers = value('reviewers')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    try {
      const sample = await api('/v1/audit/reviews/samples', {
        method: 'POST',
        body: {
          from: timeParam(value('from')),
          to: timeParam(value('to')),
          size: Number(value('size')),
          outcomes: checkedValues(form, 'review-outcomes'),
          ...(value('seed') ? { seed: value('seed') } : {}),
          ...(reviewers.length > 0 ? { reviewers } : {}),
          ...(value('requester') ? { requester: value('requester') } : {}),
          ...(value('provider') ? { provider: value('provider') } : {}),
        },
      });
      clearErrors(form);
      await showList();
      // Changing the hash re-renders this view with the sample open.
      location.hash = `#/reviews/${sample.id}`;
    } catch (error) {
      showError(form, error, 'review');
    }
  });

  view.append(el('h2', {}, t('reviews')), form, list, detail);
  await showList();
  if (openId) await showSample(openId);
}
