//! Per-NBL out-of-band info: slot indices (`ndis/nblinfo.h`, x64 numbering) and typed views of
//! the pointer-sized slot values (`nblchecksum.h`, `nbllso.h`, `nbluso.h`, `nblrsc.h`, `nblhash.h`,
//! `nbl8021q.h`, `nbluro.h`).

/// `NDIS_NET_BUFFER_LIST_INFO` (C enum) used as an index into `NetBufferListInfo`.
pub type NDIS_NET_BUFFER_LIST_INFO = usize;

/// `TcpIpChecksumNetBufferListInfo`.
pub const TcpIpChecksumNetBufferListInfo: usize = 0;
/// `TcpOffloadBytesTransferred` (= `TcpIpChecksumNetBufferListInfo`).
pub const TcpOffloadBytesTransferred: usize = 0;
/// `IPsecOffloadV1NetBufferListInfo`.
pub const IPsecOffloadV1NetBufferListInfo: usize = 1;
/// `IPsecOffloadV2NetBufferListInfo` (= V1 slot).
pub const IPsecOffloadV2NetBufferListInfo: usize = 1;
/// `TcpLargeSendNetBufferListInfo`.
pub const TcpLargeSendNetBufferListInfo: usize = 2;
/// `TcpReceiveNoPush` (= `TcpLargeSendNetBufferListInfo`).
pub const TcpReceiveNoPush: usize = 2;
/// `ClassificationHandleNetBufferListInfo`.
pub const ClassificationHandleNetBufferListInfo: usize = 3;
/// `Ieee8021QNetBufferListInfo`.
pub const Ieee8021QNetBufferListInfo: usize = 4;
/// `NetBufferListCancelId`.
pub const NetBufferListCancelId: usize = 5;
/// `MediaSpecificInformation`.
pub const MediaSpecificInformation: usize = 6;
/// `NetBufferListFrameType`.
pub const NetBufferListFrameType: usize = 7;
/// `NetBufferListProtocolId` (= `NetBufferListFrameType`).
pub const NetBufferListProtocolId: usize = 7;
/// `NetBufferListHashValue`.
pub const NetBufferListHashValue: usize = 8;
/// `NetBufferListHashInfo`.
pub const NetBufferListHashInfo: usize = 9;
/// `WfpNetBufferListInfo`.
pub const WfpNetBufferListInfo: usize = 10;
/// `IPsecOffloadV2TunnelNetBufferListInfo`.
pub const IPsecOffloadV2TunnelNetBufferListInfo: usize = 11;
/// `IPsecOffloadV2HeaderNetBufferListInfo`.
pub const IPsecOffloadV2HeaderNetBufferListInfo: usize = 12;
/// `NetBufferListCorrelationId`.
pub const NetBufferListCorrelationId: usize = 13;
/// `NetBufferListFilteringInfo`.
pub const NetBufferListFilteringInfo: usize = 14;
/// `MediaSpecificInformationEx`.
pub const MediaSpecificInformationEx: usize = 15;
/// `NblOriginalInterfaceIfIndex`.
pub const NblOriginalInterfaceIfIndex: usize = 16;
/// `NblReAuthWfpFlowContext` (= `NblOriginalInterfaceIfIndex`).
pub const NblReAuthWfpFlowContext: usize = 16;
/// `TcpReceiveBytesTransferred`.
pub const TcpReceiveBytesTransferred: usize = 17;
/// `NrtNameResolutionId` (= `TcpReceiveBytesTransferred`).
pub const NrtNameResolutionId: usize = 17;
/// `UdpRecvSegCoalesceOffloadInfo` (NDIS 6.84, = `TcpReceiveBytesTransferred`): URO receive info.
pub const UdpRecvSegCoalesceOffloadInfo: usize = 17;
/// `SwitchForwardingReserved` (x64 only at this position).
pub const SwitchForwardingReserved: usize = 18;
/// `SwitchForwardingDetail`.
pub const SwitchForwardingDetail: usize = 19;
/// `VirtualSubnetInfo`.
pub const VirtualSubnetInfo: usize = 20;
/// `IMReserved`.
pub const IMReserved: usize = 21;
/// `TcpRecvSegCoalesceInfo`: RSC info on receive.
pub const TcpRecvSegCoalesceInfo: usize = 22;
/// `UdpSegmentationOffloadInfo` (NDIS 6.83, = `TcpRecvSegCoalesceInfo`): USO info on send.
pub const UdpSegmentationOffloadInfo: usize = 22;
/// `RscTcpTimestampDelta`.
pub const RscTcpTimestampDelta: usize = 23;
/// `TcpSendOffloadsSupplementalNetBufferListInfo` (= `RscTcpTimestampDelta`).
pub const TcpSendOffloadsSupplementalNetBufferListInfo: usize = 23;
/// `GftOffloadInformation`.
pub const GftOffloadInformation: usize = 24;
/// `GftFlowEntryId`.
pub const GftFlowEntryId: usize = 25;
/// `NetBufferListInfoReserved3`.
pub const NetBufferListInfoReserved3: usize = 26;
/// `MaxNetBufferListInfo` (x64, `NDIS_WRAPPER` not defined): number of slots.
pub const MaxNetBufferListInfo: usize = 27;
