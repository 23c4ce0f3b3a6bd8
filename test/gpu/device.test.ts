import { describe, expect, it } from 'vitest';
import { deviceFrom } from '../../src/gpu/device.js';

describe('device creation', () => {
  it('without an adapter, fails with the install hint instead of skipping', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(deviceFrom(noAdapter, {}, 'install lavapipe')).rejects.toThrow('webmoe: no WebGPU adapter. install lavapipe');
    await expect(deviceFrom(undefined, {}, 'no navigator.gpu')).rejects.toThrow(/no navigator.gpu/);
  });
});
