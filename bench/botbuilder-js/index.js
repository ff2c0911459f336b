// The reference: a botbuilder-js 4.23.3 bot as the official samples build it
// (CloudAdapter with no app id, restify, ConversationState turn counter and
// echo). Storage is MemoryStorage, or Azure Blob (BlobsStorage) when
// BLOB_CONNECTION_STRING and BLOB_CONTAINER are set, so storage-bound figures
// can be compared on the same backend.
const restify = require('restify');
const {
  ActivityHandler,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConversationState,
  MemoryStorage,
} = require('botbuilder');

function storage() {
  if (process.env.BLOB_CONNECTION_STRING && process.env.BLOB_CONTAINER) {
    const { BlobsStorage } = require('botbuilder-azure-blobs');
    return new BlobsStorage(process.env.BLOB_CONNECTION_STRING, process.env.BLOB_CONTAINER);
  }
  return new MemoryStorage();
}

const conversationState = new ConversationState(storage());
const turnCount = conversationState.createProperty('turnCount');

class EchoBot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (context, next) => {
      const n = (await turnCount.get(context, 0)) + 1;
      await turnCount.set(context, n);
      await context.sendActivity(`Turn ${n}: ${context.activity.text}`);
      await next();
    });
  }

  async run(context) {
    await super.run(context);
    await conversationState.saveChanges(context, false);
  }
}

const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
adapter.onTurnError = async (context, error) => {
  console.error(`onTurnError: ${error}`);
};
const bot = new EchoBot();

const server = restify.createServer();
server.use(restify.plugins.bodyParser());
server.post('/api/messages', async (req, res) => {
  await adapter.process(req, res, (context) => bot.run(context));
});
server.listen(Number(process.env.PORT || 3978), '127.0.0.1');
