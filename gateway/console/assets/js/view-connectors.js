// Connector liveness per department: registrations, their instances, when each was last heard from.
import { api } from './api.js';
import { el, formatTime, table } from './dom.js';
import { t } from './i18n.js';

function instanceRows(department, instances) {
  return instances.map((instance) => [
    department,
    instance.instanceId,
    el('span', { class: instance.live ? 'ok' : 'alert' }, instance.live ? t('live') : t('down')),
    formatTime(instance.lastSeen),
    (instance.certificateTypes ?? []).join(', '),
    instance.connectorVersion ?? '',
  ]);
}

export async function connectorsView(view) {
  const output = el('div', { id: 'connectors-output', 'aria-live': 'polite' });
  const refresh = el('button', { type: 'button' }, t('refresh'));
  async function show() {
    try {
      const answer = await api('/v1/connectors');
      const headers = [t('department'), t('instance'), t('status'), t('lastSeen'), t('types'), t('version')];
      output.replaceChildren(
        table(
          t('registered'),
          [t('department'), t('types'), t('instances'), t('live')],
          answer.connectors.map((connector) => [
            connector.department,
            connector.certificateTypes
              .map((type) => `${type.certificateType} v${type.schemaVersion}`)
              .join(', '),
            String(connector.instances.length),
            String(connector.instances.filter((instance) => instance.live).length),
          ]),
          { id: 'connectors-table' },
        ),
        table(
          t('instances'),
          headers,
          answer.connectors.flatMap((connector) => instanceRows(connector.department, connector.instances)),
          { id: 'connector-instances' },
        ),
        answer.unregisteredInstances?.length
          ? table(
              t('unregistered'),
              headers,
              answer.unregisteredInstances.flatMap((instance) =>
                instanceRows(instance.department, [instance]),
              ),
            )
          : null,
      );
    } catch (error) {
      output.replaceChildren(el('p', { class: 'alert', role: 'alert' }, t('error') + error.message));
    }
  }
  refresh.addEventListener('click', show);
  view.append(el('h2', {}, t('connectors')), el('div', { class: 'actions' }, refresh), output);
  await show();
}
