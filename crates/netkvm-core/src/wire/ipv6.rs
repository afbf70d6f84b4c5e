//! IPv6 (RFC 8200) and a bounded extension-header walker.

use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::frame::{FragmentInfo, LenMode};
use super::{
    array, be16, be32, byte, ip_proto, need, put_be16, Invalid, Layer, LenError, LenSource,
    ParseError,
};

/// Fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// At most this many extension headers are walked (then [`Invalid::Ipv6ExtChainTooLong`]).
pub const IPV6_MAX_EXT_HEADERS: usize = 8;
/// At most this many bytes of extension headers are walked. NDIS requires LSOv2/checksum
/// offload to handle 128 bytes (spec §3.1, §4.1); NetKVM parses up to 252.
pub const IPV6_MAX_EXT_BYTES: usize = 256;

/// Home Address destination option type (RFC 6275 §6.3).
const OPT_HOME_ADDRESS: u8 = 201;

/// Fixed IPv6 header layout.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ipv6Header {
    /// Version (4 bits), traffic class (8), flow label (20).
    pub ver_tc_flow: U32,
    /// Payload Length (everything after the fixed header).
    pub payload_len: U16,
    /// Next Header.
    pub next_header: u8,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// Result of walking the extension-header chain. Offsets are from the start of the IPv6
/// header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtWalk {
    /// Protocol after the chain (TCP 6, UDP 17, …), or where the walk stopped: ESP 50,
    /// No Next Header 59, or the payload protocol of a non-first fragment.
    pub l4_proto: u8,
    /// Offset of the upper-layer header (= 40 + extension bytes).
    pub l4_offset: usize,
    /// Number of extension headers walked.
    pub ext_headers: u8,
    /// Fragment header contents, if one was present.
    pub fragment: Option<FragmentInfo>,
    /// Offset of the 16-byte home address in a Home Address destination option.
    pub home_address_offset: Option<usize>,
    /// Offset of the 16-byte address in a type-2 routing header (RFC 6275 §6.4).
    pub routing_type2_offset: Option<usize>,
    /// The upper-layer header is not reachable: ESP, No Next Header, or a non-first fragment.
    pub l4_opaque: bool,
}

impl ExtWalk {
    /// Whether any extension header was present.
    pub fn has_ext_headers(&self) -> bool {
        self.ext_headers != 0
    }
}

/// Walks the extension headers of `datagram` (IPv6 header + payload, already bounded to the
/// datagram length) starting with `next_header`. Bounded to [`IPV6_MAX_EXT_HEADERS`] headers
/// and [`IPV6_MAX_EXT_BYTES`] bytes. Handles Hop-by-Hop (0, first only), Routing (43, type-2
/// address recorded), Fragment (44; a non-first fragment stops the walk), Destination Options
/// (60, Home Address option recorded), AH (51, length in 4-byte units), ESP (50, stops:
/// payload opaque) and No Next Header (59).
pub fn walk_extension_headers(datagram: &[u8], next_header: u8) -> Result<ExtWalk, ParseError> {
    let mut w = ExtWalk {
        l4_proto: next_header,
        l4_offset: IPV6_HEADER_LEN,
        ..ExtWalk::default()
    };
    let mut next = next_header;
    let mut off = IPV6_HEADER_LEN;
    loop {
        let len = match next {
            ip_proto::HOP_BY_HOP
            | ip_proto::ROUTING
            | ip_proto::DEST_OPTIONS
            | ip_proto::AH
            | ip_proto::FRAGMENT => {
                if next == ip_proto::HOP_BY_HOP && w.ext_headers != 0 {
                    return Err(ParseError::Invalid {
                        layer: Layer::Ipv6Ext,
                        offset: off,
                        what: Invalid::Ipv6HopByHopNotFirst,
                    });
                }
                if usize::from(w.ext_headers) >= IPV6_MAX_EXT_HEADERS {
                    return Err(ParseError::Invalid {
                        layer: Layer::Ipv6Ext,
                        offset: off,
                        what: Invalid::Ipv6ExtChainTooLong,
                    });
                }
                ext_need(datagram, off, 2)?;
                let l = match next {
                    ip_proto::FRAGMENT => 8,
                    ip_proto::AH => (usize::from(byte(datagram, off + 1)) + 2) * 4,
                    _ => (usize::from(byte(datagram, off + 1)) + 1) * 8,
                };
                if off + l - IPV6_HEADER_LEN > IPV6_MAX_EXT_BYTES {
                    return Err(ParseError::Invalid {
                        layer: Layer::Ipv6Ext,
                        offset: off,
                        what: Invalid::Ipv6ExtChainTooLong,
                    });
                }
                ext_need(datagram, off, l)?;
                l
            }
            ip_proto::ESP | ip_proto::NO_NEXT_HEADER => {
                w.l4_opaque = true;
                break;
            }
            _ => break,
        };
        let this = next;
        next = byte(datagram, off);
        w.ext_headers += 1;
        match this {
            // Type 2 (RFC 6275): Hdr Ext Len 2, one address after 4 reserved bytes.
            ip_proto::ROUTING if byte(datagram, off + 2) == 2 && len == 24 => {
                w.routing_type2_offset = Some(off + 8);
            }
            ip_proto::DEST_OPTIONS => {
                if let Some(a) = find_home_address(datagram.get(off + 2..off + len).unwrap_or(&[]))
                {
                    w.home_address_offset = Some(off + 2 + a);
                }
            }
            ip_proto::FRAGMENT => {
                let fo = be16(datagram, off + 2);
                let info = FragmentInfo {
                    offset: fo >> 3,
                    more: fo & 1 != 0,
                    id: be32(datagram, off + 4),
                };
                w.fragment = Some(info);
                if info.offset != 0 {
                    // Not the first fragment: what follows is the middle of the payload.
                    off += len;
                    w.l4_proto = next;
                    w.l4_offset = off;
                    w.l4_opaque = true;
                    return Ok(w);
                }
            }
            _ => {}
        }
        off += len;
    }
    w.l4_proto = next;
    w.l4_offset = off;
    Ok(w)
}

