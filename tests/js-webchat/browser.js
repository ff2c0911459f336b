// Web Chat in headless Chromium (Debian's package): bot-api's page at /,
// with npm botframework-webchat's own dist/webchat.js served locally
// (webchat.script_file). Types a question, clicks a suggested action,
// checks the answers in the DOM and saves target/webchat.png.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startBot, run, root } = require('./server');

const WAIT_MS = 30000;
const webchatJs = path.join(__dirname, 'node_modules/botframework-webchat/dist/webchat.js');
const screenshot = path.join(root, 'target/webchat.png');

async function chat(bot) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 900, height: 760 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', err => problems.push(`page error: ${err.message}`));
    // Nothing may leave this machine: any request off the bot's origin fails the test.
    // (blob: and data: URLs are Web Chat's own, made in the page.)
    page.on('request', req => {
      const url = new URL(req.url());
      if (/^(https?|wss?):$/.test(url.protocol) && url.host !== new URL(bot.base).host) {
        problems.push(`request off the bot's origin: ${req.url()}`);
      }
    });

    await page.goto(`${bot.base}/`);
    const header = await page.locator('#info').innerText();
    assert.match(header, /kb\/sample\.tsv/, 'the KB source is shown');
    assert.equal(await page.locator('#region').innerText(), 'local');
    assert.match(header, /any secret or token is accepted/);
    assert.equal(await page.locator('a[href="/readyz"]').count(), 1);

    // Web Chat renders the bot's welcome, from its conversationUpdate.
    await page.getByText('Hello and welcome').first().waitFor();

    // Type a question.
    const input = page.locator('[data-id="webchat-sendbox-input"]');
    await input.click();
    await input.fill('How do I reset my password?');
    await input.press('Enter');
    await page.getByText('Which account is it for?').first().waitFor();

    // Click the KB's follow-up prompt, shown as a suggested action.
    await page.getByRole('toolbar', { name: 'Suggested actions' }).getByRole('button', { name: 'Work account' }).click();
    await page.getByText(/self-service password reset portal/).first().waitFor();

    const transcript = await page.locator('#webchat').innerText();
    const order = ['Hello and welcome', 'How do I reset my password?', 'Which account is it for?', 'Work account', 'self-service password reset portal'];
    let at = -1;
    for (const text of order) {
      const found = transcript.indexOf(text, at + 1);
      assert.ok(found > at, `${JSON.stringify(text)} after the previous line in:\n${transcript}`);
      at = found;
    }
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    console.log(`screenshot: ${path.relative(root, screenshot)}`);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

startBot({ BOT__WEBCHAT__SCRIPT_FILE: webchatJs }).then(bot =>
  run([
    ['Web Chat page: type, click a suggested action, read the answers', () => chat(bot)],
    ['stop', () => bot.stop()]
  ])
);
