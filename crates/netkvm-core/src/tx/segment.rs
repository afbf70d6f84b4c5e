//! Software LSO/USO: what hardware segmentation would put on the wire (spec §2.3, §3.3).
//!
//! Every segment gets the template's headers (MAC, tag, IP with options / extension headers,
//! TCP with options unchanged — timestamps are not incremented), then per segment: IPv4
//! Total Length, Identification and header checksum, or IPv6 Payload Length; TCP sequence
//! number advanced by the payload already sent, FIN/PSH only on the last segment and CWR
//! only on the first; UDP Length; and the TCP/UDP checksum from the template's pseudo-header
//! sum (without length) plus the segment's L4 length, header and payload. The payload is
//! copied and summed in one pass.

use super::{
    FragReader, LsoVersion, SegKind, SegmentChecksum, TxError, TxPlan, TCP_CSUM_OFFSET,
    UDP_CSUM_OFFSET,
};
use crate::checksum;
use crate::wire::virtio::{HdrFlags, VirtioNetHdr};
use crate::wire::{be16, be32, put_be16, TcpFlags, IPV6_HEADER_LEN};

/// One software segment written by [`Segmenter::next_into`] (headers + payload copied) or
/// [`Segmenter::next_header_into`] (headers only; the payload stays in the original frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Bytes written to the output buffer (headers + payload, or headers only).
    pub len: usize,
    /// Header bytes at the start of the output buffer.
    pub header_len: usize,
    /// Payload bytes in this segment.
    pub payload_len: usize,
    /// Where this segment's payload starts in the original frame (for the zero-copy form: the
    /// miniport points descriptors at `frame[payload_offset..payload_offset + payload_len]`).
    pub payload_offset: usize,
    /// Index of the segment (0-based).
    pub index: u32,
    /// Last segment of the send.
    pub last: bool,
    /// Header to send it with: no offload (checksums complete), or `NEEDS_CSUM` with
    /// `csum_start`/`csum_offset` when [`TxPlan::segment_checksum`] is `Device`.
    pub vnet_hdr: VirtioNetHdr,
}

/// Who fills the L4 checksum of each software segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L4Csum {
    /// Computed here (payload summed while it is copied or read in place).
    Software,
    /// Pseudo-header sum with the segment's length; the device completes it (`NEEDS_CSUM`).
    Device,
    /// IPv4 USO without UDP checksums: 0.
    None,
}

/// Iterator-style software segmenter; see [`TxPlan::segmenter`].
///
/// Everything that is the same for every segment is computed once in `new`: offsets, the
/// header sums without the per-segment fields, the four TCP flag words (first / middle /
/// last / only segment). A segment then costs the header copy, the payload pass and a few
/// additions with two folds.
#[derive(Clone, Debug)]
pub struct Segmenter<'a> {
    plan: &'a TxPlan,
    /// The template headers (`payload_offset` bytes of the header buffer).
    hdr: &'a [u8],
    reader: FragReader<'a>,
    index: u32,
    remaining: usize,
    /// Where the next segment's payload starts in the original frame.
    payload_offset: usize,
    /// `payload_offset`: header bytes of every segment.
    h: usize,
    mss: usize,
    /// TCP sequence-number step (the MSS).
    seq_step: u32,
    l3: usize,
    l4: usize,
    /// Offset of the L4 checksum field.
    csum_at: usize,
    /// IP header + L4 header bytes (IPv4 Total Length = this + payload).
    l3_l4_len: usize,
    l4_header_len: usize,
    ipv4: bool,
    kind: SegKind,
    l4_csum: L4Csum,
    seq0: u32,
    id0: u16,
    /// TCP data-offset/flags word by `first as usize | (last as usize) << 1`.
    flag_words: [u16; 4],
    /// Sum of the IPv4 header with Total Length, Identification and checksum taken as 0.
    ip_base: u16,
    /// Pseudo-header sum without length + sum of the L4 header with the per-segment fields
    /// (TCP SEQ, flags word; UDP Length) and the checksum taken as 0.
    l4_base: u64,
    done: bool,
}

