//! The Internet checksum (RFC 1071): one's-complement sums, incremental updates (RFC 1624),
//! pseudo-headers and a fused copy-and-checksum.
//!
//! # Representation
//! A *sum* is the folded 16-bit one's-complement sum of big-endian 16-bit words — the value
//! the checksum field holds before complementing, as a plain `u16` (write it with
//! `to_be_bytes`). A *checksum* is `!sum`. NDIS and Linux both store the **sum** of the
//! pseudo-header (not complemented) in the TCP/UDP checksum field for offloaded sends
//! (spec §3.3, §4.2; Linux `CHECKSUM_PARTIAL`).
//!
//! # Speed and correctness for any length
//! The bulk loop adds little-endian `u32` words of each 64-byte block into sixteen
//! independent lanes, each as a pair of sums (see `add16`), and widens them into a `u64`
//! every 1 MiB, before any lane can overflow. The one's-complement sum is byte-order
//! independent (RFC 1071 §2(B)), so the little-endian result is byte-swapped once instead of
//! swapping every word. The lanes have no carry chain, so LLVM vectorises the loop with
//! baseline SSE2 (no AVX: kernel code). Software LSO copies and sums in that same loop
//! ([`Checksum::copy_and_add`]). (smoltcp 0.14 sums `u16` words into one
//! `u32` without ever folding and is wrong above 128 KiB; see the
//! `checksum_256k_of_ff_is_correct` test and the 4 MiB property test.)
//!
//! Scatter lists (MDL chains, 4 KiB receive pages) are summed piece by piece with
//! [`Checksum`], which tracks whether the next piece starts at an odd byte offset.

/// Bytes per bulk block: four 16-byte chunks, each summed into its own set of four `u32`
/// lanes (16 lanes in all: independent add chains, one SSE2 register per lane set).
const BLOCK: usize = 64;
/// Blocks per group (512 KiB). Every lane takes one word per block plus at most three words
/// of the tail, so after a group the four lane sets added together still hold, per lane, a
/// high-half sum and a low-half sum below 2^32 ((4 × 8192 + 3) × 0xFFFF < 2^32): the sets
/// are combined in `u32` before widening.
const GROUP: usize = 8192;

/// One lane set: four little-endian `u32` words of a 16-byte chunk.
type Lanes4 = [u32; 4];

/// Adds a 16-byte chunk to a lane set. Per lane, `lo` adds whole `u32` words with
/// wrap-around and `hi` adds their upper halves exactly; the sum of the lower halves is then
/// `lo - (hi << 16)` modulo 2^32, exact while it stays below 2^32 (see [`GROUP`]). Three
/// SSE2 operations per 16 bytes (`paddd`, `psrld`, `paddd`) and no carry chain.
#[inline(always)]
fn add16(lo: &mut Lanes4, hi: &mut Lanes4, chunk: &[u8; 16]) {
    let (words, _) = chunk.as_chunks::<4>();
    for ((l, h), w) in lo.iter_mut().zip(hi.iter_mut()).zip(words) {
        let v = u32::from_le_bytes(*w);
        *l = l.wrapping_add(v);
        *h += v >> 16;
    }
}

/// A block as four 16-byte chunks (values, so the copy below stores what was loaded).
#[inline(always)]
fn chunks(block: &[u8; BLOCK]) -> [[u8; 16]; 4] {
    let mut out = [[0u8; 16]; 4];
    if let (c, []) = block.as_chunks::<16>() {
        for (o, c) in out.iter_mut().zip(c) {
            *o = *c;
        }
    }
    out
}

/// Sixteen lanes: one lane set per chunk of a block.
#[derive(Default)]
struct Lanes {
    lo: [Lanes4; 4],
    hi: [Lanes4; 4],
}

impl Lanes {
    #[inline(always)]
    fn add_block(&mut self, c: &[[u8; 16]; 4]) {
        for ((l, h), c) in self.lo.iter_mut().zip(self.hi.iter_mut()).zip(c) {
            add16(l, h, c);
        }
    }

