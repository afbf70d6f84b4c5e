//! [`parse_frame`]: one pass over Ethernet → IPv4/IPv6 (+ extension headers) → TCP/UDP,
//! producing the offsets every datapath module needs. No allocation.

use super::ethernet::{ethertype, EthernetFrame, VlanTag};
use super::ipv4::Ipv4Packet;
use super::ipv6::Ipv6Packet;
use super::tcp::TcpSegment;
use super::udp::{UdpDatagram, UDP_HEADER_LEN};
use super::{be16, ip_proto, Invalid, Layer, LenError, LenSource, ParseError};

/// How IP length fields are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenMode {
    /// Receive and plain sends: IPv4 Total Length / IPv6 Payload Length must fit the buffer
    /// (bytes after them are padding), and the UDP Length must fit the datagram.
    Strict,
    /// LSO/USO sends: the datagram extends to the end of the buffer whatever the length
    /// fields say (LSOv2 sends Total Length 0; the NET_BUFFER length is authoritative,
    /// spec §2.3, §3.3); the UDP Length is not checked.
    Lax,
}

/// IP fragment information (IPv4 header fields or an IPv6 Fragment header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    /// More Fragments.
    pub more: bool,
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
}

impl FragmentInfo {
    /// Whether this is a real fragment (not an IPv6 "atomic fragment" with offset 0, M 0).
    pub const fn is_fragment(&self) -> bool {
        self.more || self.offset != 0
    }
}

/// Network layer of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum L3Kind {
    /// Not IP (ARP, LLDP, …): only the Ethernet fields are meaningful.
    #[default]
    Other,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Transport layer of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum L4Kind {
    /// No transport header reachable: not IP, a non-first fragment, ESP or No Next Header.
    #[default]
    None,
    /// TCP (header validated).
    Tcp,
    /// UDP (header validated).
    Udp,
    /// Another protocol (ICMP, SCTP, …): not parsed; `l4_offset` is where it starts.
    Other(u8),
}

/// Where everything is in a frame. All offsets are from the first byte of the Ethernet
/// header; lengths are in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FrameLayout {
    /// Ethernet header length including tags (14, 18 or 22).
    pub l2_len: usize,
    /// 802.1Q customer tag (inner tag of QinQ).
    pub vlan: Option<VlanTag>,
    /// 802.1ad service tag.
    pub outer_vlan: Option<VlanTag>,
    /// EtherType after the tags.
    pub ethertype: u16,
    /// IPv4, IPv6 or other.
    pub l3: L3Kind,
    /// Offset of the IP header (= `l2_len`).
    pub l3_offset: usize,
    /// IP header length: IPv4 IHL × 4, IPv6 40 + extension headers.
    pub l3_header_len: usize,
    /// Length of the IP datagram (header + payload) as used: the length field in
    /// [`LenMode::Strict`], the rest of the buffer in [`LenMode::Lax`].
    pub l3_datagram_len: usize,
    /// Bytes after the IP datagram (Ethernet padding).
    pub padding: usize,
    /// IPv4 options present.
    pub ip_options: bool,
    /// IPv6 extension headers present.
    pub ipv6_ext_headers: bool,
    /// Fragment information if the packet is an IPv4 fragment or has an IPv6 Fragment
    /// header.
    pub fragment: Option<FragmentInfo>,
    /// Transport protocol number (IPv4 Protocol or the last IPv6 Next Header).
    pub ip_proto: u8,
    /// Transport layer.
    pub l4: L4Kind,
    /// Offset of the transport header.
    pub l4_offset: usize,
    /// Transport header length (TCP data offset × 4, UDP 8, 0 otherwise).
    pub l4_header_len: usize,
    /// Offset of the transport payload.
    pub payload_offset: usize,
    /// Transport payload length (UDP: from the Length field in strict mode).
    pub payload_len: usize,
    /// Offset of an IPv6 Home Address option's address (RSS `*_EX` source).
    pub ipv6_home_address_offset: Option<usize>,
    /// Offset of an IPv6 type-2 routing header's address (RSS `*_EX` destination).
    pub ipv6_routing_type2_offset: Option<usize>,
}

impl FrameLayout {
    /// IPv4.
    pub const fn is_ipv4(&self) -> bool {
        matches!(self.l3, L3Kind::Ipv4)
    }

    /// IPv6.
    pub const fn is_ipv6(&self) -> bool {
        matches!(self.l3, L3Kind::Ipv6)
    }

    /// TCP.
    pub const fn is_tcp(&self) -> bool {
        matches!(self.l4, L4Kind::Tcp)
    }

