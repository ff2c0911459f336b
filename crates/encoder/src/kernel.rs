//! The matrix product of a few rows (one sentence's tokens) by a weight
//! matrix, which is nearly all of the encoder's time. For a sentence of a
//! dozen tokens that time is reading the weights: a 3-token question took
//! 6.8 ms with f32 weights (42 MB, more than the CPU's cache). So weights
//! are kept as 8-bit integers with one scale per group of 32 (`Matrix`),
//! and each block of four weight rows is widened to f32 once per call into
//! a buffer that stays in L1 while every token uses it. Blocks of four
//! weight rows by two token rows keep eight 8-lane sums in flight, enough
//! to hide the multiply-add's latency. Compiled for each instruction set
//! `pulp` knows (AVX2 and FMA, AVX-512) and chosen at run time.

/// How the weights are stored, in the encoder's fingerprint: a KB
/// snapshot trained on vectors from other numerics is not reused.
pub(crate) const NUMERICS: &str = "i8, a scale per 32";

/// Weights per scale: 9 bits a weight, half of bfloat16's 16. Each weight
/// is off by at most 1/254 of its group's largest, so one large weight
/// coarsens 31 others, not a whole row. Against bfloat16 the quality
/// figures and the reference vectors did not move (docs/performance.md).
pub(crate) const GROUP: usize = 32;

/// A weight matrix `(outputs, inputs)`, row-major, as 8-bit integers and
/// one f32 scale per `GROUP` of a row (a row's last group may be shorter).
pub(crate) struct Matrix {
    values: Vec<i8>,
    scales: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Matrix {
    /// `w` is `(outputs, inputs)`, row-major. Each group's largest weight
    /// becomes ±127: symmetric, so 0 stays exactly 0.
    pub(crate) fn quantize(w: &[f32], inputs: usize) -> Self {
        let outputs = w.len() / inputs;
        let per_row = inputs.div_ceil(GROUP);
        let mut values = Vec::with_capacity(w.len());
        let mut scales = Vec::with_capacity(outputs * per_row);
        for row in w.chunks_exact(inputs) {
            for group in row.chunks(GROUP) {
                let max = group.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let scale = if max > 0.0 && max.is_finite() {
                    max / 127.0
                } else {
                    1.0
                };
                scales.push(scale);
                values.extend(
                    group
                        .iter()
                        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8),
                );
            }
        }
        Self {
            values,
            scales,
            inputs,
            outputs,
        }
    }

    /// Rows `from..from + block.len() / inputs`, widened into `block`.
    #[inline(always)]
    fn widen_rows(&self, from: usize, block: &mut [f32]) {
        let per_row = self.inputs.div_ceil(GROUP);
        for (r, out) in block.chunks_exact_mut(self.inputs).enumerate() {
            let row = from + r;
            let values = &self.values[row * self.inputs..(row + 1) * self.inputs];
            let scales = &self.scales[row * per_row..(row + 1) * per_row];
            for ((o, v), &s) in out.chunks_mut(GROUP).zip(values.chunks(GROUP)).zip(scales) {
                for (o, &v) in o.iter_mut().zip(v) {
                    *o = f32::from(v) * s;
                }
            }
        }
    }

    /// The weight at `(row, col)`, widened.
    #[cfg(test)]
    fn at(&self, row: usize, col: usize) -> f32 {
        let per_row = self.inputs.div_ceil(GROUP);
        f32::from(self.values[row * self.inputs + col]) * self.scales[row * per_row + col / GROUP]
    }

    /// Bytes held: what the layers cost the process.
    pub(crate) fn bytes(&self) -> usize {
        self.values.len() + self.scales.len() * 4
    }
}

const LANES: usize = 8;
/// Weight rows per block.
const ROWS: usize = 4;

/// `out = x W^T + b`: `x` is `(rows, inputs)`, `w` `(outputs, inputs)`.
pub(crate) fn linear(x: &[f32], w: &Matrix, b: &[f32], out: &mut Vec<f32>) {
    let rows = x.len() / w.inputs;
    out.clear();
    out.resize(rows * b.len(), 0.0);
    let arch = pulp::Arch::new();
    if fused() {
        arch.dispatch(Product::<true> { x, w, b, out });
    } else {
        arch.dispatch(Product::<false> { x, w, b, out });
    }
}

/// Whether `mul_add` is one instruction here (otherwise a library call,
/// far slower than a multiply and an add).
fn fused() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(target_arch = "aarch64")]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The call, as pulp takes it: a struct whose `with_simd` is inlined into
/// the function compiled for the instruction set (a closure's body would
/// not be, and would be compiled for the baseline CPU).
struct Product<'a, const FUSED: bool> {
    x: &'a [f32],
    w: &'a Matrix,
    b: &'a [f32],
    out: &'a mut [f32],
}

impl<const FUSED: bool> pulp::WithSimd for Product<'_, FUSED> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        product::<FUSED>(self.x, self.w, self.b, self.out);
    }
}

