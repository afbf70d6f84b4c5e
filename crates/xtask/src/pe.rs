//! PE checker for the driver image (`netkvmrs.sys`): verifies what the Windows kernel loader and the driver
//! signing rules require of a kernel-mode image built on Linux, and reports each rule as `ok`/`FAIL`.
//!
//! Rules (recipe §9 and the issue):
//! - machine AMD64, subsystem NATIVE, `DLL | EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE`, relocations kept;
//! - `DYNAMIC_BASE | NX_COMPAT | FORCE_INTEGRITY` (the linker gets `/DYNAMICBASE /NXCOMPAT /INTEGRITYCHECK`);
//! - SectionAlignment 0x1000, FileAlignment 0x200;
//! - CheckSum non-zero and equal to the PE checksum recomputed here (the kernel loader verifies driver
//!   checksums; lld-link writes it only with `/RELEASE`);
//! - no section both writable and executable;
//! - entry point == RVA of the `DriverEntry` export;
//! - imports only from `ntoskrnl.exe`, `HAL.dll`, `NDIS.SYS`, by name, no CRT module, and every imported name
//!   is in the known export list of its module ([`KnownExports`]) — catches WDK macros imported as functions;
//! - no TLS directory and no delay-load imports (the kernel loader supports neither).
//!
//! The mutation helpers at the end patch a real image in memory; the negative tests of `cargo xtask test`
//! use them to prove each rule can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, ImageThunkData, PeFile64};
use object::LittleEndian as LE;

use crate::util::Result;

/// Kernel modules a driver may import from, in the spelling the image uses (compared case-insensitively).
pub const KERNEL_MODULES: [&str; 3] = ["ntoskrnl.exe", "HAL.dll", "NDIS.SYS"];
/// Name prefixes of user-mode runtime modules that must never appear in a kernel image.
pub const CRT_PREFIXES: [&str; 7] = [
    "msvcr",
    "msvcp",
    "vcruntime",
    "ucrtbase",
    "api-ms-",
    "kernel32",
    "ntdll",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckId {
    Machine,
    Subsystem,
    Characteristics,
    DllCharacteristics,
    Alignment,
    Checksum,
    NoWritableExecutableSection,
    EntryPointIsDriverEntry,
    ImportModulesAreKernel,
    NoCrtImports,
    ImportsByName,
    ImportsAreKnownExports,
    NoTls,
    NoDelayLoadImports,
}

pub struct Finding {
    pub id: CheckId,
    pub ok: bool,
    pub text: String,
}

#[derive(Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub info: Vec<String>,
}

impl Report {
    fn check(&mut self, id: CheckId, ok: bool, text: String) {
        self.findings.push(Finding { id, ok, text });
    }

    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.ok)
    }

    pub fn failed(&self) -> BTreeSet<CheckId> {
        self.findings
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.id)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.info {
            writeln!(f, "info {i}")?;
        }
        for x in &self.findings {
            writeln!(f, "{} {}", if x.ok { "ok  " } else { "FAIL" }, x.text)?;
        }
        let bad = self.findings.iter().filter(|x| !x.ok).count();
        write!(
            f,
            "pe-check: {} rules ok, {bad} failed",
            self.findings.len() - bad
        )
    }
}

/// Export names of the kernel modules, keyed by lower-case module file name.
pub struct KnownExports {
    by_module: BTreeMap<String, BTreeSet<String>>,
}

/// Generated lists (see data/exports/README.md) and the hand-maintained additions, compiled in so the checker
/// needs no files at run time.
const LISTS: [(&str, &str); 3] = [
    ("ntoskrnl.exe", include_str!("../data/exports/ntoskrnl.txt")),
    ("hal.dll", include_str!("../data/exports/hal.txt")),
    ("ndis.sys", include_str!("../data/exports/ndis.txt")),
];
const ADDED: &str = include_str!("../data/exports/added.txt");

