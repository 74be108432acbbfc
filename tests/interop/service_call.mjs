// Call one service of a Foxglove WebSocket server as the Service Call panel does, with the real
// @foxglove/ws-protocol client over `ws`. Prints one JSON object:
//   {"protocol", "services": [names], "response": <the JSON response> | null, "failure": msg | null}
//
// usage: node service_call.mjs URL SERVICE [REQUEST_JSON] [--protocol TOKEN]
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

const argv = process.argv.slice(2);
const protocolAt = argv.indexOf("--protocol");
const protocol = protocolAt >= 0 ? argv.splice(protocolAt, 2)[1] : "foxglove.sdk.v1";
const [url, serviceName, requestJson = "{}"] = argv;
const ws = new WebSocket(url, [protocol]);
const client = new FoxgloveClient({ ws });
const out = { protocol: null, services: [], response: null, failure: null };

function finish(code) {
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(code);
}

setTimeout(() => {
  out.failure = "timed out";
  finish(1);
}, 60000);
client.on("error", (error) => {
  out.failure = String(error);
  finish(1);
});
client.on("serverInfo", () => (out.protocol = ws.protocol));
let called = false;
client.on("advertiseServices", (services) => {
  for (const service of services) out.services.push(service.name);
  const service = services.find((s) => s.name === serviceName);
  if (service === undefined || called) return;
  called = true;
  const data = new TextEncoder().encode(requestJson);
  client.sendServiceCallRequest({ serviceId: service.id, callId: 1, encoding: "json", data });
});
client.on("serviceCallResponse", ({ data }) => {
  out.response = JSON.parse(new TextDecoder().decode(data));
  finish(0);
});
client.on("serviceCallFailure", ({ message }) => {
  out.failure = message;
  finish(0);
});
