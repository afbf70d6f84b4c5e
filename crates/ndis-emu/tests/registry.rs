//! The registry file and NdisReadConfiguration / NdisReadNetworkAddress /
//! NdisWriteConfiguration as the test miniport sees them.

mod common;

use common::{driver, fake, Cfg, ReadResult};
use ndis_emu::{Harness, RegValue, Registry};
use ndis_sys as n;

const FILE: &str = r#"
# advanced properties as an INF installs them (REG_SZ)
[adapter]
*IfType = dword:6
*MediaType = 0
*PhysicalMediaType = 0xE
*RscIPv4 = "1"
*JumboPacket = "9014"
Trailing = "12abc"
HexValue = "ff"
Prefixed = "0x10"
Dword = dword:1500      ; a REG_DWORD
Multi = multi:"one","two"
Blob = hex:de,ad,be,ef
NetworkAddress = "02AbCd0F1e2D"
Quote = "a \"quoted\" word"
Commented = "x;y"   # a comment after a string
MultiCommented = multi:"a" ; and after a multi-string
[driver]
DriverOnly = "yes"
"#;

#[test]
fn registry_files_parse_sections_types_escapes_and_comments() {
    let r = Registry::parse(FILE).unwrap();
    assert_eq!(
        r.get("*iftype"),
        Some(&RegValue::Dword(6)),
        "case-insensitive"
    );
    assert_eq!(r.get("*PhysicalMediaType"), Some(&RegValue::Dword(14)));
    assert_eq!(r.get("Dword"), Some(&RegValue::Dword(1500)));
    assert_eq!(
        r.get("Multi"),
        Some(&RegValue::MultiSz(vec!["one".into(), "two".into()]))
    );
    assert_eq!(
        r.get("Blob"),
        Some(&RegValue::Binary(vec![0xde, 0xad, 0xbe, 0xef]))
    );
    assert_eq!(r.get("Quote"), Some(&RegValue::sz("a \"quoted\" word")));
    assert_eq!(r.get("Commented"), Some(&RegValue::sz("x;y")));
    assert_eq!(
        r.get("MultiCommented"),
        Some(&RegValue::MultiSz(vec!["a".into()]))
    );
    assert!(
        Registry::parse("A = \"x\" y\n").is_err(),
        "text after a string"
    );
    assert_eq!(r.get("DriverOnly"), None);
    assert_eq!(
        r.get_in(ndis_emu::registry::Section::Driver, "DriverOnly"),
        Some(&RegValue::sz("yes"))
    );
    // Round trip through the file format.
    let again = Registry::parse(&r.to_text()).unwrap();
    for k in r.keys() {
        assert_eq!(again.get(&k), r.get(&k), "{k}");
    }
    let e = Registry::parse("A = 1\nB = bareword\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(Registry::parse("[nope]\n").is_err());
}

#[test]
fn read_configuration_converts_as_ndis_does() {
    let (entry, s) = driver(Cfg {
        keywords: vec![
            ("*RscIPv4", n::NdisParameterInteger),
            ("*jumbopacket", n::NdisParameterInteger),
            ("Trailing", n::NdisParameterInteger),
            ("HexValue", n::NdisParameterHexInteger),
            ("Prefixed", n::NdisParameterHexInteger),
            ("Dword", n::NdisParameterString),
            ("Dword", n::NdisParameterHexInteger),
            ("*RscIPv4", n::NdisParameterString),
            ("Multi", n::NdisParameterMultiString),
            ("Multi", n::NdisParameterInteger),
            ("Blob", n::NdisParameterBinary),
            ("Missing", n::NdisParameterInteger),
            ("NdisVersion", n::NdisParameterInteger),
            ("DriverOnly", n::NdisParameterString),
        ],
        read_network_address: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), Registry::parse(FILE).unwrap());
    h.load(entry).unwrap();
    h.initialize().unwrap();
    let reads = s.reads.lock().unwrap().clone();
    let r: Vec<ReadResult> = reads.into_iter().map(|(_, r)| r).collect();
    let int = |v| ReadResult::Integer(v, n::NdisParameterInteger);
    assert_eq!(r[0], int(1));
    assert_eq!(r[1], int(9014));
    assert_eq!(r[2], int(12), "digits up to the first non-digit");
    assert_eq!(r[3], int(255), "hex read reported as NdisParameterInteger");
    assert_eq!(r[4], int(0), "no 0x prefix with base 16");
    assert_eq!(
        r[5],
        ReadResult::String("1500".into(), n::NdisParameterString)
    );
    assert_eq!(r[6], int(1500));
    assert_eq!(r[7], ReadResult::String("1".into(), n::NdisParameterString));
    assert_eq!(
        r[8],
        ReadResult::String("one\0two\0\0".into(), n::NdisParameterMultiString)
    );
    assert_eq!(r[9], ReadResult::Failed(n::NDIS_STATUS_FAILURE));
    assert_eq!(r[10], ReadResult::Binary(vec![0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(r[11], ReadResult::Failed(n::NDIS_STATUS_FAILURE));
    assert_eq!(r[12], int(n::NdisVersion::V6_85.runtime()));
    assert_eq!(
        r[13],
        ReadResult::Failed(n::NDIS_STATUS_FAILURE),
        "driver key is not the adapter key"
    );
    assert_eq!(
        s.network_address.lock().unwrap().clone(),
        Some(vec![0x02, 0xAB, 0xCD, 0x0F, 0x1E, 0x2D])
    );
    assert!(h.take_violations().is_empty());
}

#[test]
fn a_malformed_network_address_is_a_failure() {
    let (entry, s) = driver(Cfg {
        read_network_address: true,
        ..Default::default()
    });
    let mut reg = Registry::with_mandatory();
    reg.set("NetworkAddress", RegValue::sz("02-11-22-33-44-55"));
    let (mut h, _bus) = Harness::fake(fake(), reg);
    h.load(entry).unwrap();
    h.initialize().unwrap();
    assert_eq!(*s.network_address.lock().unwrap(), None);
}

#[test]
fn changing_the_file_and_reinitializing_is_set_net_adapter_advanced_property() {
    let dir = std::env::temp_dir().join(format!("ndis-emu-reg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adapter.reg");
    let mut reg = Registry::with_mandatory();
    reg.set("*RscIPv4", RegValue::sz("1"));
    reg.save_to(&path).unwrap();
    let (entry, s) = driver(Cfg {
        keywords: vec![("*RscIPv4", n::NdisParameterInteger)],
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), Registry::load(&path).unwrap());
    h.up(entry).unwrap();
    // An administrator changes the property.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("*RscIPv4 = \"1\"", "*RscIPv4 = \"0\"");
    std::fs::write(&path, text).unwrap();
    h.reinitialize().unwrap();
    let reads: Vec<ReadResult> = s
        .reads
        .lock()
        .unwrap()
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(
        reads,
        vec![
            ReadResult::Integer(1, n::NdisParameterInteger),
            ReadResult::Integer(0, n::NdisParameterInteger)
        ]
    );
    let halts = s.events().iter().filter(|e| *e == "Halt").count();
    assert_eq!(halts, 1, "the adapter was halted and initialised again");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn write_configuration_updates_the_registry() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), Registry::with_mandatory());
    h.load(entry).unwrap();
    h.initialize().unwrap();
    write_dword(s.adapter(), "Written", 42);
    assert_eq!(h.registry().get("written"), Some(&RegValue::Dword(42)));
    assert!(h.take_violations().is_empty());
}

#[test]
fn a_configuration_handle_left_open_is_a_leak_at_halt() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), Registry::with_mandatory());
    h.quiet(true);
    h.up(entry).unwrap();
    // Opened and never closed.
    let _ = open_configuration(s.adapter());
    h.pause().unwrap();
    h.halt().unwrap();
    let v = h.expect_violation(ndis_emu::Kind::Leak);
    assert!(v.message.contains("Config"), "{v}");
}

