//! The matrix product of a few rows (one sentence's tokens) by a weight
//! matrix, which is nearly all of the encoder's time. For a sentence of a
//! dozen tokens that time is reading the weights: a 3-token question took
//! 6.8 ms with f32 weights (42 MB, more than the CPU's cache). So weights
//! are kept as bfloat16 (21 MB: f32's top half, rounded), and each block of
//! four weight rows is widened to f32 once per call (a shift; f16's
//! conversion took half the time) into a buffer that stays in L1 while
//! every token uses it. Blocks of four weight rows by two token rows keep eight 8-lane
//! sums in flight, enough to hide the multiply-add's latency. Compiled for
//! each instruction set `pulp` knows (AVX2 and FMA, AVX-512) and chosen at
//! run time.

/// An f32 rounded to its top 16 bits (bfloat16), to nearest even.
pub(crate) fn bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    if v.is_nan() {
        return (bits >> 16) as u16 | 0x40;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

#[inline(always)]
fn widen(v: u16) -> f32 {
    f32::from_bits(u32::from(v) << 16)
}

const LANES: usize = 8;
/// Weight rows per block.
const ROWS: usize = 4;

/// `out = x W^T + b`: `x` is `(rows, inputs)`, `w` `(outputs, inputs)`.
pub(crate) fn linear(x: &[f32], inputs: usize, w: &[u16], b: &[f32], out: &mut Vec<f32>) {
    let rows = x.len() / inputs;
    out.clear();
    out.resize(rows * b.len(), 0.0);
    let arch = pulp::Arch::new();
    if fused() {
        arch.dispatch(Product::<true> {
            x,
            inputs,
            w,
            b,
            out,
        });
    } else {
        arch.dispatch(Product::<false> {
            x,
            inputs,
            w,
            b,
            out,
        });
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
    inputs: usize,
    w: &'a [u16],
    b: &'a [f32],
    out: &'a mut [f32],
}

impl<const FUSED: bool> pulp::WithSimd for Product<'_, FUSED> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        product::<FUSED>(self.x, self.inputs, self.w, self.b, self.out);
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
fn product<const FUSED: bool>(x: &[f32], inputs: usize, w: &[u16], b: &[f32], out: &mut [f32]) {
    let outputs = b.len();
    let rows = x.len() / inputs;
    let chunks = inputs / LANES;
    let tail = chunks * LANES;
    let mut block = vec![0.0f32; ROWS * inputs];
    let mut j = 0;
    while j < outputs {
        let take = (outputs - j).min(ROWS);
        for (f, &h) in block.iter_mut().zip(&w[j * inputs..(j + take) * inputs]) {
            *f = widen(h);
        }
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

    #[test]
    fn bfloat16_rounds_to_nearest() {
        for v in [0.0f32, 1.0, -2.5, 3.3, 1e-20, -7.0e10] {
            let back = widen(bf16(v));
            assert!((back - v).abs() <= v.abs() / 256.0, "{v} -> {back}");
        }
        // 1 + 2^-8 lies halfway between two bfloat16s: to the even one.
        assert_eq!(widen(bf16(1.0 + 1.0 / 256.0)), 1.0);
        assert!(widen(bf16(f32::NAN)).is_nan());
    }

    /// Against the textbook triple loop, on sizes that are not multiples
    /// of the lanes, of the weight rows per block or of the token pairs.
    #[test]
    fn matches_the_plain_product() {
        for (rows, inputs, outputs) in [(3, 21, 7), (1, 8, 1), (4, 40, 9), (5, 3, 5)] {
            let x: Vec<f32> = (0..rows * inputs)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let w: Vec<u16> = (0..outputs * inputs)
                .map(|i| bf16((i as f32 * 0.11).cos()))
                .collect();
            let b: Vec<f32> = (0..outputs).map(|i| i as f32 * 0.5).collect();
            let mut got = Vec::new();
            linear(&x, inputs, &w, &b, &mut got);
            let mut plain = vec![0.0; rows * outputs];
            product::<false>(&x, inputs, &w, &b, &mut plain);
            for i in 0..rows {
                for j in 0..outputs {
                    let want: f32 = b[j]
                        + (0..inputs)
                            .map(|k| x[i * inputs + k] * widen(w[j * inputs + k]))
                            .sum::<f32>();
                    for v in [got[i * outputs + j], plain[i * outputs + j]] {
                        assert!((v - want).abs() < 1e-4, "{v} against {want}");
                    }
                }
            }
        }
    }
}
