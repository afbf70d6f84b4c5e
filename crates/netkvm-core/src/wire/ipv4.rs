//! IPv4 (RFC 791) with options, fragment fields and the header checksum.

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::frame::LenMode;
use super::{array, be16, byte, need, put_be16, Invalid, Layer, LenError, LenSource, ParseError};
use crate::checksum;

/// IPv4 header without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// Fixed part of the IPv4 header.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ipv4Header {
    /// Version (high nibble) and IHL in 32-bit words (low nibble).
    pub ver_ihl: u8,
    /// DSCP (high 6 bits) and ECN (low 2 bits).
    pub tos: u8,
    /// Total Length (header + payload).
    pub total_len: U16,
    /// Identification.
    pub id: U16,
    /// Flags (reserved, DF, MF) and fragment offset in 8-byte units.
    pub flags_frag: U16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const FRAG_MASK: u16 = 0x1FFF;
const OFF_TOTAL_LEN: usize = 2;
const OFF_ID: usize = 4;
const OFF_FLAGS: usize = 6;
const OFF_TTL: usize = 8;
const OFF_CSUM: usize = 10;

/// A checked IPv4 packet view.
///
/// The datagram length depends on [`LenMode`]: `Strict` (receive) requires
/// `header_len <= Total Length <= buffer` and treats the bytes after Total Length as
/// Ethernet padding ([`Ipv4Packet::padding_len`]); `Lax` (LSO/USO send) takes the datagram
/// length from the buffer, because an LSOv2 template carries Total Length 0 and the
/// NET_BUFFER length is authoritative (spec §2.3, §3.3).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<T> {
    buffer: T,
    header_len: usize,
    datagram_len: usize,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Validates version, IHL, and the lengths for `mode`.
    pub fn new_checked(buffer: T, mode: LenMode) -> Result<Self, ParseError> {
        let b = buffer.as_ref();
        need(Layer::Ipv4, IPV4_MIN_HEADER_LEN, b.len())?;
        let vi = byte(b, 0);
        if vi >> 4 != 4 {
            return Err(ParseError::Invalid {
                layer: Layer::Ipv4,
                offset: 0,
                what: Invalid::IpVersion(vi >> 4),
            });
        }
        let ihl = vi & 0x0F;
        if ihl < 5 {
            return Err(ParseError::Invalid {
                layer: Layer::Ipv4,
                offset: 0,
                what: Invalid::Ipv4HeaderLength(ihl),
            });
        }
        let header_len = usize::from(ihl) * 4;
        need(Layer::Ipv4, header_len, b.len())?;
        let datagram_len = match mode {
            LenMode::Lax => b.len(),
            LenMode::Strict => {
                let total = be16(b, OFF_TOTAL_LEN);
                if usize::from(total) < header_len {
                    return Err(ParseError::Invalid {
                        layer: Layer::Ipv4,
                        offset: 0,
                        what: Invalid::Ipv4TotalLength(total),
                    });
                }
                if usize::from(total) > b.len() {
                    return Err(ParseError::Len(LenError {
                        layer: Layer::Ipv4,
                        offset: 0,
                        required: usize::from(total),
                        available: b.len(),
                        source: LenSource::Buffer,
                    }));
                }
                usize::from(total)
            }
        };
        Ok(Ipv4Packet {
            buffer,
            header_len,
            datagram_len,
        })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// A copy of the fixed header.
    pub fn header(&self) -> Ipv4Header {
        Ipv4Header::read_from_prefix(self.b()).map_or(Ipv4Header::new_zeroed_const(), |(h, _)| h)
    }

    /// Header length in bytes (20–60).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Whether the header carries options (IHL > 5).
    pub fn has_options(&self) -> bool {
        self.header_len > IPV4_MIN_HEADER_LEN
    }

    /// The options bytes.
    pub fn options(&self) -> &[u8] {
        self.b()
            .get(IPV4_MIN_HEADER_LEN..self.header_len)
            .unwrap_or(&[])
    }

    /// The header bytes (with options).
    pub fn header_bytes(&self) -> &[u8] {
        self.b().get(..self.header_len).unwrap_or(&[])
    }

    /// DSCP (6 bits).
    pub fn dscp(&self) -> u8 {
        byte(self.b(), 1) >> 2
    }

    /// ECN codepoint (2 bits; 3 = CE).
    pub fn ecn(&self) -> u8 {
        byte(self.b(), 1) & 3
    }

    /// The Total Length field as sent.
    pub fn total_len(&self) -> u16 {
        be16(self.b(), OFF_TOTAL_LEN)
    }

    /// Datagram length used by this view (see [`LenMode`]).
    pub fn datagram_len(&self) -> usize {
        self.datagram_len
    }

    /// Bytes after the datagram (Ethernet padding on receive).
    pub fn padding_len(&self) -> usize {
        self.b().len().saturating_sub(self.datagram_len)
    }

    /// Identification.
    pub fn id(&self) -> u16 {
        be16(self.b(), OFF_ID)
    }

    /// Don't Fragment.
    pub fn dont_frag(&self) -> bool {
        be16(self.b(), OFF_FLAGS) & DF != 0
    }

    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        be16(self.b(), OFF_FLAGS) & MF != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        be16(self.b(), OFF_FLAGS) & FRAG_MASK
    }

    /// MF set or a non-zero fragment offset.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        byte(self.b(), OFF_TTL)
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        byte(self.b(), 9)
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.b(), OFF_CSUM)
    }

    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        array(self.b(), 12)
    }

    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        array(self.b(), 16)
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.header_bytes()) == 0
    }

    /// The header checksum the header should carry (computed as if the field were zero).
    pub fn compute_checksum(&self) -> u16 {
        !checksum::sub(checksum::sum(self.header_bytes()), self.checksum())
    }

    /// The payload: bytes from the end of the header to the end of the datagram.
    pub fn payload(&self) -> &[u8] {
        self.b()
            .get(self.header_len..self.datagram_len)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets Total Length (the view keeps its datagram length).
    pub fn set_total_len(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_TOTAL_LEN, v);
    }

    /// Sets Identification.
    pub fn set_id(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_ID, v);
    }

    /// Sets the flags + fragment offset word.
    pub fn set_flags_frag(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_FLAGS, v);
    }

    /// Sets TTL.
    pub fn set_ttl(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(OFF_TTL) {
            *b = v;
        }
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), OFF_CSUM, v);
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header_bytes());
        self.set_checksum(c);
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, d) = (self.header_len, self.datagram_len);
        self.buffer.as_mut().get_mut(h..d).unwrap_or(&mut [])
    }
}

