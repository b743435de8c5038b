// Browser test (issue 17, item 4): the owner invites a teammate from the Team page; the teammate
// opens the one-time link in Telegram (the sandbox) and joins; a customer asks for a person; the
// teammate gets the conversation in their own chat with the manager bot, taps Reply and answers;
// the customer gets the answer and the owner is told the teammate took it. Run by scripts/test.sh
// against `bellhop demo`:
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOTS, chromiumPages, sandbox as api, eventually } from './support.mjs';

const newPage = chromiumPages();
const textOf = (m) => m.message?.text || m.raw_text || '';

test('a teammate joins with the owner\'s invitation link and takes a customer\'s handoff in Telegram', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const rosa = (await api('users', { first_name: 'Rosa' })).id;
  const request = await api(`users/${rosa}/creation_links`, { link: `https://t.me/newbot/${manager}/rosa_team_cakes_bot?name=Rosa%27s%20Cakes` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  const link = await eventually('the welcome message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${rosa}&from_bot=true`);
    const text = msgs.map(textOf).find((t) => t.includes('is live'));
    return text && text.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0];
  });

  // The owner makes an invitation link on the Team page.
  const admin = await newPage({ viewport: { width: 1000, height: 900 } });
  await admin.goto(link);
  await admin.click('text=Continue to my admin page');
  await admin.waitForURL(/\/app$/);
  await admin.click('nav.tabs >> text=Team');
  await admin.waitForSelector('text=It\'s just you so far.');
  await admin.click('text=Make an invitation link');
  const invite = await admin.inputValue('#invite-link');
  assert.match(invite, new RegExp(`/${manager}\\?start=join_[A-Za-z0-9_-]{43}$`));
  assert.equal(await admin.locator('figure.qr svg').count(), 1, 'a QR code for a phone');
  // The Copy button beside it puts it on the clipboard, and says so.
  await admin.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await admin.click('button[data-copy="invite-link"]');
  await admin.waitForSelector('button[data-copy="invite-link"]:has-text("Copied")');
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), invite);
  await admin.screenshot({ path: `${SHOTS}/team-invite.png`, fullPage: true });

  // The teammate opens it in Telegram and taps Start.
  const tom = await newPage({ viewport: { width: 700, height: 900 } });
  await tom.goto(invite);
  await tom.fill('input[name=first_name]', 'Tom');
  await tom.click('text=Start as a new user');
  await tom.waitForSelector('#log >> text=You\'re on the team of Rosa\'s Cakes');

  // A customer asks for a person; Tom gets the conversation and answers it.
  const carl = (await api('users', { first_name: 'Carl', started_bots: [bot] })).id;
  await api(`users/${carl}/messages`, { bot_id: bot, text: 'Can you write a name on a birthday cake?' });
  await api(`users/${carl}/messages`, { bot_id: bot, text: '/human' });
  await tom.waitForSelector('#log >> text=Carl wants to talk to a person', { timeout: 60000 });
  await tom.locator('.msg', { hasText: 'Carl wants to talk to a person' }).locator('button', { hasText: 'Reply' }).click();
  await tom.waitForSelector('#log >> text=Write your reply to Carl');
  await tom.fill('input[name=text]', 'Hi Carl, Tom here — yes, any name you like, free of charge.');
  await tom.click('button:has-text("Send")');
  await tom.waitForSelector('#log >> text=Sent. Tap Close on the conversation when you\'re done.');
  await tom.screenshot({ path: `${SHOTS}/team-handoff.png`, fullPage: true });

  await eventually('Tom\'s answer reaching Carl', async () => {
    const said = await api(`messages?bot_id=${bot}&chat_id=${carl}&from_bot=true`);
    return said.map(textOf).some((t) => t.includes('Tom here'));
  });
  await eventually('the owner told who took it', async () => {
    const said = await api(`messages?bot_id=${state.manager_id}&chat_id=${rosa}&from_bot=true`);
    return said.map(textOf).some((t) => t.includes('Tom took the conversation with Carl'));
  });
  await admin.reload();
  assert.match(await admin.textContent('table.list'), /Tom/);
  await admin.close();
  await tom.close();
});
