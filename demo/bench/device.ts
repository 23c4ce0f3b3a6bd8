// The adapter, as the benchmark page shows it and records it: info, limits, features. After a run,
// those of the device the run used (webmoe's createDevice picks its own adapter), as `webmoe bench` records.
import { adapterName, gpuEnvironment } from '../../src/bench/report.js';

export interface DeviceDescription {
  adapter: string;
  software: boolean;
  info: Record<string, string | boolean>;
  features: string[];
  limits: Record<string, number>;
}

/** An adapter (before a run) or the device a run used (its adapter's info, its features and limits). */
export function describeDevice(gpu: GPUAdapter | GPUDevice, software: boolean): DeviceDescription {
  return { adapter: adapterName('info' in gpu ? gpu.info : gpu.adapterInfo), software, ...gpuEnvironment(gpu) };
}

/** `source` says which: the adapter the browser offers, or the device a run used. */
export function renderDevice(d: DeviceDescription, source: string, list: HTMLElement, limits: HTMLTableElement): void {
  const rows: [string, string][] = [
    ['adapter', d.adapter + (d.software ? ' (software)' : '')],
    ['shown', source],
    ...Object.entries(d.info).map(([k, v]): [string, string] => [k, String(v)]),
    ['features', d.features.join(', ') || 'none'],
    ['browser', navigator.userAgent],
  ];
  list.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
  limits.innerHTML = '<thead><tr><th scope="col">limit</th><th scope="col">value</th></tr></thead>';
  const body = limits.createTBody();
  for (const [k, v] of Object.entries(d.limits).sort()) {
    const tr = body.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v.toLocaleString('en');
  }
}