impl KnownExports {
    pub fn builtin() -> Result<Self> {
        Self::parse(&LISTS, ADDED)
    }

    /// `lists`: (module, one export name per line; `#` comments); `added`: lines `<module> <name> # <source>`.
    pub fn parse(lists: &[(&str, &str)], added: &str) -> Result<Self> {
        let mut by_module: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, text) in lists {
            let set = by_module.entry(module.to_ascii_lowercase()).or_default();
            for line in text.lines().map(strip_comment).filter(|l| !l.is_empty()) {
                set.insert(line.to_string());
            }
        }
        for (n, line) in added.lines().enumerate() {
            let content = strip_comment(line);
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let (Some(module), Some(name), None) = (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "added.txt line {}: expected `<module> <name> # <source>`",
                    n + 1
                ));
            };
            if !line.contains('#') {
                return Err(format!(
                    "added.txt line {}: `{name}` has no source comment",
                    n + 1
                ));
            }
            by_module
                .entry(module.to_ascii_lowercase())
                .or_default()
                .insert(name.to_string());
        }
        Ok(Self { by_module })
    }

    pub fn contains(&self, module: &str, name: &str) -> bool {
        self.by_module
            .get(&module.to_ascii_lowercase())
            .is_some_and(|s| s.contains(name))
    }

    pub fn module_count(&self, module: &str) -> usize {
        self.by_module
            .get(&module.to_ascii_lowercase())
            .map_or(0, BTreeSet::len)
    }
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

/// File offset of the optional header's CheckSum field (same offset in PE32 and PE32+).
pub fn checksum_offset(data: &[u8]) -> Result<usize> {
    let e_lfanew = read_u32(data, 0x3c)? as usize;
    // "PE\0\0" (4) + IMAGE_FILE_HEADER (20) + offset of CheckSum in the optional header (64).
    let off = e_lfanew + 4 + 20 + 64;
    if off + 4 > data.len() {
        return Err("image too short for an optional header".into());
    }
    Ok(off)
}

/// The PE image checksum (as `CheckSumMappedFile`/`imagehlp` compute it): 16-bit one's-complement-style sum
/// of the file with carries folded back, the 4-byte CheckSum field counted as zero, plus the file length.
pub fn pe_checksum(data: &[u8], checksum_field: usize) -> u32 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < data.len() {
        let lo = data[i] as u32;
        let hi = data.get(i + 1).copied().unwrap_or(0) as u32;
        let word = if i >= checksum_field && i < checksum_field + 4 {
            0
        } else {
            lo | (hi << 8)
        };
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum.wrapping_add(data.len() as u32)
}

