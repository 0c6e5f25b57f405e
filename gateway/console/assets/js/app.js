// The console's shell: sign-in and sign-out, the language toggle, and the views behind #/<view>.
import { api, ProblemError, setCsrfToken } from './api.js';
import { clear, formatTime } from './dom.js';
import { applyLanguage, currentLanguage, setLanguage, t } from './i18n.js';
import { chainView } from './view-chain.js';
import { connectorsView } from './view-connectors.js';
import { reviewsView } from './view-reviews.js';
import { scorecardView } from './view-scorecard.js';
import { eventView, searchView } from './view-search.js';
import { statisticsView } from './view-statistics.js';
import { subjectView } from './view-subject.js';

const VIEWS = {
  search: searchView,
  event: eventView,
  chain: chainView,
  subject: subjectView,
  statistics: statisticsView,
  scorecard: scorecardView,
  connectors: connectorsView,
  reviews: reviewsView,
};

const $ = (id) => document.getElementById(id);
let session;

function showSignIn(message) {
  session = undefined;
  setCsrfToken('');
  $('nav').hidden = true;
  $('view').hidden = true;
  clear($('view'));
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-message').textContent = message ?? '';
  $('token').focus();
}

function showSignedIn(current) {
  session = current;
  setCsrfToken(current.csrfToken);
  $('sign-in').hidden = true;
  $('token').value = '';
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = `${t('signedInAs')}${current.systemId}${t('until')}${formatTime(current.expiresAt)}`;
  render();
}

function signInMessage(error) {
  if (!(error instanceof ProblemError)) return t('error') + String(error?.message ?? error);
  if (error.type === 'token-expired') return t('tokenExpired');
  if (error.type === 'missing-role') return t('notAudit');
  if (error.status === 401) return t('tokenRefused') + error.message;
  return t('error') + error.message;
}

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  try {
    const answer = await api('/console/session', { method: 'POST', body: { token } });
    showSignedIn(answer);
    $('main').focus();
  } catch (error) {
    // A refused token is not a session that ended: stay on the sign-in page with the reason.
    $('sign-in-message').textContent = signInMessage(error);
    $('token').focus();
  }
}

async function signOut() {
  try {
    await api('/console/session', { method: 'DELETE' });
  } finally {
    showSignIn(t('signedOut'));
  }
}

function currentRoute() {
  const [name = 'search', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { name: VIEWS[name] ? name : 'search', args: rest };
}

async function render() {
  if (!session) return;
  const { name, args } = currentRoute();
  for (const link of document.querySelectorAll('#nav a[data-view]')) {
    if (link.dataset.view === name || (name === 'event' && link.dataset.view === 'search'))
      link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const view = $('view');
  view.hidden = false;
  clear(view);
  view.dataset.view = name;
  await VIEWS[name](view, ...args);
}

document.addEventListener('console:session-ended', () => {
  if (session) showSignIn(t('sessionEnded'));
});

async function start() {
  applyLanguage();
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('language').addEventListener('click', () => {
    setLanguage(currentLanguage() === 'en' ? 'zh' : 'en');
    if (session) showSignedIn(session);
  });
  window.addEventListener('hashchange', () => render());
  const current = await api('/console/session').catch(() => ({ signedIn: false }));
  if (current.signedIn) showSignedIn(current);
  else showSignIn(current.ended ? t('sessionEnded') : '');
}

start();
