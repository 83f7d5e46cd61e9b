// The dashboard in a real browser (Chromium via playwright-core) against a real
// Wharf: everything goes through the page as a user would (fill, click, keys),
// and outcomes are checked on the page and, where it matters, through AMQP
// with amqplib. The dashboard is Wharf's own: the suite skips in reference mode.

import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { useBroker } from '../helpers/amqplib.js';
import { WAIT_MS, waitUntil, withTimeout } from '../helpers/async.js';
import { isReference } from '../helpers/broker.js';
import { signIn, useBrowser } from '../helpers/browser.js';

const OPTS = { timeout: 30_000 } as const;
const SKIP = isReference ? 'the dashboard is Wharf\'s own' : false;
const XSS_NAME = '<img src=x onerror="window.__xss=1">';

describe('dashboard', { skip: SKIP }, () => {
  const scope = useBroker({ users: [{ name: 'ops', password: 's3cret' }] });
  const chrome = useBrowser();
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];

  before(() => {
    base = `http://127.0.0.1:${scope.broker.handle.httpPort}/`;
  });
  beforeEach(async () => {
    context = await chrome.browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterEach(async () => {
    await context.close();
    assert.deepEqual(pageErrors.splice(0), [], 'no uncaught errors in the page');
  });

  /** The http(s) path of an API call, with the user's credentials. */
  async function apiStatus(path: string): Promise<number> {
    const res = await fetch(new URL(path, base), { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    await res.arrayBuffer();
    return res.status;
  }

  it('serves / and its assets with a CSP that allows no inline script, and nothing outside the web directory', OPTS, async () => {
    const res = await fetch(base);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const js = await fetch(new URL('/dashboard/app.js', base));
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    // The dashboard's own requests get no Basic challenge, so the browser shows no login box of its own.
    const bad = { authorization: `Basic ${Buffer.from('guest:nope').toString('base64')}` };
    const plain = await fetch(new URL('/api/whoami', base), { headers: bad });
    assert.equal(plain.status, 401);
    assert.match(plain.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const fromUi = await fetch(new URL('/api/whoami', base), { headers: { ...bad, 'x-requested-with': 'XMLHttpRequest' } });
    assert.equal(fromUi.status, 401);
    assert.equal(fromUi.headers.get('www-authenticate'), null);
    for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/nope.js']) {
      const r = await fetch(new URL(path, base));
      assert.equal(r.status, 404, path);
    }
  });

  it('signs in with a broker user, rejects a wrong password, and logs out', OPTS, async () => {
    await page.goto(base);
    await page.fill('input[name=username]', 'ops');
    await page.fill('input[name=password]', 'wrong');
    await page.click('button[type=submit]');
    await page.getByText('Login failed').waitFor();
    await page.fill('input[name=password]', 's3cret');
    await page.click('button[type=submit]');
    assert.equal(await page.textContent('#whoami'), 'ops');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.click('#logout');
    await page.waitForSelector('input[name=username]');
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'credentials are forgotten');
  });

  it('overview shows totals and live charts', OPTS, async () => {
    const ch = await scope.clients.channel();
    await ch.assertQueue('dash-overview');
    for (let i = 0; i < 3; i++) ch.sendToQueue('dash-overview', Buffer.from(`m${i}`));
    await waitUntil(async () => (await ch.checkQueue('dash-overview')).messageCount === 3, 'messages queued');
    await signIn(page, base);
    const ready = page.locator('.tile', { hasText: 'Ready' }).locator('.tile-value');
    await waitUntil(async () => Number((await ready.textContent())?.replace(/\D/g, '')) >= 3, 'ready tile counts the messages');
    assert.equal(await page.locator('svg.chart').count(), 2);
    const depth = page.locator('.chart-box', { hasText: 'Queued messages' });
    await depth.locator('polyline').first().waitFor({ state: 'attached' });
    await depth.locator('.legend li', { hasText: /^Ready [3-9]/ }).waitFor();
    await ch.deleteQueue('dash-overview');
  });

  it('queues table filters, sorts and pages through the API, and / focuses the filter', OPTS, async () => {
    const ch = await scope.clients.channel();
    const names = Array.from({ length: 45 }, (_, i) => `dash-page-${String(i).padStart(2, '0')}`);
    for (const n of names) await ch.assertQueue(scope.clients.deleteLater(n));
    await signIn(page, base);
    await page.keyboard.press('g');
    await page.keyboard.press('q');
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate("document.activeElement.getAttribute('data-filter')"), '');
    await page.keyboard.type('dash-page-');
    // The filter applies 250 ms after the last key: wait for the URL to carry all of it.
    await waitUntil(() => page.url().includes('name=dash-page-&') || page.url().endsWith('name=dash-page-'), 'the filter applied');
    const firstName = page.locator('table.grid tbody tr').first().locator('a.name');
    // "45 of N" with other tests' queues about, "45 total" alone.
    await waitUntil(async () => /^45 (of|total)/.test((await page.textContent('.count')) ?? ''), 'filtered count');
    assert.equal(await firstName.textContent(), 'dash-page-00');
    assert.equal(await page.locator('table.grid tbody tr').count(), 20);
    await page.click('[data-page=next]');
    await page.getByText('Page 2 of 3').waitFor();
    await waitUntil(async () => (await firstName.textContent()) === 'dash-page-20', 'page 2 starts at the 21st queue');
    await page.click('button[data-sort=name]');
    await waitUntil(async () => (await firstName.textContent()) === 'dash-page-44', 'sorted Z to A on page 1');
    assert.match(page.url(), /rev=1/, 'the view is in the URL');
    await page.fill('[data-filter]', '^dash-page-4[0-2]$');
    await page.check('text=Regex');
    await waitUntil(async () => (await page.locator('table.grid tbody tr').count()) === 3, 'regex filter');
  });

  it('queue page publishes, browses (or says browsing is not available), and purges', OPTS, async () => {
    const ch = await scope.clients.channel();
    const q = scope.clients.deleteLater('dash-msgs');
    await ch.assertQueue(q);
    await signIn(page, base);
    await page.goto(`${base}#/queue/%2F/${q}`);
    await page.getByRole('heading', { name: q }).waitFor();
    await page.fill('textarea[name=payload]', '{"order": 42}');
    await page.fill('input[name=content_type]', 'application/json');
    await page.fill('textarea[name=headers]', '{"x-trace": "t-1"}');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Message published.').waitFor();
    await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 1, 'the message reached the queue');
    const ready = page.locator('.tile', { hasText: 'Ready' }).locator('.tile-value');
    await waitUntil(async () => (await ready.textContent()) === '1', 'ready tile shows it');

    // Message browsing (Wharf's peek route): the message, its properties, the body as JSON and hex.
    assert.equal(await apiStatus(`/api/wharf/queues/%2F/${q}/messages?from=0&count=1`), 200);
    const row = page.locator('.messages-table tbody tr[data-position]').first();
    await row.waitFor();
    await row.locator('.preview button').click();
    await page.locator('.message-detail').getByText('t-1').waitFor();
    assert.match((await page.textContent('pre.body')) ?? '', /"order": 42/);
    await page.click('button[data-view=Hex]');
    assert.match((await page.textContent('pre.body')) ?? '', /^00000000 {2}7b 22 6f/);
    assert.equal((await ch.checkQueue(q)).messageCount, 1, 'browsing does not consume');

    await page.click('#purge');
    await page.click('dialog [data-confirm]');
    await page.getByText(`Purged ${q}.`).waitFor();
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
  });

  it('lists an amqplib connection and closes it with CONNECTION_FORCED', OPTS, async () => {
    const conn = await scope.clients.connect();
    // amqplib reports a 320 CONNECTION_FORCED as a 'close' with the error, not as an 'error'.
    const closed = withTimeout(new Promise<Error>((resolve) => conn.once('close', resolve)), WAIT_MS, 'the server to close');
    await signIn(page, base);
    await page.goto(`${base}#/connections`);
    const close = page.locator('button[data-close]').first();
    await close.waitFor();
    assert.match((await page.textContent('table.grid tbody')) ?? '', /amqplib/);
    await close.click();
    await page.click('dialog [data-confirm]');
    await page.getByText('Connection closed.').waitFor();
    assert.match((await closed).message, /320 \(CONNECTION-FORCED\) with message "CONNECTION_FORCED - Closed via management plugin"/);
    await waitUntil(async () => (await page.locator('button[data-close]').count()) === 0, 'the list no longer shows it');
  });

  it('renders a queue named like HTML and a script body as inert text', OPTS, async () => {
    const ch = await scope.clients.channel();
    const q = scope.clients.deleteLater(XSS_NAME);
    await ch.assertQueue(q);
    ch.sendToQueue(q, Buffer.from('<script>window.__xss=2</script>'));
    await signIn(page, base);
    await page.goto(`${base}#/queues?name=${encodeURIComponent('onerror')}`);
    const link = page.locator('table.grid a.name', { hasText: XSS_NAME });
    await link.waitFor();
    assert.equal(await link.textContent(), XSS_NAME, 'the name is shown as its characters');
    await link.click();
    await page.getByRole('heading', { name: XSS_NAME }).waitFor();
    await page.locator('.tile', { hasText: 'Ready' }).getByText('1', { exact: true }).waitFor();
    const preview = page.locator('.messages-table .preview button').first();
    if (await preview.count()) {
      await preview.click();
      assert.equal(await page.textContent('pre.body'), '<script>window.__xss=2</script>');
    }
    assert.equal(await page.locator('main img, main script').count(), 0, 'no element came from the name or body');
    assert.equal(await page.evaluate('window.__xss'), undefined);
  });

  it('navigates by keyboard: skip link, g shortcuts, ? help, Escape closes it', OPTS, async () => {
    await signIn(page, base);
    await page.keyboard.press('g');
    await page.keyboard.press('c');
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    assert.equal(await page.getAttribute('[data-nav=connections]', 'aria-current'), 'page');
    await page.keyboard.press('?');
    await page.getByRole('heading', { name: 'Keyboard shortcuts' }).waitFor();
    await page.keyboard.press('Escape');
    await waitUntil(async () => (await page.locator('dialog[open]').count()) === 0, 'help closed');
    await page.goto(`${base}#/streams`);
    await page.getByRole('heading', { name: 'Consumer groups' }).waitFor();
    await page.goto(`${base}#/vhosts`);
    await page.locator('table.grid tbody .name', { hasText: '/' }).waitFor();
  });
});