impl Ipv4Header {
    /// An all-zero header (a `const` stand-in for `FromZeros::new_zeroed`).
    pub const fn new_zeroed_const() -> Self {
        Ipv4Header {
            ver_ihl: 0,
            tos: 0,
            total_len: U16::ZERO,
            id: U16::ZERO,
            flags_frag: U16::ZERO,
            ttl: 0,
            protocol: 0,
            checksum: U16::ZERO,
            src: [0; 4],
            dst: [0; 4],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wikipedia's example header (checksum 0xb861), total length 0x73 = 115.
    fn example() -> [u8; 20] {
        [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ]
    }

    fn packet(total: usize, buf_len: usize, ihl: u8) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0u8; buf_len];
        v[0] = 0x40 | ihl;
        v[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        v[8] = 64;
        v[9] = 6;
        v
    }

    #[test]
    fn ipv4_header_layout_is_20_bytes() {
        assert_eq!(core::mem::size_of::<Ipv4Header>(), IPV4_MIN_HEADER_LEN);
        let h = Ipv4Header::read_from_bytes(&example()[..]).unwrap();
        assert_eq!(h.total_len.get(), 115);
        assert_eq!(h.protocol, 17);
    }

    #[test]
    fn ipv4_fields_and_checksum_verify() {
        let mut b = [0u8; 115];
        b[..20].copy_from_slice(&example());
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert_eq!(p.header_len(), 20);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src(), [192, 168, 0, 1]);
        assert_eq!(p.dst(), [192, 168, 0, 199]);
        assert!(p.verify_checksum());
        assert_eq!(p.compute_checksum(), 0xb861);
        assert_eq!(p.payload().len(), 95);
    }

