// The virtual module of peerPlugin.ts.
declare module 'virtual:webmoe-bench-peers' {
  import type { PeerModule } from '../../src/bench/peers.js';
  /** The peer packages this build was made without (then loadPeers is undefined). */
  export const missing: string[];
  /** The installed peer packages' versions, by name. */
  export const versions: Record<string, string>;
  export const loadPeers: (() => Promise<PeerModule[]>) | undefined;
}
