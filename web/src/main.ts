import { shardOf } from "./shard";

document.getElementById("app")!.textContent = `shard of "hello": ${shardOf("hello", 1024)}`;