    #[test]
    fn ipv4_fill_checksum_after_change() {
        let mut b = [0u8; 115];
        b[..20].copy_from_slice(&example());
        let mut p = Ipv4Packet::new_checked(&mut b[..], LenMode::Strict).unwrap();
        p.set_ttl(1);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        // Independent: RFC 1624 update of the known checksum for TTL 0x40 -> 0x01.
        assert_eq!(p.checksum(), checksum::update16(0xb861, 0x4011, 0x0111));
    }

    #[test]
    fn ipv4_strict_padding_after_total_length_is_reported() {
        let b = packet(46, 60, 5);
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert_eq!(p.datagram_len(), 46);
        assert_eq!(p.padding_len(), 14);
        assert_eq!(p.payload().len(), 26);
    }

    #[test]
    fn ipv4_strict_total_length_beyond_buffer_is_len_error() {
        let b = packet(100, 60, 5);
        assert_eq!(
            Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap_err(),
            ParseError::Len(LenError {
                layer: Layer::Ipv4,
                offset: 0,
                required: 100,
                available: 60,
                source: LenSource::Buffer
            })
        );
    }

    #[test]
    fn ipv4_strict_total_length_below_header_is_invalid() {
        let b = packet(0, 60, 5);
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..], LenMode::Strict),
            Err(ParseError::Invalid {
                what: Invalid::Ipv4TotalLength(0),
                ..
            })
        ));
    }

    #[test]
    fn ipv4_lax_total_length_zero_takes_buffer_length() {
        // LSOv2: Total Length 0, the NET_BUFFER length is the datagram length.
        let b = packet(0, 3000, 5);
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Lax).unwrap();
        assert_eq!(p.datagram_len(), 3000);
        assert_eq!(p.total_len(), 0);
        assert_eq!(p.payload().len(), 2980);
    }

    #[test]
    fn ipv4_options_header_length() {
        let mut b = packet(40, 40, 6);
        b[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]); // Router Alert
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert!(p.has_options());
        assert_eq!(p.options(), &[0x94, 0x04, 0, 0]);
        assert_eq!(p.payload().len(), 16);
        // IHL 15 but buffer shorter than 60: length error at the header.
        let b = packet(40, 40, 15);
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..], LenMode::Strict),
            Err(ParseError::Len(LenError {
                required: 60,
                available: 40,
                ..
            }))
        ));
    }

    #[test]
    fn ipv4_bad_version_and_ihl_are_invalid() {
        let mut b = packet(40, 40, 5);
        b[0] = 0x65;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..], LenMode::Strict),
            Err(ParseError::Invalid {
                what: Invalid::IpVersion(6),
                ..
            })
        ));
        b[0] = 0x44;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..], LenMode::Strict),
            Err(ParseError::Invalid {
                what: Invalid::Ipv4HeaderLength(4),
                ..
            })
        ));
        assert!(Ipv4Packet::new_checked(&b[..19], LenMode::Strict).is_err());
    }

    #[test]
    fn ipv4_fragment_fields() {
        let mut b = packet(40, 40, 5);
        b[6..8].copy_from_slice(&(MF | 185).to_be_bytes());
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert!(p.more_frags() && !p.dont_frag());
        assert_eq!(p.frag_offset(), 185);
        assert!(p.is_fragment());
        b[1] = 0b1011_1011;
        let p = Ipv4Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert_eq!((p.dscp(), p.ecn()), (0b101110, 3));
    }
}
