// Drives the web_app example in Debian's headless Chromium, as a person would.
//
//   node tests/browser/web_app.mjs http://localhost:PORT
//
// The app must run against msal-testkit with its sign-in page on (users alice and bob),
// as tests/integration/web_app_browser.rs starts it. Each step prints `ok  <step>` or
// `FAILED: <step>: <why>`; the script exits 1 when any step failed. Headless tabs in the background miss load
// events, so every step brings its tab to the front before acting on it.

import { chromium } from 'playwright-core';

const base = (process.argv[2] || '').replace(/\/$/, '');
if (!base.startsWith('http://localhost:')) {
  console.error('usage: node web_app.mjs http://localhost:PORT');
  process.exit(2);
}
const port = new URL(base).port;
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';
const STEP_TIMEOUT = 20000;

let passed = 0;
let failed = 0;
function fail(why) {
  throw new Error(why);
}
/** Runs one step; a failure is reported and the next steps still run. */
async function step(what, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`  ok  ${what}`);
  } catch (e) {
    failed += 1;
    const why = e && e.message ? e.message.split('\n')[0] : String(e);
    console.log(`FAILED: ${what}: ${why}`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // As root on a closed network: no sandbox, no background connections (each one
  // would be refused). playwright gives every launch a fresh --user-data-dir.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
  // Playwright turns the back/forward cache off by default; users have it on, and it is
  // what can bring a signed-in page back after sign-out.
  ignoreDefaultArgs: ['--disable-back-forward-cache'],
  timeout: 60000,
});

async function newContext() {
  const ctx = await browser.newContext();
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  ctx.setDefaultNavigationTimeout(STEP_TIMEOUT);
  return ctx;
}

async function front(page) {
  await page.bringToFront();
  return page;
}

async function text(page) {
  return (await page.textContent('body')) || '';
}

/** Waits until the tab shows the authority's sign-in page. */
async function atSignInPage(page) {
  await page.waitForSelector('#accept', { timeout: STEP_TIMEOUT });
  const title = await page.title();
  if (!title.includes('Sign in')) fail(`expected the sign-in page, got "${title}"`);
}

/** On the authority's sign-in page: pick `user` and press Accept (or Cancel). */
async function answerSignIn(page, user, action = 'accept') {
  await front(page);
  await atSignInPage(page);
  if (action === 'accept') {
    await page.check(`input[name="username"][value="${user}"]`);
  }
  await page.click(`#${action}`);
  // Back to the app (for form_post via the authority's self-submitting page).
  await page.waitForURL((u) => u.port === port, { waitUntil: 'load' });
}

async function signedInAs(page, user) {
  const body = await text(page);
  if (!body.includes(`Signed in as ${user}`)) {
    fail(`expected "Signed in as ${user}" at ${page.url()}, page says: ${body.slice(0, 300)}`);
  }
}

async function clickSignIn(page) {
  await front(page);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#sign-in, a[href="/login"]')]);
}

async function signOut(page) {
  await front(page);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#sign-out, a[href="/logout"]')]);
  // Via the authority's end-session endpoint, back to the app.
  await page.waitForURL((u) => u.port === port, { waitUntil: 'load' });
}

