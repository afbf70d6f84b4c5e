//! The adapter attributes InitializeEx sets with `NdisMSetMiniportAttributes`: registration (first),
//! general (media, MTU, link, MAC addresses, filters, OID list, statistics, RSS and PM capabilities) and
//! offload (hardware capabilities + default configuration from netkvm-core's offload state). RSS
//! capabilities go in the general attributes, so no hardware-assist attributes are needed (no VMQ,
//! SR-IOV, NIC switch).

use core::ptr;

use ndis_sys as n;

use crate::adapter::init::CHECK_FOR_HANG_SECONDS;
use crate::adapter::Adapter;
use crate::oid;
use crate::oid::state::OidState;

/// Capacity of the supported-OID array handed to NDIS.
pub const MAX_OIDS: usize = 128;

/// `AttributeFlags` of the registration attributes: a PCI bus-master device that survives surprise
/// removal and stays initialised across suspend (NDIS uses OID_PNP_SET_POWER instead of Halt).
pub const REGISTRATION_FLAGS: u32 = n::NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE
    | n::NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER
    | n::NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND
    | n::NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK;

/// Registration attributes for `context` at NDIS version `ndis`.
pub fn registration(
    context: n::NDIS_HANDLE,
    ndis: n::NdisVersion,
) -> n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    let rev = if ndis >= n::NdisVersion::V6_30 {
        n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2
    } else {
        n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1
    };
    n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            rev,
            n::NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
        ),
        MiniportAdapterContext: context,
        AttributeFlags: REGISTRATION_FLAGS,
        CheckForHangTimeInSeconds: CHECK_FOR_HANG_SECONDS,
        InterfaceType: n::NdisInterfacePci,
    }
}

fn set(
    handle: n::NDIS_HANDLE,
    attrs: *mut n::NDIS_MINIPORT_ADAPTER_ATTRIBUTES,
) -> Result<(), n::NDIS_STATUS> {
    // SAFETY: PASSIVE_LEVEL (InitializeEx); `attrs` points to a complete attribute structure whose header
    // selects the union member; every pointer inside it refers to storage alive across the call.
    let st = unsafe { n::NdisMSetMiniportAttributes(handle, attrs) };
    if st == n::NDIS_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(st)
    }
}

/// Sets the registration attributes (must be the first attributes of InitializeEx).
pub fn set_registration(a: &Adapter) -> Result<(), n::NDIS_STATUS> {
    let mut r = registration(a.as_context().cast_mut(), a.ndis);
    set(a.handle, ptr::addr_of_mut!(r).cast())
}

/// The general attributes and the storage their pointers refer to.
pub struct GeneralAttributes {
    /// The structure handed to NDIS (pointers fixed up by [`GeneralAttributes::finish`]).
    pub attrs: n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    /// RSS capabilities (when RSS is supported).
    pub rss: Option<n::NDIS_RECEIVE_SCALE_CAPABILITIES>,
    /// PM capabilities (nothing supported).
    pub pm: n::NDIS_PM_CAPABILITIES,
    /// Supported OIDs.
    pub oids: [u32; MAX_OIDS],
    /// Entries of `oids` in use.
    pub oid_count: usize,
}

/// PM capabilities: honest "no wake-up, no protocol offload" (NetKVM reports the same; the device has no
/// wake logic). Revision 2 (SupportedWakeUpEvents) from NDIS 6.30.
pub fn pm_capabilities(ndis: n::NdisVersion) -> n::NDIS_PM_CAPABILITIES {
    let (rev, size) = if ndis >= n::NdisVersion::V6_30 {
        (
            n::NDIS_PM_CAPABILITIES_REVISION_2,
            n::NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2,
        )
    } else {
        (
            n::NDIS_PM_CAPABILITIES_REVISION_1,
            n::NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_1,
        )
    };
    n::NDIS_PM_CAPABILITIES {
        Header: n::NDIS_OBJECT_HEADER::new(n::NDIS_OBJECT_TYPE_DEFAULT, rev, size),
        MinMagicPacketWakeUp: n::NdisDeviceStateUnspecified,
        MinPatternWakeUp: n::NdisDeviceStateUnspecified,
        MinLinkChangeWakeUp: n::NdisDeviceStateUnspecified,
        ..Default::default()
    }
}