/// `NdisOpenConfigurationEx` on `adapter`, as a miniport calls it; the handle must be closed.
fn open_configuration(adapter: n::NDIS_HANDLE) -> n::NDIS_HANDLE {
    let mut obj = n::NDIS_CONFIGURATION_OBJECT {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            n::NDIS_CONFIGURATION_OBJECT_REVISION_1,
            n::NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: adapter,
        Flags: 0,
    };
    let mut ch: n::NDIS_HANDLE = std::ptr::null_mut();
    assert_eq!(
        // SAFETY: valid object and out-parameter.
        unsafe { n::NdisOpenConfigurationEx(&mut obj, &mut ch) },
        n::NDIS_STATUS_SUCCESS
    );
    ch
}

/// Opens the configuration, writes `name` = `value` (an integer) with
/// `NdisWriteConfiguration` and closes it again, as a miniport does.
fn write_dword(adapter: n::NDIS_HANDLE, name: &str, value: u32) {
    let ch = open_configuration(adapter);
    let mut key: Vec<u16> = name.encode_utf16().collect();
    let mut ks = n::UNICODE_STRING {
        Length: (key.len() * 2) as u16,
        MaximumLength: (key.len() * 2) as u16,
        Buffer: key.as_mut_ptr(),
    };
    let mut p = n::NDIS_CONFIGURATION_PARAMETER {
        ParameterType: n::NdisParameterInteger,
        ParameterData: n::NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: value },
    };
    let mut st = 0;
    // SAFETY: valid arguments; `ch` is open.
    unsafe { n::NdisWriteConfiguration(&mut st, ch, &mut ks, &mut p) };
    assert_eq!(st, n::NDIS_STATUS_SUCCESS);
    // SAFETY: the handle opened above.
    unsafe { n::NdisCloseConfiguration(ch) };
}

