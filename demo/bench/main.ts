// The benchmark page: one button runs `webmoe bench`'s cases on this browser's WebGPU adapter, then
// (where the build has them) the peer libraries' cases on the same device, as `webmoe bench --peers`,
// then the bundled model's generation speed and its expert-cache budget curve, and shows a table,
// charts, a text summary and the JSON (the same shape as the Node command writes, so runs compare
// field by field).
import { missing as missingPeers, loadPeers, versions as peerVersions } from 'virtual:webmoe-bench-peers';
import { type BenchRecord, runBenchmarks } from '../../src/bench/cases.js';
import type { ExpertCacheBenchRow } from '../../src/bench/expertCache.js';
import { benchModel, copyBandwidth, type ModelBenchRecord, modelBenchSize } from '../../src/bench/model.js';
import { type PeerModule, PEERS_INSTALL, runPeerGemms, runPeerMoE } from '../../src/bench/peers.js';
import { benchReport, type BenchReport } from '../../src/bench/report.js';
import { createDevice, loadModel, type WeightDType } from '../../src/index.js';
import { tileChoices } from '../../src/kernels/tiles.js';
import { tileTrials } from '../../src/moe/tune.js';
import { checkLimits, isSoftwareAdapter, requestAdapter } from '../common/gpu.js';
import { byId, errorText, setStatus } from '../common/status.js';
import { BUNDLED_MODEL } from '../common/bundled.js';
import { describeDevice, renderDevice } from './device.js';
import { measureExpertCache, renderExpertCache, showExpertCache } from './expertCache.js';
import { renderCharts, renderModels, renderRatios, renderRecords } from './results.js';
import { summary } from './summary.js';

const status = byId('status');
const run = byId<HTMLButtonElement>('run');
const preset = byId<HTMLSelectElement>('preset');
const dtypeSelect = byId<HTMLSelectElement>('dtype');
const peersBox = byId<HTMLInputElement>('peers');
const peerNotes = byId<HTMLUListElement>('peer-notes');
const results = byId<HTMLTableElement>('results');
const download = byId<HTMLAnchorElement>('download');
const summaryText = byId<HTMLTextAreaElement>('summary');
const copy = byId<HTMLButtonElement>('copy-summary');

const showDevice = (d: ReturnType<typeof describeDevice>, source: string) => renderDevice(d, source, byId('device'), byId<HTMLTableElement>('limits'));

async function showAdapter(): Promise<GPUAdapter> {
  const adapter = await requestAdapter();
  showDevice(describeDevice(adapter, isSoftwareAdapter(adapter)), 'the adapter this browser offers (a run shows its device)');
  return adapter;
}

/** Each peer's cases on `device`, one peer at a time: a peer that fails is named, the others still count. */
async function runPeers(device: GPUDevice, o: { quick: boolean; runs: number; dtype: WeightDType; onRecord: (r: BenchRecord) => void }): Promise<string[]> {
  setStatus(status, 'Loading the peer libraries (tfjs, onnxruntime-web)…');
  let peers: PeerModule[];
  try {
    peers = await loadPeers!();
  } catch (err) {
    return [`the peer libraries did not load (${errorText(err)})`];
  }
  const failed: string[] = [];
  for (const peer of peers) {
    try {
      setStatus(status, `Running ${peer.name} on the same device…`);
      await runPeerGemms(device, [peer], o);
      await runPeerMoE(device, [peer], o);
    } catch (err) {
      failed.push(`${peer.name}: ${errorText(err)}`);
    }
  }
  return failed;
}

