// Browser test: the owner's pages on a phone (390×844). Nothing is wider than the screen (a wide
// table scrolls inside its card), the tabs take one row, and the Knowledge list's buttons are big
// enough for a finger. Run by scripts/test.sh against `bellhop demo`, with its own owner and bot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOTS, chromiumPages, sandbox as api, eventually } from './support.mjs';

const newPage = chromiumPages();
const textOf = (m) => m.message?.text || m.raw_text || '';

test('on a phone the settings, billing, home and knowledge pages fit the screen', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const pia = (await api('users', { first_name: 'Pia' })).id;
  const request = await api(`users/${pia}/creation_links`, { link: `https://t.me/newbot/${manager}/pias_phone_bot?name=Pia%27s%20Phones` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  const link = await eventually('the welcome message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${pia}&from_bot=true`);
    const text = msgs.map(textOf).find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  }, 60000);

  const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);

  // A document on the Knowledge list, for its Re-read and Delete buttons.
  await page.goto(new URL(`/app/sources?bot=${bot}`, page.url()).toString());
  await page.setInputFiles('#files', [{ name: 'phones.md', mimeType: 'text/markdown', buffer: Buffer.from('# Repairs\n\nWe replace a cracked screen in one hour.\n') }]);
  await page.click('#upload button[type=submit]');
  await page.waitForSelector('text=Added phones.md');
  await eventually('the document read', async () => {
    const r = await page.evaluate(async () => (await fetch('/app/sources/status')).json());
    return r.length === 1 && (r[0].status === 'ready' || r[0].status === 'failed');
  }, 120000);

  for (const [name, path] of [['home', '/app'], ['settings', `/app/bots/${bot}/settings`], ['billing', '/app/billing'], ['knowledge', `/app/sources?bot=${bot}`]]) {
    await page.goto(new URL(path, page.url()).toString());
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: `${SHOTS}/phone-${name}.png`, fullPage: true });
    assert.ok(width <= 390, `the ${name} page is ${width} px wide on a 390 px screen`);
    const nav = await page.locator('nav.tabs').boundingBox();
    assert.ok(nav.height < 60, `the tabs take one row on the ${name} page, not ${nav.height} px`);
  }
  // The working-hours times show whole: "09:00 AM" (this browser's 12-hour clock) and the time
  // picker's icon fit in each field (in three narrow columns they were cut off).
  await page.goto(new URL(`/app/bots/${bot}/settings`, page.url()).toString());
  await page.fill('input[name=open_0]', '09:00');
  const cramped = await page.evaluate(() => [...document.querySelectorAll('table.hours input[type=time]')].filter((input) => {
    const css = getComputedStyle(input);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
    const text = ctx.measureText('09:00 AM').width;
    const room = input.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
    return room < text + 24; // the picker's icon and its gap
  }).map((input) => input.name));
  assert.deepEqual(cramped, [], 'working-hours fields too narrow for "09:00 AM"');
  await page.goto(new URL(`/app/sources?bot=${bot}`, page.url()).toString());
  // On the Knowledge page (open last): Re-read and Delete are finger-sized.
  for (const label of ['Re-read', 'Delete']) {
    const buttons = page.locator(`#sources button:has-text("${label}")`);
    if (label === 'Delete' || (await buttons.count()) > 0) {
      const box = await buttons.first().boundingBox();
      assert.ok(box.height >= 40, `${label} is ${box.height} px tall`);
    }
  }
});