    /// Sums `blocks` (at most [`GROUP`]).
    #[inline(always)]
    fn add_blocks(&mut self, blocks: &[[u8; BLOCK]]) {
        for b in blocks {
            self.add_block(&chunks(b));
        }
    }

    /// Copies `src` into `dst` (at most [`GROUP`] blocks each) and sums it. Each block is
    /// stored as four separate 16-byte stores on purpose: a loop whose stores have the stride
    /// of their size is turned into a `memcpy` call by LLVM, which then leaves a separate,
    /// slower summing loop.
    #[inline(always)]
    fn copy_blocks(&mut self, dst: &mut [[u8; BLOCK]], src: &[[u8; BLOCK]]) {
        for (d, s) in dst.iter_mut().zip(src) {
            let c = chunks(s);
            if let ([d0, d1, d2, d3], []) = d.as_chunks_mut::<16>() {
                let [c0, c1, c2, c3] = c;
                *d0 = c0;
                *d1 = c1;
                *d2 = c2;
                *d3 = c3;
            }
            self.add_block(&c);
        }
    }

    /// Adds the whole 16-byte chunks of a tail (at most three) to the first lane set.
    #[inline(always)]
    fn add_quads(&mut self, quads: &[[u8; 16]]) {
        let ([lo, ..], [hi, ..]) = (&mut self.lo, &mut self.hi);
        for q in quads {
            add16(lo, hi, q);
        }
    }

    /// The exact sum of everything added (at most [`GROUP`] blocks and a tail).
    #[inline(always)]
    fn total(&self) -> u64 {
        let (mut lo, mut hi) = ([0u32; 4], [0u32; 4]);
        for (l4, h4) in self.lo.iter().zip(&self.hi) {
            for (((l, h), x), y) in lo.iter_mut().zip(hi.iter_mut()).zip(l4).zip(h4) {
                *l = l.wrapping_add(*x);
                *h += *y;
            }
        }
        lanes_total(&lo, &hi)
    }
}

/// Exact sum of one lane set whose per-lane sums are below 2^32.
#[inline(always)]
fn lanes_total(lo: &Lanes4, hi: &Lanes4) -> u64 {
    lo.iter().zip(hi).fold(0, |acc, (l, h)| {
        acc + u64::from(l.wrapping_sub(h << 16)) + u64::from(*h)
    })
}

/// Sum of `data` as little-endian 16-bit words, unfolded (odd tail byte = low byte of a last
/// word, i.e. the high byte in network order after the final swap).
#[inline]
fn sum_le(data: &[u8]) -> u64 {
    if data.len() < BLOCK {
        return sum_short(data);
    }
    sum_blocks(data)
}

/// [`sum_le`] of at least one block. Out of line so that its vectorised shape does not depend
/// on the caller it would be inlined into.
#[inline(never)]
fn sum_blocks(data: &[u8]) -> u64 {
    let (blocks, tail) = data.as_chunks::<BLOCK>();
    let (quads, rest) = tail.as_chunks::<16>();
    // Whole groups are widened one by one; the last (for packets: the only) group shares its
    // lanes with the tail.
    let (groups, last) = blocks
        .split_at_checked(full_groups(blocks.len()))
        .unwrap_or((&[], blocks));
    let mut acc: u64 = 0;
    for group in groups.chunks(GROUP) {
        let mut lanes = Lanes::default();
        lanes.add_blocks(group);
        acc += lanes.total();
    }
    let mut lanes = Lanes::default();
    lanes.add_blocks(last);
    lanes.add_quads(quads);
    acc + lanes.total() + sum_rest(data, rest)
}

/// Blocks in the whole groups before the last, possibly partial, group.
#[inline(always)]
fn full_groups(blocks: usize) -> usize {
    blocks.saturating_sub(1) / GROUP * GROUP
}

