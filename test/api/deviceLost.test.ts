// A lost GPU device (here destroyed, which Dawn reports as a loss with reason 'destroyed'; a driver
// reset gives 'unknown') ends the engine with DeviceLostError: the call running and every later call
// throw it, and a new engine loads on a new device.
import { expect, it } from 'vitest';
import { DeviceLostError, Engine } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { testDevice } from '../helpers/gpu.js';
import { golden, modelDir } from '../helpers/models.js';
import { relativeError } from '../../src/moe/reference.js';

const load = (device: GPUDevice) => Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64 });

it('a device lost mid-generation: DeviceLostError now and after, and a new engine loads', async () => {
  const device = await testDevice();
  const engine = await load(device);
  const it = engine.generate({ tokens: [1, 2, 3] }, { maxTokens: 20 });
  await it.next();
  device.destroy();
  await expect(it.next()).rejects.toThrow(DeviceLostError);
  await expect(engine.logits([1, 2])).rejects.toThrow(/GPU device was destroyed .*load the model again on a new device/);
  await expect(engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] })).rejects.toThrow(DeviceLostError);
  expect(() => engine.encode({ tokens: [1] })).toThrow(DeviceLostError);
  engine.dispose(); // after the loss: nothing to do, no error

  const g = golden('mixtral');
  const again = await load(await testDevice());
  const logits = await again.logits(g.tokens);
  logits.forEach((row, t) => expect(relativeError(row, g.logits[t])).toBeLessThan(1e-4));
  again.dispose();
});

it('a device lost while idle: the next call throws DeviceLostError', async () => {
  const device = await testDevice();
  const engine = await load(device);
  device.destroy();
  await new Promise((r) => setTimeout(r, 0));
  const e = await engine.logits([1, 2]).catch((e: unknown) => e);
  expect(e).toBeInstanceOf(DeviceLostError);
  expect((e as DeviceLostError).reason).toBe('destroyed');
});
