// Points botbuilder-ai's CustomQuestionAnswering (4.23.3, a client nobody
// here wrote) at bot-api's serve mode and prints what it gets back.
// Usage: node check.js HOST KEY PROJECT < queries.json
// queries.json: [{question, previousQnaId?, previousUserQuery?, strictFilters?}]
// Prints: [[{id, answer, score, prompts: [displayText]}], ...] in query order.
'use strict';
const { CustomQuestionAnswering } = require('botbuilder-ai');
const { TestAdapter, TurnContext } = require('botbuilder-core');

async function main() {
  const [host, endpointKey, knowledgeBaseId] = process.argv.slice(2);
  if (!host || !endpointKey || !knowledgeBaseId) {
    throw new Error('usage: node check.js HOST KEY PROJECT < queries.json');
  }
  const queries = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const cqa = new CustomQuestionAnswering({ knowledgeBaseId, endpointKey, host }, { top: 3 });
  const adapter = new TestAdapter();
  const out = [];
  for (const q of queries) {
    const context = new TurnContext(adapter, {
      type: 'message',
      text: q.question,
      channelId: 'test',
      conversation: { id: 'js-qna-check' },
      from: { id: 'user' },
      recipient: { id: 'bot' },
      serviceUrl: 'http://127.0.0.1',
    });
    const options = {};
    if (q.previousQnaId) {
      // botbuilder's QnARequestContext spelling; it is sent as-is.
      options.context = { previousQnAId: q.previousQnaId, previousUserQuery: q.previousUserQuery || '' };
    }
    if (q.strictFilters) options.strictFilters = q.strictFilters;
    const results = await cqa.getAnswers(context, options);
    out.push(results.map((r) => ({
      id: r.id,
      answer: r.answer,
      score: r.score,
      prompts: ((r.context && r.context.prompts) || []).map((p) => p.displayText),
    })));
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error((e && e.stack) || e);
  process.exit(1);
});