/// Copies `src` into `dst` (same length, at least one block) and returns the little-endian
/// word sum of `src`, in one pass: each 16-byte chunk is loaded once, stored, and added from
/// the register. The block is copied as four separate 16-byte stores on purpose: a loop whose
/// stores have the stride of their size is turned into a `memcpy` call by LLVM, which then
/// leaves a separate, slower summing loop (measured with SSE2: 1448 bytes copied and summed in
/// ~33 ns fused against ~41 ns for `memcpy` + sum).
#[inline(never)]
fn copy_sum_blocks(dst: &mut [u8], src: &[u8]) -> u64 {
    let (src_blocks, tail) = src.as_chunks::<BLOCK>();
    let (quads, rest) = tail.as_chunks::<16>();
    let split = full_groups(src_blocks.len());
    let (s_groups, s_last) = src_blocks
        .split_at_checked(split)
        .unwrap_or((&[], src_blocks));
    let (d_groups, d_last) = match dst.as_chunks_mut::<BLOCK>().0.split_at_mut_checked(split) {
        Some(d) => d,
        None => (&mut [][..], &mut [][..]),
    };
    let mut acc: u64 = 0;
    for (dg, sg) in d_groups.chunks_mut(GROUP).zip(s_groups.chunks(GROUP)) {
        let mut lanes = Lanes::default();
        lanes.copy_blocks(dg, sg);
        acc += lanes.total();
    }
    let mut lanes = Lanes::default();
    lanes.copy_blocks(d_last, s_last);
    lanes.add_quads(quads);
    if !tail.is_empty() {
        // The last 64 bytes overlap the blocks already copied with the same bytes.
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<BLOCK>(), src.last_chunk::<BLOCK>()) {
            *d = *s;
        }
    }
    acc + lanes.total() + sum_rest(src, rest)
}

/// Sum of the last `rest.len() < 16` bytes of `data` (which holds at least 16 bytes), from
/// the 16-byte window that ends `data`, masked: one load and a few integer operations instead
/// of a loop over words.
#[inline(always)]
fn sum_rest(data: &[u8], rest: &[u8]) -> u64 {
    let r = rest.len();
    if r == 0 {
        return 0;
    }
    let Some(window) = data.last_chunk::<16>() else {
        return sum_words(rest);
    };
    // The last r bytes are the high ones of a little-endian load; 0 < r < 16.
    let x = u128::from_le_bytes(*window) & (u128::MAX << (8 * (16 - r)));
    let s = fold(
        u64::from(x as u32)
            + u64::from((x >> 32) as u32)
            + u64::from((x >> 64) as u32)
            + u64::from((x >> 96) as u32),
    );
    // The window starts at an odd offset when `data` has an odd length: its words are the
    // data's words byte-swapped (RFC 1071 §2(B)).
    u64::from(if data.len() & 1 == 1 {
        s.swap_bytes()
    } else {
        s
    })
}

/// Sum of fewer than [`BLOCK`] bytes: 16-byte chunks in one lane set, then words and a byte.
#[inline]
fn sum_short(data: &[u8]) -> u64 {
    let (quads, rest) = data.as_chunks::<16>();
    let (mut lo, mut hi) = ([0u32; 4], [0u32; 4]);
    for q in quads {
        add16(&mut lo, &mut hi, q);
    }
    lanes_total(&lo, &hi) + sum_words(rest)
}

/// Sum of a few little-endian words and an odd last byte.
#[inline]
fn sum_words(data: &[u8]) -> u64 {
    let (words, last) = data.as_chunks::<2>();
    let mut acc: u64 = 0;
    for w in words {
        acc += u64::from(u16::from_le_bytes(*w));
    }
    if let [b] = last {
        acc += u64::from(*b);
    }
    acc
}

/// Copies `src` into `dst` (same length) and returns the little-endian word sum of `src`.
#[inline]
fn copy_sum_le(dst: &mut [u8], src: &[u8]) -> u64 {
    if dst.len() != src.len() {
        return 0;
    }
    if src.len() < BLOCK {
        dst.copy_from_slice(src);
        return sum_short(src);
    }
    copy_sum_blocks(dst, src)
}

/// Unfolded sum of `data` in the little-endian domain (fold, then `swap_bytes`, to get the
/// network-order sum). For per-segment paths that add more terms before their one fold.
#[inline]
pub(crate) fn sum_unfolded_le(data: &[u8]) -> u64 {
    sum_le(data)
}