    /// UDP.
    pub const fn is_udp(&self) -> bool {
        matches!(self.l4, L4Kind::Udp)
    }

    /// A real IP fragment (MF or non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| f.is_fragment())
    }

    /// End of the IP datagram (start of padding).
    pub const fn l3_end(&self) -> usize {
        self.l3_offset + self.l3_datagram_len
    }

    /// Bytes of all headers up to the transport payload.
    pub const fn headers_len(&self) -> usize {
        self.payload_offset
    }

    /// Transport segment length (header + payload) for pseudo-headers.
    pub const fn l4_len(&self) -> usize {
        self.l3_end().saturating_sub(self.l4_offset)
    }
}

/// Parses `frame` (starting at the Ethernet header) in `mode`.
///
/// Non-IP EtherTypes are not errors ([`L3Kind::Other`]). An IP header, extension header or
/// TCP/UDP header that is malformed or truncated is. Protocols other than TCP/UDP are
/// reported as [`L4Kind::Other`] without parsing.
pub fn parse_frame(frame: &[u8], mode: LenMode) -> Result<FrameLayout, ParseError> {
    let eth = EthernetFrame::new_checked(frame)?;
    let l2 = eth.header_len();
    let mut lay = FrameLayout {
        l2_len: l2,
        vlan: eth.vlan(),
        outer_vlan: eth.outer_vlan(),
        ethertype: eth.ethertype(),
        l3_offset: l2,
        payload_offset: l2,
        payload_len: frame.len().saturating_sub(l2),
        l4_offset: l2,
        ..FrameLayout::default()
    };
    let l3 = frame.get(l2..).unwrap_or(&[]);
    // Where the L4 slice is bounded and by what (for error reporting).
    let len_source;
    match lay.ethertype {
        ethertype::IPV4 => {
            let ip = Ipv4Packet::new_checked(l3, mode).map_err(|e| e.add_offset(l2))?;
            lay.l3 = L3Kind::Ipv4;
            lay.l3_header_len = ip.header_len();
            lay.l3_datagram_len = ip.datagram_len();
            lay.padding = ip.padding_len();
            lay.ip_options = ip.has_options();
            lay.ip_proto = ip.protocol();
            if ip.is_fragment() {
                lay.fragment = Some(FragmentInfo {
                    offset: ip.frag_offset(),
                    more: ip.more_frags(),
                    id: u32::from(ip.id()),
                });
            }
            len_source = LenSource::Ipv4TotalLength;
            lay.l4_offset = l2 + ip.header_len();
            if ip.frag_offset() != 0 {
                lay.payload_offset = lay.l4_offset;
                lay.payload_len = lay.l3_end().saturating_sub(lay.l4_offset);
                return Ok(lay);
            }
        }
        ethertype::IPV6 => {
            let ip = Ipv6Packet::new_checked(l3, mode).map_err(|e| e.add_offset(l2))?;
            let w = ip.walk().map_err(|e| e.add_offset(l2))?;
            lay.l3 = L3Kind::Ipv6;
            lay.l3_header_len = w.l4_offset;
            lay.l3_datagram_len = ip.datagram_len();
            lay.padding = ip.padding_len();
            lay.ipv6_ext_headers = w.has_ext_headers();
            lay.ip_proto = w.l4_proto;
            lay.fragment = w.fragment;
            lay.ipv6_home_address_offset = w.home_address_offset.map(|o| o + l2);
            lay.ipv6_routing_type2_offset = w.routing_type2_offset.map(|o| o + l2);
            len_source = LenSource::Ipv6PayloadLength;
            lay.l4_offset = l2 + w.l4_offset;
            if w.l4_opaque {
                lay.payload_offset = lay.l4_offset;
                lay.payload_len = lay.l3_end().saturating_sub(lay.l4_offset);
                return Ok(lay);
            }
        }
        _ => return Ok(lay),
    }

    let l4_start = lay.l4_offset;
    let l4 = frame.get(l4_start..lay.l3_end()).unwrap_or(&[]);
    // A Len error inside the datagram is bounded by the IP length field when that is
    // shorter than the buffer.
    let bounded = |e: ParseError| {
        let e = e.add_offset(l4_start);
        match e {
            ParseError::Len(mut l) if lay.padding > 0 && mode == LenMode::Strict => {
                l.source = len_source;
                ParseError::Len(l)
            }
            other => other,
        }
    };
    match lay.ip_proto {
        ip_proto::TCP => {
            let t = TcpSegment::new_checked(l4).map_err(bounded)?;
            lay.l4 = L4Kind::Tcp;
            lay.l4_header_len = t.header_len();
        }
        ip_proto::UDP => {
            let u = UdpDatagram::new_checked(l4).map_err(bounded)?;
            lay.l4 = L4Kind::Udp;
            lay.l4_header_len = UDP_HEADER_LEN;
            if mode == LenMode::Strict && !lay.is_fragment() {
                let ulen = u.len();
                if usize::from(ulen) < UDP_HEADER_LEN {
                    return Err(ParseError::Invalid {
                        layer: Layer::Udp,
                        offset: l4_start,
                        what: Invalid::UdpLength(ulen),
                    });
                }
                if usize::from(ulen) > l4.len() {
                    return Err(ParseError::Len(LenError {
                        layer: Layer::Udp,
                        offset: l4_start,
                        required: usize::from(ulen),
                        available: l4.len(),
                        source: if lay.padding > 0 {
                            len_source
                        } else {
                            LenSource::Buffer
                        },
                    }));
                }
                lay.payload_offset = l4_start + UDP_HEADER_LEN;
                lay.payload_len = usize::from(ulen) - UDP_HEADER_LEN;
                return Ok(lay);
            }
        }
        p => {
            lay.l4 = L4Kind::Other(p);
            lay.l4_header_len = 0;
        }
    }
    lay.payload_offset = l4_start + lay.l4_header_len;
    lay.payload_len = lay.l3_end().saturating_sub(lay.payload_offset);
    Ok(lay)
}

