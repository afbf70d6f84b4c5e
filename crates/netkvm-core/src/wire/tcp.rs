//! TCP (RFC 9293) header view, flags and options.

use bitflags::bitflags;
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{
    be16, be32, byte, need, put_be16, put_be32, Invalid, Layer, LenError, LenSource, ParseError,
};
use crate::checksum;

/// TCP header without options.
pub const TCP_MIN_HEADER_LEN: usize = 20;

/// Fixed TCP header layout.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Sequence number.
    pub seq: U32,
    /// Acknowledgment number.
    pub ack: U32,
    /// Data offset (4 bits), reserved (3), NS (1) and the eight flags (8).
    pub offset_flags: U16,
    /// Window.
    pub window: U16,
    /// Checksum.
    pub checksum: U16,
    /// Urgent pointer.
    pub urgent: U16,
}

bitflags! {
    /// TCP control bits, as the low 9 bits of bytes 12–13 (NS is the low bit of byte 12).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct TcpFlags: u16 {
        /// No more data.
        const FIN = 0x001;
        /// Synchronize.
        const SYN = 0x002;
        /// Reset.
        const RST = 0x004;
        /// Push.
        const PSH = 0x008;
        /// Acknowledgment valid.
        const ACK = 0x010;
        /// Urgent pointer valid.
        const URG = 0x020;
        /// ECN echo.
        const ECE = 0x040;
        /// Congestion window reduced.
        const CWR = 0x080;
        /// ECN nonce (RFC 3540, historic).
        const NS = 0x100;
    }
}

const OFF_SEQ: usize = 4;
const OFF_ACK: usize = 8;
const OFF_FLAGS: usize = 12;
const OFF_WINDOW: usize = 14;
const OFF_CSUM: usize = 16;
const OFF_URGENT: usize = 18;

/// One TCP option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// No-Operation (kind 1).
    Nop,
    /// Maximum Segment Size (kind 2).
    Mss(u16),
    /// Window Scale shift (kind 3).
    WindowScale(u8),
    /// SACK Permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5), raw.
    Sack(&'a [u8]),
    /// Timestamps (kind 8, RFC 7323).
    Timestamp {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Any other kind, or a known kind with a non-standard length.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data (after kind and length).
        data: &'a [u8],
    },
}

/// Iterator over the options area. Stops at End of Option List (kind 0); a truncated or
/// zero/one-length option yields one `Err` and ends the iteration.
#[derive(Clone, Debug)]
pub struct TcpOptions<'a> {
    opts: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TcpOptions<'a> {
    /// Iterates over `opts` (the bytes between the fixed header and the data).
    pub fn new(opts: &'a [u8]) -> Self {
        TcpOptions {
            opts,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let kind = *self.opts.get(self.pos)?;
        match kind {
            0 => {
                self.done = true;
                None
            }
            1 => {
                self.pos += 1;
                Some(Ok(TcpOption::Nop))
            }
            _ => {
                let at = self.pos;
                let len = usize::from(self.opts.get(at + 1).copied().unwrap_or(0));
                let avail = self.opts.len() - at;
                if len < 2 || len > avail {
                    self.done = true;
                    return Some(Err(ParseError::Len(LenError {
                        layer: Layer::Tcp,
                        offset: TCP_MIN_HEADER_LEN + at,
                        required: len.max(2),
                        available: avail,
                        source: LenSource::Buffer,
                    })));
                }
                let data = self.opts.get(at + 2..at + len).unwrap_or(&[]);
                self.pos += len;
                Some(Ok(match (kind, len) {
                    (2, 4) => TcpOption::Mss(be16(data, 0)),
                    (3, 3) => TcpOption::WindowScale(byte(data, 0)),
                    (4, 2) => TcpOption::SackPermitted,
                    (5, _) => TcpOption::Sack(data),
                    (8, 10) => TcpOption::Timestamp {
                        tsval: be32(data, 0),
                        tsecr: be32(data, 4),
                    },
                    _ => TcpOption::Unknown { kind, data },
                }))
            }
        }
    }
}