impl<'a> Segmenter<'a> {
    pub(crate) fn new(plan: &'a TxPlan, hdr: &'a [u8], frags: &'a [&'a [u8]]) -> Self {
        let lay = &plan.layout;
        let (l3, l4) = (lay.l3_offset, lay.l4_offset);
        let kind = plan.seg.unwrap_or(SegKind::Udp);
        // Header sums without the fields that change per segment, computed once per send so
        // each segment costs a few additions instead of re-summing its headers.
        let ip_hdr = hdr.get(l3..l3 + lay.l3_header_len).unwrap_or(&[]);
        let ip_base = if lay.is_ipv4() {
            let varying = u64::from(be16(hdr, l3 + 2))
                + u64::from(be16(hdr, l3 + 4))
                + u64::from(be16(hdr, l3 + 10));
            checksum::sub(checksum::sum(ip_hdr), checksum::fold(varying))
        } else {
            0
        };
        let l4_hdr = hdr.get(l4..lay.payload_offset).unwrap_or(&[]);
        let (varying, csum_off) = match kind {
            SegKind::Tcp(_) => (
                u64::from(be16(hdr, l4 + 4))
                    + u64::from(be16(hdr, l4 + 6))
                    + u64::from(be16(hdr, l4 + 12))
                    + u64::from(be16(hdr, l4 + usize::from(TCP_CSUM_OFFSET))),
                TCP_CSUM_OFFSET,
            ),
            SegKind::Udp => (
                u64::from(be16(hdr, l4 + 4))
                    + u64::from(be16(hdr, l4 + usize::from(UDP_CSUM_OFFSET))),
                UDP_CSUM_OFFSET,
            ),
        };
        let l4_base = checksum::sub(checksum::sum(l4_hdr), checksum::fold(varying));
        let flags0 = be16(hdr, l4 + 12);
        let flag_word = |first: bool, last: bool| {
            let mut f = TcpFlags::from_bits_truncate(flags0 & 0x1FF);
            if !last {
                f.remove(TcpFlags::FIN | TcpFlags::PSH);
            }
            if !first {
                f.remove(TcpFlags::CWR);
            }
            (flags0 & !0x1FF) | f.bits()
        };
        let l4_csum = if plan.udp_no_csum && kind == SegKind::Udp {
            L4Csum::None
        } else if plan.segment_checksum == SegmentChecksum::Device {
            L4Csum::Device
        } else {
            L4Csum::Software
        };
        Segmenter {
            plan,
            hdr: hdr.get(..lay.payload_offset).unwrap_or(hdr),
            reader: FragReader::new(frags, plan.header_len),
            index: 0,
            remaining: lay.payload_len,
            payload_offset: plan.header_len,
            h: lay.payload_offset,
            mss: plan.mss as usize,
            seq_step: plan.mss,
            l3,
            l4,
            csum_at: l4 + usize::from(csum_off),
            l3_l4_len: lay.l3_header_len + lay.l4_header_len,
            l4_header_len: lay.l4_header_len,
            ipv4: lay.is_ipv4(),
            kind,
            l4_csum,
            seq0: be32(hdr, l4 + 4),
            id0: be16(hdr, l3 + 4),
            flag_words: [
                flag_word(false, false),
                flag_word(true, false),
                flag_word(false, true),
                flag_word(true, true),
            ],
            ip_base,
            l4_base: u64::from(plan.pseudo_nolen) + u64::from(l4_base),
            done: plan.seg.is_none() || plan.mss == 0,
        }
    }

    /// Segments not yet produced.
    pub fn remaining_segments(&self) -> u32 {
        if self.done {
            return 0;
        }
        u32::try_from(self.remaining.div_ceil(self.plan.mss as usize).max(1)).unwrap_or(u32::MAX)
    }

    /// Writes the next segment into `out` (needs [`TxPlan::max_segment_len`] bytes for a
    /// full segment). `None` when all segments were produced; after an error the segmenter
    /// stops.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<Result<Segment, TxError>> {
        self.next::<true>(out)
    }

    /// Zero-copy form: writes only the next segment's headers into `out` (needs
    /// `plan.layout.payload_offset` bytes) and returns where its payload is in the original
    /// frame. The payload is read once to checksum it, never copied: the miniport sends
    /// `out[..len]` followed by descriptors for the payload range.
    pub fn next_header_into(&mut self, out: &mut [u8]) -> Option<Result<Segment, TxError>> {
        self.next::<false>(out)
    }

    /// `COPY`: bounce-buffer form (payload copied after the headers) or zero-copy form.
    fn next<const COPY: bool>(&mut self, out: &mut [u8]) -> Option<Result<Segment, TxError>> {
        if self.done {
            return None;
        }
        let r = self.write::<COPY>(out);
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }

    fn write<const COPY: bool>(&mut self, out: &mut [u8]) -> Result<Segment, TxError> {
        let copy = COPY;
        let h = self.h;
        let chunk = self.remaining.min(self.mss);
        let payload_offset = self.payload_offset;
        let need = if copy { h + chunk } else { h };
        if self.hdr.len() != h {
            return Err(TxError::HeaderBufferTooSmall {
                required: h,
                available: self.hdr.len(),
            });
        }
        let Some((head, rest)) = out
            .split_at_mut_checked(h)
            .filter(|(_, r)| !copy || r.len() >= chunk)
        else {
            return Err(TxError::OutputTooSmall {
                required: need,
                available: out.len(),
            });
        };
        copy_header(head, self.hdr);
        // With device checksumming the payload is copied (bounce form) or skipped (zero-copy
        // form) without being summed.
        let dst = rest.get_mut(..chunk).unwrap_or_default();
        let (n, payload_le) = match (copy, self.l4_csum == L4Csum::Software) {
            (true, true) => self.reader.copy_and_sum(dst),
            (true, false) => (self.reader.copy(dst), 0),
            (false, true) => self.reader.sum(chunk),
            (false, false) => (self.reader.skip(chunk), 0),
        };
        let first = self.index == 0;
        self.remaining -= chunk;
        self.payload_offset += chunk;
        let last = self.remaining == 0 || n < chunk;

        let (l3, l4) = (self.l3, self.l4);
        let l4_len = self.l4_header_len + n;
        let datagram = self.l3_l4_len + n;
        // Fixed-size windows over the IP and L4 headers: one bounds check each instead of one
        // per field (the planner guarantees the headers are there; a short buffer would only
        // leave fields unwritten, never panic).
        if self.ipv4 {
            if let Some(ip) = head.get_mut(l3..).and_then(<[u8]>::first_chunk_mut::<12>) {
                // The template has MF = 0 and offset 0 (fragments are rejected); DF is kept.
                let (total, id) = (datagram as u16, ip_id(self.kind, self.id0, self.index));
                let c = checksum::fold(u64::from(self.ip_base) + u64::from(total) + u64::from(id));
                let [_, _, t0, t1, i0, i1, _, _, _, _, c0, c1] = ip;
                [*t0, *t1] = total.to_be_bytes();
                [*i0, *i1] = id.to_be_bytes();
                [*c0, *c1] = (!c).to_be_bytes();
            }
        } else {
            put_be16(head, l3 + 4, (datagram - IPV6_HEADER_LEN) as u16);
        }

        // Pseudo-header (template sum + this segment's L4 length), the fixed part of the L4
        // header, the per-segment fields, and the payload. The payload starts at an even offset
        // from the L4 header (TCP/UDP header lengths are multiples of 4): no byte swap.
        let mut acc = self.l4_base + l4_len as u64;
        match self.kind {
            SegKind::Tcp(_) => {
                let seq = self
                    .seq0
                    .wrapping_add(self.index.wrapping_mul(self.seq_step));
                let word = self
                    .flag_words
                    .get(usize::from(first) | usize::from(last) << 1)
                    .copied()
                    .unwrap_or_default();
                if let Some(tcp) = head.get_mut(l4..).and_then(<[u8]>::first_chunk_mut::<14>) {
                    let [_, _, _, _, s0, s1, s2, s3, _, _, _, _, f0, f1] = tcp;
                    [*s0, *s1, *s2, *s3] = seq.to_be_bytes();
                    [*f0, *f1] = word.to_be_bytes();
                }
                acc += u64::from(seq >> 16) + u64::from(seq & 0xFFFF) + u64::from(word);
            }
            SegKind::Udp => {
                put_be16(head, l4 + 4, l4_len as u16);
                acc += l4_len as u64; // the UDP Length field itself
            }
        }
        let mut vnet_hdr = VirtioNetHdr::default();
        let v = match self.l4_csum {
            L4Csum::None => 0,
            L4Csum::Device => {
                // Pseudo-header with this segment's length only; the device sums from
                // csum_start.
                vnet_hdr = VirtioNetHdr {
                    flags: HdrFlags::NEEDS_CSUM,
                    csum_start: l4 as u16,
                    csum_offset: (self.csum_at - l4) as u16,
                    ..VirtioNetHdr::default()
                };
                checksum::add_length(self.plan.pseudo_nolen, l4_len as u32)
            }
            L4Csum::Software => {
                acc += u64::from(checksum::fold(payload_le).swap_bytes());
                match !checksum::fold(acc) {
                    0 if self.kind == SegKind::Udp => 0xFFFF,
                    v => v,
                }
            }
        };
        put_be16(head, self.csum_at, v);

        let seg = Segment {
            len: if copy { h + n } else { h },
            header_len: h,
            payload_len: n,
            payload_offset,
            index: self.index,
            last,
            vnet_hdr,
        };
        self.index += 1;
        if last {
            self.done = true;
        }
        Ok(seg)
    }
}

