//! Ethernet II with 802.1Q (0x8100) and 802.1ad / QinQ (0x88A8) tags.

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{array, be16, need, Layer, LenError, LenSource, ParseError};

/// Bytes of a MAC address.
pub const MAC_LEN: usize = 6;
/// Untagged Ethernet II header: destination, source, EtherType.
pub const ETH_HEADER_LEN: usize = 14;
/// One 802.1Q / 802.1ad tag: TPID + TCI.
pub const VLAN_TAG_LEN: usize = 4;

/// EtherType values (IEEE registry).
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q customer tag (C-tag).
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (S-tag, QinQ outer tag).
    pub const QINQ: u16 = 0x88A8;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
}

/// Untagged Ethernet II header layout.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EthernetHeader {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// EtherType (or TPID of the first tag).
    pub ethertype: U16,
}

/// An 802.1Q Tag Control Information value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Priority Code Point (0–7; NDIS `UserPriority`).
    pub pcp: u8,
    /// Drop Eligible Indicator (formerly CFI; NDIS `CanonicalFormatId`).
    pub dei: bool,
    /// VLAN identifier (0–4095; NDIS `VlanId`).
    pub vid: u16,
}

impl VlanTag {
    /// Decodes a TCI.
    pub const fn from_tci(tci: u16) -> Self {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0FFF,
        }
    }

    /// Encodes the TCI (out-of-range fields are masked).
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | if self.dei { 0x1000 } else { 0 } | (self.vid & 0x0FFF)
    }
}

/// A checked Ethernet II frame view. Recognises one 802.1Q tag, an 802.1ad outer tag, and
/// both (S-tag then C-tag).
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<T> {
    buffer: T,
    header_len: usize,
    outer: Option<VlanTag>,
    tag: Option<VlanTag>,
    ethertype: u16,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Validates the header (and tags) and returns the view.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let b = buffer.as_ref();
        need(Layer::Ethernet, ETH_HEADER_LEN, b.len())?;
        let mut off = 2 * MAC_LEN;
        let mut tpid = be16(b, off);
        let mut outer = None;
        let mut tag = None;
        if tpid == ethertype::QINQ {
            need_tag(b, off)?;
            outer = Some(VlanTag::from_tci(be16(b, off + 2)));
            off += VLAN_TAG_LEN;
            tpid = be16(b, off);
        }
        if tpid == ethertype::VLAN {
            need_tag(b, off)?;
            tag = Some(VlanTag::from_tci(be16(b, off + 2)));
            off += VLAN_TAG_LEN;
            tpid = be16(b, off);
        }
        Ok(EthernetFrame {
            buffer,
            header_len: off + 2,
            outer,
            tag,
            ethertype: tpid,
        })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 0)
    }

    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), MAC_LEN)
    }

    /// EtherType of the payload (after any tags).
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// The 802.1Q customer tag (the inner tag of a QinQ frame).
    pub fn vlan(&self) -> Option<VlanTag> {
        self.tag
    }

    /// The 802.1ad service (outer) tag.
    pub fn outer_vlan(&self) -> Option<VlanTag> {
        self.outer
    }

    /// Header length including tags: 14, 18 or 22.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len..).unwrap_or(&[])
    }
}

fn need_tag(b: &[u8], off: usize) -> Result<(), ParseError> {
    need(Layer::Vlan, VLAN_TAG_LEN + 2, b.len().saturating_sub(off)).map_err(|e| e.add_offset(off))
}

/// Copies `frame` into `out` with an 802.1Q tag inserted after the MAC addresses; returns
/// the bytes written (`frame.len() + 4`). The frame keeps any tags it already had (they
/// become inner tags).
pub fn insert_vlan_tag(frame: &[u8], tag: VlanTag, out: &mut [u8]) -> Result<usize, ParseError> {
    need(Layer::Ethernet, 2 * MAC_LEN, frame.len())?;
    let total = frame.len() + VLAN_TAG_LEN;
    if out.len() < total {
        return Err(ParseError::Len(LenError {
            layer: Layer::Vlan,
            offset: 0,
            required: total,
            available: out.len(),
            source: LenSource::Buffer,
        }));
    }
    let (Some((macs, rest)), Some((o_macs, o_rest))) = (
        frame.split_at_checked(2 * MAC_LEN),
        out.split_at_mut_checked(2 * MAC_LEN),
    ) else {
        return Err(ParseError::Len(LenError {
            layer: Layer::Vlan,
            offset: 0,
            required: total,
            available: out.len(),
            source: LenSource::Buffer,
        }));
    };
    o_macs.copy_from_slice(macs);
    let tci = tag.tci();
    let tag_bytes = [
        (ethertype::VLAN >> 8) as u8,
        ethertype::VLAN as u8,
        (tci >> 8) as u8,
        tci as u8,
    ];
    if let Some(dst) = o_rest.get_mut(..VLAN_TAG_LEN) {
        dst.copy_from_slice(&tag_bytes);
    }
    if let Some(dst) = o_rest.get_mut(VLAN_TAG_LEN..VLAN_TAG_LEN + rest.len()) {
        dst.copy_from_slice(rest);
    }
    Ok(total)
}

