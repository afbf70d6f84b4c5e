//! Property tests: the checksum equals a textbook RFC 1071 reference for random lengths up to
//! 256 KiB, random alignments and random scatter-list chunkings.

use netkvm_core::checksum::{self, Checksum};
use proptest::prelude::*;

/// Textbook RFC 1071: big-endian words in a u64, folded at the end.
fn naive_sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for c in data.chunks(2) {
        acc += u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0));
    }
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

fn data(len: usize, seed: u64, dense_ff: bool) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if dense_ff && !x.is_multiple_of(4) {
                0xFF
            } else {
                x as u8
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn checksum_equals_reference_for_any_length_and_alignment(
        len in 0usize..=256 * 1024, align in 0usize..8, seed: u64, ff: bool,
    ) {
        let buf = data(len + align, seed, ff);
        let d = &buf[align..];
        prop_assert_eq!(checksum::sum(d), naive_sum(d));
    }

    #[test]
    fn checksum_incremental_over_random_chunks_equals_reference(
        len in 0usize..=256 * 1024, seed: u64, cuts in proptest::collection::vec(0usize..=256 * 1024, 0..24),
    ) {
        let d = data(len, seed, false);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
        cuts.sort_unstable();
        let mut c = Checksum::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([len]) {
            c.add_bytes(&d[at..cut]);
            at = cut;
        }
        prop_assert_eq!(c.sum(), naive_sum(&d));
    }

    #[test]
    fn checksum_combine_of_partial_sums_at_any_offset(len in 0usize..=70_000, at in 0usize..=70_000, seed: u64) {
        let d = data(len, seed, false);
        let at = at.min(len);
        let got = checksum::combine(checksum::sum(&d[..at]), checksum::sum(&d[at..]), at);
        prop_assert_eq!(got, naive_sum(&d));
    }

    #[test]
    fn checksum_fused_copy_over_random_chunks(len in 0usize..=70_000, seed: u64, cuts in proptest::collection::vec(0usize..=70_000, 0..8)) {
        let src = data(len, seed, false);
        let mut dst = vec![0u8; len];
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
        cuts.sort_unstable();
        let mut c = Checksum::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([len]) {
            prop_assert_eq!(c.copy_and_add(&mut dst[at..cut], &src[at..cut]), cut - at);
            at = cut;
        }
        prop_assert_eq!(&dst, &src);
        prop_assert_eq!(c.sum(), naive_sum(&src));
    }

    #[test]
    fn checksum_rfc1624_update_matches_recompute(len in 2usize..2000, pos in 0usize..1000, new: u16, seed: u64) {
        let mut d = data(len & !1, seed, false);
        let pos = (pos.min(d.len() - 2)) & !1;
        let before = !naive_sum(&d);
        let old = u16::from_be_bytes([d[pos], d[pos + 1]]);
        d[pos..pos + 2].copy_from_slice(&new.to_be_bytes());
        let after = !naive_sum(&d);
        let upd = checksum::update16(before, old, new);
        // RFC 1624: equal as one's-complement numbers (0x0000 and 0xFFFF both mean zero).
        prop_assert!(upd == after || (upd | after) == 0xFFFF && (upd & after) == 0, "{upd:#x} vs {after:#x}");
    }
}

#[test]
fn checksum_4mib_of_ff_crosses_lane_fold_groups() {
    let d = vec![0xFFu8; 4 * 1024 * 1024 + 3];
    assert_eq!(checksum::sum(&d), naive_sum(&d));
}
