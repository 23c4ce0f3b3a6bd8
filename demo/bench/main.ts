// The benchmark page: one button runs `webmoe bench`'s cases on this browser's WebGPU adapter, then
// the bundled model's generation speed, and shows a table, charts and the JSON (the same shape as the
// Node command writes, so runs compare field by field).
import { type BenchRecord, runBenchmarks } from '../../src/bench/cases.js';
import { benchModel, copyBandwidth, type ModelBenchRecord, modelBenchSize } from '../../src/bench/model.js';
import { benchReport, type BenchReport } from '../../src/bench/report.js';
import { createDevice, loadModel, type WeightDType } from '../../src/index.js';
import { tileChoices } from '../../src/kernels/tiles.js';
import { tileTrials } from '../../src/moe/tune.js';
import { checkLimits, isSoftwareAdapter, requestAdapter } from '../common/gpu.js';
import { byId, errorText, setStatus } from '../common/status.js';
import { BUNDLED_MODEL } from '../common/bundled.js';
import { describeDevice, renderDevice } from './device.js';
import { renderCharts, renderModels, renderRatios, renderRecords } from './results.js';

const status = byId('status');
const run = byId<HTMLButtonElement>('run');
const preset = byId<HTMLSelectElement>('preset');
const dtypeSelect = byId<HTMLSelectElement>('dtype');
const results = byId<HTMLTableElement>('results');
const download = byId<HTMLAnchorElement>('download');

async function showAdapter(): Promise<GPUAdapter> {
  const adapter = await requestAdapter();
  const software = isSoftwareAdapter(adapter);
  renderDevice(describeDevice(adapter, software), byId('device'), byId<HTMLTableElement>('limits'));
  return adapter;
}

async function benchmark(): Promise<void> {
  const quick = preset.value === 'quick';
  const dtype = dtypeSelect.value as WeightDType;
  const runs = quick ? 1 : 5;
  const t0 = performance.now();
  const adapter = checkLimits(await showAdapter());
  const device = await createDevice();
  try {
    const records: BenchRecord[] = [];
    results.innerHTML = '';
    for (const id of ['ratios', 'model']) byId<HTMLTableElement>(id).innerHTML = '';
    byId('charts').replaceChildren();
    const onRecord = (r: BenchRecord) => {
      records.push(r);
      renderRecords(results, records);
      setStatus(status, `Measured ${r.name} ${r.shape}…`);
    };
    setStatus(status, `Running the ${quick ? 'quick' : 'full'} cases (${dtype} weights, ${runs} run${runs > 1 ? 's' : ''} each)…`);
    await runBenchmarks(device, { quick, runs, dtype, onRecord });

    setStatus(status, 'Loading and timing the bundled model…');
    const model = await benchModel(() => loadModel(BUNDLED_MODEL, { device, dtype }), { dtype, ...modelBenchSize(quick),
      bandwidthBytesPerSecond: copyBandwidth(records) });

    const d = describeDevice(adapter, isSoftwareAdapter(adapter));
    const report = benchReport(d.adapter, { dtype, quick }, records, {
      model,
      environment: {
        userAgent: navigator.userAgent,
        runtime: 'browser',
        info: d.info,
        features: d.features,
        limits: d.limits,
        tiles: { chosen: tileChoices(device), timed: tileTrials(device) },
      },
    });
    show(report);
    setStatus(status, `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    document.body.dataset.state = 'done';
  } finally {
    device.destroy();
  }
}

/** A report's tables, charts and JSON: this page's run, or a saved one (`webmoe bench --peers` in Node). */
function show(report: BenchReport): void {
  const models = [report.model, report.synthetic].filter((m): m is ModelBenchRecord => m !== undefined);
  renderRecords(results, report.records);
  renderRatios(byId<HTMLTableElement>('ratios'), report.ratios);
  renderModels(byId<HTMLTableElement>('model'), models);
  renderCharts(byId('charts'), report.records, report.ratios, models[0]);
  const json = JSON.stringify(report, null, 2);
  byId('json').textContent = json;
  if (download.href) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  download.hidden = false;
}

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