impl GeneralAttributes {
    /// Builds the general attributes for `s` (pointers still null: call [`GeneralAttributes::finish`] on
    /// the final location).
    pub fn build(s: &OidState) -> Self {
        let mut oids = [0u32; MAX_OIDS];
        let oid_count = oid::supported_oids(s, &mut oids);
        let connected = s.link.connect == n::MediaConnectStateConnected;
        let speed = if connected {
            s.link.speed_bps
        } else {
            n::NET_IF_LINK_SPEED_UNKNOWN
        };
        let mut perm = [0u8; n::NDIS_MAX_PHYS_ADDRESS_LENGTH];
        let mut cur = [0u8; n::NDIS_MAX_PHYS_ADDRESS_LENGTH];
        perm[..6].copy_from_slice(&s.permanent_mac);
        cur[..6].copy_from_slice(&s.current_mac);
        let attrs = n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
                n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
                n::NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            ),
            Flags: 0,
            MediaType: n::NdisMedium802_3,
            PhysicalMediumType: n::NdisPhysicalMedium802_3,
            MtuSize: s.mtu,
            MaxXmitLinkSpeed: s.link.speed_bps,
            XmitLinkSpeed: speed,
            MaxRcvLinkSpeed: s.link.speed_bps,
            RcvLinkSpeed: speed,
            MediaConnectState: s.link.connect,
            MediaDuplexState: if connected {
                s.link.duplex
            } else {
                n::MediaDuplexStateUnknown
            },
            LookaheadSize: s.mtu,
            PowerManagementCapabilities: ptr::null_mut(),
            MacOptions: oid::mac_options(s),
            SupportedPacketFilters: oid::SUPPORTED_PACKET_FILTERS,
            MaxMulticastListSize: crate::datapath::MAX_MULTICAST as u32,
            MacAddressLength: 6,
            PermanentMacAddress: perm,
            CurrentMacAddress: cur,
            RecvScaleCapabilities: ptr::null_mut(),
            AccessType: n::NET_IF_ACCESS_BROADCAST,
            DirectionType: n::NET_IF_DIRECTION_SENDRECEIVE,
            ConnectionType: n::NET_IF_CONNECTION_DEDICATED,
            IfType: n::IF_TYPE_ETHERNET_CSMACD,
            IfConnectorPresent: n::TRUE,
            SupportedStatistics: oid::SUPPORTED_STATISTICS,
            SupportedPauseFunctions: n::NdisPauseFunctionsUnsupported as u32,
            DataBackFillSize: 0,
            ContextBackFillSize: 0,
            SupportedOidList: ptr::null_mut(),
            SupportedOidListLength: 0,
            AutoNegotiationFlags: 0,
            PowerManagementCapabilitiesEx: ptr::null_mut(),
        };
        Self {
            attrs,
            rss: s.rss.supported.then(|| oid::rss_capabilities(s)),
            pm: pm_capabilities(s.facts.ndis),
            oids,
            oid_count,
        }
    }

    /// Points the structure at this value's storage (call after it stopped moving).
    pub fn finish(&mut self) {
        self.attrs.SupportedOidList = self.oids.as_mut_ptr();
        self.attrs.SupportedOidListLength = (self.oid_count * 4) as u32;
        self.attrs.PowerManagementCapabilitiesEx = ptr::addr_of_mut!(self.pm);
        self.attrs.RecvScaleCapabilities = match self.rss.as_mut() {
            Some(r) => r,
            None => ptr::null_mut(),
        };
    }
}

/// Sets the general attributes.
pub fn set_general(a: &Adapter, s: &OidState) -> Result<(), n::NDIS_STATUS> {
    let mut g = GeneralAttributes::build(s);
    g.finish();
    set(a.handle, ptr::addr_of_mut!(g.attrs).cast()).inspect_err(|st| {
        crate::log!(Error, "general attributes refused: {:#010x}", *st as u32);
    })
}

/// Sets the offload attributes (capabilities and default configuration at the registered revision).
pub fn set_offload(a: &Adapter, s: &OidState) -> Result<(), n::NDIS_STATUS> {
    let mut caps = crate::offload_ndis::to_ndis(&s.offload.caps);
    let mut current = crate::offload_ndis::to_ndis(&s.offload.current);
    let mut attrs = n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
            n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
            n::NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
        ),
        DefaultOffloadConfiguration: &mut current,
        HardwareOffloadCapabilities: &mut caps,
        DefaultTcpConnectionOffloadConfiguration: ptr::null_mut(),
        TcpConnectionOffloadHardwareCapabilities: ptr::null_mut(),
    };
    set(a.handle, ptr::addr_of_mut!(attrs).cast()).inspect_err(|st| {
        crate::log!(Error, "offload attributes refused: {:#010x}", *st as u32);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_attributes_declare_a_pci_bus_master_that_survives_removal_and_suspend() {
        let r = registration(0x1234 as n::NDIS_HANDLE, n::NdisVersion::V6_85);
        assert_eq!(
            (r.Header.Type, r.Header.Revision, r.Header.Size),
            (0x9E, 2, 28)
        );
        assert_eq!(r.MiniportAdapterContext as usize, 0x1234);
        for f in [0x1, 0x4, 0x20, 0x40] {
            assert_eq!(r.AttributeFlags & f, f, "{f:#x}");
        }
        assert_eq!(r.CheckForHangTimeInSeconds, 4);
        assert_eq!(r.InterfaceType, 5, "PCIBus");
    }

    #[test]
    fn pm_capabilities_promise_no_wake_up() {
        let p = pm_capabilities(n::NdisVersion::V6_85);
        assert_eq!((p.Header.Revision, p.Header.Size), (2, 60));
        assert_eq!(p.Flags, 0);
        assert_eq!(p.SupportedWoLPacketPatterns, 0);
        assert_eq!(p.SupportedProtocolOffloads, 0);
        assert_eq!(p.MinMagicPacketWakeUp, n::NdisDeviceStateUnspecified);
        assert_eq!(p.SupportedWakeUpEvents, 0);
    }

    #[test]
    fn the_table_fits_the_oid_array() {
        assert!(crate::oid::TABLE.len() <= MAX_OIDS);
    }
}