async function benchmark(): Promise<void> {
  const quick = preset.value === 'quick';
  const dtype = dtypeSelect.value as WeightDType;
  const runs = quick ? 1 : 5;
  const withPeers = peersBox.checked;
  const t0 = performance.now();
  const software = isSoftwareAdapter(checkLimits(await showAdapter()));
  const device = await createDevice();
  try {
    // The device the cases run on, whichever adapter it came from.
    const d = describeDevice(device, software);
    showDevice(d, 'the device this run used');
    const records: BenchRecord[] = [];
    results.innerHTML = '';
    for (const id of ['ratios', 'model', 'expert-cache']) byId<HTMLTableElement>(id).innerHTML = '';
    byId('charts').replaceChildren();
    peerNotes.replaceChildren();
    const onRecord = (r: BenchRecord) => {
      records.push(r);
      renderRecords(results, records);
      setStatus(status, `Measured ${r.name} ${r.shape}…`);
    };
    setStatus(status, `Running the ${quick ? 'quick' : 'full'} cases (${dtype} weights, ${runs} run${runs > 1 ? 's' : ''} each)…`);
    await runBenchmarks(device, { quick, runs, dtype, onRecord });
    const failed = withPeers ? await runPeers(device, { quick, runs, dtype, onRecord }) : [];
    showPeerNotes(failed);

    setStatus(status, 'Loading and timing the bundled model…');
    const model = await benchModel(() => loadModel(BUNDLED_MODEL, { device, dtype }), { dtype, ...modelBenchSize(quick),
      bandwidthBytesPerSecond: copyBandwidth(records) });

    setStatus(status, 'Timing the bundled model through the expert cache at each budget…');
    const expertRows: ExpertCacheBenchRow[] = [];
    const expertCache = await measureExpertCache(device, BUNDLED_MODEL, { dtype, quick, onRow: (r) => {
      expertRows.push(r);
      setStatus(status, `Measured the expert cache at ${r.perLayer} of ${r.experts} experts a layer, prefetch ${r.prefetch ? 'on' : 'off'}…`);
      renderExpertCache(byId<HTMLTableElement>('expert-cache'), expertRows);
    } });

    const report = benchReport(d.adapter, { dtype, quick }, records, {
      model,
      environment: {
        userAgent: navigator.userAgent,
        runtime: 'browser',
        info: d.info,
        features: d.features,
        limits: d.limits,
        tiles: { chosen: tileChoices(device), timed: tileTrials(device) },
        ...(withPeers && { peers: { versions: peerVersions, failed } }),
      },
      expertCache,
    });
    show(report);
    setStatus(status, `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s${failed.length ? `; ${failed.length} peer(s) failed, see below` : ''}.`);
    document.body.dataset.state = 'done';
  } finally {
    device.destroy();
  }
}

/** Peers whose run failed (an output off the reference, a peer that cannot start here): not counted. */
function showPeerNotes(failed: string[]): void {
  peerNotes.replaceChildren(...failed.map((f) => {
    const li = document.createElement('li');
    li.textContent = `Not counted: ${f}`;
    return li;
  }));
}

/** A report's tables, charts, summary and JSON: this page's run, or a saved one. */
function show(report: BenchReport): void {
  const models = [report.model, report.synthetic].filter((m): m is ModelBenchRecord => m !== undefined);
  renderRecords(results, report.records);
  renderRatios(byId<HTMLTableElement>('ratios'), report.ratios);
  renderModels(byId<HTMLTableElement>('model'), models);
  renderCharts(byId('charts'), report.records, report.ratios, models[0]);
  showExpertCache(byId<HTMLTableElement>('expert-cache'), byId('charts'), report.expertCache);
  summaryText.value = summary(report);
  summaryText.rows = summaryText.value.split('\n').length;
  byId('share').hidden = false;
  const json = JSON.stringify(report, null, 2);
  byId('json').textContent = json;
  if (download.href) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  download.download = `webmoe-bench-${report.date.slice(0, 19).replace(/:/g, '-')}.json`;
}

copy.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(summaryText.value);
    setStatus(status, 'The summary is on the clipboard.');
  } catch {
    // No clipboard permission (an insecure page, a denied prompt): select it for the user to copy.
    summaryText.select();
    setStatus(status, 'The summary is selected: copy it with Ctrl+C (⌘C).');
  }
});

byId<HTMLInputElement>('report-file').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const report = JSON.parse(await file.text()) as BenchReport;
    if (!Array.isArray(report.records) || typeof report.ratios !== 'object' || report.ratios === null) {
      throw new Error('it has no records and ratios: not a webmoe bench report');
    }
    show(report);
    setStatus(status, `Showing ${file.name}: ${report.adapter}, ${report.date}, ${report.dtype} weights.`);
  } catch (err) {
    setStatus(status, `Cannot show ${file.name}: ${errorText(err)}`, 'error');
  }
});

byId<HTMLFormElement>('bench-form').addEventListener('submit', (e) => {
  e.preventDefault();
  run.disabled = true;
  document.body.dataset.state = 'running';
  benchmark().catch((err) => {
    setStatus(status, `The benchmark failed: ${errorText(err)}`, 'error');
    document.body.dataset.state = 'failed';
  }).finally(() => {
    run.disabled = false;
  });
});

// A build without the peers (bench/peers/ not installed) says how to get them.
if (!loadPeers) {
  peersBox.checked = false;
  peersBox.disabled = true;
  byId('peers-note').textContent = `Not in this build (it lacks ${missingPeers.join(', ')}): ${PEERS_INSTALL}, then build the page again.`;
}

showAdapter().then(
  (adapter) => {
    if (isSoftwareAdapter(adapter)) {
      preset.value = 'quick';
      setStatus(status, 'A software adapter: the quick preset is selected.');
    } else {
      preset.value = 'full';
    }
  },
  (err) => {
    setStatus(status, errorText(err), 'error');
    run.disabled = true;
  },
);
