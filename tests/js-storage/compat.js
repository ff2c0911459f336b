#!/usr/bin/env node
// botbuilder-js (the reference SDK) reading and writing state and
// transcripts on the local stand-ins, driven by the Rust compatibility
// tests: one JSON command in argv[2], one JSON result on stdout.
//
//   {"op": "cosmos-write", "cosmos": {...}, "changes": {"key": {...state}}}
//   {"op": "cosmos-read",  "cosmos": {...}, "keys": ["key"]}
//   {"op": "blob-write",   "blob": {...}, "changes": {...}}
//   {"op": "blob-read",    "blob": {...}, "keys": [...]}
//   {"op": "transcript-log", "blob": {...}, "activities": [...]}
//   {"op": "transcript-get", "blob": {...}, "channelId": "...", "conversationId": "..."}
"use strict";

const { CosmosDbPartitionedStorage } = require("botbuilder-azure");
const { BlobsStorage, BlobsTranscriptStore } = require("botbuilder-azure-blobs");

function cosmosStorage(c) {
  return new CosmosDbPartitionedStorage({
    cosmosDbEndpoint: c.endpoint,
    authKey: c.key,
    databaseId: c.database,
    containerId: c.container,
    // keySuffix off and compatibility mode on: botbuilder's defaults.
  });
}

function connectionString(b) {
  return (
    "DefaultEndpointsProtocol=http;" +
    `AccountName=${b.account};AccountKey=${b.key};` +
    `BlobEndpoint=${b.endpoint};`
  );
}

async function main() {
  const cmd = JSON.parse(process.argv[2]);
  switch (cmd.op) {
    case "cosmos-write":
      await cosmosStorage(cmd.cosmos).write(cmd.changes);
      return { ok: true };
    case "cosmos-read":
      return await cosmosStorage(cmd.cosmos).read(cmd.keys);
    case "blob-write":
      await new BlobsStorage(connectionString(cmd.blob), cmd.blob.container).write(cmd.changes);
      return { ok: true };
    case "blob-read":
      return await new BlobsStorage(connectionString(cmd.blob), cmd.blob.container).read(cmd.keys);
    case "transcript-log": {
      const store = new BlobsTranscriptStore(connectionString(cmd.blob), cmd.blob.container);
      for (const a of cmd.activities) {
        await store.logActivity({ ...a, timestamp: new Date(a.timestamp) });
      }
      return { ok: true };
    }
    case "transcript-get": {
      const store = new BlobsTranscriptStore(connectionString(cmd.blob), cmd.blob.container);
      const page = await store.getTranscriptActivities(cmd.channelId, cmd.conversationId);
      return page;
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

main().then(
  (result) => {
    process.stdout.write(JSON.stringify(result));
    process.exit(0);
  },
  (err) => {
    console.error(`compat.js: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  }
);