fn read_u32(data: &[u8], off: usize) -> Result<u32> {
    data.get(off..off + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("read past end of image at {off:#x}"))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Check a driver image. `Err` only when the file is not a parsable PE32+ image.
pub fn check(data: &[u8], known: &KnownExports) -> Result<Report> {
    let file = PeFile64::parse(data).map_err(|e| format!("not a PE32+ image: {e}"))?;
    let nt = file.nt_headers();
    let fh = nt.file_header();
    let oh = nt.optional_header();
    let mut r = Report::default();

    let machine = fh.machine.get(LE);
    r.check(
        CheckId::Machine,
        machine == pe::IMAGE_FILE_MACHINE_AMD64,
        format!("machine AMD64 ({machine:#06x})"),
    );
    let subsystem = oh.subsystem();
    r.check(
        CheckId::Subsystem,
        subsystem == pe::IMAGE_SUBSYSTEM_NATIVE,
        format!("subsystem NATIVE ({subsystem})"),
    );
    let ch = fh.characteristics.get(LE).0;
    let want_ch = pe::IMAGE_FILE_DLL.0
        | pe::IMAGE_FILE_EXECUTABLE_IMAGE.0
        | pe::IMAGE_FILE_LARGE_ADDRESS_AWARE.0;
    r.check(
        CheckId::Characteristics,
        ch & want_ch == want_ch && ch & pe::IMAGE_FILE_RELOCS_STRIPPED.0 == 0,
        format!("DLL|EXECUTABLE_IMAGE|LARGE_ADDRESS_AWARE, relocations kept ({ch:#06x})"),
    );
    let dc = oh.dll_characteristics().0;
    let want_dc = pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0
        | pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0
        | pe::IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY.0;
    r.check(
        CheckId::DllCharacteristics,
        dc & want_dc == want_dc,
        format!("DYNAMIC_BASE|NX_COMPAT|FORCE_INTEGRITY ({dc:#06x})"),
    );
    let (sa, fa) = (oh.section_alignment(), oh.file_alignment());
    r.check(
        CheckId::Alignment,
        sa == 0x1000 && fa == 0x200,
        format!("section/file alignment 0x1000/0x200 ({sa:#x}/{fa:#x})"),
    );
    let stored = oh.check_sum();
    let computed = pe_checksum(data, checksum_offset(data)?);
    r.check(
        CheckId::Checksum,
        stored != 0 && stored == computed,
        format!("checksum stored {stored:#010x} == computed {computed:#010x}, non-zero"),
    );

    let mut wx = Vec::new();
    let mut names = Vec::new();
    for s in file.section_table().iter() {
        let name = lossy(s.raw_name()).trim_end_matches('\0').to_string();
        let c = s.characteristics.get(LE).0;
        if c & pe::IMAGE_SCN_MEM_WRITE.0 != 0 && c & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0 {
            wx.push(format!("{name}({c:#x})"));
        }
        names.push(name);
    }
    r.info.push(format!("sections: {}", names.join(" ")));
    r.check(
        CheckId::NoWritableExecutableSection,
        wx.is_empty(),
        format!(
            "no section both writable and executable{}",
            list_suffix(&wx)
        ),
    );

    let dir = |id: usize| file.data_directory(id).map_or(0, |d| d.size.get(LE));
    r.info.push(format!(
        "image base {:#x}, size {:#x}, base relocations {} bytes, stack commit {:#x}",
        oh.image_base(),
        oh.size_of_image(),
        dir(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC),
        oh.size_of_stack_commit()
    ));

    // Exports and entry point.
    let mut exports: Vec<(String, Option<u32>)> = Vec::new();
    if let Some(table) = file
        .export_table()
        .map_err(|e| format!("bad export table: {e}"))?
    {
        for e in table
            .exports()
            .map_err(|e| format!("bad export table: {e}"))?
        {
            let Some(name) = e.name else { continue };
            let rva = match e.target {
                object::read::pe::ExportTarget::Address(a) => Some(a),
                _ => None,
            };
            exports.push((lossy(name), rva));
        }
    }
    r.info.push(format!(
        "exports: {}",
        exports
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let entry = oh.address_of_entry_point();
    let driver_entry = exports
        .iter()
        .find(|(n, _)| n == "DriverEntry")
        .and_then(|(_, a)| *a);
    r.check(
        CheckId::EntryPointIsDriverEntry,
        driver_entry == Some(entry) && entry != 0,
        match driver_entry {
            Some(a) => format!("entry point {entry:#x} == DriverEntry export {a:#x}"),
            None => format!("entry point {entry:#x} == DriverEntry export (no DriverEntry export)"),
        },
    );

    // Imports.
    let mut foreign = Vec::new();
    let mut crt = Vec::new();
    let mut by_ordinal = Vec::new();
    let mut unknown = Vec::new();
    let mut total = 0usize;
    if let Some(imports) = file
        .import_table()
        .map_err(|e| format!("bad import table: {e}"))?
    {
        let mut descs = imports
            .descriptors()
            .map_err(|e| format!("bad import table: {e}"))?;
        while let Some(d) = descs
            .next()
            .map_err(|e| format!("bad import descriptor: {e}"))?
        {
            let module = lossy(
                imports
                    .name(d.name.get(LE))
                    .map_err(|e| format!("bad import name: {e}"))?,
            );
            let lower = module.to_ascii_lowercase();
            if !KERNEL_MODULES
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&module))
            {
                foreign.push(module.clone());
            }
            if CRT_PREFIXES.iter().any(|p| lower.starts_with(p)) {
                crt.push(module.clone());
            }
            // The lookup table (OriginalFirstThunk) names the imports; lld always writes it.
            let first = match d.original_first_thunk.get(LE) {
                0 => d.first_thunk.get(LE),
                x => x,
            };
            let mut thunks = imports
                .thunks(first)
                .map_err(|e| format!("bad thunks: {e}"))?;
            let mut names = Vec::new();
            while let Some(t) = thunks
                .next::<pe::ImageNtHeaders64>()
                .map_err(|e| format!("bad thunk: {e}"))?
            {
                total += 1;
                if t.is_ordinal() {
                    by_ordinal.push(format!("{module}!#{}", t.ordinal()));
                    continue;
                }
                let (_, name) = imports
                    .hint_name(t.address())
                    .map_err(|e| format!("bad hint/name: {e}"))?;
                let name = lossy(name);
                if !known.contains(&module, &name) {
                    unknown.push(format!("{module}!{name}"));
                }
                names.push(name);
            }
            r.info.push(format!(
                "imports {module} ({}): {}",
                names.len(),
                names.join(" ")
            ));
        }
    }
    r.check(
        CheckId::ImportModulesAreKernel,
        foreign.is_empty(),
        format!(
            "import modules only ntoskrnl.exe/HAL.dll/NDIS.SYS{}",
            list_suffix(&foreign)
        ),
    );
    r.check(
        CheckId::NoCrtImports,
        crt.is_empty(),
        format!("no CRT/user-mode modules{}", list_suffix(&crt)),
    );
    r.check(
        CheckId::ImportsByName,
        by_ordinal.is_empty(),
        format!("all {total} imports by name{}", list_suffix(&by_ordinal)),
    );
    r.check(
        CheckId::ImportsAreKnownExports,
        unknown.is_empty(),
        format!(
            "every imported name is a known export of its module (lists: ntoskrnl {}, HAL {}, NDIS {}){}",
            known.module_count("ntoskrnl.exe"),
            known.module_count("hal.dll"),
            known.module_count("ndis.sys"),
            list_suffix(&unknown)
        ),
    );
    r.check(
        CheckId::NoTls,
        dir(pe::IMAGE_DIRECTORY_ENTRY_TLS) == 0,
        "no TLS directory (unsupported for drivers)".into(),
    );
    r.check(
        CheckId::NoDelayLoadImports,
        dir(pe::IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT) == 0,
        "no delay-load imports (unsupported for drivers)".into(),
    );
    Ok(r)
}

fn list_suffix(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(" -- offending: {}", v.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Mutations used by the negative tests. Each edits bytes in place, keeping every length, so the rest of the
// image stays valid; callers re-fix the checksum with `fix_checksum` unless the checksum is what they break.

fn rva_to_offset(data: &[u8], rva: u32) -> Result<usize> {
    let file = PeFile64::parse(data).map_err(|e| e.to_string())?;
    file.section_table()
        .pe_file_range_at(rva)
        .map(|(off, _)| off as usize)
        .ok_or_else(|| format!("rva {rva:#x} is not in any section"))
}

/// Recompute and store the PE checksum.
pub fn fix_checksum(data: &mut [u8]) -> Result<()> {
    let off = checksum_offset(data)?;
    let sum = pe_checksum(data, off);
    data[off..off + 4].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

/// Overwrite the imported function name `from` with `to` (same length).
pub fn rename_import(data: &mut [u8], from: &str, to: &str) -> Result<()> {
    assert_eq!(from.len(), to.len(), "same-length rename keeps the layout");
    let mut target = None;
    {
        let file = PeFile64::parse(&*data).map_err(|e| e.to_string())?;
        let imports = file
            .import_table()
            .map_err(|e| e.to_string())?
            .ok_or("no imports")?;
        let mut descs = imports.descriptors().map_err(|e| e.to_string())?;
        while let Some(d) = descs.next().map_err(|e| e.to_string())? {
            let mut thunks = imports
                .thunks(d.original_first_thunk.get(LE))
                .map_err(|e| e.to_string())?;
            while let Some(t) = thunks
                .next::<pe::ImageNtHeaders64>()
                .map_err(|e| e.to_string())?
            {
                if t.is_ordinal() {
                    continue;
                }
                let (_, name) = imports.hint_name(t.address()).map_err(|e| e.to_string())?;
                if name == from.as_bytes() {
                    target = Some(t.address() + 2); // skip the 2-byte hint
                }
            }
        }
    }
    let rva = target.ok_or_else(|| format!("image does not import {from}"))?;
    let off = rva_to_offset(data, rva)?;
    data[off..off + to.len()].copy_from_slice(to.as_bytes());
    Ok(())
}

/// Overwrite an imported module name (same length), e.g. `ntoskrnl.exe` -> `ucrtbase.dll`.
pub fn rename_import_module(data: &mut [u8], from: &str, to: &str) -> Result<()> {
    assert_eq!(from.len(), to.len());
    let mut target = None;
    {
        let file = PeFile64::parse(&*data).map_err(|e| e.to_string())?;
        let imports = file
            .import_table()
            .map_err(|e| e.to_string())?
            .ok_or("no imports")?;
        let mut descs = imports.descriptors().map_err(|e| e.to_string())?;
        while let Some(d) = descs.next().map_err(|e| e.to_string())? {
            let name = imports.name(d.name.get(LE)).map_err(|e| e.to_string())?;
            if name.eq_ignore_ascii_case(from.as_bytes()) {
                target = Some(d.name.get(LE));
            }
        }
    }
    let rva = target.ok_or_else(|| format!("image imports nothing from {from}"))?;
    let off = rva_to_offset(data, rva)?;
    data[off..off + to.len()].copy_from_slice(to.as_bytes());
    Ok(())
}

/// Overwrite an exported name (same length), e.g. `DriverEntry` -> `DriverEntrX`.
pub fn rename_export(data: &mut [u8], from: &str, to: &str) -> Result<()> {
    assert_eq!(from.len(), to.len());
    let mut target = None;
    {
        let file = PeFile64::parse(&*data).map_err(|e| e.to_string())?;
        let table = file
            .export_table()
            .map_err(|e| e.to_string())?
            .ok_or("no exports")?;
        for p in table.name_pointers() {
            let rva = p.get(LE);
            if table.name_from_pointer(rva).map_err(|e| e.to_string())? == from.as_bytes() {
                target = Some(rva);
            }
        }
    }
    let rva = target.ok_or_else(|| format!("image does not export {from}"))?;
    let off = rva_to_offset(data, rva)?;
    data[off..off + to.len()].copy_from_slice(to.as_bytes());
    Ok(())
}

/// File offset of the optional header (PE32+).
fn optional_header_offset(data: &[u8]) -> Result<usize> {
    Ok(read_u32(data, 0x3c)? as usize + 4 + 20)
}

/// Set AddressOfEntryPoint (optional header offset 16).
pub fn set_entry_point(data: &mut [u8], rva: u32) -> Result<()> {
    let off = optional_header_offset(data)? + 16;
    data[off..off + 4].copy_from_slice(&rva.to_le_bytes());
    Ok(())
}

pub fn entry_point(data: &[u8]) -> Result<u32> {
    read_u32(data, optional_header_offset(data)? + 16)
}

/// OR `flags` into the characteristics of the named section.
pub fn add_section_flags(data: &mut [u8], section: &str, flags: u32) -> Result<()> {
    let e_lfanew = read_u32(data, 0x3c)? as usize;
    let nsect = u16::from_le_bytes([data[e_lfanew + 6], data[e_lfanew + 7]]) as usize;
    let opt_size = u16::from_le_bytes([data[e_lfanew + 20], data[e_lfanew + 21]]) as usize;
    let table = e_lfanew + 4 + 20 + opt_size;
    for i in 0..nsect {
        let h = table + i * 40;
        let name = &data[h..h + 8];
        if name.split(|&b| b == 0).next() == Some(section.as_bytes()) {
            let c = read_u32(data, h + 36)? | flags;
            data[h + 36..h + 40].copy_from_slice(&c.to_le_bytes());
            return Ok(());
        }
    }
    Err(format!("no section {section}"))
}

/// Clear bits of DllCharacteristics (optional header offset 70).
pub fn clear_dll_characteristics(data: &mut [u8], bits: u16) -> Result<()> {
    let off = optional_header_offset(data)? + 70;
    let v = u16::from_le_bytes([data[off], data[off + 1]]) & !bits;
    data[off..off + 2].copy_from_slice(&v.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_hand_computed_value_and_skips_the_field() {
        // words: 0xFFFF + 0x0002 = 0x10001 -> folded 0x0002; field (4 bytes) counted as 0;
        // odd tail byte 0x03 -> word 0x0003 => 0x0005; plus file length 9 => 0x000E.
        let data = [0xFF, 0xFF, 0x02, 0x00, 0xAA, 0xBB, 0xCC, 0xDD, 0x03];
        assert_eq!(pe_checksum(&data, 4), 0x0E);
        // The field's content must not matter.
        let mut other = data;
        other[4..8].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(pe_checksum(&other, 4), 0x0E);
        // Any other byte does.
        other[8] = 0x04;
        assert_eq!(pe_checksum(&other, 4), 0x0F);
    }

    #[test]
    fn checksum_folds_carries_repeatedly() {
        // 4 words of 0xFFFF: 0xFFFF+0xFFFF=0x1FFFE -> 0xFFFF; each further add folds back to 0xFFFF.
        let data = [0xFF; 8];
        assert_eq!(pe_checksum(&data, 100), 0xFFFF + 8);
    }

    #[test]
    fn known_exports_require_a_source_for_hand_additions() {
        let ok = KnownExports::parse(
            &[("NDIS.SYS", "NdisFoo\n# c\n")],
            "ntoskrnl.exe ExNew # docs URL\n",
        )
        .unwrap();
        assert!(ok.contains("ndis.sys", "NdisFoo"));
        assert!(ok.contains("NTOSKRNL.EXE", "ExNew"));
        assert!(!ok.contains("ndis.sys", "ExNew"));
        assert!(KnownExports::parse(&[], "ntoskrnl.exe ExNew\n").is_err());
        assert!(KnownExports::parse(&[], "ExNew # no module\n").is_err());
    }

    #[test]
    fn builtin_lists_hold_core_exports_and_not_macros() {
        let k = KnownExports::builtin().unwrap();
        assert!(k.contains("NDIS.SYS", "NdisMRegisterMiniportDriver"));
        assert!(k.contains("ntoskrnl.exe", "KeBugCheckEx"));
        assert!(
            k.contains("ntoskrnl.exe", "ExAllocatePool2"),
            "hand-added export"
        );
        assert!(k.contains("HAL.dll", "KeStallExecutionProcessor"));
        // Macros / inline functions of the WDK headers are not exports.
        assert!(!k.contains("NDIS.SYS", "NdisMoveMemory"));
        assert!(!k.contains("NDIS.SYS", "NdisZeroMemory"));
        assert!(!k.contains("ntoskrnl.exe", "KeInitializeSpinLock"));
    }

    #[test]
    fn non_pe_input_is_an_error_not_a_pass() {
        let k = KnownExports::parse(&[], "").unwrap();
        assert!(check(b"MZ not really", &k).is_err());
        assert!(check(&[], &k).is_err());
    }
}