/// [`sum_unfolded_le`] of `src` while copying it into `dst`; `None` (nothing copied) unless
/// both have the same length.
#[inline]
pub(crate) fn copy_sum_unfolded_le(dst: &mut [u8], src: &[u8]) -> Option<u64> {
    (dst.len() == src.len()).then(|| copy_sum_le(dst, src))
}

/// Folds a wide one's-complement accumulator to 16 bits (end-around carry).
///
/// Two levels of add-with-carry (`u32` halves, then `u16` halves): 0 stays 0, any other value
/// maps into `1..=0xFFFF` and keeps its residue modulo 0xFFFF. (Adding back a carry cannot
/// overflow: a sum that carried is at most `2^n - 2`.) Shorter dependency chain than four
/// shift-and-add rounds, which matters on the per-segment paths that fold a few times.
#[inline]
pub const fn fold(sum: u64) -> u16 {
    let (s, c) = (sum as u32).overflowing_add((sum >> 32) as u32);
    let s = s + c as u32;
    let (t, c) = (s as u16).overflowing_add((s >> 16) as u16);
    t + c as u16
}

/// One's-complement sum of `data` (network-order words; an odd last byte is padded with a
/// zero byte, RFC 1071 §4.1). Not complemented.
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    fold(sum_le(data)).swap_bytes()
}

/// The Internet checksum of `data`: `!sum(data)`. A buffer that contains a correct checksum
/// field yields 0.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// One's-complement addition of two sums.
#[inline]
pub const fn add(a: u16, b: u16) -> u16 {
    fold(a as u64 + b as u64)
}

/// Combines the sum `a` of the bytes before `offset` with the sum `b` of a block that starts
/// at byte `offset` (and was summed as if it started at offset 0). A block at an odd offset
/// contributes with its bytes swapped (RFC 1071 §2(B)). Used to assemble a coalesced frame's
/// checksum from per-segment sums.
#[inline]
pub const fn combine(a: u16, b: u16, offset: usize) -> u16 {
    let b = if offset & 1 == 1 { b.swap_bytes() } else { b };
    add(a, b)
}