/// Copies the template headers into a segment: fixed-size (overlapping) 64-, 32- or 16-byte
/// moves for the usual 54–128 header bytes, which compile to a few vector loads and stores
/// instead of a `memcpy` call per segment. `dst` and `src` have the same length.
#[inline]
fn copy_header(dst: &mut [u8], src: &[u8]) {
    #[inline(always)]
    fn two<const N: usize>(dst: &mut [u8], src: &[u8]) {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<N>(), src.last_chunk::<N>()) {
            *d = *s;
        }
    }
    if dst.len() != src.len() {
        return;
    }
    match src.len() {
        64..=128 => two::<64>(dst, src),
        32..=63 => two::<32>(dst, src),
        16..=31 => two::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// IP Identification of segment `i` (spec §2.3, §3.3; LSOv1 follows LSOv2, see the module
/// docs of [`crate::tx`]).
fn ip_id(kind: SegKind, id0: u16, i: u32) -> u16 {
    let step = id0.wrapping_add(i as u16);
    match kind {
        SegKind::Udp => step,
        SegKind::Tcp(LsoVersion::V1 | LsoVersion::V2) => (id0 & 0x8000) | (step & 0x7FFF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lso_ip_id_wraps_within_15_bits() {
        let k = SegKind::Tcp(LsoVersion::V2);
        let ids: alloc::vec::Vec<u16> = (0..4).map(|i| ip_id(k, 0x7FFE, i)).collect();
        assert_eq!(ids, [0x7FFE, 0x7FFF, 0x0000, 0x0001]);
        // A template in the upper half stays there.
        assert_eq!(ip_id(k, 0xFFFF, 1), 0x8000);
        assert_eq!(ip_id(SegKind::Tcp(LsoVersion::V1), 0x7FFF, 1), 0);
    }

    #[test]
    fn uso_ip_id_wraps_through_16_bits() {
        let ids: alloc::vec::Vec<u16> = (0..4).map(|i| ip_id(SegKind::Udp, 0xFFFE, i)).collect();
        assert_eq!(ids, [0xFFFE, 0xFFFF, 0x0000, 0x0001]);
    }
}
