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
use crate::checksum::{self, Checksum};
use crate::wire::virtio::{HdrFlags, VirtioNetHdr};
use crate::wire::{be16, be32, put_be16, put_be32, TcpFlags, IPV6_HEADER_LEN};

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

/// Iterator-style software segmenter; see [`TxPlan::segmenter`].
#[derive(Clone, Debug)]
pub struct Segmenter<'a> {
    plan: &'a TxPlan,
    hdr: &'a [u8],
    reader: FragReader<'a>,
    index: u32,
    remaining: usize,
    seq0: u32,
    id0: u16,
    /// TCP data-offset/flags word of the template.
    flags0: u16,
    /// Sum of the IPv4 header with Total Length, Identification and checksum taken as 0.
    ip_base: u16,
    /// Sum of the L4 header with the per-segment fields (TCP SEQ, flags word; UDP Length)
    /// and the checksum taken as 0.
    l4_base: u16,
    done: bool,
}

impl<'a> Segmenter<'a> {
    pub(crate) fn new(plan: &'a TxPlan, hdr: &'a [u8], frags: &'a [&'a [u8]]) -> Self {
        let lay = &plan.layout;
        let (l3, l4) = (lay.l3_offset, lay.l4_offset);
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
        let varying = match plan.seg {
            Some(SegKind::Tcp(_)) => {
                u64::from(be16(hdr, l4 + 4))
                    + u64::from(be16(hdr, l4 + 6))
                    + u64::from(be16(hdr, l4 + 12))
                    + u64::from(be16(hdr, l4 + usize::from(TCP_CSUM_OFFSET)))
            }
            _ => {
                u64::from(be16(hdr, l4 + 4))
                    + u64::from(be16(hdr, l4 + usize::from(UDP_CSUM_OFFSET)))
            }
        };
        let l4_base = checksum::sub(checksum::sum(l4_hdr), checksum::fold(varying));
        Segmenter {
            plan,
            hdr,
            reader: FragReader::new(frags, plan.header_len),
            index: 0,
            remaining: lay.payload_len,
            seq0: be32(hdr, l4 + 4),
            id0: be16(hdr, l3 + 4),
            flags0: be16(hdr, l4 + 12),
            ip_base,
            l4_base,
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
        self.next(out, true)
    }

    /// Zero-copy form: writes only the next segment's headers into `out` (needs
    /// `plan.layout.payload_offset` bytes) and returns where its payload is in the original
    /// frame. The payload is read once to checksum it, never copied: the miniport sends
    /// `out[..len]` followed by descriptors for the payload range.
    pub fn next_header_into(&mut self, out: &mut [u8]) -> Option<Result<Segment, TxError>> {
        self.next(out, false)
    }

    fn next(&mut self, out: &mut [u8], copy: bool) -> Option<Result<Segment, TxError>> {
        if self.done {
            return None;
        }
        let r = self.write(out, copy);
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }

    fn write(&mut self, out: &mut [u8], copy: bool) -> Result<Segment, TxError> {
        let plan = self.plan;
        let lay = &plan.layout;
        let kind = plan.seg.unwrap_or(SegKind::Udp);
        let h = lay.payload_offset;
        let chunk = self.remaining.min(plan.mss as usize);
        let payload_offset = plan.header_len + (lay.payload_len - self.remaining);
        let need = if copy { h + chunk } else { h };
        if out.len() < need {
            return Err(TxError::OutputTooSmall {
                required: need,
                available: out.len(),
            });
        }
        let Some((head, rest)) = out.split_at_mut_checked(h) else {
            return Err(TxError::OutputTooSmall {
                required: need,
                available: out.len(),
            });
        };
        head.copy_from_slice(self.hdr.get(..h).unwrap_or(&[]));
        // With device checksumming the payload is copied (bounce form) or skipped (zero-copy
        // form) without being summed.
        let device_csum = plan.segment_checksum == SegmentChecksum::Device;
        let mut pc = Checksum::new();
        let dst = rest.get_mut(..chunk).unwrap_or(&mut []);
        let n = match (copy, device_csum) {
            (true, false) => self.reader.copy_and_add(dst, &mut pc),
            (true, true) => self.reader.copy(dst),
            (false, false) => self.reader.add(chunk, &mut pc),
            (false, true) => self.reader.skip(chunk),
        };
        let payload_sum = pc.sum();
        let first = self.index == 0;
        self.remaining -= chunk;
        let last = self.remaining == 0 || n < chunk;

        let l3 = lay.l3_offset;
        let l4 = lay.l4_offset;
        let l4_len = lay.l4_header_len + n;
        let datagram = lay.l3_header_len + l4_len;
        if lay.is_ipv4() {
            // The template has MF = 0 and offset 0 (fragments are rejected); DF is kept.
            let (total, id) = (datagram as u16, ip_id(kind, self.id0, self.index));
            put_be16(out, l3 + 2, total);
            put_be16(out, l3 + 4, id);
            let c = checksum::fold(u64::from(self.ip_base) + u64::from(total) + u64::from(id));
            put_be16(out, l3 + 10, !c);
        } else {
            put_be16(out, l3 + 4, (datagram - IPV6_HEADER_LEN) as u16);
        }

        // Pseudo-header (template sum + this segment's L4 length), the fixed part of the L4
        // header, the per-segment fields, and the payload. The payload starts at an even offset
        // from the L4 header (TCP/UDP header lengths are multiples of 4): no byte swap.
        let mut acc = u64::from(self.plan.pseudo_nolen)
            + l4_len as u64
            + u64::from(self.l4_base)
            + u64::from(payload_sum);
        let csum_at = match kind {
            SegKind::Tcp(_) => {
                let seq = self.seq0.wrapping_add(self.index.wrapping_mul(plan.mss));
                put_be32(out, l4 + 4, seq);
                let mut f = TcpFlags::from_bits_truncate(self.flags0 & 0x1FF);
                if !last {
                    f.remove(TcpFlags::FIN | TcpFlags::PSH);
                }
                if !first {
                    f.remove(TcpFlags::CWR);
                }
                let word = (self.flags0 & !0x1FF) | f.bits();
                put_be16(out, l4 + 12, word);
                acc += u64::from(seq >> 16) + u64::from(seq & 0xFFFF) + u64::from(word);
                l4 + usize::from(TCP_CSUM_OFFSET)
            }
            SegKind::Udp => {
                put_be16(out, l4 + 4, l4_len as u16);
                acc += l4_len as u64; // the UDP Length field itself
                l4 + usize::from(UDP_CSUM_OFFSET)
            }
        };
        let mut vnet_hdr = VirtioNetHdr::default();
        let v = if plan.udp_no_csum && kind == SegKind::Udp {
            0
        } else if device_csum {
            // Pseudo-header with this segment's length only; the device sums from csum_start.
            vnet_hdr = VirtioNetHdr {
                flags: HdrFlags::NEEDS_CSUM,
                csum_start: l4 as u16,
                csum_offset: (csum_at - l4) as u16,
                ..VirtioNetHdr::default()
            };
            checksum::add_length(plan.pseudo_nolen, l4_len as u32)
        } else {
            match !checksum::fold(acc) {
                0 if kind == SegKind::Udp => 0xFFFF,
                v => v,
            }
        };
        put_be16(out, csum_at, v);

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