/// One's-complement subtraction `a - b` (adds `!b`). Used to remove a block from a sum.
#[inline]
pub const fn sub(a: u16, b: u16) -> u16 {
    add(a, !b)
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit field changed from `old` to `new`,
/// `HC' = ~(~HC + ~m + m')`. `check` is the checksum as stored (complemented). Never yields
/// the `-0` artefact of eqn. 2.
#[inline]
pub const fn update16(check: u16, old: u16, new: u16) -> u16 {
    !fold(!check as u64 + !old as u64 + new as u64)
}

/// [`update16`] for a 32-bit field (e.g. a TCP sequence number or an IPv4 address).
#[inline]
pub const fn update32(check: u16, old: u32, new: u32) -> u16 {
    let c = update16(check, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// [`update16`] for a field of any length at an even offset: `old` and `new` must have the
/// same length (the shorter length is used otherwise, so this never panics).
#[inline]
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    let n = old.len().min(new.len());
    let (old, new) = (old.get(..n).unwrap_or(&[]), new.get(..n).unwrap_or(&[]));
    !fold(u64::from(!check) + u64::from(!sum(old)) + u64::from(sum(new)))
}

/// IPv4 pseudo-header sum (RFC 793 §3.1 / RFC 768): source, destination, zero + protocol,
/// and — if `l4_len` is `Some` — the TCP/UDP length. NDIS LSO/USO sends carry the sum
/// *without* the length (spec §2.3, §3.3); checksum-only sends and Linux GSO carry it *with*
/// the length (spec §4.2, testbed §8).
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: Option<u32>) -> u16 {
    let mut acc = u64::from(u32::from_be_bytes(src) >> 16)
        + u64::from(u32::from_be_bytes(src) & 0xFFFF)
        + u64::from(u32::from_be_bytes(dst) >> 16)
        + u64::from(u32::from_be_bytes(dst) & 0xFFFF)
        + u64::from(protocol);
    if let Some(len) = l4_len {
        acc += u64::from(len >> 16) + u64::from(len & 0xFFFF);
    }
    fold(acc)
}

/// IPv6 pseudo-header sum (RFC 8200 §8.1): source, (final) destination, 32-bit upper-layer
/// length if `l4_len` is `Some`, and the next-header value.
#[inline]
pub fn pseudo_header_v6(
    src: &[u8; 16],
    dst: &[u8; 16],
    next_header: u8,
    l4_len: Option<u32>,
) -> u16 {
    let mut acc = u64::from(sum(src)) + u64::from(sum(dst)) + u64::from(next_header);
    if let Some(len) = l4_len {
        acc += u64::from(len >> 16) + u64::from(len & 0xFFFF);
    }
    fold(acc)
}

/// Adds a 32-bit length to a pseudo-header sum that was computed without it (what a driver
/// does to an NDIS LSO/USO template before handing it to Linux GSO).
#[inline]
pub const fn add_length(pseudo_sum: u16, l4_len: u32) -> u16 {
    fold(pseudo_sum as u64 + (l4_len >> 16) as u64 + (l4_len & 0xFFFF) as u64)
}

/// Incremental one's-complement sum over pieces of any length (scatter lists).
///
/// Pieces may have odd lengths: the accumulator remembers the parity of the bytes consumed so
/// far and byte-swaps the contribution of a piece that starts at an odd offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Little-endian-word sum of everything added (folded per piece, so it cannot overflow).
    acc: u64,
    /// Total bytes added so far is odd.
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Checksum { acc: 0, odd: false }
    }

    /// Continues the sum with the bytes of `data`, which directly follow the bytes added so
    /// far.
    #[inline]
    pub fn add_bytes(&mut self, data: &[u8]) {
        self.add_le_piece(sum_le(data), data.len());
    }

    #[inline]
    fn add_le_piece(&mut self, piece: u64, len: usize) {
        let mut s = fold(piece);
        if self.odd {
            s = s.swap_bytes();
        }
        self.acc += u64::from(s);
        self.odd ^= len & 1 == 1;
    }

    /// Copies `src` into `dst` and adds the copied bytes to the sum in the same pass (software
    /// LSO/USO). Copies `min(dst.len(), src.len())` bytes and returns that count.
    #[inline]
    pub fn copy_and_add(&mut self, dst: &mut [u8], src: &[u8]) -> usize {
        let n = dst.len().min(src.len());
        match (dst.get_mut(..n), src.get(..n)) {
            (Some(d), Some(s)) => {
                let piece = copy_sum_le(d, s);
                self.add_le_piece(piece, n);
                n
            }
            _ => 0,
        }
    }

    /// Adds an independent, even-length block's sum (e.g. a pseudo-header). The block is
    /// position independent: the current parity is not changed.
    #[inline]
    pub fn add_sum(&mut self, s: u16) {
        // Stored in the little-endian domain; an even-length block keeps alignment.
        self.acc += u64::from(s.swap_bytes());
    }

    /// Continues the sum with a big-endian 16-bit value as two bytes of data.
    #[inline]
    pub fn add_u16(&mut self, v: u16) {
        self.add_bytes(&v.to_be_bytes());
    }

    /// The unfolded little-endian-domain accumulator (see [`sum_unfolded_le`]).
    #[inline]
    pub(crate) const fn unfolded_le(&self) -> u64 {
        self.acc
    }

    /// Whether an odd number of bytes has been added.
    pub const fn is_odd(&self) -> bool {
        self.odd
    }

    /// The folded sum (not complemented).
    #[inline]
    pub const fn sum(&self) -> u16 {
        fold(self.acc).swap_bytes()
    }

    /// The checksum: `!sum()`.
    #[inline]
    pub const fn checksum(&self) -> u16 {
        !self.sum()
    }
}

