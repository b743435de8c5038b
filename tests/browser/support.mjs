// Shared by the browser tests: the addresses scripts/test.sh passes, headless Chromium (Debian's,
// driven by playwright-core), the sandbox's control API, and waiting for something to happen.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const APP = process.env.BELLHOP_URL;
export const TG = process.env.SANDBOX_URL;
export const SHOTS = process.env.SCREENSHOTS_DIR || 'docs/screenshots';

// Starts Chromium before the file's tests and closes it after them; returns `newPage(options)`.
export function chromiumPages() {
  let browser;
  before(async () => {
    assert.ok(APP && TG, 'set BELLHOP_URL and SANDBOX_URL (scripts/test.sh does)');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  after(async () => { await browser?.close(); });
  return (options) => browser.newPage(options);
}

// The sandbox's control API: GET `path`, or POST `body` as JSON; the `result` of an ok answer.
export async function sandbox(path, body) {
  const r = await fetch(`${TG}/sandbox/api/${path}`, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const v = await r.json();
  assert.equal(v.ok, true, `${path}: ${JSON.stringify(v)}`);
  return v.result;
}

// Calls `f` every 200 ms until it returns something truthy (returned), or fails after `ms`.
export async function eventually(what, f, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
