//! Link configuration of the driver image.
//!
//! - feature `wdk` (Windows + WDK): windows-drivers-rs configures everything (`/DRIVER`, `/SUBSYSTEM:NATIVE`,
//!   `/ENTRY:DriverEntry`, WDK libraries, driver-model cfgs); NDIS miniports also need `ndis.lib`, which
//!   wdk-build does not add.
//! - otherwise, only for `*-windows-msvc` targets (the Linux cross-build; host builds for tests need nothing):
//!   the flags wdk-build would pass for a WDM driver, plus `/RELEASE`, which link.exe implies for native images
//!   but lld-link does not — without it the PE checksum the kernel loader verifies stays 0.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_WDK").is_some() {
        wdk();
        return;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-windows-msvc") {
        return;
    }
    const FLAGS: &[&str] = &[
        "/DRIVER", // kernel-mode driver image (IMAGE_SUBSYSTEM_NATIVE rules, no user DLL init)
        "/NODEFAULTLIB", // no CRT: the image may import only from kernel modules
        "/SUBSYSTEM:NATIVE", // loaded by the kernel, not by a user-mode loader
        "/ENTRY:DriverEntry", // the entry point is the DriverEntry export
        "/NXCOMPAT", // non-executable data (required for kernel images since Windows 8)
        "/DYNAMICBASE", // relocatable (KASLR)
        "/INTEGRITYCHECK", // FORCE_INTEGRITY: the loader enforces a valid signature
        "/OPT:REF,ICF", // drop unreferenced code/data, fold identical functions
        "/MANIFEST:NO", // manifests are a user-mode concept
        "/MAP",    // linker map for crash-dump triage (packaged next to the .sys)
        "/MAPINFO:EXPORTS",
        "/RELEASE", // write the PE checksum (lld-link does not imply it for NATIVE)
    ];
    for f in FLAGS {
        println!("cargo::rustc-cdylib-link-arg={f}");
    }
}

#[cfg(feature = "wdk")]
fn wdk() {
    if let Err(e) = wdk_build::configure_wdk_binary_build() {
        panic!("wdk-build could not configure the driver build: {e:?}");
    }
    println!("cargo::rustc-link-lib=ndis");
}

#[cfg(not(feature = "wdk"))]
fn wdk() {
    unreachable!("CARGO_FEATURE_WDK is set only when the feature is enabled");
}