/// Copies `src` into `dst` and returns the sum of the copied bytes
/// (`min(dst.len(), src.len())` bytes).
#[inline]
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.copy_and_add(dst, src);
    c.sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Textbook RFC 1071: big-endian words, one wide accumulator, fold at the end.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            acc += u64::from(data[i]) << 8 | u64::from(data[i + 1]);
            i += 2;
        }
        if i < data.len() {
            acc += u64::from(data[i]) << 8;
        }
        while acc > 0xFFFF {
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn checksum_rfc1071_example_bytes() {
        // RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&d), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn checksum_known_ipv4_header() {
        // Wikipedia's IPv4 header checksum example: the correct checksum is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn checksum_odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn checksum_256k_of_ff_is_correct() {
        // 131072 words of 0xFFFF: the one's-complement sum is 0xFFFF (checksum 0); an unfolded
        // u32 accumulator wraps and returns garbage here.
        let d = vec![0xFFu8; 256 * 1024];
        assert_eq!(sum(&d), 0xFFFF);
        assert_eq!(checksum(&d), 0);
        assert_eq!(sum(&d), naive_sum(&d));
        // One byte more (odd): adds 0xFF00.
        let d = vec![0xFFu8; 256 * 1024 + 1];
        assert_eq!(sum(&d), naive_sum(&d));
    }

    #[test]
    fn checksum_matches_naive_for_every_small_length_and_alignment() {
        let data: Vec<u8> = (0..700u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for start in 0..4 {
            for len in 0..(data.len() - start) {
                let s = &data[start..start + len];
                assert_eq!(sum(s), naive_sum(s), "start {start} len {len}");
            }
        }
    }

    #[test]
    fn checksum_incremental_odd_chunk_boundaries() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in [1usize, 3, 7, 33, 64, 999] {
            let mut c = Checksum::new();
            for piece in data.chunks(split) {
                c.add_bytes(piece);
            }
            assert_eq!(c.sum(), naive_sum(&data), "split {split}");
            assert_eq!(c.is_odd(), data.len() % 2 == 1);
        }
    }

    #[test]
    fn checksum_combine_at_odd_offset() {
        let data: Vec<u8> = (0..301u32).map(|i| (i * 31 + 5) as u8).collect();
        for at in [0usize, 1, 2, 77, 150, 301] {
            let a = sum(&data[..at]);
            let b = sum(&data[at..]);
            assert_eq!(combine(a, b, at), naive_sum(&data), "split at {at}");
        }
    }

    #[test]
    fn checksum_sub_removes_a_block() {
        let data: Vec<u8> = (0..100u32).map(|i| (i * 13) as u8).collect();
        let whole = sum(&data);
        let tail = sum(&data[40..]);
        // Compare as one's-complement values (0x0000 and 0xFFFF are both zero).
        let head = sub(whole, tail);
        let expect = naive_sum(&data[..40]);
        assert!(
            head == expect || (head == 0xFFFF && expect == 0) || (head == 0 && expect == 0xFFFF)
        );
    }

    #[test]
    fn checksum_rfc1624_update_equals_recompute() {
        let mut h = [
            0x45u8, 0x00, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2,
        ];
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        // Change total length and TTL; update incrementally.
        let old_len = u16::from_be_bytes([h[2], h[3]]);
        let c2 = update16(c, old_len, 0x0234);
        h[2..4].copy_from_slice(&0x0234u16.to_be_bytes());
        let old_ttl_proto = u16::from_be_bytes([h[8], h[9]]);
        let c3 = update16(c2, old_ttl_proto, 0x3f06);
        h[8] = 0x3f;
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(c3, checksum(&h));
        // 32-bit and byte-slice forms.
        let old_src = [h[12], h[13], h[14], h[15]];
        let c4 = update32(c3, u32::from_be_bytes(old_src), 0xc0a80101);
        let c5 = update_bytes(c3, &old_src, &[0xc0, 0xa8, 1, 1]);
        h[12..16].copy_from_slice(&[0xc0, 0xa8, 1, 1]);
        assert_eq!(c4, checksum(&h));
        assert_eq!(c5, checksum(&h));
    }

    #[test]
    fn checksum_rfc1624_avoids_minus_zero() {
        // RFC 1624 §3 example: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives 0x0000, not 0xFFFF.
        assert_eq!(update16(0xDD2F, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn checksum_pseudo_header_v4_with_and_without_length() {
        let (s, d) = ([192, 168, 0, 1], [192, 168, 0, 199]);
        let manual_nolen = naive_sum(&[192, 168, 0, 1, 192, 168, 0, 199, 0, 6]);
        assert_eq!(pseudo_header_v4(s, d, 6, None), manual_nolen);
        let manual = naive_sum(&[192, 168, 0, 1, 192, 168, 0, 199, 0, 6, 0x05, 0xc8]);
        assert_eq!(pseudo_header_v4(s, d, 6, Some(1480)), manual);
        assert_eq!(add_length(manual_nolen, 1480), manual);
    }

    #[test]
    fn checksum_pseudo_header_v6_uses_32bit_length() {
        let s = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&s);
        bytes.extend_from_slice(&d);
        bytes.extend_from_slice(&70000u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(pseudo_header_v6(&s, &d, 17, Some(70000)), naive_sum(&bytes));
        assert_eq!(
            add_length(pseudo_header_v6(&s, &d, 17, None), 70000),
            naive_sum(&bytes)
        );
    }

    #[test]
    fn checksum_fused_copy_equals_copy_then_sum() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 11 + 1) as u8).collect();
        for len in [0usize, 1, 31, 32, 33, 1447, 1448, 4999, 5000] {
            let mut dst = vec![0u8; len];
            let s = copy_and_sum(&mut dst, &src[..len]);
            assert_eq!(&dst[..], &src[..len]);
            assert_eq!(s, naive_sum(&src[..len]));
        }
        // Destination shorter than source: copies only what fits.
        let mut dst = [0u8; 7];
        let mut c = Checksum::new();
        assert_eq!(c.copy_and_add(&mut dst, &src[..100]), 7);
        assert_eq!(c.sum(), naive_sum(&src[..7]));
    }

    #[test]
    fn checksum_fused_copy_matches_naive_for_every_length_and_alignment() {
        // Covers every tail shape of the 64-byte block loop (16-byte chunks, a masked
        // remainder window at an even or odd length) and lengths below one block.
        let src: Vec<u8> = (0..1200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 17) as u8)
            .collect();
        for start in 0..3 {
            for len in 0..(src.len() - start) {
                let s = &src[start..start + len];
                let mut dst = vec![0u8; len + 1];
                let mut c = Checksum::new();
                assert_eq!(c.copy_and_add(&mut dst[1..], s), len);
                assert_eq!(&dst[1..], s, "copy start {start} len {len}");
                assert_eq!(dst[0], 0, "wrote before the destination");
                assert_eq!(c.sum(), naive_sum(s), "sum start {start} len {len}");
            }
        }
    }

    #[test]
    fn checksum_fold_equals_repeated_end_around_carry() {
        // Reference: fold 16 bits at a time until the value fits (RFC 1071 §4.1).
        fn reference(mut s: u64) -> u16 {
            while s > 0xFFFF {
                s = (s & 0xFFFF) + (s >> 16);
            }
            s as u16
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let edges = [
            0,
            1,
            0xFFFF,
            0x1_0000,
            0x1_FFFE,
            0xFFFF_FFFF,
            0x1_0000_0000,
            0xFFFF_0000_FFFF,
            0xFFFF_FFFF_FFFF,
            u64::MAX - 1,
            u64::MAX,
        ];
        for v in edges.into_iter().chain((0..100_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 48)
        })) {
            assert_eq!(fold(v), reference(v), "{v:#x}");
        }
    }

    #[test]
    fn checksum_fused_copy_over_several_lane_groups_of_ff() {
        // All-ones words are the worst case for the u32 lanes: 1.5 MiB + a tail crosses two
        // group boundaries of the copy loop (and the tail shares the last group's lanes).
        for len in [3 * 512 * 1024 + 63, 3 * 512 * 1024 + 48, 1024 * 1024] {
            let src = vec![0xFFu8; len];
            let mut dst = vec![0u8; len];
            let mut c = Checksum::new();
            assert_eq!(c.copy_and_add(&mut dst, &src), len);
            assert!(dst == src, "copy of {len} bytes");
            assert_eq!(c.sum(), naive_sum(&src), "len {len}");
            assert_eq!(sum(&src), naive_sum(&src), "len {len}");
        }
    }

    #[test]
    fn checksum_fold_handles_max_accumulator() {
        assert_eq!(fold(u64::MAX), 0xFFFF);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0), 0);
    }
}
