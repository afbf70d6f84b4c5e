//! The halting "BIOS": 64 KiB whose reset vector parks the only vCPU.
//!
//! Debian's QEMU has no `accel-qtest` module, but the qtest protocol server (`-qtest`) works
//! with any accelerator. Under TCG or KVM the vCPU starts at the reset vector, physical
//! 0xFFFF_FFF0, which maps to offset 0xFFF0 of the BIOS image (the image is mapped to end at
//! 4 GiB). There we place `cli; hlt; jmp <hlt>`: the vCPU stops with interrupts off and never
//! touches PCI or RAM, so the device is exactly as reset left it and the VM still counts as
//! running (virtio-net refuses to receive while the VM is stopped, so `-S` is unusable).

use std::path::Path;

use crate::error::{Error, Result};

/// Size of the image QEMU maps below 4 GiB.
pub const BIOS_SIZE: usize = 64 * 1024;
/// Offset of the reset vector inside the image (4 GiB − 16 bytes).
pub const RESET_VECTOR_OFFSET: usize = 0xFFF0;
/// `cli` (0xFA); `hlt` (0xF4); `jmp rel8 −3` (0xEB 0xFD) back to the `hlt`.
pub const RESET_CODE: [u8; 4] = [0xFA, 0xF4, 0xEB, 0xFD];

/// The BIOS image bytes: 0xFF everywhere (erased flash), [`RESET_CODE`] at the reset vector.
pub fn halting_bios() -> Vec<u8> {
    let mut img = vec![0xFF_u8; BIOS_SIZE];
    img[RESET_VECTOR_OFFSET..RESET_VECTOR_OFFSET + RESET_CODE.len()].copy_from_slice(&RESET_CODE);
    img
}

/// Writes the image to `path` (the run dir's `bios.bin`).
pub fn write_halting_bios(path: &Path) -> Result<()> {
    std::fs::write(path, halting_bios())
        .map_err(|e| Error::io(format!("write halting BIOS {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bios_is_64k_of_ff_with_cli_hlt_jmp_at_reset_vector() {
        let b = halting_bios();
        assert_eq!(b.len(), 65536);
        assert_eq!(&b[0xFFF0..0xFFF4], &[0xFA, 0xF4, 0xEB, 0xFD]);
        // The jmp is relative to the next instruction (0xFFF4): 0xFFF4 + (-3) = 0xFFF1 = the hlt.
        assert_eq!(0xFFF4_i32 + i32::from(b[0xFFF3] as i8), 0xFFF1);
        assert_eq!(b[0xFFF1], 0xF4);
        assert!(b[..0xFFF0].iter().all(|&x| x == 0xFF));
        assert!(b[0xFFF4..].iter().all(|&x| x == 0xFF));
    }
}
