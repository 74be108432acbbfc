// Publish from a viewer as a Teleop or Publish panel does, with the real @foxglove/ws-protocol
// client over `ws`: advertise one client channel, then send COUNT messages 100 ms apart.
// Prints one JSON object: {"protocol", "capabilities", "statuses": [messages], "sent": N}.
//
// usage: node publish.mjs URL TOPIC ENCODING SCHEMA_NAME SCHEMA_BASE64|- PAYLOAD COUNT
//   ENCODING protobuf: PAYLOAD is the message in hex, SCHEMA_BASE64 a FileDescriptorSet
//   ENCODING json:     PAYLOAD is the JSON text, SCHEMA_BASE64 "-" (the server knows the type)
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

const [url, topic, encoding, schemaName, schema, payload, countArg] = process.argv.slice(2);
const ws = new WebSocket(url, ["foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
const out = { protocol: null, capabilities: [], statuses: [], sent: 0 };
const data = encoding === "protobuf" ? Buffer.from(payload, "hex") : new TextEncoder().encode(payload);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

client.on("error", (error) => out.statuses.push(`client error: ${error}`));
client.on("status", (status) => out.statuses.push(status.message));
client.on("serverInfo", async (info) => {
  out.protocol = ws.protocol;
  out.capabilities = info.capabilities;
  const channel = { topic, encoding, schemaName };
  if (schema !== "-") Object.assign(channel, { schema, schemaEncoding: "protobuf" });
  const id = client.advertise(channel);
  await sleep(1500); // the graph publisher matches its subscribers
  for (let i = 0; i < Number(countArg); i++) {
    client.sendMessage(id, data);
    out.sent++;
    await sleep(100);
  }
  await sleep(500);
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
});
setTimeout(() => {
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(1);
}, 60000);
