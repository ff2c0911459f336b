#!/usr/bin/env node
// A local Cosmos DB stand-in: @vercel/cosmosdb-server, patched where the
// official Rust SDK (azure_data_cosmos 1.x) expects what real Cosmos does.
//
//   node standins/cosmos.js [--port N] [--host 127.0.0.1] [--regions "A,B"]
//                           [--create DB/CONTAINER ...] [--entra-only]
//
// Prints one line `COSMOS_ENDPOINT=http://host:port/` once it accepts
// connections, then serves until killed. Plain http only: the SDK is told
// (by the caller) to use HTTP/1.1 and JSON, as the server speaks nothing else.
//
// --create DB/CONTAINER (repeatable) makes a database and a container
// (partition key /id) before the endpoint is printed: what infra does.
// --entra-only answers as an account with key auth disabled answers an
// identity that has data-plane rights only: every database, container or
// UDF create, replace or delete is 403 with Cosmos's body, whether or not
// it exists; reads, queries and item operations are served.
"use strict";

const path = require("path");

const lib = path.join(
  path.dirname(require.resolve("@vercel/cosmosdb-server/package.json")),
  "lib"
);
const handler = (name) => require(path.join(lib, "handler", name));

// Patch a handler module before routes.js captures its `default`.
function wrap(name, make) {
  const mod = handler(name);
  mod.default = make(mod.default);
}

// 1. Partition key range ids are strings in real Cosmos; the server stores
//    the number 0 and the Rust SDK refuses to deserialize it.
function stringifyRangeIds(body) {
  if (body && Array.isArray(body.PartitionKeyRanges)) {
    for (const r of body.PartitionKeyRanges) {
      if (r && typeof r.id === "number") r.id = String(r.id);
      if (r && Array.isArray(r.parents)) r.parents = r.parents.map(String);
    }
  }
  return body;
}
wrap("read-partition-key-ranges", (orig) => async (...args) =>
  stringifyRangeIds(await orig(...args))
);

// 2. A read of a missing item is 404 in Cosmos; the server dereferences the
//    missing document and answers 500.
wrap("read-document", (orig) => (account, req, res, params) => {
  try {
    return orig(account, req, res, params);
  } catch (err) {
    if (err instanceof TypeError) {
      res.statusCode = 404;
      return {
        code: "NotFound",
        message: "Entity with the specified id does not exist in the system.",
      };
    }
    throw err;
  }
});

// 3. With --no-ssl the account still advertises https:// endpoints, and the
//    SDK follows them. Advertise what is actually served, at the address the
//    client used: behind a per-region proxy (deploy/local/stack) the SDK
//    must keep going through its proxy, not around it.
//    --regions "A,B" names the account's regions (the first is the write
//    region), so each bot region's preferred-region list means something.
let regionNames = null;
wrap("read-meta", (orig) => (account, req, res, params) => {
  const meta = orig(account, req, res, params);
  const copy = JSON.parse(JSON.stringify(meta));
  const host = req.headers.host;
  for (const list of [copy.writableLocations, copy.readableLocations]) {
    for (const loc of list || []) {
      loc.databaseAccountEndpoint = host
        ? `http://${host}/`
        : loc.databaseAccountEndpoint.replace(/^https:/, "http:");
    }
  }
  if (regionNames) {
    const endpoint = copy.writableLocations[0].databaseAccountEndpoint;
    const loc = (name) => ({ name, databaseAccountEndpoint: endpoint });
    copy.writableLocations = [loc(regionNames[0])];
    copy.readableLocations = regionNames.map(loc);
  }
  return copy;
});

// 4. The SDK scopes a query by the partition key header, or by a partition
//    key range id, and does not repeat the key in the SQL. The server
//    insists on the key in the SQL unless the query is cross-partition. Run
//    it as cross-partition and, when a key was given, keep only that
//    partition's documents.
wrap("query-documents", (orig) => async (account, req, res, params) => {
  const pkHeader = req.headers["x-ms-documentdb-partitionkey"];
  req.headers["x-ms-documentdb-query-enablecrosspartition"] = "true";
  const body = await orig(account, req, res, params);
  let key;
  try {
    const parsed = pkHeader ? JSON.parse(pkHeader) : undefined;
    key = Array.isArray(parsed) ? parsed[0] : parsed;
  } catch (_) {
    key = undefined;
  }
  if (key === undefined || !body || !Array.isArray(body.Documents)) return body;
  const coll = account.database(params.dbId).collection(params.collId).read();
  const paths = (coll && coll.partitionKey && coll.partitionKey.paths) || ["/id"];
  const field = paths[0].slice(1);
  const docs = body.Documents.filter(
    (d) => d === null || typeof d !== "object" || !(field in d) || d[field] === key
  );
  if (docs.length !== body.Documents.length) {
    res.setHeader("x-ms-item-count", String(docs.length));
  }
  return { ...body, Documents: docs, _count: docs.length };
});