fn ext_need(datagram: &[u8], off: usize, len: usize) -> Result<(), ParseError> {
    if datagram.len() >= off + len {
        Ok(())
    } else {
        Err(ParseError::Len(LenError {
            layer: Layer::Ipv6Ext,
            offset: off,
            required: len,
            available: datagram.len().saturating_sub(off),
            source: LenSource::Ipv6PayloadLength,
        }))
    }
}

/// Offset (within the options area) of the Home Address option's address.
fn find_home_address(opts: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&t) = opts.get(i) {
        if t == 0 {
            i += 1; // Pad1
            continue;
        }
        let l = usize::from(*opts.get(i + 1)?);
        if t == OPT_HOME_ADDRESS && l == 16 && opts.len() >= i + 2 + 16 {
            return Some(i + 2);
        }
        i += 2 + l;
    }
    None
}

/// A checked IPv6 packet view. Length modes as for IPv4: `Strict` requires
/// `40 + Payload Length <= buffer` (bytes after are padding); `Lax` takes the datagram from
/// the buffer (LSOv2 may leave Payload Length 0).
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<T> {
    buffer: T,
    datagram_len: usize,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Validates version and lengths for `mode`.
    pub fn new_checked(buffer: T, mode: LenMode) -> Result<Self, ParseError> {
        let b = buffer.as_ref();
        need(Layer::Ipv6, IPV6_HEADER_LEN, b.len())?;
        let v = byte(b, 0) >> 4;
        if v != 6 {
            return Err(ParseError::Invalid {
                layer: Layer::Ipv6,
                offset: 0,
                what: Invalid::IpVersion(v),
            });
        }
        let datagram_len = match mode {
            LenMode::Lax => b.len(),
            LenMode::Strict => {
                let d = IPV6_HEADER_LEN + usize::from(be16(b, 4));
                if d > b.len() {
                    return Err(ParseError::Len(LenError {
                        layer: Layer::Ipv6,
                        offset: 0,
                        required: d,
                        available: b.len(),
                        source: LenSource::Buffer,
                    }));
                }
                d
            }
        };
        Ok(Ipv6Packet {
            buffer,
            datagram_len,
        })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// A copy of the fixed header.
    pub fn header(&self) -> Ipv6Header {
        Ipv6Header::read_from_prefix(self.b()).map_or(
            Ipv6Header {
                ver_tc_flow: U32::ZERO,
                payload_len: U16::ZERO,
                next_header: 0,
                hop_limit: 0,
                src: [0; 16],
                dst: [0; 16],
            },
            |(h, _)| h,
        )
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (be32(self.b(), 0) >> 20) as u8
    }

    /// ECN codepoint (low 2 bits of the traffic class).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 3
    }

    /// Flow label.
    pub fn flow_label(&self) -> u32 {
        be32(self.b(), 0) & 0xF_FFFF
    }

    /// Payload Length field as sent.
    pub fn payload_len(&self) -> u16 {
        be16(self.b(), 4)
    }

    /// Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        byte(self.b(), 6)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        byte(self.b(), 7)
    }

    /// Source address.
    pub fn src(&self) -> [u8; 16] {
        array(self.b(), 8)
    }

    /// Destination address.
    pub fn dst(&self) -> [u8; 16] {
        array(self.b(), 24)
    }

    /// Datagram length used by this view.
    pub fn datagram_len(&self) -> usize {
        self.datagram_len
    }

    /// Bytes after the datagram.
    pub fn padding_len(&self) -> usize {
        self.b().len().saturating_sub(self.datagram_len)
    }

    /// The datagram (header + payload, without padding).
    pub fn datagram(&self) -> &[u8] {
        self.b().get(..self.datagram_len).unwrap_or(&[])
    }

    /// Everything after the fixed header, up to the datagram end.
    pub fn payload(&self) -> &[u8] {
        self.b()
            .get(IPV6_HEADER_LEN..self.datagram_len)
            .unwrap_or(&[])
    }

    /// Walks the extension headers.
    pub fn walk(&self) -> Result<ExtWalk, ParseError> {
        walk_extension_headers(self.datagram(), self.next_header())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets Payload Length.
    pub fn set_payload_len(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), 4, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn v6(next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0x6000_0000u32.to_be_bytes());
        v.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
        v.push(next);
        v.push(64);
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v.extend_from_slice(ext);
        v.extend_from_slice(l4);
        v
    }

    #[test]
    fn ipv6_header_layout_is_40_bytes() {
        assert_eq!(core::mem::size_of::<Ipv6Header>(), IPV6_HEADER_LEN);
    }

    #[test]
    fn ipv6_plain_tcp() {
        let b = v6(6, &[], &[0u8; 20]);
        let p = Ipv6Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        let w = p.walk().unwrap();
        assert_eq!((w.l4_proto, w.l4_offset, w.ext_headers), (6, 40, 0));
        assert!(!w.has_ext_headers() && !w.l4_opaque);
        assert_eq!(p.payload_len(), 20);
    }

    #[test]
    fn ipv6_hop_by_hop_routing_dest_opts_chain() {
        let hbh = [43, 0, 1, 4, 0, 0, 0, 0]; // next=routing, 8 bytes, PadN
                                             // Type-2 routing header: next=60, len 2 (24 bytes), type 2, segleft 1, reserved, addr.
        let mut rt = Vec::from([60u8, 2, 2, 1, 0, 0, 0, 0]);
        rt.extend_from_slice(&[0xfe; 16]);
        // Destination options: next=17, len 2 (24 bytes): Pad1 x2? Use PadN(2) + HAO(201,16) + pad.
        let mut dst = Vec::from([17u8, 2, 1, 2, 0, 0, 201, 16]);
        dst.extend_from_slice(&[0xab; 16]);
        let mut ext = Vec::new();
        ext.extend_from_slice(&hbh);
        ext.extend_from_slice(&rt);
        ext.extend_from_slice(&dst);
        let b = v6(0, &ext, &[0u8; 8]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert_eq!(w.l4_proto, 17);
        assert_eq!(w.l4_offset, 40 + 8 + 24 + 24);
        assert_eq!(w.ext_headers, 3);
        let rt2 = w.routing_type2_offset.unwrap();
        assert_eq!(&b[rt2..rt2 + 16], &[0xfe; 16]);
        let hao = w.home_address_offset.unwrap();
        assert_eq!(&b[hao..hao + 16], &[0xab; 16]);
    }

    #[test]
    fn ipv6_hop_by_hop_not_first_is_invalid() {
        let ext = [0u8, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0]; // dest-opts? no: first is HBH->HBH
        let b = v6(60, &ext, &[]);
        assert!(matches!(
            Ipv6Packet::new_checked(&b[..], LenMode::Strict)
                .unwrap()
                .walk(),
            Err(ParseError::Invalid {
                what: Invalid::Ipv6HopByHopNotFirst,
                offset: 48,
                ..
            })
        ));
    }

    #[test]
    fn ipv6_first_fragment_continues_later_fragment_stops() {
        // Fragment header: next=6, offset 0, M=1, id 0x01020304.
        let b = v6(44, &[6, 0, 0, 1, 1, 2, 3, 4], &[0u8; 20]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert_eq!(
            w.fragment,
            Some(FragmentInfo {
                offset: 0,
                more: true,
                id: 0x01020304
            })
        );
        assert_eq!((w.l4_proto, w.l4_offset, w.l4_opaque), (6, 48, false));
        // Offset 100 (units of 8): L4 not reachable.
        let fo = (100u16 << 3).to_be_bytes();
        let b = v6(44, &[6, 0, fo[0], fo[1], 1, 2, 3, 4], &[0u8; 20]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert!(w.l4_opaque);
        assert_eq!(w.fragment.unwrap().offset, 100);
    }

    #[test]
    fn ipv6_esp_and_no_next_header_stop_the_walk() {
        let b = v6(50, &[], &[0u8; 16]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert!(w.l4_opaque);
        assert_eq!(w.l4_proto, 50);
        let b = v6(60, &[59, 0, 1, 4, 0, 0, 0, 0], &[]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert_eq!((w.l4_proto, w.l4_opaque), (59, true));
    }

    #[test]
    fn ipv6_ah_length_in_four_byte_units() {
        // AH: next=6, payload len 4 -> (4+2)*4 = 24 bytes.
        let mut ah = Vec::from([6u8, 4, 0, 0]);
        ah.extend_from_slice(&[0u8; 20]);
        let b = v6(51, &ah, &[0u8; 20]);
        let w = Ipv6Packet::new_checked(&b[..], LenMode::Strict)
            .unwrap()
            .walk()
            .unwrap();
        assert_eq!((w.l4_proto, w.l4_offset), (6, 64));
    }

    #[test]
    fn ipv6_ext_chain_bounded() {
        // Nine destination-options headers: more than IPV6_MAX_EXT_HEADERS.
        let mut ext = Vec::new();
        for i in 0..9 {
            ext.extend_from_slice(&[if i == 8 { 6 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        let b = v6(60, &ext, &[0u8; 20]);
        assert!(matches!(
            Ipv6Packet::new_checked(&b[..], LenMode::Strict)
                .unwrap()
                .walk(),
            Err(ParseError::Invalid {
                what: Invalid::Ipv6ExtChainTooLong,
                ..
            })
        ));
        // One 264-byte header (len 32): more than 256 bytes.
        let mut big = Vec::from([6u8, 32]);
        big.resize(264, 0);
        big[2] = 1;
        big[3] = 254;
        let b = v6(60, &big, &[0u8; 20]);
        assert!(matches!(
            Ipv6Packet::new_checked(&b[..], LenMode::Strict)
                .unwrap()
                .walk(),
            Err(ParseError::Invalid {
                what: Invalid::Ipv6ExtChainTooLong,
                ..
            })
        ));
    }

    #[test]
    fn ipv6_truncated_ext_header_is_len_error() {
        let b = v6(60, &[6, 1, 1, 4, 0, 0, 0, 0], &[]); // claims 16 bytes, has 8
        assert_eq!(
            Ipv6Packet::new_checked(&b[..], LenMode::Strict)
                .unwrap()
                .walk()
                .unwrap_err(),
            ParseError::Len(LenError {
                layer: Layer::Ipv6Ext,
                offset: 40,
                required: 16,
                available: 8,
                source: LenSource::Ipv6PayloadLength
            })
        );
    }

    #[test]
    fn ipv6_strict_and_lax_lengths() {
        let mut b = v6(6, &[], &[0u8; 20]);
        b.extend_from_slice(&[0u8; 6]); // padding
        let p = Ipv6Packet::new_checked(&b[..], LenMode::Strict).unwrap();
        assert_eq!((p.datagram_len(), p.padding_len()), (60, 6));
        b[4..6].copy_from_slice(&[0, 0]);
        let p = Ipv6Packet::new_checked(&b[..], LenMode::Lax).unwrap();
        assert_eq!(p.datagram_len(), 66);
        b[4..6].copy_from_slice(&500u16.to_be_bytes());
        assert!(matches!(
            Ipv6Packet::new_checked(&b[..], LenMode::Strict),
            Err(ParseError::Len(LenError {
                required: 540,
                available: 66,
                ..
            }))
        ));
        b[0] = 0x45;
        assert!(Ipv6Packet::new_checked(&b[..], LenMode::Lax).is_err());
    }
}
