//! The emulated load (issue 2, deliverable 3): runs `emu/load_driver.py` in the pinned speakeasy venv.
//!
//! Everything the script checks the driver against comes from here, and here from `ndis-sys`: the
//! characteristics header (type 0x8A, revision, size), the offset of every field and handler, the
//! `NDIS_MINIPORT_INIT_PARAMETERS` layout, the resource descriptor layout, the NDIS status InitializeEx must
//! return without hardware. So the emulator checks the binary against the same declarations the driver was
//! compiled from — and a layout change in ndis-sys cannot silently desynchronise the test.

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use ndis_sys as n;

use crate::prereq::{self, Prereq};
use crate::util::{self, Result};

/// Handlers NDIS requires in `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` (NdisMRegisterMiniportDriver fails if
/// one is NULL; "MiniportXxx ... required" in the DDI reference of each).
pub const MANDATORY_HANDLERS: [&str; 12] = [
    "InitializeHandlerEx",
    "HaltHandlerEx",
    "UnloadHandler",
    "PauseHandler",
    "RestartHandler",
    "OidRequestHandler",
    "SendNetBufferListsHandler",
    "ReturnNetBufferListsHandler",
    "CancelSendHandler",
    "DevicePnPEventNotifyHandler",
    "ShutdownHandlerEx",
    "CancelOidRequestHandler",
];

/// (OS `NdisGetVersion` value, version the driver must register with, ExAllocatePool2 resolvable).
/// Clamping as NetKVM's `SetRuntimeNdisVersion`: the highest of 6.30/6.80/6.83/6.85 not above the OS.
const SCENARIOS: [(&str, n::NdisVersion, n::NdisVersion, bool); 5] = [
    (
        "win11-6.89",
        n::NdisVersion {
            major: 6,
            minor: 89,
        },
        n::NdisVersion::V6_85,
        true,
    ),
    (
        "win10-2004-6.84",
        n::NdisVersion::V6_84,
        n::NdisVersion::V6_83,
        true,
    ),
    (
        "win10-1903-6.82",
        n::NdisVersion::V6_82,
        n::NdisVersion::V6_80,
        false,
    ),
    (
        "server2016-6.60",
        n::NdisVersion::V6_60,
        n::NdisVersion::V6_30,
        false,
    ),
    (
        "win8-6.30",
        n::NdisVersion::V6_30,
        n::NdisVersion::V6_30,
        false,
    ),
];

type Chars = n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS;

fn handler_offsets() -> Vec<(&'static str, usize)> {
    vec![
        ("SetOptionsHandler", offset_of!(Chars, SetOptionsHandler)),
        (
            "InitializeHandlerEx",
            offset_of!(Chars, InitializeHandlerEx),
        ),
        ("HaltHandlerEx", offset_of!(Chars, HaltHandlerEx)),
        ("UnloadHandler", offset_of!(Chars, UnloadHandler)),
        ("PauseHandler", offset_of!(Chars, PauseHandler)),
        ("RestartHandler", offset_of!(Chars, RestartHandler)),
        ("OidRequestHandler", offset_of!(Chars, OidRequestHandler)),
        (
            "SendNetBufferListsHandler",
            offset_of!(Chars, SendNetBufferListsHandler),
        ),
        (
            "ReturnNetBufferListsHandler",
            offset_of!(Chars, ReturnNetBufferListsHandler),
        ),
        ("CancelSendHandler", offset_of!(Chars, CancelSendHandler)),
        (
            "CheckForHangHandlerEx",
            offset_of!(Chars, CheckForHangHandlerEx),
        ),
        ("ResetHandlerEx", offset_of!(Chars, ResetHandlerEx)),
        (
            "DevicePnPEventNotifyHandler",
            offset_of!(Chars, DevicePnPEventNotifyHandler),
        ),
        ("ShutdownHandlerEx", offset_of!(Chars, ShutdownHandlerEx)),
        (
            "CancelOidRequestHandler",
            offset_of!(Chars, CancelOidRequestHandler),
        ),
        (
            "DirectOidRequestHandler",
            offset_of!(Chars, DirectOidRequestHandler),
        ),
        (
            "CancelDirectOidRequestHandler",
            offset_of!(Chars, CancelDirectOidRequestHandler),
        ),
    ]
}

