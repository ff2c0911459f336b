// Starts the real bot-api binary on a free loopback port, in local mode,
// with its state and Direct Line store in a fresh temporary directory.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');

async function startBot(extraEnv = {}) {
  const bin = process.env.BOT_API_BIN || path.join(root, 'target/debug/bot-api');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'js-webchat-'));
  const env = {
    ...process.env,
    BOT__SERVER__LISTEN: '127.0.0.1:0',
    BOT__STORAGE__PATH: path.join(dir, 'state.db'),
    BOT__WEBCHAT__DB_PATH: path.join(dir, 'directline.db'),
    BOT__QNA__KB_PATH: 'kb/sample.tsv',
    BOT__LOG__FORMAT: 'text',
    ...extraEnv
  };
  // Local mode with auth off, whatever the caller's environment says.
  for (const name of ['BOT_REGION', 'MicrosoftAppId', 'MicrosoftAppPassword']) delete env[name];
  const child = spawn(bin, [], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bot-api did not start:\n' + logs.join(''))), 60000);
    child.stdout.on('data', data => {
      logs.push(data.toString());
      const match = /address=(\S+)/.exec(logs.join(''));
      if (match) {
        clearTimeout(timer);
        resolve('http://' + match[1]);
      }
    });
    child.stderr.on('data', data => logs.push(data.toString()));
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`bot-api exited (${code}):\n` + logs.join('')));
    });
  });
  return {
    base,
    logs,
    stop() {
      return new Promise(resolve => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGINT');
      });
    }
  };
}

// A tiny runner: each check in order, a summary line, the exit code.
async function run(checks) {
  let passed = 0;
  let failed = 0;
  for (const [name, check] of checks) {
    try {
      await check();
      passed++;
      console.log(`ok - ${name}`);
    } catch (err) {
      failed++;
      console.log(`not ok - ${name}\n${err && err.stack ? err.stack : err}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

module.exports = { startBot, run, root };