/// A checked TCP segment view (header + whatever follows in the buffer).
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<T> {
    buffer: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    /// Validates the data offset against the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let b = buffer.as_ref();
        need(Layer::Tcp, TCP_MIN_HEADER_LEN, b.len())?;
        let doff = byte(b, OFF_FLAGS) >> 4;
        if doff < 5 {
            return Err(ParseError::Invalid {
                layer: Layer::Tcp,
                offset: 0,
                what: Invalid::TcpDataOffset(doff),
            });
        }
        let header_len = usize::from(doff) * 4;
        need(Layer::Tcp, header_len, b.len())?;
        Ok(TcpSegment { buffer, header_len })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// A copy of the fixed header.
    pub fn header(&self) -> Option<TcpHeader> {
        TcpHeader::read_from_prefix(self.b()).ok().map(|(h, _)| h)
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.b(), 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), 2)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.b(), OFF_SEQ)
    }

    /// Acknowledgment number.
    pub fn ack(&self) -> u32 {
        be32(self.b(), OFF_ACK)
    }

    /// Header length (20–60).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_truncate(be16(self.b(), OFF_FLAGS) & 0x1FF)
    }

    /// Window (unscaled).
    pub fn window(&self) -> u16 {
        be16(self.b(), OFF_WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.b(), OFF_CSUM)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(self.b(), OFF_URGENT)
    }

    /// Options bytes.
    pub fn options(&self) -> &[u8] {
        self.b()
            .get(TCP_MIN_HEADER_LEN..self.header_len)
            .unwrap_or(&[])
    }

    /// Iterator over the options.
    pub fn option_iter(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options())
    }

    /// The Timestamps option (TSval, TSecr), if present and well-formed.
    pub fn timestamp(&self) -> Option<(u32, u32)> {
        self.option_iter().find_map(|o| match o {
            Ok(TcpOption::Timestamp { tsval, tsecr }) => Some((tsval, tsecr)),
            _ => None,
        })
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.header_len..).unwrap_or(&[])
    }

    /// Whether the checksum over the whole buffer is correct, given the pseudo-header sum
    /// *with* the TCP length.
    pub fn verify_checksum(&self, pseudo_sum: u16) -> bool {
        let mut c = checksum::Checksum::new();
        c.add_sum(pseudo_sum);
        c.add_bytes(self.b());
        c.checksum() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpSegment<T> {
    /// Sets the sequence number.
    pub fn set_seq(&mut self, v: u32) {
        put_be32(self.buffer.as_mut(), OFF_SEQ, v);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack(&mut self, v: u32) {
        put_be32(self.buffer.as_mut(), OFF_ACK, v);
    }

    /// Replaces the control bits (data offset and reserved bits kept).
    pub fn set_flags(&mut self, f: TcpFlags) {
        let old = be16(self.buffer.as_ref(), OFF_FLAGS);
        put_be16(self.buffer.as_mut(), OFF_FLAGS, (old & !0x1FF) | f.bits());
    }

    /// Sets the window.
    pub fn set_window(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_WINDOW, v);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_CSUM, v);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_URGENT, v);
    }

    /// Computes and stores the checksum over the whole buffer, given the pseudo-header sum
    /// with the TCP length.
    pub fn fill_checksum(&mut self, pseudo_sum: u16) {
        self.set_checksum(0);
        let mut c = checksum::Checksum::new();
        c.add_sum(pseudo_sum);
        c.add_bytes(self.buffer.as_ref());
        self.set_checksum(c.checksum());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn seg(opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let hl = 20 + opts.len();
        let mut v = Vec::new();
        v.extend_from_slice(&1234u16.to_be_bytes());
        v.extend_from_slice(&80u16.to_be_bytes());
        v.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        v.extend_from_slice(&0x0506_0708u32.to_be_bytes());
        v.push(((hl / 4) as u8) << 4 | 1); // NS set
        v.push(0x18 | 0x80 | 0x40); // PSH ACK CWR ECE
        v.extend_from_slice(&4096u16.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&7u16.to_be_bytes());
        v.extend_from_slice(opts);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn tcp_header_layout_is_20_bytes() {
        assert_eq!(core::mem::size_of::<TcpHeader>(), TCP_MIN_HEADER_LEN);
    }

    #[test]
    fn tcp_fields_and_flags_including_ns_ece_cwr() {
        let b = seg(&[], b"hello");
        let t = TcpSegment::new_checked(&b[..]).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (1234, 80));
        assert_eq!((t.seq(), t.ack()), (0x0102_0304, 0x0506_0708));
        assert_eq!(
            t.flags(),
            TcpFlags::PSH | TcpFlags::ACK | TcpFlags::CWR | TcpFlags::ECE | TcpFlags::NS
        );
        assert_eq!((t.window(), t.urgent()), (4096, 7));
        assert_eq!(t.payload(), b"hello");
        assert_eq!(t.header().unwrap().window.get(), 4096);
    }

    #[test]
    fn tcp_set_flags_keeps_data_offset() {
        let mut b = seg(&[1, 1, 1, 1], b"x");
        let mut t = TcpSegment::new_checked(&mut b[..]).unwrap();
        t.set_flags(TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(t.flags(), TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(t.header_len(), 24);
    }

    #[test]
    fn tcp_options_iterator_and_timestamp_lookup() {
        let opts = [
            1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 2, 4, 5, 0xb4, 3, 3, 7, 4, 2, 0, 0, 0,
        ];
        let b = seg(&opts, &[]);
        let t = TcpSegment::new_checked(&b[..]).unwrap();
        let v: Vec<_> = t.option_iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            v,
            [
                TcpOption::Nop,
                TcpOption::Nop,
                TcpOption::Timestamp { tsval: 5, tsecr: 6 },
                TcpOption::Mss(1460),
                TcpOption::WindowScale(7),
                TcpOption::SackPermitted,
            ]
        );
        assert_eq!(t.timestamp(), Some((5, 6)));
    }

    #[test]
    fn tcp_truncated_option_yields_one_error() {
        let opts = [1, 8, 10, 0]; // timestamp claims 10 bytes, 3 left
        let b = seg(&opts, &[]);
        let t = TcpSegment::new_checked(&b[..]).unwrap();
        let v: Vec<_> = t.option_iter().collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], Ok(TcpOption::Nop));
        assert_eq!(
            v[1],
            Err(ParseError::Len(LenError {
                layer: Layer::Tcp,
                offset: 21,
                required: 10,
                available: 3,
                source: LenSource::Buffer
            }))
        );
        assert_eq!(t.timestamp(), None);
        // Zero-length option: error, no infinite loop.
        let b = seg(&[5, 0, 0, 0], &[]);
        let t = TcpSegment::new_checked(&b[..]).unwrap();
        assert_eq!(t.option_iter().count(), 1);
    }

    #[test]
    fn tcp_bad_data_offset() {
        let mut b = seg(&[], &[]);
        b[12] = 0x40;
        assert!(matches!(
            TcpSegment::new_checked(&b[..]),
            Err(ParseError::Invalid {
                what: Invalid::TcpDataOffset(4),
                ..
            })
        ));
        b[12] = 0xF0; // 60 bytes, only 20 present
        assert!(matches!(
            TcpSegment::new_checked(&b[..]),
            Err(ParseError::Len(LenError {
                required: 60,
                available: 20,
                ..
            }))
        ));
    }

    #[test]
    fn tcp_fill_then_verify_checksum() {
        let mut b = seg(&[1, 1, 1, 1], b"payload!");
        let ph = checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 6, Some(b.len() as u32));
        let mut t = TcpSegment::new_checked(&mut b[..]).unwrap();
        t.fill_checksum(ph);
        assert!(t.verify_checksum(ph));
        t.set_seq(99);
        assert!(!t.verify_checksum(ph));
    }
}
