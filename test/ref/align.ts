// Reference alignment: slots sorted by expert (stable), each expert's run padded to `rows`.
export const NONE = 0xffffffff;

export function refAlign(ids: ArrayLike<number>, experts: number, rows: number, maxBlocks: number) {
  const sorted = new Array<number>(maxBlocks * rows).fill(NONE);
  const blockExpert = new Array<number>(maxBlocks).fill(NONE);
  let row = 0;
  for (let e = 0; e < experts; e++) {
    const slots = [...Array(ids.length).keys()].filter((s) => ids[s] === e);
    slots.forEach((s, i) => {
      sorted[row + i] = s;
    });
    const blocks = Math.ceil(slots.length / rows);
    for (let b = 0; b < blocks; b++) blockExpert[row / rows + b] = e;
    row += blocks * rows;
  }
  return { sorted, blockExpert };
}
