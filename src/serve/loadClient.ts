// The second process of `webmoe serve-bench` (forked, built beside the CLI as serve-load-client.js):
// it gets the server's URL, the requests and the concurrencies, runs the load test and sends back
// its rows, so that the client's work never shares an event loop with the server's.
import { type LoadTestOptions, loadTest } from './load.js';

export interface LoadJob {
  options: LoadTestOptions;
  concurrencies: number[];
}

process.once('message', (job: LoadJob) => {
  loadTest(job.options, job.concurrencies).then(
    (result) => process.send!({ result }, () => process.disconnect()),
    (e: unknown) => process.send!({ error: e instanceof Error ? e.message : String(e) }, () => process.disconnect()),
  );
});
