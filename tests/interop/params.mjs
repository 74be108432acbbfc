// The Parameters panel's requests, with the real @foxglove/ws-protocol client over `ws`: get
// every parameter, then (given NAME and a JSON VALUE) set one and read back the server's answer.
// Prints one JSON object: {"capabilities", "get": [{name, value}], "set": [...] | null, "statuses"}.
//
// usage: node params.mjs URL [NAME JSON_VALUE]
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

const [url, name, valueJson] = process.argv.slice(2);
const ws = new WebSocket(url, ["foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
const out = { capabilities: [], get: null, set: null, statuses: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function finish(code) {
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(code);
}
setTimeout(() => finish(1), 60000);
client.on("error", (error) => out.statuses.push(`client error: ${error}`));
client.on("status", (status) => out.statuses.push(status.message));
client.on("serverInfo", (info) => {
  out.capabilities = info.capabilities;
  client.getParameters([], "get");
});
client.on("parameterValues", async ({ parameters, id }) => {
  if (id === "get") {
    out.get = parameters;
    if (name === undefined) return finish(0);
    client.setParameters([{ name, value: JSON.parse(valueJson) }], "set");
  } else if (id === "set") {
    out.set = parameters;
    await sleep(300); // a status about a refused set comes after the values
    finish(0);
  }
});