/// Removes the outermost 802.1Q tag (TPID 0x8100) in place by moving the MAC addresses
/// forward 4 bytes (NetKVM's `ParaNdis_StripVlanHeaderMoveHead`). Returns the tag and the
/// offset where the untagged frame now starts (4), or `None` if the frame is not tagged with
/// 0x8100.
pub fn strip_vlan_tag(buf: &mut [u8]) -> Result<Option<(VlanTag, usize)>, ParseError> {
    need(Layer::Ethernet, ETH_HEADER_LEN, buf.len())?;
    if be16(buf, 2 * MAC_LEN) != ethertype::VLAN {
        return Ok(None);
    }
    need(Layer::Vlan, ETH_HEADER_LEN + VLAN_TAG_LEN, buf.len())?;
    let tag = VlanTag::from_tci(be16(buf, 2 * MAC_LEN + 2));
    buf.copy_within(0..2 * MAC_LEN, VLAN_TAG_LEN);
    Ok(Some((tag, VLAN_TAG_LEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACS: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn ethernet_header_layout_is_14_bytes() {
        assert_eq!(core::mem::size_of::<EthernetHeader>(), ETH_HEADER_LEN);
    }

    #[test]
    fn ethernet_untagged() {
        let mut f = [0u8; 20];
        f[..12].copy_from_slice(&MACS);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.header_len(), 14);
        assert_eq!(e.ethertype(), ethertype::IPV4);
        assert_eq!(e.vlan(), None);
        assert_eq!(e.dst(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(e.src(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(e.payload().len(), 6);
    }

    #[test]
    fn ethernet_8021q_tag_recognised() {
        let f = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0xB0, 0x64, 0x86, 0xDD,
        ];
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.header_len(), 18);
        assert_eq!(e.ethertype(), ethertype::IPV6);
        // 0xB064: PCP 5, DEI 1, VID 100.
        assert_eq!(
            e.vlan(),
            Some(VlanTag {
                pcp: 5,
                dei: true,
                vid: 100
            })
        );
        assert_eq!(e.outer_vlan(), None);
    }

    #[test]
    fn ethernet_qinq_outer_and_inner_tags() {
        let f = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0x20, 0x14,
            0x08, 0x00,
        ];
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.header_len(), 22);
        assert_eq!(
            e.outer_vlan(),
            Some(VlanTag {
                pcp: 0,
                dei: false,
                vid: 10
            })
        );
        assert_eq!(
            e.vlan(),
            Some(VlanTag {
                pcp: 1,
                dei: false,
                vid: 20
            })
        );
        assert_eq!(e.ethertype(), ethertype::IPV4);
    }

    #[test]
    fn ethernet_truncated_tag_reports_offset() {
        let f = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x20, 0x14,
        ];
        let err = EthernetFrame::new_checked(&f[..]).unwrap_err();
        assert_eq!(
            err,
            ParseError::Len(LenError {
                layer: Layer::Vlan,
                offset: 12,
                required: 6,
                available: 4,
                source: LenSource::Buffer
            })
        );
        let err = EthernetFrame::new_checked(&f[..13]).unwrap_err();
        assert!(matches!(
            err,
            ParseError::Len(LenError {
                layer: Layer::Ethernet,
                required: 14,
                available: 13,
                ..
            })
        ));
    }

    #[test]
    fn ethernet_vlan_insert_then_strip_roundtrip() {
        let mut f = [0u8; 30];
        f[..12].copy_from_slice(&MACS);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        for (i, b) in f[14..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let tag = VlanTag {
            pcp: 6,
            dei: false,
            vid: 4094,
        };
        let mut out = [0u8; 34];
        assert_eq!(insert_vlan_tag(&f, tag, &mut out).unwrap(), 34);
        assert_eq!(&out[12..16], &[0x81, 0x00, 0xCF, 0xFE]);
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(e.vlan(), Some(tag));
        assert_eq!(e.payload(), &f[14..]);
        let (t, start) = strip_vlan_tag(&mut out).unwrap().unwrap();
        assert_eq!((t, start), (tag, 4));
        assert_eq!(&out[start..], &f[..]);
        // Output buffer too small: error, no panic.
        let mut small = [0u8; 33];
        assert!(insert_vlan_tag(&f, tag, &mut small).is_err());
        // Untagged frame: nothing stripped.
        let mut g = f;
        assert_eq!(strip_vlan_tag(&mut g).unwrap(), None);
    }

    #[test]
    fn ethernet_tci_roundtrip() {
        for tci in [0u16, 0x1000, 0xE000, 0x0FFF, 0xFFFF, 0x2064] {
            assert_eq!(VlanTag::from_tci(tci).tci(), tci);
        }
    }
}
