//! UDP (RFC 768) header view.

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{be16, need, put_be16, Layer, ParseError};
use crate::checksum;

/// UDP header length.
pub const UDP_HEADER_LEN: usize = 8;

/// UDP header layout.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Length (header + data).
    pub len: U16,
    /// Checksum (0 = none, IPv4 only).
    pub checksum: U16,
}

/// A checked UDP view. Only the 8-byte header is validated: the Length field is reported as
/// sent, and [`crate::wire::parse_frame`] checks it against the datagram in strict mode.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Validates that the header fits.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        need(Layer::Udp, UDP_HEADER_LEN, buffer.as_ref().len())?;
        Ok(UdpDatagram { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.b(), 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), 2)
    }

    /// Length field.
    pub fn len(&self) -> u16 {
        be16(self.b(), 4)
    }

    /// Whether the Length field says there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() <= UDP_HEADER_LEN as u16
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 6)
    }

    /// Bytes after the header (to the end of the buffer).
    pub fn payload(&self) -> &[u8] {
        self.b().get(UDP_HEADER_LEN..).unwrap_or(&[])
    }

    /// Whether the checksum over the whole buffer is correct given the pseudo-header sum with
    /// the UDP length. A zero checksum field means "not computed" and passes (IPv4 only:
    /// callers must reject it for IPv6, RFC 8200 §8.1).
    pub fn verify_checksum(&self, pseudo_sum: u16) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let mut c = checksum::Checksum::new();
        c.add_sum(pseudo_sum);
        c.add_bytes(self.b());
        c.checksum() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    /// Sets the Length field.
    pub fn set_len(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), 4, v);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_be16(self.buffer.as_mut(), 6, v);
    }

    /// Computes and stores the checksum over the whole buffer (a computed 0 is sent as
    /// 0xFFFF, RFC 768).
    pub fn fill_checksum(&mut self, pseudo_sum: u16) {
        self.set_checksum(0);
        let mut c = checksum::Checksum::new();
        c.add_sum(pseudo_sum);
        c.add_bytes(self.buffer.as_ref());
        let v = c.checksum();
        self.set_checksum(if v == 0 { 0xFFFF } else { v });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_header_layout_is_8_bytes() {
        assert_eq!(core::mem::size_of::<UdpHeader>(), UDP_HEADER_LEN);
    }

    #[test]
    fn udp_fields_fill_and_verify() {
        let mut b = [0u8; 13];
        b[..8].copy_from_slice(&[0x04, 0xd2, 0x00, 0x35, 0x00, 0x0d, 0, 0]);
        b[8..].copy_from_slice(b"hello");
        let ph = checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 17, Some(13));
        let mut u = UdpDatagram::new_checked(&mut b[..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len()), (1234, 53, 13));
        u.fill_checksum(ph);
        assert_ne!(u.checksum(), 0);
        assert!(u.verify_checksum(ph));
        u.set_len(12);
        assert!(!u.verify_checksum(ph));
        assert_eq!(u.payload(), b"hello");
        assert!(UdpDatagram::new_checked(&b[..7]).is_err());
    }

    #[test]
    fn udp_zero_checksum_means_none() {
        let b = [0u8, 1, 0, 2, 0, 9, 0, 0, 0xAA];
        assert!(UdpDatagram::new_checked(&b[..])
            .unwrap()
            .verify_checksum(0x1234));
    }
}
