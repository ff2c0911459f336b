// The official Direct Line client (npm botframework-directlinejs, which
// nobody here wrote) holds a multi-turn conversation with bot-api's local
// Direct Line, over polling and over the WebSocket: replyToId, watermarks,
// the KB's follow-up prompts as suggested actions, and a reconnect that
// resumes after a watermark.
'use strict';
const assert = require('node:assert/strict');
// The client uses the browser's XMLHttpRequest and WebSocket.
global.XMLHttpRequest = require('xhr2');
const WS = require('ws');
global.WebSocket = WS;
const { DirectLine } = require('botframework-directlinejs');
const { startBot, run } = require('./server');

const WAIT_MS = 20000;
const seq = id => Number(String(id).split('|').pop());

// Every activity the client emits, and a way to wait for one.
function watch(directLine) {
  const seen = [];
  let waiters = [];
  const subscription = directLine.activity$.subscribe(activity => {
    seen.push(activity);
    waiters = waiters.filter(w => !w());
  });
  const until = (predicate, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const got = seen.map(a => `${a.id} ${a.from && a.from.id}: ${a.text}`).join('\n  ');
        reject(new Error(`no ${what} within ${WAIT_MS} ms; seen:\n  ${got}`));
      }, WAIT_MS);
      const check = () => {
        const found = seen.find(predicate);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
        return !!found;
      };
      if (!check()) waiters.push(check);
    });
  return { seen, until, stop: () => subscription.unsubscribe() };
}

const post = (directLine, text) =>
  new Promise((resolve, reject) =>
    directLine
      .postActivity({ type: 'message', from: { id: 'tester', name: 'Tester' }, text })
      .subscribe(resolve, reject)
  );

// Sends `text`, waits for its echo and the bot's reply to it; returns both.
async function turn(directLine, watcher, text) {
  const id = await post(directLine, text);
  assert.match(id, /\|\d{7}$/, 'Direct Line activity ids are {conversation}|{seq}');
  const echo = await watcher.until(a => a.id === id, `echo of ${JSON.stringify(text)}`);
  assert.equal(echo.from.id, 'tester');
  assert.equal(echo.text, text);
  const reply = await watcher.until(a => a.replyToId === id, `reply to ${JSON.stringify(text)}`);
  assert.equal(reply.from.id, 'bot');
  assert.equal(seq(reply.id), seq(id) + 1, 'the reply comes right after the message');
  return { id, reply };
}

const actions = activity =>
  ((activity.suggestedActions && activity.suggestedActions.actions) || []).map(a => a.value);

async function conversation(bot, webSocket) {
  const domain = `${bot.base}/v3/directline`;
  const sockets = [];
  // Counts the client's WebSocket connections and the URLs they used.
  class CountingSocket extends WS {
    constructor(url, ...rest) {
      super(url, ...rest);
      sockets.push(url);
    }
  }
  const generated = await (await fetch(`${domain}/tokens/generate`, { method: 'POST' })).json();
  assert.ok(generated.token && generated.conversationId, JSON.stringify(generated));
  const refreshed = await (
    await fetch(`${domain}/tokens/refresh`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${generated.token}` }
    })
  ).json();
  assert.equal(refreshed.conversationId, generated.conversationId);

  const options = { domain, token: generated.token, webSocket, pollingInterval: 200, WebSocket: CountingSocket };
  const first = new DirectLine(options);
  const watcher = watch(first);

  // The bot's welcome (its conversationUpdate turn), with suggestions.
  const welcome = await watcher.until(a => a.from.id === 'bot' && /welcome/i.test(a.text), 'welcome');
  assert.deepEqual(actions(welcome), ['What can you do?', 'Who made you?']);
  assert.equal(first.conversationId, generated.conversationId);

  // Turn 1: a question with follow-up prompts from the KB.
  const one = await turn(first, watcher, 'How do I reset my password?');
  assert.equal(one.reply.text, 'Which account is it for?');
  assert.deepEqual(actions(one.reply), ['Work account', 'Personal account']);
  assert.equal(first.watermark, String(seq(one.reply.id)), 'the watermark is the last activity seen');
  const resumeAt = first.watermark;

  // Turn 2: a follow-up prompt, answered in the multi-turn context.
  const two = await turn(first, watcher, 'Work account');
  assert.match(two.reply.text, /self-service password reset portal/);
  assert.equal(first.watermark, String(seq(two.reply.id)));
  const ids = watcher.seen.map(a => a.id);
  assert.equal(new Set(ids).size, ids.length, 'no activity twice');
  assert.deepEqual(ids.map(seq), ids.map((_, i) => i + 1), 'in order, none missing');
  watcher.stop();
  first.end();

  // Reconnect after turn 1's watermark: only what came after it arrives.
  const second = new DirectLine({ ...options, conversationId: generated.conversationId, watermark: resumeAt });
  const resumed = watch(second);
  await resumed.until(a => a.id === two.reply.id, 'turn 2 again after the reconnect');
  assert.deepEqual(resumed.seen.map(a => a.id), [two.id, two.reply.id], 'resumed after the watermark');
  // And the conversation goes on there.
  const three = await turn(second, resumed, 'Who made you?');
  assert.match(three.reply.text, /small team/);
  resumed.stop();
  second.end();

  if (webSocket) {
    assert.equal(sockets.length, 2, `one WebSocket per client: ${sockets.join(', ')}`);
    assert.match(sockets[1], new RegExp(`watermark=${resumeAt}&`), 'the reconnect streamUrl carries the watermark');
  } else {
    assert.equal(sockets.length, 0, 'polling opens no WebSocket');
  }

  // The REST view agrees: every activity, and the last watermark.
  const all = await (
    await fetch(`${domain}/conversations/${generated.conversationId}/activities?watermark=`)
  ).json();
  assert.equal(all.watermark, String(seq(three.reply.id)));
  assert.equal(all.activities.length, seq(three.reply.id));
}

startBot().then(bot =>
  run([
    ['multi-turn over polling', () => conversation(bot, false)],
    ['multi-turn over the WebSocket', () => conversation(bot, true)],
    ['unknown conversation: 404 (the client ends the connection)', async () => {
      const r = await fetch(`${bot.base}/v3/directline/conversations/nope/activities`);
      assert.equal(r.status, 404);
    }],
    ['stop', () => bot.stop()]
  ])
);