// 5. Entra-only: control-plane writes are refused as Cosmos refuses them
//    (RBAC data-plane roles carry no control-plane actions), after the
//    launcher's own --create set-up is done.
let entraOnly = false;
const controlPlane = {
  "create-database": "sqlDatabases/write",
  "delete-database": "sqlDatabases/delete",
  "create-collection": "sqlDatabases/containers/write",
  "replace-collection": "sqlDatabases/containers/write",
  "delete-collection": "sqlDatabases/containers/delete",
  "create-user-defined-function": "sqlDatabases/containers/userDefinedFunctions/write",
  "replace-user-defined-function": "sqlDatabases/containers/userDefinedFunctions/write",
  "upsert-user-defined-function": "sqlDatabases/containers/userDefinedFunctions/write",
  "delete-user-defined-function": "sqlDatabases/containers/userDefinedFunctions/delete",
};
const { randomUUID } = require("crypto");
for (const [name, action] of Object.entries(controlPlane)) {
  wrap(name, (orig) => (account, req, res, params) => {
    if (!entraOnly) return orig(account, req, res, params);
    res.statusCode = 403;
    res.setHeader("x-ms-substatus", "5301");
    const account_ = (req.headers.host || "localhost").split(":")[0];
    return {
      code: "Forbidden",
      message:
        `Request blocked by Auth ${account_} : Request is blocked because principal ` +
        `[00000000-0000-0000-0000-000000000000] does not have required RBAC permissions ` +
        `to perform action [Microsoft.DocumentDB/databaseAccounts/${action}] on any scope.` +
        `\r\nActivityId: ${randomUUID()}, Microsoft.Azure.Documents.Common/2.14.0`,
    };
  });
}

const { createHttpServer } = require(lib);
const http = require("http");

// One set-up request to this server, as infra's deployment would make it.
function setupRequest(port, host, path, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      {
        host, port, path, method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          "x-ms-version": "2020-07-15",
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          if (res.statusCode < 300 || res.statusCode === 409) resolve();
          else reject(new Error(`set-up POST ${path}: ${res.statusCode} ${text}`));
        });
      }
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function setup(port, host, creates) {
  for (const spec of creates) {
    const [db, coll] = spec.split("/");
    await setupRequest(port, host, "/dbs", { id: db });
    await setupRequest(port, host, `/dbs/${encodeURIComponent(db)}/colls`, {
      id: coll,
      partitionKey: { paths: ["/id"], kind: "Hash", version: 2 },
    });
  }
}

function parseArgs(argv) {
  const args = { port: 0, host: "127.0.0.1", create: [], entraOnly: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === "--port" || a === "-p") args.port = parseInt(argv[++i], 10);
    else if (a === "--host") args.host = argv[++i];
    else if (a === "--regions") args.regions = argv[++i];
    else if (a === "--create") {
      const spec = argv[++i] || "";
      if (!/^[^/\\?#]+\/[^/\\?#]+$/.test(spec)) {
        console.error(`cosmos.js: --create expects DATABASE/CONTAINER, got ${JSON.stringify(spec)}`);
        process.exit(2);
      }
      args.create.push(spec);
    } else if (a === "--entra-only") args.entraOnly = true;
    else if (a === "--no-ssl") continue; // always plain http
    else if (a === "--help" || a === "-h") {
      console.log(
        'usage: node cosmos.js [--port N] [--host 127.0.0.1] [--regions "A,B"] [--create DB/CONTAINER ...] [--entra-only]'
      );
      process.exit(0);
    } else {
      console.error(`cosmos.js: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    console.error("cosmos.js: --port must be 0-65535");
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (args.regions) {
  regionNames = args.regions.split(",").map((r) => r.trim()).filter(Boolean);
  if (regionNames.length === 0) {
    console.error("cosmos.js: --regions needs at least one name");
    process.exit(2);
  }
}
// keepAlive: the SDK pools connections; closing each one costs a handshake.
const server = createHttpServer({ keepAlive: true });
server.keepAliveTimeout = 60000;
server.on("error", (err) => {
  console.error(`cosmos.js: ${err.message}`);
  process.exit(1);
});
server.listen(args.port, args.host, () => {
  const { port } = server.address();
  setup(port, args.host, args.create)
    .then(() => {
      entraOnly = args.entraOnly;
      console.log(`COSMOS_ENDPOINT=http://${args.host}:${port}/`);
    })
    .catch((err) => {
      console.error(`cosmos.js: ${err.message}`);
      process.exit(1);
    });
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
