import { Rng } from "../../src/random";
import { DotKernel, Int8DotKernel } from "../../src/serving/dots";

describe("SIMD dot-product kernel", () => {
  it.each([3, 8, 16, 80, 81])("equals the dot products computed in JavaScript (dim %i)", (dim) => {
    const rng = new Rng(dim);
    const n = 257;
    const rows = Float32Array.from({ length: n * dim }, () => rng.normal());
    const q = Float64Array.from({ length: dim }, () => rng.normal());
    const kernel = DotKernel.create(rows, n, dim);
    expect(kernel).not.toBeNull(); // Node has WebAssembly SIMD
    kernel!.setQuery(q);
    kernel!.out.fill(-1);
    kernel!.scan(10, 200);
    for (let i = 0; i < n; i++) {
      let want = 0;
      for (let j = 0; j < dim; j++) want += rows[i * dim + j] * Math.fround(q[j]);
      if (i < 10 || i >= 200) expect(kernel!.out[i]).toBe(-1);
      else expect(kernel!.out[i]).toBeCloseTo(want, 4);
    }
  });

  it.each([3, 16, 80, 81, 600])("int8 codes give dot products within the quantisation's bound (dim %i)", (dim) => {
    const rng = new Rng(dim + 1);
    const n = 203;
    const rows = Float32Array.from({ length: n * dim }, (_, i) => rng.normal() * (1 + (i % dim) / 10) + (i % 3));
    const q = Float64Array.from({ length: dim }, () => rng.normal() * 3);
    const kernel = Int8DotKernel.create(rows, n, dim)!;
    expect(kernel).not.toBeNull();
    kernel.setQuery(q);
    kernel.out.fill(-12345);
    kernel.scan(7, 150);
    // each coordinate is off by at most half a step: |error| <= sum_j |q_j| (range_j / 254) / 2, plus the int16 rounding of q_j s_j
    let bound = 0;
    for (let j = 0; j < dim; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) [lo, hi] = [Math.min(lo, rows[i * dim + j]), Math.max(hi, rows[i * dim + j])];
      bound += (Math.abs(q[j]) * (hi - lo)) / 254 / 2;
    }
    bound *= 1.01;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      if (i < 7 || i >= 150) {
        expect(kernel.out[i]).toBe(-12345);
        continue;
      }
      let want = 0;
      for (let j = 0; j < dim; j++) want += rows[i * dim + j] * q[j];
      worst = Math.max(worst, Math.abs(kernel.dot(i) - want));
    }
    expect(worst).toBeLessThanOrEqual(bound);
    expect(worst).toBeGreaterThan(0); // it is an approximation, and the test can tell
  });

  it("can be turned off (RUBATO_SIMD_DOTS=0), for the JavaScript fallback", () => {
    process.env.RUBATO_SIMD_DOTS = "0";
    try {
      expect(DotKernel.create(new Float32Array(16), 2, 8)).toBeNull();
      expect(Int8DotKernel.create(new Float32Array(16), 2, 8)).toBeNull();
    } finally {
      delete process.env.RUBATO_SIMD_DOTS;
    }
  });
});
