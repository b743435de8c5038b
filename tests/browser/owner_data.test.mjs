// Browser tests (issue 17, items 1 and 6): one owner with two bots gives each its own knowledge
// on the Knowledge page, and each bot answers only from its own; and an owner deletes a
// customer's data from the conversation page when the customer asks. Run by scripts/test.sh
// against `bellhop demo`:
//   BELLHOP_URL=http://127.0.0.1:PORT SANDBOX_URL=http://127.0.0.1:PORT+1 node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOTS, chromiumPages, sandbox as api, eventually } from './support.mjs';

const newPage = chromiumPages();
const textOf = (m) => m.message?.text || m.raw_text || '';

/** A bot made by `owner` through a creation link, live; its id. */
async function createBot(state, manager, owner, username, name) {
  const request = await api(`users/${owner}/creation_links`, { link: `https://t.me/newbot/${manager}/${username}?name=${encodeURIComponent(name)}` });
  const bot = (await api(`creation_requests/${request.id}/confirm`, {})).id;
  await eventually(`@${username} live`, async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${owner}&from_bot=true`);
    return msgs.map(textOf).some((t) => t.includes(`@${username} is live`));
  }, 60000);
  return bot;
}

/** The owner's admin page, signed in with a fresh /login link. */
async function signedIn(state, owner) {
  const before = (await api(`messages?bot_id=${state.manager_id}&chat_id=${owner}&from_bot=true`)).length;
  await api(`users/${owner}/messages`, { bot_id: state.manager_id, text: '/login' });
  const link = await eventually('the sign-in link', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${owner}&from_bot=true`);
    return msgs.slice(before).map(textOf).map((t) => t.match(/http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43}/)?.[0]).find(Boolean);
  });
  const page = await newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(link);
  await page.click('text=Continue to my admin page');
  await page.waitForURL(/\/app$/);
  return page;
}

/** Sends `text` from `user` to `bot` and returns the bot's next reply. */
async function ask(user, bot, text) {
  const before = (await api(`messages?bot_id=${bot}&chat_id=${user}&from_bot=true`)).length;
  await api(`users/${user}/messages`, { bot_id: bot, text });
  return eventually(`@${bot}'s reply to ${text}`, async () => {
    const said = await api(`messages?bot_id=${bot}&chat_id=${user}&from_bot=true`);
    return said.length > before && textOf(said[said.length - 1]);
  }, 120000);
}

async function addQa(page, bot, question, answer) {
  await page.click('nav.tabs >> text=Knowledge');
  await page.selectOption('#pick-bot', String(bot));
  await page.click('form.bot-picker button');
  await page.waitForURL(new RegExp(`bot=${bot}`));
  await page.fill('#q', question);
  await page.fill('#a', answer);
  await page.click('button:has-text("Add")');
  await page.waitForSelector(`.qa >> text=${question}`);
}

test('one owner, two bots: each bot answers only from its own knowledge', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const ines = (await api('users', { first_name: 'Ines' })).id;
  const bakery = await createBot(state, manager, ines, 'ines_bakery_bot', 'Ines\' Bakery');
  // The Free plan has one bot: Ines subscribes to Starter (three bots) with Stars first.
  await api(`users/${ines}/messages`, { bot_id: state.manager_id, text: '/plan' });
  const planMessage = await eventually('the /plan message', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${ines}&from_bot=true`);
    return msgs.find((m) => textOf(m).includes('Your plan: Free'));
  });
  const starter = planMessage.message.reply_markup.inline_keyboard.flat().find((b) => b.text.includes('Starter'));
  await api(`users/${ines}/payments`, { link: starter.url });
  await eventually('the Starter plan', async () => {
    const msgs = await api(`messages?bot_id=${state.manager_id}&chat_id=${ines}&from_bot=true`);
    return msgs.map(textOf).some((t) => /Starter/.test(t) && !t.includes('Your plan: Free'));
  });
  const flowers = await createBot(state, manager, ines, 'ines_flowers_bot', 'Ines\' Flowers');
  const page = await signedIn(state, ines);
  await addQa(page, bakery, 'Do you sell sourdough?', 'Yes: sourdough loaves every morning from 7.');
  await page.screenshot({ path: `${SHOTS}/knowledge-bakery-bot.png`, fullPage: true });
  await addQa(page, flowers, 'Do you deliver tulips?', 'Yes: tulips are delivered in town every day.');
  await page.screenshot({ path: `${SHOTS}/knowledge-flowers-bot.png`, fullPage: true });
  // The flower shop's page lists only its own pair.
  assert.equal(await page.locator('.qa >> text=Do you sell sourdough?').count(), 0, 'the bakery\'s pair is not on the flower shop\'s page');

  const ana = (await api('users', { first_name: 'Ana', started_bots: [bakery, flowers] })).id;
  assert.match(await ask(ana, bakery, 'Do you sell sourdough?'), /sourdough loaves every morning/);
  assert.match(await ask(ana, flowers, 'Do you deliver tulips?'), /tulips are delivered in town/);
  const wrongShop = await ask(ana, flowers, 'Do you sell sourdough?');
  assert.doesNotMatch(wrongShop, /sourdough loaves/, 'the flower shop does not answer from the bakery\'s knowledge');
  const wrongShop2 = await ask(ana, bakery, 'Do you deliver tulips?');
  assert.doesNotMatch(wrongShop2, /tulips are delivered/, 'nor the bakery from the flower shop\'s');
  await page.close();
});

test('an owner deletes a customer\'s data on request, and it is gone from the admin', async () => {
  const state = await api('state');
  const manager = (await api(`bots/${state.manager_id}`)).username;
  const olga = (await api('users', { first_name: 'Olga' })).id;
  const bot = await createBot(state, manager, olga, 'olga_optics_bot', 'Olga\'s Optics');
  const ben = (await api('users', { first_name: 'Benedikt', started_bots: [bot] })).id;
  await ask(ben, bot, 'My address is Lindenstrasse 5, can you send new lenses there?');
  const page = await signedIn(state, olga);
  await page.click('nav.tabs >> text=Conversations');
  await page.click('a:has-text("Benedikt")');
  await page.waitForSelector('text=Lindenstrasse 5');
  // Without the confirmation nothing is deleted (the browser insists on the box first).
  await page.check('#delete input[name=confirm]');
  await page.screenshot({ path: `${SHOTS}/customer-data-delete.png`, fullPage: true });
  await page.click('button:has-text("Delete this customer\'s data")');
  await page.waitForURL(/\/app\/conversations\?deleted=1/);
  await page.waitForSelector('text=Deleted. That customer\'s messages');
  assert.equal(await page.locator('a:has-text("Benedikt")').count(), 0, 'the conversation is gone from the list');
  await page.goto(`${page.url().split('/app/')[0]}/app/conversations?q=Lindenstrasse`);
  assert.equal(await page.locator('a:has-text("Benedikt")').count(), 0, 'and from search');
  await page.screenshot({ path: `${SHOTS}/customer-data-deleted.png`, fullPage: true });
  await page.close();
});
