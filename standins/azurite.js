#!/usr/bin/env node
// A local Azure Blob stand-in: Azurite's blob service, in-process.
//
//   node standins/azurite.js [--port N] [--host 127.0.0.1] [--location DIR]
//
// Without --location the data lives in memory. Prints one line
// `BLOB_ENDPOINT=http://host:port/devstoreaccount1` once it accepts
// connections, then serves until killed.
//
// --skipApiVersionCheck: the Rust SDK sends a newer x-ms-version than this
// Azurite (the newest that runs on Node 20) knows; the operations we use are
// the same.
"use strict";

const net = require("net");
const path = require("path");

function parseArgs(argv) {
  const args = { port: 0, host: "127.0.0.1", location: null };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === "--port" || a === "-p") args.port = parseInt(argv[++i], 10);
    else if (a === "--host") args.host = argv[++i];
    else if (a === "--location") args.location = argv[++i];
    else if (a === "--help" || a === "-h") {
      console.log("usage: node azurite.js [--port N] [--host 127.0.0.1] [--location DIR]");
      process.exit(0);
    } else {
      console.error(`azurite.js: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    console.error("azurite.js: --port must be 0-65535");
    process.exit(2);
  }
  return args;
}

function freePort(host) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const port = args.port || (await freePort(args.host));
  const flags = [
    "--blobHost", args.host,
    "--blobPort", String(port),
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--silent",
  ];
  if (args.location) flags.push("--location", path.resolve(args.location));
  else flags.push("--inMemoryPersistence");
  // Azurite reads its options from process.argv.
  process.argv = [process.argv[0], "azurite-blob", ...flags];
  const blobDir = path.join(
    path.dirname(require.resolve("azurite/package.json")),
    "dist", "src", "blob"
  );
  const { BlobServerFactory } = require(path.join(blobDir, "BlobServerFactory"));
  const server = await new BlobServerFactory().createServer();
  await server.start();
  console.log(`BLOB_ENDPOINT=http://${args.host}:${port}/devstoreaccount1`);
  const stop = () => {
    server.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once("SIGTERM", stop).once("SIGINT", stop);
}

main().catch((err) => {
  console.error(`azurite.js: ${err.message}`);
  process.exit(1);
});
