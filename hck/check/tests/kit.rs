//! The kit agrees with the driver: keyword table, profiles, and every PowerShell file.

use std::path::Path;

use hck_check::keywords::{self, Entry, REGENERATE, TABLE_PATH};
use hck_check::ps::{self, Context};
use hck_check::{kit_dir, kit_files, profiles, repo_root};
use netkvm_core::params::{Domain, PARAMS};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn table_entries() -> Vec<Entry> {
    keywords::read(&read(&repo_root().join(TABLE_PATH))).unwrap()
}

fn context() -> Context {
    let module = read(&kit_dir().join("lib/NetKvmRs.Hck.psm1"));
    Context {
        module_functions: ps::module_context(&module),
        keywords: PARAMS.iter().map(|p| p.keyword.to_string()).collect(),
    }
}

#[test]
fn keyword_table_is_generated_from_params() {
    let on_disk = read(&repo_root().join(TABLE_PATH));
    assert!(
        on_disk == keywords::render(PARAMS),
        "{TABLE_PATH} is stale: regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn keyword_table_reads_back_as_params() {
    let entries = table_entries();
    assert_eq!(entries.len(), PARAMS.len());
    let problems = keywords::compare(&entries, PARAMS);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn keyword_table_spot_checks_against_the_standard_texts() {
    // Independent of PARAMS: values the Learn keyword pages and the brief fix.
    let e = table_entries();
    let get = |k: &str| e.iter().find(|x| x.keyword == k).unwrap();
    let rsc = get("*RscIPv4");
    assert_eq!(rsc.default.as_deref(), Some("1"));
    assert_eq!(
        rsc.values,
        vec![
            ("0".into(), "Disabled".into()),
            ("1".into(), "Enabled".into())
        ]
    );
    let sw = get("SoftwareRsc");
    assert_eq!(sw.default.as_deref(), Some("1"));
    assert!(sw.shown);
    let csum = get("*TCPChecksumOffloadIPv4");
    assert_eq!(csum.values.len(), 4);
    assert_eq!(csum.values[3], ("3".into(), "Rx & Tx Enabled".into()));
    let jumbo = get("*JumboPacket");
    assert_eq!(jumbo.default.as_deref(), Some("1514"));
    assert_eq!(jumbo.range, Some((590, 65500, 1)));
    assert!(!get("*LsoV1IPv4").shown);
    let mac = get("NetworkAddress");
    assert_eq!((mac.default.as_ref(), mac.optional), (None, true));
}

type Mutation = Box<dyn Fn(&mut Vec<Entry>)>;

#[test]
fn keyword_compare_detects_each_kind_of_drift() {
    let base = table_entries();
    let mutations: Vec<(&str, Mutation)> = vec![
        ("default", Box::new(|e| e[0].default = Some("0".into()))),
        ("display name", Box::new(|e| e[0].display_name.push('x'))),
        ("type", Box::new(|e| e[1].ty = "int".into())),
        ("shown", Box::new(|e| e[0].shown = !e[0].shown)),
        (
            "enum value",
            Box::new(|e| {
                e[0].values.pop();
            }),
        ),
        (
            "range",
            Box::new(|e| {
                let j = e.iter_mut().find(|x| x.keyword == "*JumboPacket").unwrap();
                j.range = Some((590, 65535, 1));
            }),
        ),
        (
            "missing keyword",
            Box::new(|e| {
                e.retain(|x| x.keyword != "SoftwareRsc");
            }),
        ),
        (
            "extra keyword",
            Box::new(|e| {
                let mut x = e[0].clone();
                x.keyword = "*RscIPv5".into();
                e.push(x);
            }),
        ),
        (
            "case",
            Box::new(|e| {
                let j = e.iter_mut().find(|x| x.keyword == "*NumRssQueues").unwrap();
                j.keyword = "*NumRSSQueues".into();
            }),
        ),
        (
            "duplicate",
            Box::new(|e| {
                let x = e[2].clone();
                e.push(x);
            }),
        ),
    ];
    for (what, m) in mutations {
        let mut e = base.clone();
        m(&mut e);
        assert!(
            !keywords::compare(&e, PARAMS).is_empty(),
            "compare missed a changed {what}"
        );
    }
}

#[test]
fn keyword_value_rules_match_the_driver_reader() {
    let spec = |k| netkvm_core::params::spec_by_keyword(k).unwrap();
    assert!(keywords::value_allowed(spec("*JumboPacket"), "9014").is_ok());
    assert!(keywords::value_allowed(spec("*JumboPacket"), "65501").is_err());
    assert!(keywords::value_allowed(spec("*JumboPacket"), "0x10").is_err());
    assert!(keywords::value_allowed(spec("TxCapacity"), "100").is_err());
    assert!(keywords::value_allowed(spec("NetworkAddress"), "02-AA-BB-CC-DD-EE").is_ok());
    assert!(keywords::value_allowed(spec("NetworkAddress"), "00AABBCCDDEE").is_err());
    assert!(keywords::value_allowed(spec("NetworkAddress"), "").is_ok());
}

#[test]
fn profiles_name_only_driver_keywords_with_allowed_values() {
    let files = kit_files(&kit_dir().join("profiles"), &[".psd1", ".json"]);
    assert!(files.len() >= 3, "profiles missing: {files:?}");
    for f in files {
        let json = f.extension().is_some_and(|x| x == "json");
        let p = profiles::parse(&read(&f), json).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!p.advanced.is_empty(), "{}: empty Advanced", f.display());
        let problems = profiles::problems(&p);
        assert!(problems.is_empty(), "{}: {problems:#?}", f.display());
    }
}

#[test]
fn default_profile_is_exactly_the_driver_defaults() {
    let p = profiles::parse(&read(&kit_dir().join("profiles/default.psd1")), false).unwrap();
    assert_eq!(p.rsc_operational, Some(true));
    for spec in PARAMS.iter().filter(|s| s.shown) {
        let Some(default) = spec.domain.default_value() else {
            continue;
        };
        let (_, v) = p
            .advanced
            .iter()
            .find(|(k, _)| k == spec.keyword)
            .unwrap_or_else(|| panic!("default.psd1 lacks {}", spec.keyword));
        assert_eq!(v, &default.to_string(), "{}", spec.keyword);
    }
}

#[test]
fn profile_checker_rejects_bad_profiles() {
    let bad = [
        (
            "@{ Advanced = @{ '*RscIPv5' = '1' } }",
            "not a driver keyword",
        ),
        (
            "@{ Advanced = @{ '*RscIPv4' = '2' } }",
            "not an allowed value",
        ),
        (
            "@{ Advanced = @{ '*JumboPacket' = 'Jumbo' } }",
            "not a decimal integer",
        ),
        (
            "@{ Advanced = @{ 'VlanID' = '4095' } }",
            "not an allowed value",
        ),
        (
            "@{ Advanced = @{ NetworkAddress = '01AABBCCDDEE' } }",
            "multicast",
        ),
        (
            "@{ Advanced = @{ '*RscIPv4' = '1'; '*rscipv4' = '0' } }",
            "duplicate key",
        ),
    ];
    for (text, why) in bad {
        let problems = match profiles::parse(text, false) {
            Err(e) => vec![e],
            Ok(p) => profiles::problems(&p),
        };
        assert!(
            problems.iter().any(|p| p.contains(why)),
            "{text}: expected {why:?}, got {problems:?}"
        );
    }
    for (text, why) in [
        ("@{ Advance = @{} }", "unknown section"),
        ("@{ Operational = @{ Uso = $true } }", "unknown"),
        ("@{ Operational = @{ Rsc = 'yes' } }", "not a boolean"),
    ] {
        let e = profiles::parse(text, false).unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
    }
    // Display texts are accepted for enum keywords, as Configure.ps1 does.
    let ok = profiles::parse("@{ Advanced = @{ '*RSS' = 'enabled' } }", false).unwrap();
    assert!(profiles::problems(&ok).is_empty());
}

#[test]
fn every_powershell_file_parses_and_follows_the_kit_rules() {
    let ctx = context();
    assert!(
        ctx.module_functions.len() >= 15,
        "module exports too few functions: {:?}",
        ctx.module_functions.keys()
    );
    let files = kit_files(&kit_dir(), &[".ps1", ".psm1", ".psd1"]);
    let mut all = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for p in ps::lint(&name, &read(f), &ctx) {
            all.push(format!(
                "{}: {p}",
                f.strip_prefix(repo_root()).unwrap().display()
            ));
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    eprintln!("linted {} PowerShell files", files.len());
}

#[test]
fn the_briefs_scripts_exist_with_their_parameters() {
    for (script, params) in [
        ("Install.ps1", &["Path", "TimeoutSeconds", "TestSign"][..]),
        (
            "Configure.ps1",
            &["Name", "ProfilePath", "Set", "NoRestart"][..],
        ),
        (
            "Verify.ps1",
            &["Name", "ProfilePath", "Expect", "RequireRscOperational"][..],
        ),
        ("Measure-Uso.ps1", &["Server", "Seconds", "IperfPath"][..]),
        (
            "Measure-Rsc.ps1",
            &["Server", "Seconds", "Streams", "IperfPath"][..],
        ),
    ] {
        let text = read(&kit_dir().join(script));
        let (declared, binding) = ps::script_params(&text).unwrap();
        assert!(binding, "{script}: no [CmdletBinding()]");
        for p in params {
            assert!(
                declared.iter().any(|d| d == p),
                "{script}: no -{p} in {declared:?}"
            );
        }
    }
}

#[test]
fn install_uses_pnputil_and_checks_test_signing() {
    let text = read(&kit_dir().join("Install.ps1"));
    let calls: Vec<String> = ps::calls(&text).into_iter().map(|c| c.name).collect();
    for c in [
        "pnputil.exe",
        "bcdedit.exe",
        "Assert-HckElevated",
        "Get-PnpDeviceProperty",
    ] {
        assert!(calls.iter().any(|x| x == c), "Install.ps1 never calls {c}");
    }
    assert!(text.contains("/add-driver $inf /install"));
}

#[test]
fn configure_writes_with_norestart_and_restarts_once() {
    let module = read(&kit_dir().join("lib/NetKvmRs.Hck.psm1"));
    for c in ps::calls(&module) {
        if c.name == "Set-NetAdapterAdvancedProperty" || c.name == "New-NetAdapterAdvancedProperty"
        {
            assert!(
                c.params.iter().any(|p| p == "NoRestart"),
                "line {}: {} without -NoRestart",
                c.line,
                c.name
            );
        }
    }
    let text = read(&kit_dir().join("Configure.ps1"));
    let restarts: Vec<_> = ps::calls(&text)
        .into_iter()
        .filter(|c| c.name.contains("Restart"))
        .collect();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    // The single restart comes after the writes, outside any loop over keywords.
    let set_line = ps::calls(&text)
        .into_iter()
        .find(|c| c.name == "Set-HckAdvancedProperty")
        .unwrap()
        .line;
    assert!(restarts[0].line > set_line);
}

#[test]
fn measure_uso_runs_are_the_reference_configurations() {
    // 1472 and 8972 are the largest unfragmented UDP payloads at MTU 1500 / 9000
    // (MTU - 20 IPv4 - 8 UDP); *JumboPacket = MTU + 14; 65507 = 65535 - 20 - 8.
    let text = read(&kit_dir().join("Measure-Uso.ps1"));
    let runs: Vec<(String, u32, u32)> = text
        .lines()
        .filter(|l| l.contains("Label =") && l.contains("Length ="))
        .map(|l| {
            let field = |k: &str| {
                let rest = &l[l.find(k).unwrap() + k.len()..];
                rest.trim_start_matches([' ', '=', '\''])
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .to_string()
            };
            (
                field("Uso ="),
                field("Jumbo =").parse().unwrap(),
                field("Length =").parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            ("0".into(), 1514, 1472),
            ("1".into(), 9014, 8972),
            ("1".into(), 65500, 65507)
        ]
    );
    let spec = netkvm_core::params::spec_by_keyword("*JumboPacket").unwrap();
    for (_, jumbo, len) in &runs[..2] {
        assert_eq!(len + 28, jumbo - 14, "run with {len} B must fit one frame");
        assert!(spec.domain.allows(i64::from(*jumbo)));
    }
    let Domain::Range { max, .. } = spec.domain else {
        panic!()
    };
    assert_eq!(
        runs[2].1, max,
        "the 65507 B run uses the largest *JumboPacket"
    );
}

#[test]
fn rsc_statistics_use_the_wmi_property_names() {
    // MSFT_NetAdapterRscStatistics: CoalescedPackets, CoalescedBytes, CoalescingEvents,
    // CoalescingExceptions (the NDIS OID calls the second one CoalescedOctets).
    let text = read(&kit_dir().join("Measure-Rsc.ps1"));
    for p in [
        "CoalescedPackets",
        "CoalescedBytes",
        "CoalescingEvents",
        "CoalescingExceptions",
    ] {
        assert!(
            text.contains(&format!("$s.{p}")),
            "Measure-Rsc.ps1 does not read {p}"
        );
    }
    assert!(text.contains("'-R'"), "host->guest needs iperf3 -R");
}