/// Length of the IP datagram as stated by its header fields (IPv4 Total Length, IPv6
/// 40 + Payload Length) for a parsed layout, or `None` if not IP.
pub fn ip_length_field(frame: &[u8], lay: &FrameLayout) -> Option<usize> {
    match lay.l3 {
        L3Kind::Ipv4 => Some(usize::from(be16(frame, lay.l3_offset + 2))),
        L3Kind::Ipv6 => Some(40 + usize::from(be16(frame, lay.l3_offset + 4))),
        L3Kind::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn eth(ethertype: u16) -> Vec<u8> {
        let mut v = Vec::from([0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&ethertype.to_be_bytes());
        v
    }

    fn ipv4_tcp(payload: usize, opts: usize, pad: usize) -> Vec<u8> {
        let mut v = eth(ethertype::IPV4);
        let ihl = 5 + opts / 4;
        let total = ihl * 4 + 20 + payload;
        v.extend_from_slice(&[0x40 | ihl as u8, 0]);
        v.extend_from_slice(&(total as u16).to_be_bytes());
        v.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        v.extend(core::iter::repeat_n(1u8, opts)); // NOPs
        v.extend_from_slice(&[
            0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        v.extend(core::iter::repeat_n(0xAAu8, payload));
        v.extend(core::iter::repeat_n(0u8, pad));
        v
    }

    #[test]
    fn frame_ipv4_tcp_offsets() {
        let f = ipv4_tcp(100, 0, 0);
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(
            (l.l2_len, l.l3, l.l3_offset, l.l3_header_len),
            (14, L3Kind::Ipv4, 14, 20)
        );
        assert_eq!((l.l4, l.l4_offset, l.l4_header_len), (L4Kind::Tcp, 34, 20));
        assert_eq!((l.payload_offset, l.payload_len, l.padding), (54, 100, 0));
        assert_eq!(l.l4_len(), 120);
        assert!(!l.ip_options && l.fragment.is_none());
    }

    #[test]
    fn frame_ipv4_options_and_padding() {
        let f = ipv4_tcp(0, 8, 6);
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert!(l.ip_options);
        assert_eq!(
            (l.l3_header_len, l.l4_offset, l.payload_len, l.padding),
            (28, 42, 0, 6)
        );
        assert_eq!(ip_length_field(&f, &l), Some(48));
    }

    #[test]
    fn frame_tcp_truncated_by_total_length_names_the_length_field() {
        let mut f = ipv4_tcp(0, 0, 30);
        f[16..18].copy_from_slice(&30u16.to_be_bytes()); // IP total 30: TCP header cut to 10
        let e = parse_frame(&f, LenMode::Strict).unwrap_err();
        assert_eq!(
            e,
            ParseError::Len(LenError {
                layer: Layer::Tcp,
                offset: 34,
                required: 20,
                available: 10,
                source: LenSource::Ipv4TotalLength
            })
        );
    }

    #[test]
    fn frame_lax_mode_takes_length_from_buffer() {
        let mut f = ipv4_tcp(3000, 0, 0);
        f[16..18].copy_from_slice(&[0, 0]);
        assert!(parse_frame(&f, LenMode::Strict).is_err());
        let l = parse_frame(&f, LenMode::Lax).unwrap();
        assert_eq!((l.payload_len, l.l3_datagram_len), (3000, 3040));
        assert_eq!(ip_length_field(&f, &l), Some(0));
    }

    #[test]
    fn frame_non_ip_is_not_an_error() {
        let mut f = eth(ethertype::ARP);
        f.extend_from_slice(&[0u8; 28]);
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(
            (l.l3, l.l4, l.payload_offset, l.payload_len),
            (L3Kind::Other, L4Kind::None, 14, 28)
        );
    }

    #[test]
    fn frame_ipv4_later_fragment_has_no_l4() {
        let mut f = ipv4_tcp(40, 0, 0);
        f[20..22].copy_from_slice(&(0x2000u16 | 10).to_be_bytes());
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(l.l4, L4Kind::None);
        assert_eq!(
            l.fragment,
            Some(FragmentInfo {
                offset: 10,
                more: true,
                id: 1
            })
        );
        assert!(l.is_fragment());
        assert_eq!((l.payload_offset, l.payload_len), (34, 60));
    }

    #[test]
    fn frame_udp_length_checked_in_strict_mode() {
        let mut f = eth(ethertype::IPV4);
        f.extend_from_slice(&[
            0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 14, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]); // UDP len 14 (2 spare)
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(
            (l.l4, l.payload_offset, l.payload_len),
            (L4Kind::Udp, 42, 6)
        );
        f[38..40].copy_from_slice(&17u16.to_be_bytes());
        assert!(matches!(
            parse_frame(&f, LenMode::Strict),
            Err(ParseError::Len(LenError {
                layer: Layer::Udp,
                required: 17,
                available: 16,
                ..
            }))
        ));
        f[38..40].copy_from_slice(&7u16.to_be_bytes());
        assert!(matches!(
            parse_frame(&f, LenMode::Strict),
            Err(ParseError::Invalid {
                what: Invalid::UdpLength(7),
                offset: 34,
                ..
            })
        ));
        // Lax: UDP length not checked (USO template).
        let l = parse_frame(&f, LenMode::Lax).unwrap();
        assert_eq!(l.payload_len, 8);
    }

    #[test]
    fn frame_vlan_ipv6_ext_offsets_are_frame_relative() {
        let mut f = Vec::from([
            0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x81, 0, 0, 5,
        ]);
        f.extend_from_slice(&ethertype::IPV6.to_be_bytes());
        let mut ext = Vec::from([17u8, 2, 1, 2, 0, 0, 201, 16]);
        ext.extend_from_slice(&[0xab; 16]);
        f.extend_from_slice(&0x6000_0000u32.to_be_bytes());
        f.extend_from_slice(&((ext.len() + 8) as u16).to_be_bytes());
        f.extend_from_slice(&[60, 64]);
        f.extend_from_slice(&[0u8; 32]);
        f.extend_from_slice(&ext);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(
            l.vlan,
            Some(VlanTag {
                pcp: 0,
                dei: false,
                vid: 5
            })
        );
        assert_eq!((l.l2_len, l.l3_header_len, l.l4_offset), (18, 64, 82));
        assert!(l.ipv6_ext_headers);
        let hao = l.ipv6_home_address_offset.unwrap();
        assert_eq!(&f[hao..hao + 16], &[0xab; 16]);
        assert_eq!((l.l4, l.payload_len), (L4Kind::Udp, 0));
    }

    #[test]
    fn frame_other_l4_protocol_reported() {
        let mut f = ipv4_tcp(0, 0, 0);
        f[23] = 1; // ICMP
        let l = parse_frame(&f, LenMode::Strict).unwrap();
        assert_eq!(
            (l.l4, l.l4_offset, l.payload_offset, l.payload_len),
            (L4Kind::Other(1), 34, 34, 20)
        );
    }

    #[test]
    fn frame_errors_rebased_to_frame_offsets() {
        let mut f = ipv4_tcp(0, 0, 0);
        f[14] = 0x43;
        assert_eq!(
            parse_frame(&f, LenMode::Strict).unwrap_err(),
            ParseError::Invalid {
                layer: Layer::Ipv4,
                offset: 14,
                what: Invalid::Ipv4HeaderLength(3)
            }
        );
    }
}
