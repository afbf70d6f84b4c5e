//! What the WDK's `stampinf` does to an `.inx` when the packaging flow runs
//! `stampinf -f X.inf -d * -a amd64 -c X.cat -v *`, done in Rust for the Linux package:
//! - `$ARCH$` (the platform decoration of `[Manufacturer]` / `[Models.NT$ARCH$]`) becomes `amd64`;
//! - `[Version]` gets `DriverVer = MM/DD/YYYY,a.b.c.d` (build date, crate version) and `CatalogFile = X.cat`,
//!   replacing existing values or appending them to the section.
//!
//! Encoding and line endings are preserved (INF files may be UTF-16LE with BOM, or ASCII/UTF-8).

use crate::util::Result;

pub struct Stamp {
    /// `$ARCH$` replacement, e.g. `amd64`.
    pub arch: String,
    /// (year, month, day) of `DriverVer`.
    pub date: (i64, u32, u32),
    /// Four-part version of `DriverVer`.
    pub version: String,
    /// `CatalogFile` value, e.g. `netkvmrs.cat`.
    pub catalog: String,
}

/// Crate version `a.b.c[-pre][+build]` -> INF `a.b.c.0` (INF versions are four 16-bit numbers).
pub fn driver_version(crate_version: &str) -> Result<String> {
    let core = crate_version
        .split(['-', '+'])
        .next()
        .unwrap_or(crate_version);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "crate version `{crate_version}` is not major.minor.patch"
        ));
    }
    let mut out = Vec::new();
    for p in parts {
        let n: u16 = p.parse().map_err(|_| {
            format!("crate version part `{p}` does not fit an INF version field (0..=65535)")
        })?;
        out.push(n.to_string());
    }
    out.push("0".into());
    Ok(out.join("."))
}

/// Stamp INF bytes (UTF-16LE with BOM or UTF-8), returning bytes in the same encoding.
pub fn stamp_bytes(data: &[u8], s: &Stamp) -> Result<Vec<u8>> {
    if data.starts_with(&[0xFF, 0xFE]) {
        let units: Vec<u16> = data[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text =
            String::from_utf16(&units).map_err(|e| format!("INF is not valid UTF-16LE: {e}"))?;
        let stamped = stamp_text(&text, s)?;
        let mut out = vec![0xFF, 0xFE];
        for u in stamped.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        Ok(out)
    } else {
        let text = std::str::from_utf8(data)
            .map_err(|e| format!("INF is neither UTF-16LE nor UTF-8: {e}"))?;
        Ok(stamp_text(text, s)?.into_bytes())
    }
}

pub fn stamp_text(text: &str, s: &Stamp) -> Result<String> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let text = text.replace("$ARCH$", &s.arch);
    let mut lines: Vec<String> = text.split(eol).map(str::to_string).collect();
    let (y, m, d) = s.date;
    set_version_directive(
        &mut lines,
        "DriverVer",
        &format!("DriverVer   = {m:02}/{d:02}/{y:04},{}", s.version),
    )?;
    set_version_directive(
        &mut lines,
        "CatalogFile",
        &format!("CatalogFile = {}", s.catalog),
    )?;
    Ok(lines.join(eol))
}

/// Replace the `key = ...` line of `[Version]`, or insert `line` after the section's last directive.
fn set_version_directive(lines: &mut Vec<String>, key: &str, line: &str) -> Result<()> {
    let start = lines
        .iter()
        .position(|l| section_name(l).is_some_and(|n| n.eq_ignore_ascii_case("Version")))
        .ok_or("INF has no [Version] section")?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| section_name(l).is_some())
        .map_or(lines.len(), |i| start + 1 + i);
    let found = (start + 1..end)
        .find(|&i| directive_key(&lines[i]).is_some_and(|k| k.eq_ignore_ascii_case(key)));
    match found {
        Some(i) => lines[i] = line.to_string(),
        None => {
            let mut at = end;
            while at > start + 1 && is_blank_or_comment(&lines[at - 1]) {
                at -= 1;
            }
            lines.insert(at, line.to_string());
        }
    }
    Ok(())
}

