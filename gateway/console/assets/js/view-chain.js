// The chain's verification status and its last signed checkpoint; verification runs on demand.
import { api } from './api.js';
import { el, formatTime, table } from './dom.js';
import { t } from './i18n.js';

function facts(pairs) {
  return el(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value, mono]) => [
      el('dt', {}, term),
      el('dd', mono ? { class: 'mono' } : {}, value),
    ]),
  );
}

export async function chainView(view) {
  const status = el('div', { id: 'chain-status', 'aria-live': 'polite' });
  const checkpoint = el('div', { id: 'chain-checkpoint' });
  const button = el('button', { type: 'button', id: 'verify' }, t('verifyNow'));

  async function showCheckpoint() {
    try {
      const { checkpoints } = await api('/v1/audit/checkpoints');
      const last = checkpoints.at(-1);
      checkpoint.replaceChildren(
        el('h3', {}, t('lastCheckpoint')),
        last
          ? facts([
              [t('sequence'), String(last.sequence)],
              [t('at'), formatTime(last.at)],
              [t('hash'), last.hash, true],
              ['kid', last.kid, true],
            ])
          : el('p', {}, t('none')),
      );
    } catch (error) {
      checkpoint.replaceChildren(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
    }
  }

  async function verify() {
    button.disabled = true;
    status.replaceChildren(el('p', {}, t('loading')));
    try {
      const report = await api('/v1/audit/verify');
      status.replaceChildren(
        el(
          'p',
          { class: report.ok ? 'ok' : 'alert', id: 'chain-verdict', role: report.ok ? 'status' : 'alert' },
          report.ok ? t('chainIntact') : t('chainBroken'),
        ),
        facts([
          [t('events'), String(report.events)],
          [t('head'), report.head ? `${report.head.sequence} · ${report.head.hash}` : '', true],
          [
            t('checkpoints'),
            `${report.checkpoints.verified} / ${report.checkpoints.total} ${t('verified')}` +
              (report.checkpoints.latest
                ? ` · ${t('lastCheckpoint')} ${report.checkpoints.latest.sequence} (${formatTime(report.checkpoints.latest.at)})`
                : ''),
          ],
        ]),
        report.problems.length > 0
          ? table(
              t('problems'),
              [t('sequence'), t('kind'), t('reason')],
              report.problems.map((problem) => [
                String(problem.sequence ?? ''),
                problem.kind ?? problem.problem ?? '',
                problem.detail ?? problem.message ?? JSON.stringify(problem),
              ]),
            )
          : null,
      );
      await showCheckpoint();
    } catch (error) {
      status.replaceChildren(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener('click', verify);
  view.append(el('h2', {}, t('chain')), el('div', { class: 'actions' }, button), status, checkpoint);
  // Verification reads the whole log: it runs when asked, not on every visit.
  await showCheckpoint();
}