/// The JSON configuration handed to the script (hand-written JSON: xtask keeps its dependencies few).
pub fn config_json(sys: &Path) -> String {
    let mut j = String::from("{\n");
    let _ = writeln!(j, "  \"sys\": {},", json_str(&sys.to_string_lossy()));
    let _ = writeln!(
        j,
        "  \"characteristics\": {{\"header\": {{\"type\": {}, \"revision\": {}, \"size\": {}}}, \"size_of\": {},",
        n::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
        n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        size_of::<Chars>()
    );
    let _ = writeln!(
        j,
        "    \"offsets\": {{\"MajorNdisVersion\": {}, \"MinorNdisVersion\": {}, \"MajorDriverVersion\": {}, \
         \"MinorDriverVersion\": {}, \"Flags\": {}}},",
        offset_of!(Chars, MajorNdisVersion),
        offset_of!(Chars, MinorNdisVersion),
        offset_of!(Chars, MajorDriverVersion),
        offset_of!(Chars, MinorDriverVersion),
        offset_of!(Chars, Flags)
    );
    let hs: Vec<String> = handler_offsets()
        .iter()
        .map(|(name, off)| format!("{}: {off}", json_str(name)))
        .collect();
    let _ = writeln!(j, "    \"handlers\": {{{}}}}},", hs.join(", "));
    let m: Vec<String> = MANDATORY_HANDLERS.iter().map(|s| json_str(s)).collect();
    let _ = writeln!(j, "  \"mandatory\": [{}],", m.join(", "));
    let (maj, min) = crate_version();
    let _ = writeln!(j, "  \"driver_version\": [{maj}, {min}],");
    type Init = n::NDIS_MINIPORT_INIT_PARAMETERS;
    let _ = writeln!(
        j,
        "  \"init_params\": {{\"size\": {}, \"header_type\": {}, \"header_revision\": {}, \"header_size\": {}, \
         \"allocated_resources_offset\": {}}},",
        size_of::<Init>(),
        n::NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS,
        n::NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1,
        n::NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1,
        offset_of!(Init, AllocatedResources)
    );
    let _ = writeln!(
        j,
        "  \"resources\": {{\"descriptor_size\": {}, \"type_port\": {}, \"type_interrupt\": {}}},",
        size_of::<n::CM_PARTIAL_RESOURCE_DESCRIPTOR>(),
        n::CmResourceTypePort,
        n::CmResourceTypeInterrupt
    );
    let _ = writeln!(
        j,
        "  \"init_expected_status\": {},",
        n::NDIS_STATUS_ADAPTER_NOT_FOUND
    );
    let sc: Vec<String> = SCENARIOS
        .iter()
        .map(|(name, os, want, pool2)| {
            format!(
                "    {{\"name\": {}, \"os_version\": {}, \"expect_ndis\": [{}, {}], \"pool2\": {}}}",
                json_str(name),
                os.runtime(),
                want.major,
                want.minor,
                pool2
            )
        })
        .collect();
    let _ = writeln!(j, "  \"scenarios\": [\n{}\n  ]", sc.join(",\n"));
    j.push('}');
    j
}

fn crate_version() -> (u8, u8) {
    let maj = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let min = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    (maj, min)
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Run the emulated load of `sys`; `Ok` only if the script reports every scenario passed.
pub fn run(sys: &Path) -> Result<()> {
    prereq::ensure(&[Prereq::Speakeasy])?;
    let dir = util::target_root().join("xtask-emu");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, config_json(sys))
        .map_err(|e| format!("cannot write {}: {e}", cfg.display()))?;
    let script = util::workspace_root().join("crates/xtask/emu/load_driver.py");
    util::run(Command::new(prereq::venv_python()).arg(script).arg(&cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_expect_the_netkvm_clamp() {
        // Independent restatement of the rule: the highest supported version <= the OS version.
        let supported = [
            n::NdisVersion::V6_30,
            n::NdisVersion::V6_80,
            n::NdisVersion::V6_83,
            n::NdisVersion::V6_85,
        ];
        for (name, os, want, _) in SCENARIOS {
            let expect = supported.iter().rev().find(|v| **v <= os).copied();
            assert_eq!(expect, Some(want), "{name}");
        }
    }

    #[test]
    fn config_is_json_with_every_mandatory_handler_offset() {
        let j = config_json(Path::new("/x/\"q\".sys"));
        assert!(j.contains("\"sys\": \"/x/\\\"q\\\".sys\""));
        for h in MANDATORY_HANDLERS {
            assert!(j.contains(&format!("\"{h}\": ")), "{h}");
        }
        // Revision-2 characteristics: 152 bytes on x64 (recipe §5), type 0x8A.
        assert!(
            j.contains("\"type\": 138, \"revision\": 2, \"size\": 152"),
            "{j}"
        );
        assert_eq!(j.matches('{').count(), j.matches('}').count());
    }
}
