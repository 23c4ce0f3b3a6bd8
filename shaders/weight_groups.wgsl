// Group-wise integer weights (the q8 and q4 formats: src/weights/formats/groups.ts): a row is
// ceil(K/32) groups of 32 inputs, BITS data words each (32/BITS signed values a word, little end
// first), then one f16 scale per group, two a u32 word; weight = q · scale, exact in f32.
// Joined with a format's prelude (weight_q8/q4.wgsl), which sets BITS and defines weights8(), before
// a kernel that declares `w: array<u32>` (its weight binding) and `p.K` (inputs a row).

// The first word of row r.
fn groupRow(r: u32) -> u32 {
  let groups = (p.K + 31u) / 32u;
  return r * (groups * BITS + (groups + 1u) / 2u);
}

// The scale of the group of input k, in the row that starts at word `row`.
fn groupScale(row: u32, k: u32) -> f32 {
  let g = k / 32u;
  return unpack2x16float(w[row + (p.K + 31u) / 32u * BITS + (g >> 1u)])[g & 1u];
}

fn weight(r: u32, k: u32) -> f32 {
  let row = groupRow(r);
  let per = 32u / BITS;  // values a word
  let q = extractBits(bitcast<i32>(w[row + k / per]), (k % per) * BITS, BITS);  // sign-extended
  return f32(q) * groupScale(row, k);
}
