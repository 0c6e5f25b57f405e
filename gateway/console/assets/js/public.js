// The public, anonymous summary (no session): department-level aggregates and published review
// results, fit to publish. It shows whatever the public API answers, as tables, as text.
import { api, clearErrors, showError, timeParam } from './api.js';
import { el, formatTime, table } from './dom.js';
import { applyLanguage, currentLanguage, setLanguage, t } from './i18n.js';

const $ = (id) => document.getElementById(id);

function cell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([key, inner]) => `${key}: ${typeof inner === 'object' ? JSON.stringify(inner) : inner}`)
      .join('; ');
  }
  return String(value);
}

/** Every array of objects in the answer becomes a table; plain values become a list of facts. */
function render(answer, caption) {
  const parts = [];
  const facts = [];
  for (const [key, value] of Object.entries(answer ?? {})) {
    if (Array.isArray(value) && value.every((item) => item && typeof item === 'object')) {
      const headers = [...new Set(value.flatMap((item) => Object.keys(item)))];
      parts.push(
        table(
          `${caption} · ${key}`,
          headers,
          value.map((item) => headers.map((h) => cell(item[h]))),
        ),
      );
    } else {
      facts.push(el('dt', {}, key), el('dd', {}, cell(value)));
    }
  }
  return [facts.length > 0 ? el('dl', { class: 'facts' }, facts) : null, ...parts];
}

async function showSummary() {
  const form = $('public-form');
  try {
    const answer = await api('/v1/public/summary', {
      query: { from: timeParam($('public-from').value), to: timeParam($('public-to').value) },
    });
    clearErrors(form);
    $('public-summary').replaceChildren(...render(answer, t('publicTitle')).filter(Boolean));
    $('public-summary').dataset.loaded = 'true';
  } catch (error) {
    showError(form, error, 'public');
  }
}

async function showReviews() {
  try {
    const answer = await api('/v1/public/reviews');
    const reviews = answer.reviews ?? answer.publications ?? [];
    $('public-reviews-list').replaceChildren(
      reviews.length === 0
        ? el('p', {}, t('none'))
        : table(
            t('publishedReviews'),
            [t('published'), t('from'), t('to'), t('reviewed'), t('summary'), t('open')],
            reviews.map((review) => [
              formatTime(review.publishedAt),
              formatTime(review.period?.from),
              formatTime(review.period?.to),
              cell(review.reviewed),
              cell(review.findings),
              el(
                'a',
                { href: review.url ?? `/v1/public/reviews/${encodeURIComponent(review.id)}` },
                t('open'),
              ),
            ]),
            { id: 'public-reviews-table' },
          ),
    );
  } catch (error) {
    $('public-reviews-list').replaceChildren(el('p', { class: 'alert' }, t('error') + error.message));
  }
}

function start() {
  applyLanguage();
  const now = new Date();
  $('public-from').value = `${now.getFullYear()}-01-01`;
  $('public-to').value = `${now.getFullYear() + 1}-01-01`;
  $('language').addEventListener('click', () => {
    setLanguage(currentLanguage() === 'en' ? 'zh' : 'en');
    showSummary();
    showReviews();
  });
  $('public-form').addEventListener('submit', (event) => {
    event.preventDefault();
    showSummary();
  });
  showSummary();
  showReviews();
}

start();