try {
  // ---------------------------------------------------------------------------------
  // One browser: sign in, profile, reload, second tab, sign out, Back, return-to.
  // ---------------------------------------------------------------------------------
  const ctx = await newContext();
  const tab = await ctx.newPage();

  await step('home page: lang, title, not signed in', async () => {
    await front(tab);
    const r = await tab.goto(`${base}/`);
    if (r.status() !== 200) fail(`status ${r.status()}`);
    const lang = await tab.getAttribute('html', 'lang');
    if (lang !== 'en') fail(`<html lang> is ${lang}`);
    if (!(await tab.title())) fail('no title');
    if (!(await text(tab)).includes('Not signed in')) fail(await text(tab));
  });

  await step('an unknown page is a readable 404', async () => {
    await front(tab);
    const r = await tab.goto(`${base}/no-such-page`);
    if (r.status() !== 404) fail(`status ${r.status()}`);
    const body = await text(tab);
    if (!/not found/i.test(body) || !(await tab.title())) fail(`body: "${body}"`);
    if ((await tab.getAttribute('html', 'lang')) !== 'en') fail('no lang');
  });

  await step('sign in: the authority shows a sign-in page, alice picks herself and accepts', async () => {
    await front(tab);
    await tab.goto(`${base}/`);
    await clickSignIn(tab);
    await answerSignIn(tab, ALICE);
    if (new URL(tab.url()).pathname !== '/') fail(`landed on ${tab.url()}`);
    await signedInAs(tab, ALICE);
  });

  let profileHeaders;
  await step('profile shows what the API says about alice', async () => {
    await front(tab);
    await Promise.all([tab.waitForNavigation({ waitUntil: 'load' }), tab.click('#profile-link, a[href="/profile"]')]);
    const body = await text(tab);
    if (!body.includes(ALICE) || !body.includes('Alice')) fail(body.slice(0, 300));
  });

  await step('reload keeps the profile (no new sign-in)', async () => {
    await front(tab);
    const r = await tab.reload({ waitUntil: 'load' });
    profileHeaders = r.headers();
    if (r.status() !== 200 || new URL(tab.url()).pathname !== '/profile') fail(`${r.status()} ${tab.url()}`);
    if (!(await text(tab)).includes(ALICE)) fail('no user data after reload');
  });

  await step('pages with user data are sent with Cache-Control: no-store', async () => {
    if (!/no-store/.test(profileHeaders['cache-control'] || '')) {
      fail(`cache-control: ${profileHeaders['cache-control']}`);
    }
  });

  await step('a second tab of the same browser is signed in too', async () => {
    const tab2 = await ctx.newPage();
    await front(tab2);
    await tab2.goto(`${base}/`);
    await signedInAs(tab2, ALICE);
    await tab2.close();
  });

  // Another browser (device) of the same user, to check what signing out does to it.
  const other = await newContext();
  const otherTab = await other.newPage();
  await step('the same user signs in from another browser', async () => {
    await front(otherTab);
    await otherTab.goto(`${base}/`);
    await clickSignIn(otherTab);
    await answerSignIn(otherTab, ALICE);
    await signedInAs(otherTab, ALICE);
  });

  await step('sign out: via the authority, back on the app, signed out', async () => {
    await front(tab);
    await tab.goto(`${base}/`);
    await signOut(tab);
    const u = new URL(tab.url());
    if (u.port !== port || u.pathname !== '/') fail(`landed on ${tab.url()}: ${await text(tab)}`);
    if (!(await text(tab)).includes('Not signed in')) fail(await text(tab));
  });

  await step('Back after sign-out shows no user data', async () => {
    await front(tab);
    // A page restored from the back/forward cache fires no load event: wait for the
    // commit, then for the document, whichever way it came back.
    const back = async () => {
      await tab.goBack({ waitUntil: 'commit' });
      await tab.waitForTimeout(300);
      await tab.waitForFunction(() => document.readyState === 'complete');
    };
    await back();
    // The home page as it was before sign-out must not come back.
    const body = await text(tab);
    if (body.includes(ALICE) || body.includes('Signed in as')) fail(`Back shows: ${body.slice(0, 300)}`);
    // Once more (the profile page): at most the authority's sign-in page, never the
    // app's page with alice's data.
    await back();
    const body2 = await text(tab);
    if (body2.includes('Signed in as') || body2.includes('userPrincipalName')) {
      fail(`Back twice shows: ${body2.slice(0, 300)}`);
    }
  });

  await step('signing out in one browser leaves the other signed in (the documented default)', async () => {
    await front(otherTab);
    await otherTab.goto(`${base}/profile`);
    const body = await text(otherTab);
    if (new URL(otherTab.url()).pathname !== '/profile' || !body.includes(ALICE)) {
      fail(`${otherTab.url()}: ${body.slice(0, 300)}`);
    }
  });

  await step('sign-in from /profile returns to /profile', async () => {
    await front(tab);
    await tab.goto(`${base}/profile`);
    await answerSignIn(tab, BOB);
    const u = new URL(tab.url());
    if (u.pathname !== '/profile') fail(`landed on ${tab.url()}`);
    if (!(await text(tab)).includes(BOB)) fail((await text(tab)).slice(0, 300));
  });

  await step('"sign out everywhere" ends the other browser\'s session too', async () => {
    // bob signs in on the other browser as well, then signs out everywhere from the first.
    await front(otherTab);
    await signOut(otherTab);
    await otherTab.goto(`${base}/login`);
    await answerSignIn(otherTab, BOB);
    await signedInAs(otherTab, BOB);
    await front(tab);
    await tab.goto(`${base}/`);
    await Promise.all([tab.waitForNavigation({ waitUntil: 'load' }), tab.click('#sign-out-everywhere')]);
    await tab.waitForURL((u) => u.port === port, { waitUntil: 'load' });
    await front(otherTab);
    await otherTab.goto(`${base}/`);
    if (!(await text(otherTab)).includes('Not signed in')) fail((await text(otherTab)).slice(0, 300));
  });
  await other.close();
  await ctx.close();

  // ---------------------------------------------------------------------------------
  // Two tabs of one browser signing in at once.
  // ---------------------------------------------------------------------------------
  await step('two tabs signing in at once both succeed', async () => {
    const c = await newContext();
    const a = await c.newPage();
    const b = await c.newPage();
    await front(a);
    await a.goto(`${base}/login?return_to=/profile`);
    await atSignInPage(a);
    await front(b);
    await b.goto(`${base}/login`);
    await atSignInPage(b);
    await answerSignIn(a, ALICE);
    if (new URL(a.url()).pathname !== '/profile') fail(`tab A landed on ${a.url()}: ${(await text(a)).slice(0, 300)}`);
    await answerSignIn(b, ALICE);
    if (new URL(b.url()).pathname !== '/') fail(`tab B landed on ${b.url()}: ${(await text(b)).slice(0, 300)}`);
    await signedInAs(b, ALICE);
    await c.close();
  });

  // ---------------------------------------------------------------------------------
  // A forged callback does not cancel a sign-in in progress.
  // ---------------------------------------------------------------------------------
  await step('a forged callback is refused readably and does not cancel a pending sign-in', async () => {
    const c = await newContext();
    const a = await c.newPage();
    await front(a);
    await a.goto(`${base}/login`);
    await atSignInPage(a);
    // Another site navigates a window of this browser to the callback with junk.
    const evil = await c.newPage();
    await front(evil);
    const r = await evil.goto(`${base}/callback?code=junk&state=junk`);
    if (r.status() !== 400) fail(`forged callback answered ${r.status()}`);
    if (!/state/i.test(await text(evil))) fail(`forged callback page: ${await text(evil)}`);
    await answerSignIn(a, BOB);
    await signedInAs(a, BOB);
    await c.close();
  });

  // ---------------------------------------------------------------------------------
  // response_mode=form_post
  // ---------------------------------------------------------------------------------
  await step('form_post sign-in completes (the callback takes the POSTed form)', async () => {
    const c = await newContext();
    const a = await c.newPage();
    await front(a);
    await a.goto(`${base}/login?response_mode=form_post&return_to=/profile`);
    await answerSignIn(a, ALICE);
    if (new URL(a.url()).pathname !== '/profile') fail(`landed on ${a.url()}: ${(await text(a)).slice(0, 300)}`);
    if (!(await text(a)).includes(ALICE)) fail((await text(a)).slice(0, 300));
    await c.close();
  });

  // ---------------------------------------------------------------------------------
  // Cancel on the sign-in page; 401 body; 127.0.0.1.
  // ---------------------------------------------------------------------------------
  await step('cancelling on the sign-in page shows a readable page, and signing in again works', async () => {
    const c = await newContext();
    const a = await c.newPage();
    await front(a);
    await a.goto(`${base}/login`);
    await answerSignIn(a, ALICE, 'cancel');
    const body = await text(a);
    if (!/cancel/i.test(body) || !(await a.title())) fail(body.slice(0, 300));
    await clickSignIn(a);
    await answerSignIn(a, ALICE);
    await signedInAs(a, ALICE);
    await c.close();
  });

  await step('the downstream API answers 401 with a readable body', async () => {
    const c = await newContext();
    const a = await c.newPage();
    await front(a);
    const r = await a.goto(`${base}/downstream/me`);
    if (r.status() !== 401) fail(`status ${r.status()}`);
    if (!/token/i.test(await text(a))) fail(`body: "${await text(a)}"`);
    await c.close();
  });

  await step('opened as 127.0.0.1, sign-in works', async () => {
    const c = await newContext();
    const a = await c.newPage();
    await front(a);
    await a.goto(`http://127.0.0.1:${port}/`);
    await clickSignIn(a);
    await answerSignIn(a, ALICE);
    await signedInAs(a, ALICE);
    await c.close();
  });
} catch (e) {
  failed += 1;
  console.log(`FAILED: (harness): ${e && e.message ? e.message.split('\n')[0] : e}`);
} finally {
  await browser.close().catch(() => {});
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