#[inline(always)]
fn madd<const FUSED: bool>(acc: &mut [f32; LANES], x: &[f32], w: &[f32]) {
    for l in 0..LANES {
        acc[l] = if FUSED {
            x[l].mul_add(w[l], acc[l])
        } else {
            acc[l] + x[l] * w[l]
        };
    }
}

#[inline(always)]
fn product<const FUSED: bool>(x: &[f32], w: &Matrix, b: &[f32], out: &mut [f32]) {
    let inputs = w.inputs;
    let outputs = w.outputs;
    let rows = x.len() / inputs;
    let chunks = inputs / LANES;
    let tail = chunks * LANES;
    let mut block = vec![0.0f32; ROWS * inputs];
    let mut j = 0;
    while j < outputs {
        let take = (outputs - j).min(ROWS);
        w.widen_rows(j, &mut block[..take * inputs]);
        // A short last block repeats its last row; only `take` are kept.
        let wr: [&[f32]; ROWS] = std::array::from_fn(|r| {
            let row = r.min(take - 1);
            &block[row * inputs..(row + 1) * inputs]
        });
        let mut i = 0;
        while i < rows {
            let pair = (rows - i).min(2);
            let x0 = &x[i * inputs..(i + 1) * inputs];
            let x1 = &x[(i + pair - 1) * inputs..(i + pair) * inputs];
            let mut a0 = [[0.0f32; LANES]; ROWS];
            let mut a1 = [[0.0f32; LANES]; ROWS];
            for c in 0..chunks {
                let span = c * LANES..(c + 1) * LANES;
                let (xs0, xs1) = (&x0[span.clone()], &x1[span.clone()]);
                for r in 0..ROWS {
                    let ws = &wr[r][span.clone()];
                    madd::<FUSED>(&mut a0[r], xs0, ws);
                    madd::<FUSED>(&mut a1[r], xs1, ws);
                }
            }
            for r in 0..take {
                for (p, (acc, xr)) in [(&a0[r], x0), (&a1[r], x1)].into_iter().enumerate() {
                    if p >= pair {
                        break;
                    }
                    let mut sum: f32 = acc.iter().sum();
                    for k in tail..inputs {
                        sum += xr[k] * wr[r][k];
                    }
                    out[(i + p) * outputs + j + r] = sum + b[j + r];
                }
            }
            i += pair;
        }
        j += take;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every weight within half a step of its group's scale, zeros exact,
    /// and a large weight in one group leaves the next group's fine.
    #[test]
    fn quantizing_keeps_each_group_to_its_own_scale() {
        let inputs = 70; // two full groups and a short one
        let mut w: Vec<f32> = (0..2 * inputs)
            .map(|i| (i as f32 * 0.3).sin() * 0.05)
            .collect();
        w[5] = 4.0; // an outlier in row 0's first group
        w[inputs + 3] = 0.0;
        let m = Matrix::quantize(&w, inputs);
        assert_eq!(m.bytes(), 2 * inputs + 2 * 3 * 4);
        for row in 0..2 {
            for col in 0..inputs {
                let v = w[row * inputs + col];
                let group = &w[row * inputs + col / GROUP * GROUP..]
                    [..GROUP.min(inputs - col / GROUP * GROUP)];
                let step = group.iter().fold(0.0f32, |a, b| a.max(b.abs())) / 127.0;
                let got = m.at(row, col);
                assert!(
                    (got - v).abs() <= step / 2.0 + 1e-7,
                    "({row}, {col}): {got} for {v}"
                );
            }
        }
        assert_eq!(m.at(1, 3), 0.0);
        // Row 0's second group is as fine as if there were no outlier.
        assert!((m.at(0, 40) - w[40]).abs() <= 0.05 / 254.0 + 1e-7);
    }

    /// Against the textbook triple loop over the widened weights, on sizes
    /// that are not multiples of the lanes, of a group, of the weight rows
    /// per block or of the token pairs.
    #[test]
    fn matches_the_plain_product() {
        for (rows, inputs, outputs) in [(3, 21, 7), (1, 8, 1), (4, 40, 9), (5, 3, 5), (2, 100, 6)] {
            let x: Vec<f32> = (0..rows * inputs)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let w: Vec<f32> = (0..outputs * inputs)
                .map(|i| (i as f32 * 0.11).cos())
                .collect();
            let m = Matrix::quantize(&w, inputs);
            let b: Vec<f32> = (0..outputs).map(|i| i as f32 * 0.5).collect();
            let mut got = Vec::new();
            linear(&x, &m, &b, &mut got);
            let mut plain = vec![0.0; rows * outputs];
            product::<false>(&x, &m, &b, &mut plain);
            for i in 0..rows {
                for j in 0..outputs {
                    let want: f32 = b[j]
                        + (0..inputs)
                            .map(|k| x[i * inputs + k] * m.at(j, k))
                            .sum::<f32>();
                    for v in [got[i * outputs + j], plain[i * outputs + j]] {
                        assert!((v - want).abs() < 1e-4, "{v} against {want}");
                    }
                }
            }
        }
    }
}