/// A file-backed registry in a fresh directory (removed by the caller).
fn registry_file(tag: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ndis-emu-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adapter.reg");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn offload_parameters(rsc4: u8, tcp4: u8, uso6: u8, flags: u32) -> Vec<u8> {
    let p = n::NDIS_OFFLOAD_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NDIS_OFFLOAD_PARAMETERS_REVISION_5,
            n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5,
        ),
        TCPIPv4Checksum: tcp4,
        RscIPv4: rsc4,
        UdpSegmentationIPv6: uso6,
        Flags: flags,
        ..Default::default()
    };
    let mut v = ndis_emu::oid::struct_bytes(&p);
    v.truncate(usize::from(n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5));
    v
}

const PERSIST_FILE: &str = r#"# written by the INF
[adapter]
*IfType = dword:6
*MediaType = dword:0
*PhysicalMediaType = dword:14
*RscIPv4 = "1"   # kept as REG_SZ
*TCPChecksumOffloadIPv4 = "3"
[driver]
DriverOnly = "yes"
"#;

#[test]
fn offload_parameters_rewritten_by_ndis_are_in_the_registry_file_and_survive_a_restart() {
    let (dir, path) = registry_file("offload-persist", PERSIST_FILE);
    let (entry, s) = driver(Cfg {
        keywords: vec![
            ("*RscIPv4", n::NdisParameterInteger),
            ("*TCPChecksumOffloadIPv4", n::NdisParameterInteger),
            ("*UsoIPv6", n::NdisParameterInteger),
        ],
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), Registry::load(&path).unwrap());
    h.up(entry).unwrap();
    // RSC IPv4 disabled (1 → 0), TCP/IPv4 checksum "Rx on, Tx off" (3 → 2), USO IPv6 enabled
    // (2 → 1); every other field "no change".
    let r = h
        .oid_set(
            n::OID_TCP_OFFLOAD_PARAMETERS,
            &offload_parameters(1, 3, 2, 0),
        )
        .unwrap();
    assert!(r.ok(), "{:#x}", r.status);
    // The file itself holds the new values at once (no save by the test), and only those
    // changed: comments, the driver section and untouched keywords are as they were.
    let text = std::fs::read_to_string(&path).unwrap();
    let file = Registry::parse(&text).unwrap();
    assert_eq!(file.get("*RscIPv4"), Some(&RegValue::sz("0")));
    assert_eq!(
        file.get("*TCPChecksumOffloadIPv4"),
        Some(&RegValue::sz("2"))
    );
    assert_eq!(file.get("*UsoIPv6"), Some(&RegValue::sz("1")));
    assert_eq!(
        file.get("*LsoV2IPv4"),
        None,
        "no change: no keyword written"
    );
    assert_eq!(
        file.get_in(ndis_emu::registry::Section::Driver, "DriverOnly"),
        Some(&RegValue::sz("yes"))
    );
    assert!(text.starts_with("# written by the INF\n"), "{text}");
    // A new keyword goes into the adapter section, not after [driver].
    let driver_at = text.find("[driver]").unwrap();
    assert!(text.find("*UsoIPv6").unwrap() < driver_at, "{text}");

    // Set-NetAdapterAdvancedProperty-style restart: the registry is read from the file again.
    h.reinitialize().unwrap();
    let reads: Vec<(String, ReadResult)> = s.reads.lock().unwrap().clone();
    let second: Vec<(String, ReadResult)> = reads[3..].to_vec();
    assert_eq!(
        second,
        vec![
            (
                "*RscIPv4".to_string(),
                ReadResult::Integer(0, n::NdisParameterInteger)
            ),
            (
                "*TCPChecksumOffloadIPv4".to_string(),
                ReadResult::Integer(2, n::NdisParameterInteger)
            ),
            (
                "*UsoIPv6".to_string(),
                ReadResult::Integer(1, n::NdisParameterInteger)
            ),
        ],
        "the restarted adapter reads what NDIS wrote"
    );
    assert_eq!(
        reads[0].1,
        ReadResult::Integer(1, n::NdisParameterInteger),
        "the first initialisation read the INF value"
    );
    h.down().unwrap();
    assert!(h.warnings().is_empty(), "{:?}", h.warnings());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn offload_parameters_with_skip_registry_update_leave_the_file_alone() {
    let (dir, path) = registry_file("offload-skip", PERSIST_FILE);
    let (entry, s) = driver(Cfg {
        keywords: vec![("*RscIPv4", n::NdisParameterInteger)],
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), Registry::load(&path).unwrap());
    h.up(entry).unwrap();
    let r = h
        .oid_set(
            n::OID_TCP_OFFLOAD_PARAMETERS,
            &offload_parameters(1, 0, 0, n::NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE),
        )
        .unwrap();
    assert!(r.ok());
    assert!(
        s.events().iter().any(|e| e.starts_with("set 0x")),
        "the miniport still got the request"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), PERSIST_FILE);
    h.reinitialize().unwrap();
    let reads = s.reads.lock().unwrap().clone();
    assert_eq!(
        reads.last().map(|r| r.1.clone()),
        Some(ReadResult::Integer(1, n::NdisParameterInteger))
    );
    h.down().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn offload_fields_beyond_header_size_are_not_written() {
    // A revision-5 header with the size of revision 2: RscIPv4 (offset 22) is outside it even
    // though the buffer carries a value there.
    let mut v = offload_parameters(1, 0, 0, 0);
    v[2..4].copy_from_slice(&n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2.to_le_bytes());
    assert_eq!(ndis_emu::oid::offload_parameters_to_keywords(&v), vec![]);
    let v = offload_parameters(1, 0, 0, 0);
    assert_eq!(
        ndis_emu::oid::offload_parameters_to_keywords(&v),
        vec![("*RscIPv4", "0".to_string())]
    );
}

#[test]
fn write_configuration_is_kept_in_the_registry_file() {
    let (dir, path) = registry_file(
        "write-persist",
        "[adapter]\n*IfType = dword:6\n*MediaType = dword:0\n*PhysicalMediaType = dword:14\n",
    );
    let (entry, s) = driver(Cfg {
        keywords: vec![("Written", n::NdisParameterInteger)],
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), Registry::load(&path).unwrap());
    h.up(entry).unwrap();
    write_dword(s.adapter(), "Written", 42);
    assert_eq!(
        Registry::load(&path).unwrap().get("Written"),
        Some(&RegValue::Dword(42))
    );
    h.reinitialize().unwrap();
    assert_eq!(
        s.reads.lock().unwrap().last().map(|r| r.1.clone()),
        Some(ReadResult::Integer(42, n::NdisParameterInteger)),
        "written before the restart, read after it"
    );
    h.down().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
