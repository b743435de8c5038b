// Browser test: a person goes from the landing page to a signed-in admin page, in headless
// Chromium (Debian's) driven by playwright-core. Run by scripts/test.sh against `bellhop demo`:
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
// Screenshots go to docs/screenshots/ (committed, shown in the README).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP, SHOTS, chromiumPages, sandbox as control, eventually } from './support.mjs';

const newPage = chromiumPages();

test('an owner creates a bot, signs in, adds knowledge and tries a question', async () => {
  const page = await newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(APP);
  await page.screenshot({ path: `${SHOTS}/landing.png`, fullPage: true });

  // Live validation, before any request: Telegram's rule shows as the owner types.
  await page.fill('#username', 'rosa-bakery');
  assert.match(await page.textContent('#username-error'), /Latin letters/);

  await page.fill('#name', "Rosa's Bakery");
  await page.fill('#username', 'rosas_bakery_bot');
  assert.equal((await page.textContent('#username-error')).trim(), '');
  await page.click('button[type=submit]');
  await page.waitForSelector('figure.qr svg');
  const href = await page.getAttribute('a.button.big', 'href');
  assert.match(href, /\/newbot\/bellhop_manager_bot\/rosas_bakery_bot\?name=Rosa%27s%20Bakery$/);
  await page.screenshot({ path: `${SHOTS}/creation-link-and-qr.png`, fullPage: true });

  // "Telegram": the link opens the confirm screen (the sandbox, in the demo).
  await page.click('a.button.big');
  await page.fill('input[name=first_name]', 'Rosa');
  await page.click('text=Open the link as a new user');
  await page.waitForSelector('text=Create a bot managed by');
  await page.click('button:has-text("Create")');

  // The manager bot welcomes the owner with a one-time login link.
  const state = await control('state');
  const rosa = state.users.find((u) => u.first_name === 'Rosa');
  assert.ok(rosa, 'the user exists');
  const link = await eventually('the welcome message', async () => {
    const msgs = await control(`messages?bot_id=${state.manager_id}&chat_id=${rosa.id}&from_bot=true`);
    const text = msgs.map((m) => m.message?.text || m.raw_text || '').find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);
  const body = await page.textContent('body');
  assert.match(body, /@rosas_bakery_bot/);
  assert.match(body, /live/);
  await page.screenshot({ path: `${SHOTS}/admin-home.png`, fullPage: true });

  // Knowledge: several files at once, one of them unreadable; the list updates by itself.
  await page.click('text=Add knowledge');
  await page.setInputFiles('#files', [
    { name: 'returns.md', mimeType: 'text/markdown', buffer: Buffer.from('# Returns\n\nUnopened cakes can be returned within 24 hours with the receipt.\n\n# Delivery\n\nWe deliver in the city centre on Fridays, free above 30 euros.\n') },
    { name: 'opening-hours.txt', mimeType: 'text/plain', buffer: Buffer.from('We open at 7am every day except Sunday. On holidays we close at noon.') },
    { name: 'prices.csv', mimeType: 'text/csv', buffer: Buffer.from('item,price\nSourdough loaf,4.50\nCroissant,1.80\nBirthday cake,32.00\n') },
    { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n1 0 obj << /Kids [1 0 R] >> endobj trailer << /Root 1 0 R >>') },
  ]);
  await page.click('#upload button[type=submit]');
  await page.waitForSelector('text=Added returns.md');
  await page.fill('#q', 'What are your opening hours?');
  await page.fill('#a', 'Every day from 7am, except Sunday.');
  await page.click('form[action="/app/qa"] button');
  await page.waitForSelector('text=Added the answer to “What are your opening hours?”');
  await eventually('every source read', async () => {
    const r = await page.evaluate(async () => (await fetch('/app/sources/status')).json());
    return r.length === 4 && r.every((s) => s.status === 'ready' || s.status === 'failed');
  }, 120000);
  await page.reload();
  const listing = await page.textContent('#sources');
  assert.match(listing, /ready · \d+ passages?/);
  assert.match(listing, /could not be read/);
  await page.screenshot({ path: `${SHOTS}/sources.png`, fullPage: true });

  // The playground shows which passages would answer, and how well they match.
  await page.click('text=Try a question');
  await page.fill('input[name=q]', 'can I bring back a cake I bought yesterday?');
  await page.click('form[action="/app/search"] button');
  await page.waitForSelector('ol.hits');
  assert.match(await page.textContent('ol.hits'), /returned within 24 hours/);
  await page.screenshot({ path: `${SHOTS}/search-playground.png`, fullPage: true });

  // On a phone: the same landing page, one column, no QR code (it is for desktop visitors).
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await phone.goto(`${APP}/new?name=Rosa%27s%20Bakery&username=rosas_bakery_bot`);
  assert.equal(await phone.isVisible('figure.qr'), false);
  await phone.screenshot({ path: `${SHOTS}/creation-link-phone.png`, fullPage: true });
});