fn section_name(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix('[')?;
    let close = inner.find(']')?;
    Some(inner[..close].trim())
}

fn directive_key(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.starts_with(';') {
        return None;
    }
    let (k, _) = t.split_once('=')?;
    Some(k.trim())
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with(';')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            arch: "amd64".into(),
            date: (2026, 3, 7),
            version: "0.1.0.0".into(),
            catalog: "netkvmrs.cat".into(),
        }
    }

    #[test]
    fn driver_version_has_four_fields_and_rejects_overflow() {
        assert_eq!(driver_version("0.1.0").unwrap(), "0.1.0.0");
        assert_eq!(driver_version("1.22.333-rc.1+g1").unwrap(), "1.22.333.0");
        assert!(driver_version("1.2").is_err());
        assert!(driver_version("1.2.65536").is_err());
    }

    #[test]
    fn existing_driverver_and_catalog_are_replaced_and_arch_decorated() {
        let inx = "[Version]\r\nSignature = \"$WINDOWS NT$\"\r\nClass = Net\r\nDriverVer = 01/01/2000,9.9.9.9\r\n\
                   CatalogFile = old.cat\r\n\r\n[Manufacturer]\r\n%Mfg% = Std, NT$ARCH$\r\n\r\n[Std.NT$ARCH$]\r\n";
        let out = stamp_text(inx, &stamp()).unwrap();
        assert!(
            out.contains("DriverVer   = 03/07/2026,0.1.0.0\r\n"),
            "{out}"
        );
        assert!(out.contains("CatalogFile = netkvmrs.cat\r\n"));
        assert!(out.contains("%Mfg% = Std, NTamd64\r\n"));
        assert!(out.contains("[Std.NTamd64]"));
        assert!(!out.contains("$ARCH$") && !out.contains("9.9.9.9") && !out.contains("old.cat"));
        // $WINDOWS NT$ is not a stampinf token and must survive.
        assert!(out.contains("\"$WINDOWS NT$\""));
        assert_eq!(out.matches("DriverVer").count(), 1);
    }

    #[test]
    fn missing_directives_are_inserted_inside_the_version_section() {
        let inx = "; header comment\n[version]\nSignature = \"$WINDOWS NT$\"\nClass = Net\n\n; trailing\n[Strings]\nMfg = \"x\"\n";
        let out = stamp_text(inx, &stamp()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let v = lines.iter().position(|l| *l == "[version]").unwrap();
        let strings = lines.iter().position(|l| *l == "[Strings]").unwrap();
        let dv = lines
            .iter()
            .position(|l| l.starts_with("DriverVer"))
            .unwrap();
        let cf = lines
            .iter()
            .position(|l| l.starts_with("CatalogFile"))
            .unwrap();
        assert!(v < dv && dv < strings && v < cf && cf < strings, "{out}");
        assert_eq!(
            lines[v + 3],
            lines[dv],
            "inserted right after the last directive"
        );
        assert!(!out.contains('\r'));
    }

    #[test]
    fn utf16_inf_round_trips_in_utf16() {
        let mut data = vec![0xFF, 0xFE];
        for u in "[Version]\r\nClass=Net\r\n[M.NT$ARCH$]\r\n".encode_utf16() {
            data.extend_from_slice(&u.to_le_bytes());
        }
        let out = stamp_bytes(&data, &stamp()).unwrap();
        assert_eq!(&out[..2], &[0xFF, 0xFE]);
        let units: Vec<u16> = out[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text = String::from_utf16(&units).unwrap();
        assert!(text.contains("[M.NTamd64]") && text.contains("CatalogFile = netkvmrs.cat"));
    }

    #[test]
    fn inf_without_version_section_is_rejected() {
        assert!(stamp_text("[Strings]\nA=b\n", &stamp()).is_err());
    }
}
