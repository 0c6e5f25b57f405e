/**
 * The data officers' console end to end: a gateway on real PostgreSQL and Kafka with the sample
 * connectors, real lookups (one with markup planted in its purpose), and an officer in headless
 * Chromium who signs in, searches, opens an event, verifies the chain, runs a subject report, looks at
 * statistics, the scorecard and the connectors, draws a sample, records a finding and signs out.
 * Without a browser: the console's headers, cookie flags, CSRF and cross-site refusals, and that a
 * session can do nothing but audit.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../gateway/console/console-security.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { readKeyFile } from '../../gateway/identity/key-files.js';
import { privateSigningKey } from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { demoKeyFile } from '../../gateway/registry/demo-bootstrap.js';
import { cookiePair, launchChromium, screenshot } from '../support/console-browser.js';
import { demoToken, TEST_MATTER } from '../support/gateway-auth.js';
import { lookupBody, lookupSubject } from '../support/lookup-fixtures.js';
import { createTestGatewayEnvironment, type TestGatewayEnvironment } from '../support/test-gateway.js';

const AUDITOR = 'data-office/audit-console';
const prefix = `console-${randomBytes(4).toString('hex')}`;
const HOSTILE_CASE = `<img src=x onerror="window.__pwned='img'">`;
const HOSTILE_OFFICER = `<script>window.__pwned='script'</script>`;
const SUBJECT = lookupSubject('resident-id-card');

describe('the data officers’ console', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let browser: Browser;

  /** Signs in from Node: the session cookie (name=value) and the CSRF token. */
  async function signIn(token?: string) {
    const response = await fetch(`${gateway.url}/console/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: token ?? (await demoToken(env.dataDir, AUDITOR)) }),
    });
    const body = (await response.json()) as Record<string, string>;
    return { response, body, cookie: cookiePair(response.headers.get('set-cookie')) };
  }

  async function auditEvents(query: string) {
    const api = await env.client(gateway, AUDITOR);
    return (await api.get(`/v1/audit/events?${query}`)).body.events as Array<{
      event: Record<string, unknown>;
    }>;
  }

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-gw`, { SILOBRIDGE_SAMPLE_CONNECTORS: 'true' });
    const api = await env.client(gateway);
    // The sample connectors answer once their heartbeats have been heard.
    await vi.waitFor(
      async () => {
        const answer = await api.post('/v1/lookups', lookupBody('resident-id-card'));
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      },
      { timeout: 30_000, interval: 250 },
    );
    const hostile = await api.post('/v1/lookups', {
      ...lookupBody('resident-id-card'),
      purpose: { matter: TEST_MATTER, caseRef: HOSTILE_CASE, officer: HOSTILE_OFFICER },
    });
    expect(hostile.status, JSON.stringify(hostile.body)).toBe(200);
    const denied = await api.post('/v1/lookups', {
      ...lookupBody('business-licence'),
      purpose: { matter: 'NOT-GRANTED', caseRef: 'CASE-1', officer: 'officer-1' },
    });
    expect(denied.status).toBe(403);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await env?.cleanup();
  });

  describe('without a browser', () => {
    it('serves its pages with a strict Content-Security-Policy and the gateway’s security headers', async () => {
      for (const route of [
        '/console/',
        '/console/js/app.js',
        '/console/console.css',
        '/console/public.html',
      ]) {
        const response = await fetch(gateway.url + route);
        expect(response.status, route).toBe(200);
        expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
        expect(response.headers.get('x-frame-options')).toBe('DENY');
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      }
      expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
      expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
      const page = await (await fetch(`${gateway.url}/console/`)).text();
      expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(page).not.toMatch(/\sstyle=|<style/);
      expect(page).not.toMatch(/https?:\/\//);
    });

    it('signs an audit system in with an HttpOnly, SameSite=Strict cookie and refuses everyone else', async () => {
      const { response, body } = await signIn();
      expect(response.status).toBe(201);
      expect(body.systemId).toBe(AUDITOR);
      expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const expiresIn = Date.parse(body.expiresAt as string) - Date.now();
      expect(expiresIn).toBeGreaterThan(25 * 60_000);
      expect(expiresIn).toBeLessThanOrEqual(31 * 60_000);
      const setCookie = response.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^silobridge_console=[A-Za-z0-9_-]{43};/);
      expect(setCookie).toMatch(/HttpOnly/i);
      expect(setCookie).toMatch(/SameSite=Strict/i);
      expect(setCookie).toMatch(/Path=\//);
      expect(setCookie).not.toMatch(/Secure/i); // plain HTTP here; Secure when the request came over HTTPS

      const lookupSystem = await signIn(await demoToken(env.dataDir));
      expect(lookupSystem.response.status).toBe(403);
      expect(lookupSystem.body.type).toBe('https://silobridge.dev/problems/missing-role');
      expect(lookupSystem.response.headers.get('set-cookie')).toBeNull();
      const forged = await signIn(`${(await demoToken(env.dataDir, AUDITOR)).slice(0, -4)}AAAA`);
      expect(forged.response.status).toBe(401);
      expect(forged.body.type).toBe('https://silobridge.dev/problems/token-bad-signature');

      const refused = await auditEvents('kind=access-refused&limit=500');
      const onSignIn = refused.filter((row) => row.event.path === '/console/session');
      expect(onSignIn.map((row) => row.event.problemType)).toEqual(
        expect.arrayContaining([
          'https://silobridge.dev/problems/missing-role',
          'https://silobridge.dev/problems/token-bad-signature',
        ]),
      );
      const signIns = await auditEvents('kind=audit-access&limit=500');
      expect(
        signIns.some((row) => row.event.action === 'console-sign-in' && row.event.actor === AUDITOR),
      ).toBe(true);
    });

    it('needs the CSRF token on every request made with the session, and refuses other sites', async () => {
      const { cookie, body } = await signIn();
      const get = (headers: Record<string, string>) =>
        fetch(`${gateway.url}/v1/audit/events?limit=1`, { headers: { Cookie: cookie, ...headers } });
      const withoutToken = await get({});
      expect(withoutToken.status).toBe(403);
      expect(((await withoutToken.json()) as { type: string }).type).toBe(
        'https://silobridge.dev/problems/console-csrf-rejected',
      );
      expect((await get({ 'X-CSRF-Token': 'wrong' })).status).toBe(403);
      expect((await get({ 'X-CSRF-Token': body.csrfToken as string })).status).toBe(200);
      const crossSite = await get({
        'X-CSRF-Token': body.csrfToken as string,
        Origin: 'http://evil.example',
      });
      expect(crossSite.status).toBe(403);
      const fetchMetadata = await get({
        'X-CSRF-Token': body.csrfToken as string,
        'Sec-Fetch-Site': 'cross-site',
      });
      expect(fetchMetadata.status).toBe(403);
      const csrfRefusals = (await auditEvents('kind=access-refused&limit=500')).filter(
        (row) => row.event.problemType === 'https://silobridge.dev/problems/console-csrf-rejected',
      );
      expect(csrfRefusals.length).toBeGreaterThanOrEqual(2);
    });

    it('gives a session the audit role and the officers’ API only: no lookups, no administration, not even its own keys', async () => {
      const { cookie, body } = await signIn();
      const headers = {
        Cookie: cookie,
        'X-CSRF-Token': body.csrfToken as string,
        'Content-Type': 'application/json',
      };
      const lookup = await fetch(`${gateway.url}/v1/lookups`, {
        method: 'POST',
        headers,
        body: JSON.stringify(lookupBody('resident-id-card')),
      });
      expect(lookup.status).toBe(403);
      const department = await fetch(`${gateway.url}/v1/departments`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ code: 'console-made', nameEn: 'x', nameZh: 'x' }),
      });
      expect(department.status).toBe(403);
      // Routes that trust a system with its own affairs are out of a session's reach too: a session
      // adding a key to its own system could sign tokens with every role the system has.
      const ownKey = await fetch(`${gateway.url}/v1/systems/data-office/audit-console/keys`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }),
      });
      expect(ownKey.status).toBe(403);
      expect(((await ownKey.json()) as { type: string }).type).toBe(
        'https://silobridge.dev/problems/console-session-not-allowed',
      );
      const ownSystem = await fetch(`${gateway.url}/v1/systems/data-office/audit-console/keys`, { headers });
      expect(ownSystem.status).toBe(403);
      const whoami = (await (await fetch(`${gateway.url}/v1/whoami`, { headers })).json()) as {
        roles: string[];
      };
      expect(whoami.roles).toEqual(['audit']);
    });

    it('signs out for good: the revoked session is refused with a session-ended problem', async () => {
      const { cookie, body } = await signIn();
      const headers = { Cookie: cookie, 'X-CSRF-Token': body.csrfToken as string };
      const out = await fetch(`${gateway.url}/console/session`, { method: 'DELETE', headers });
      expect(out.status).toBe(204);
      expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
      const after = await fetch(`${gateway.url}/v1/audit/events?limit=1`, { headers });
      expect(after.status).toBe(401);
      expect(((await after.json()) as { type: string }).type).toBe(
        'https://silobridge.dev/problems/console-session-ended',
      );
      const signOuts = await auditEvents('kind=audit-access&limit=500');
      expect(signOuts.some((row) => row.event.action === 'console-sign-out')).toBe(true);
    });

    it('lets a bearer token decide alone when both a token and a session cookie come', async () => {
      const { cookie } = await signIn();
      const response = await fetch(`${gateway.url}/v1/whoami`, {
        headers: { Cookie: cookie, Authorization: `Bearer ${await demoToken(env.dataDir)}` },
      });
      expect(((await response.json()) as { systemId: string }).systemId).toBe('service-centre/approval');
    });
  });

  describe('in Chromium', () => {
    let page: Page;
    const urls: string[] = [];
    const dialogs: string[] = [];
    let auditorToken: string;
    const tokens: string[] = [];

    const view = (name: string) => page.locator(`#view[data-view="${name}"]`);
    const go = async (name: string) => {
      await page.click(`#nav a[data-view="${name}"]`);
      await view(name).waitFor();
    };
    /**
     * Signs out (the console says so), then in again on a fresh token: the first (5 minutes) may have
     * expired on a loaded machine. The console then shows the view the officer was on.
     */
    const signOutAndInAgain = async () => {
      await page.click('#sign-out');
      await expect.poll(() => page.textContent('#sign-in-message')).toContain('Signed out');
      auditorToken = await demoToken(env.dataDir, AUDITOR);
      tokens.push(auditorToken);
      await page.fill('#token', auditorToken);
      await page.click('#sign-in-form button[type="submit"]');
    };

    beforeAll(async () => {
      auditorToken = await demoToken(env.dataDir, AUDITOR);
      tokens.push(auditorToken);
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      page = await context.newPage();
      await page.addInitScript({ content: "localStorage.setItem('silobridge-console-language', 'en')" });
      page.on('request', (request) => urls.push(request.url()));
      page.on('dialog', async (dialog) => {
        dialogs.push(dialog.message());
        await dialog.dismiss();
      });
    });

    it('says clearly why a wrong or expired token is refused', async () => {
      await page.goto(`${gateway.url}/console/`);
      await page.locator('#sign-in').waitFor();
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      const key = await privateSigningKey(await readKeyFile(demoKeyFile(env.dataDir, AUDITOR)));
      const expired = signToken({
        systemId: AUDITOR,
        key,
        audience: 'silobridge',
        lifetimeSeconds: 300,
        now: Date.now() - 3_600_000,
      });
      await page.fill('#token', expired);
      await page.click('#sign-in-form button[type="submit"]');
      await expect.poll(() => page.textContent('#sign-in-message')).toContain('The token has expired');
      await page.fill('#token', await demoToken(env.dataDir));
      await page.click('#sign-in-form button[type="submit"]');
      await expect.poll(() => page.textContent('#sign-in-message')).toContain('does not have the audit role');
      await screenshot(page, 'sign-in');
    });

    it('signs in, searches, and shows markup planted in a purpose as text', async () => {
      await page.fill('#token', auditorToken);
      await page.click('#sign-in-form button[type="submit"]');
      await view('search').waitFor();
      expect(await page.textContent('#who')).toContain(AUDITOR);

      await page.fill('#search-from', 'yesterday');
      await page.click('#search-form button[type="submit"]');
      await expect.poll(() => page.textContent('#search-from-error')).toContain('RFC 3339');
      expect(await page.getAttribute('#search-from', 'aria-invalid')).toBe('true');

      await page.fill('#search-from', '');
      await page.check('#search-kind input[value="lookup"]');
      await page.click('#search-form button[type="submit"]');
      const hostileCell = page.locator('#events-table td', { hasText: HOSTILE_CASE });
      await hostileCell.first().waitFor();
      expect(await hostileCell.first().textContent()).toBe(HOSTILE_CASE);
      expect(await page.locator('#events-table td', { hasText: HOSTILE_OFFICER }).first().textContent()).toBe(
        HOSTILE_OFFICER,
      );
      expect(await page.locator('#view img').count()).toBe(0);
      expect(await page.locator('#view script').count()).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(dialogs).toEqual([]);
      await screenshot(page, 'search');
    });

    it('opens an event in full', async () => {
      const row = page.locator('#events-table tr', { hasText: HOSTILE_CASE }).first();
      await row.locator('a').click();
      await view('event').waitFor();
      await page.locator('#event-json').waitFor();
      const json = JSON.parse((await page.textContent('#event-json')) ?? '{}');
      expect(json.purpose).toEqual({ matter: TEST_MATTER, caseRef: HOSTILE_CASE, officer: HOSTILE_OFFICER });
      expect(await page.locator('#event-fields td', { hasText: 'purpose.officer' }).count()).toBe(1);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      await screenshot(page, 'event');
    });

    it('verifies the chain and shows the last checkpoint', async () => {
      await go('chain');
      await page.click('#verify');
      await expect.poll(() => page.textContent('#chain-verdict')).toContain('Intact');
      await screenshot(page, 'chain');
    });

    it('runs a subject report from a posted form, printable', async () => {
      await go('subject');
      const [name, value] = Object.entries(SUBJECT)[0] as [string, string];
      await page.selectOption('#subject-type-1', name);
      await page.fill('#subject-value-1', value);
      await page.click('#subject-form button[type="submit"]');
      await page.locator('#subject-table').waitFor();
      expect(await page.locator('#subject-table tbody tr').count()).toBeGreaterThanOrEqual(2);
      expect(await page.textContent('#subject-table')).toContain(HOSTILE_CASE);
      expect(await page.textContent('#subject-report')).not.toContain(value);
      await screenshot(page, 'subject-report');
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('#nav').isVisible()).toBe(false);
      expect(await page.locator('#subject-table').isVisible()).toBe(true);
      await screenshot(page, 'subject-report-print');
      await page.emulateMedia({ media: 'screen' });
    });

    it('shows sharing statistics as a chart and tables', async () => {
      await go('statistics');
      await page.locator('#statistics-chart').waitFor();
      expect(await page.locator('#statistics-chart rect').count()).toBeGreaterThan(0);
      expect(await page.textContent('#statistics-rows')).toContain('service-centre');
      await screenshot(page, 'statistics');
    });

    it('shows the department scorecard', async () => {
      await go('scorecard');
      await page.locator('#scorecard-providers').waitFor();
      expect(await page.textContent('#scorecard-providers')).toContain('public-security');
      expect(await page.textContent('#scorecard-requesters')).toContain('service-centre');
      await screenshot(page, 'scorecard');
    });

    it('shows connector liveness per department', async () => {
      await go('connectors');
      await page.locator('#connector-instances').waitFor();
      const row = page.locator('#connector-instances tr', { hasText: 'public-security' }).first();
      expect(await row.textContent()).toContain('Live');
      await screenshot(page, 'connectors');
    });

    it('draws a review sample and records a finding', async () => {
      await go('reviews');
      await page.fill('#review-from', new Date(Date.now() - 3_600_000).toISOString());
      await page.fill('#review-to', new Date(Date.now() - 500).toISOString());
      await page.fill('#review-size', '0');
      await page.click('#review-form button[type="submit"]');
      await expect.poll(() => page.textContent('#review-size-error')).toContain('whole number');
      await page.fill('#review-size', '5');
      await page.fill('#review-reviewers', 'auditor-li');
      await page.click('#review-form button[type="submit"]');
      await page.locator('#review-items').waitFor();
      const form = page.locator('#review-items .finding-form').first();
      await form.locator('select').selectOption('compliant');
      await form.locator('input').nth(1).fill('Purpose checked against the case file.');
      await form.locator('button').click();
      await expect.poll(() => page.textContent('#review-summary')).toMatch(/Reviewed\s*1 \//);
      await page.click('#publish');
      await expect.poll(() => page.textContent('#published')).toContain('/v1/public/reviews/');
      await screenshot(page, 'reviews');
    });

    it('has a public summary page that needs no sign-in', async () => {
      const anonymous = await browser.newContext();
      const publicPage = await anonymous.newPage();
      const response = await publicPage.goto(`${gateway.url}/console/public.html`);
      expect(response?.headers()['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      await publicPage.locator('#public-summary[data-loaded="true"]').waitFor();
      await publicPage.locator('#public-reviews-table').waitFor();
      const text = (await publicPage.textContent('main')) ?? '';
      expect(text).toContain('public-security');
      expect(text).not.toContain(HOSTILE_CASE);
      expect(text).not.toContain('officer-042');
      await screenshot(publicPage, 'public');
      await anonymous.close();
    });

    it('keeps a new session when a request made under the one before is refused late', async () => {
      // The connectors view's request is held in the network while the officer signs out and in
      // again; then it is answered 401, as the gateway answers the old session. That refusal is
      // about the old session and must not end the new one.
      const held: { route?: Route } = {};
      await page.route('**/v1/connectors', async (route) => {
        if (held.route) return route.continue();
        held.route = route;
      });
      try {
        await page.click('#nav a[data-view="connectors"]');
        await expect.poll(() => held.route !== undefined).toBe(true);
        await signOutAndInAgain();
        await page.locator('#connector-instances').waitFor();

        const late = held.route as Route;
        const answered = page.waitForEvent('requestfinished', (request) => request === late.request());
        await late.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          body: JSON.stringify({
            type: 'https://silobridge.dev/problems/session-ended',
            title: 'Unauthorized',
            status: 401,
            detail: 'This console session has ended. Sign in again.',
          }),
        });
        await answered;
        // Time for the console to act on the refusal, as it did before this was fixed.
        await page.waitForTimeout(500);
        expect(await page.locator('#sign-in').isVisible()).toBe(false);
        await go('reviews');
      } finally {
        await page.unroute('**/v1/connectors');
      }
    });

    it('switches language, signs out, and says when a session ended', async () => {
      await page.click('#language');
      expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
      expect(await page.textContent('#nav a[data-view="search"]')).toBe('审计查询');
      await page.click('#language');
      await signOutAndInAgain();
      // Back where the officer was (the sample), now signed in again.
      await view('reviews').waitFor();
      await gateway.database.query('UPDATE console_sessions SET revoked_at = now() WHERE revoked_at IS NULL');
      await page.click('#nav a[data-view="connectors"]');
      await expect.poll(() => page.textContent('#sign-in-message')).toContain('session ended');
    });

    it('never put a token or an identifier in a URL', () => {
      expect(urls.length).toBeGreaterThan(10);
      const value = Object.values(SUBJECT)[0] as string;
      for (const url of urls) {
        for (const token of tokens) expect(url).not.toContain(token.slice(0, 40));
        expect(url).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
        expect(url).not.toContain(value);
      }
      expect(
        urls.every(
          (url) => url.startsWith(gateway.url) || url.startsWith('data:') || url.startsWith('blob:'),
        ),
      ).toBe(true);
    });
  });
});
