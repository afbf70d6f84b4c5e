//! OID requests as NDIS issues them: an `NDIS_OID_REQUEST` with a caller buffer (followed by
//! canary bytes that catch overruns), one request at a time, synchronous return or
//! `NDIS_STATUS_PENDING` + `NdisMOidRequestComplete`, cancellation, the checks on
//! `BytesWritten` / `BytesRead` / `BytesNeeded`, and the bind sequence TCP/IP causes (data, so
//! tests can vary it).
//!
//! NDIS answers a few OIDs itself for a miniport (e.g. `OID_GEN_SUPPORTED_LIST`); the emulator
//! sends every OID to the driver, which must answer them anyway.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use ndis_sys as n;

use crate::accounting::Handler;
use crate::adapter::{Adapter, AdapterState, LifecycleError};
use crate::checks::{self, Kind};
use crate::handles;
use crate::ndis::{guard, lock, Ndis};
use crate::registry::{RegValue, Section};

/// Canary bytes after every information buffer.
const CANARY_LEN: usize = 64;
const CANARY: u8 = 0xA5;

/// The kind of an OID request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OidKind {
    /// `NdisRequestQueryInformation`.
    Query,
    /// `NdisRequestQueryStatistics`.
    QueryStatistics,
    /// `NdisRequestSetInformation`.
    Set,
    /// `NdisRequestMethod` with a method id.
    Method(u32),
}

/// An OID request to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidRequest {
    /// Kind.
    pub kind: OidKind,
    /// The OID.
    pub oid: n::NDIS_OID,
    /// Input bytes (set / method).
    pub input: Vec<u8>,
    /// Buffer length offered for output (query / method); for a set, the buffer length is the
    /// input length unless this is larger.
    pub out_len: u32,
    /// Port number.
    pub port: n::NDIS_PORT_NUMBER,
}

impl OidRequest {
    /// A query with an `out_len`-byte buffer.
    pub fn query(oid: n::NDIS_OID, out_len: u32) -> Self {
        OidRequest {
            kind: OidKind::Query,
            oid,
            input: Vec::new(),
            out_len,
            port: 0,
        }
    }

    /// A set with `data`.
    pub fn set(oid: n::NDIS_OID, data: impl Into<Vec<u8>>) -> Self {
        OidRequest {
            kind: OidKind::Set,
            oid,
            input: data.into(),
            out_len: 0,
            port: 0,
        }
    }

    /// A set of a `u32`.
    pub fn set_u32(oid: n::NDIS_OID, v: u32) -> Self {
        Self::set(oid, v.to_le_bytes().to_vec())
    }

    /// A set of a plain structure's bytes.
    pub fn set_struct<T: Copy>(oid: n::NDIS_OID, v: &T) -> Self {
        Self::set(oid, struct_bytes(v))
    }

    /// A method request.
    pub fn method(
        oid: n::NDIS_OID,
        method_id: u32,
        input: impl Into<Vec<u8>>,
        out_len: u32,
    ) -> Self {
        OidRequest {
            kind: OidKind::Method(method_id),
            oid,
            input: input.into(),
            out_len,
            port: 0,
        }
    }
}

/// The bytes of a plain structure.
pub fn struct_bytes<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: `v` is a valid T of size_of::<T>() bytes; callers pass plain-data NDIS structures
    // (padding bytes read as whatever they are, which the driver ignores).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), core::mem::size_of::<T>()) }
        .to_vec()
}

/// What the driver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidResult {
    /// Final status.
    pub status: n::NDIS_STATUS,
    /// `BytesWritten` (query / method).
    pub bytes_written: u32,
    /// `BytesRead` (set / method).
    pub bytes_read: u32,
    /// `BytesNeeded`.
    pub bytes_needed: u32,
    /// Output: the first `bytes_written` bytes of the buffer (query / method).
    pub data: Vec<u8>,
    /// The driver returned `NDIS_STATUS_PENDING`.
    pub pended: bool,
    /// `SupportedRevision` the driver set.
    pub supported_revision: u8,
}

impl OidResult {
    /// Status is success.
    pub fn ok(&self) -> bool {
        self.status == n::NDIS_STATUS_SUCCESS
    }

    /// The output as a `u32`.
    pub fn u32(&self) -> Option<u32> {
        self.data
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The output as a `u64` (or a `u32` widened, as NDIS allows for counters).
    pub fn u64(&self) -> Option<u64> {
        match self.data.len() {
            4..=7 => self.u32().map(u64::from),
            l if l >= 8 => Some(u64::from_le_bytes(self.data[..8].try_into().ok()?)),
            _ => None,
        }
    }

    /// The output decoded as a plain structure (zero-filled when shorter).
    pub fn decode<T: Copy>(&self) -> Option<T> {
        crate::adapter::decode_padded(&self.data)
    }
}

/// Which miniport entry point a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OidPath {
    /// `MiniportOidRequest` (serialised, may pend).
    Normal,
    /// `MiniportDirectOidRequest` (may pend, `NdisMDirectOidRequestComplete`).
    Direct,
    /// `MiniportSynchronousOidRequest` (NDIS 6.80, never pends).
    Synchronous,
}

struct Block {
    req: n::NDIS_OID_REQUEST,
    buf: Vec<u8>,
    len: u32,
}

struct InFlight {
    block: Box<Block>,
    id: u64,
    path: OidPath,
    completed: Option<n::NDIS_STATUS>,
    kind: OidKind,
    oid: n::NDIS_OID,
    input: Vec<u8>,
}

// SAFETY: the request block is plain data plus pointers into its own buffer; it moves between
// the issuing thread and completion threads under the OidState mutex.
unsafe impl Send for InFlight {}

#[derive(Default)]
struct Inner {
    inflight: Vec<InFlight>,
    busy: bool,
    /// Addressing sets to replay after an addressing reset.
    addressing: Vec<(n::NDIS_OID, Vec<u8>)>,
    abandoned: Vec<InFlight>,
}

/// A started OID request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidTicket {
    id: u64,
}

/// OID machinery of one adapter.
#[derive(Default)]
pub(crate) struct OidState {
    inner: Mutex<Inner>,
    cv: Condvar,
    next: AtomicU64,
}

fn request_type(k: OidKind) -> n::NDIS_REQUEST_TYPE {
    match k {
        OidKind::Query => n::NdisRequestQueryInformation,
        OidKind::QueryStatistics => n::NdisRequestQueryStatistics,
        OidKind::Set => n::NdisRequestSetInformation,
        OidKind::Method(_) => n::NdisRequestMethod,
    }
}

/// Offload keywords NDIS rewrites from an `OID_TCP_OFFLOAD_PARAMETERS` set:
/// (keyword, byte offset in NDIS_OFFLOAD_PARAMETERS, minimum revision, kind: 0 = checksum
/// encoding, 1 = on/off).
const OFFLOAD_KEYWORDS: [(&str, usize, u8, u8); 12] = [
    ("*IPChecksumOffloadIPv4", 4, 1, 0),
    ("*TCPChecksumOffloadIPv4", 5, 1, 0),
    ("*UDPChecksumOffloadIPv4", 6, 1, 0),
    ("*TCPChecksumOffloadIPv6", 7, 1, 0),
    ("*UDPChecksumOffloadIPv6", 8, 1, 0),
    ("*LsoV1IPv4", 9, 1, 1),
    ("*LsoV2IPv4", 11, 1, 1),
    ("*LsoV2IPv6", 12, 1, 1),
    ("*RscIPv4", 22, 3, 1),
    ("*RscIPv6", 23, 3, 1),
    ("*UsoIPv4", 32, 5, 1),
    ("*UsoIPv6", 33, 5, 1),
];

/// What NDIS writes to the registry for an `OID_TCP_OFFLOAD_PARAMETERS` set (unless
/// `NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE`): checksum parameters 1..4 become the
/// standardized keyword values 0 (disabled), 1 (Tx), 2 (Rx), 3 (Tx+Rx); LSO/RSC/USO 1/2 become
/// 0/1; 0 (no change) leaves the keyword alone.
pub fn offload_parameters_to_keywords(p: &[u8]) -> Vec<(&'static str, String)> {
    if p.len() < usize::from(n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1) {
        return Vec::new();
    }
    let rev = p[1];
    // Fields beyond Header.Size are not part of the request, whatever the buffer holds.
    let size = usize::from(u16::from_le_bytes([p[2], p[3]])).min(p.len());
    let flags = u32::from_le_bytes([p[16], p[17], p[18], p[19]]);
    if flags & n::NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (k, off, min_rev, kind) in OFFLOAD_KEYWORDS {
        if rev < min_rev {
            continue;
        }
        let Some(&v) = p.get(..size).and_then(|p| p.get(off)) else {
            continue;
        };
        let val = match (kind, v) {
            (_, 0) => continue,
            (0, 1) => 0,
            (0, 2) => 1,
            (0, 3) => 2,
            (0, 4) => 3,
            (1, 1) => 0,
            (1, 2) => 1,
            _ => continue,
        };
        out.push((k, val.to_string()));
    }
    out
}

impl OidState {
    /// Starts a request; returns its ticket once the handler returned (pending or not).
    pub(crate) fn start(
        &self,
        ndis: &Arc<Ndis>,
        a: &Adapter,
        req: &OidRequest,
        path: OidPath,
    ) -> Result<OidTicket, LifecycleError> {
        let s = a.state();
        if !matches!(
            s,
            AdapterState::Paused
                | AdapterState::Running
                | AdapterState::Restarting
                | AdapterState::Pausing
        ) {
            return Err(LifecycleError::WrongState(s));
        }
        let d = a.driver();
        let handler = match path {
            OidPath::Normal => d.chars.OidRequestHandler,
            OidPath::Direct => d.chars.DirectOidRequestHandler,
            OidPath::Synchronous => d.chars.SynchronousOidRequestHandler,
        };
        let Some(handler) = handler else {
            return Err(LifecycleError::Refused(format!(
                "no handler for {path:?} OID requests"
            )));
        };
        if path == OidPath::Normal {
            // NDIS sends one OID request at a time to a miniport.
            let deadline = Instant::now() + ndis.cfg.op_timeout;
            let mut g = lock(&self.inner);
            while g.busy {
                let now = Instant::now();
                if now >= deadline {
                    return Err(LifecycleError::Timeout("previous OID request"));
                }
                g = self
                    .cv
                    .wait_timeout(g, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            g.busy = true;
        }
        if req.kind == OidKind::Set && req.oid == n::OID_TCP_OFFLOAD_PARAMETERS {
            // NDIS updates the registry before the miniport sees the request, and the registry
            // is persistent: the keywords are what the adapter reads at its next initialisation.
            let kw: Vec<(&str, RegValue)> = offload_parameters_to_keywords(&req.input)
                .into_iter()
                .map(|(k, v)| (k, RegValue::Sz(v)))
                .collect();
            if !kw.is_empty() {
                if let Err(e) = lock(&ndis.registry).write_through(Section::Adapter, &kw) {
                    ndis.checks.warning(
                        Kind::Registry,
                        "OID_TCP_OFFLOAD_PARAMETERS",
                        format!("offload keywords set for this session only: registry file: {e}"),
                    );
                }
            }
        }
        let len = match req.kind {
            OidKind::Set => (req.input.len() as u32).max(req.out_len),
            OidKind::Method(_) => (req.input.len() as u32).max(req.out_len),
            _ => req.out_len,
        };
        let mut buf = vec![0u8; len as usize + CANARY_LEN];
        buf[..req.input.len()].copy_from_slice(&req.input);
        buf[len as usize..].fill(CANARY);
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let rev2 = ndis.version() >= n::NdisVersion::V6_50;
        // SAFETY: NDIS_OID_REQUEST is plain data (integers, pointers, byte arrays): all-zero is a
        // valid value, completed below.
        let mut r: n::NDIS_OID_REQUEST = unsafe { std::mem::zeroed() };
        r.Header = n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_OID_REQUEST,
            if rev2 {
                n::NDIS_OID_REQUEST_REVISION_2
            } else {
                n::NDIS_OID_REQUEST_REVISION_1
            },
            if rev2 {
                n::NDIS_SIZEOF_OID_REQUEST_REVISION_2
            } else {
                n::NDIS_SIZEOF_OID_REQUEST_REVISION_1
            },
        );
        r.RequestType = request_type(req.kind);
        r.PortNumber = req.port;
        r.RequestId = (0x4F49_0000_0000 | id) as n::PVOID;
        r.RequestHandle = 0x5052_4F54 as n::NDIS_HANDLE;
        let mut block = Box::new(Block { req: r, buf, len });
        let bp = block.buf.as_mut_ptr().cast::<core::ffi::c_void>();
        block.req.DATA = match req.kind {
            OidKind::Query | OidKind::QueryStatistics => n::NDIS_OID_REQUEST_DATA {
                QUERY_INFORMATION: n::NDIS_OID_REQUEST_QUERY {
                    Oid: req.oid,
                    InformationBuffer: bp,
                    InformationBufferLength: len,
                    BytesWritten: 0,
                    BytesNeeded: 0,
                },
            },
            OidKind::Set => n::NDIS_OID_REQUEST_DATA {
                SET_INFORMATION: n::NDIS_OID_REQUEST_SET {
                    Oid: req.oid,
                    InformationBuffer: bp,
                    InformationBufferLength: req.input.len() as u32,
                    BytesRead: 0,
                    BytesNeeded: 0,
                },
            },
            OidKind::Method(m) => n::NDIS_OID_REQUEST_DATA {
                METHOD_INFORMATION: n::NDIS_OID_REQUEST_METHOD {
                    Oid: req.oid,
                    InformationBuffer: bp,
                    InputBufferLength: req.input.len() as u32,
                    // The caller's output capacity; the shared buffer holds max(input, output).
                    OutputBufferLength: req.out_len,
                    MethodId: m,
                    BytesWritten: 0,
                    BytesRead: 0,
                    BytesNeeded: 0,
                },
            },
        };
        let rp: *mut n::NDIS_OID_REQUEST = &mut block.req;
        lock(&self.inner).inflight.push(InFlight {
            block,
            id,
            path,
            completed: None,
            kind: req.kind,
            oid: req.oid,
            input: req.input.clone(),
        });
        let h = match path {
            OidPath::Normal => Handler::OidRequest,
            OidPath::Direct => Handler::DirectOidRequest,
            OidPath::Synchronous => Handler::SynchronousOidRequest,
        };
        let c = a.context();
        let st = ndis.call_driver(h, a.handle(), || {
            // SAFETY: the driver's OID handler with its context and a request that stays valid
            // until completion (owned by the in-flight table), at PASSIVE_LEVEL.
            unsafe { handler(c, rp) }
        });
        let mut g = lock(&self.inner);
        let Some(f) = g.inflight.iter_mut().find(|f| f.id == id) else {
            return Ok(OidTicket { id });
        };
        if st == n::NDIS_STATUS_PENDING {
            if path == OidPath::Synchronous {
                drop(g);
                ndis.checks.violation(
                    Kind::Oid,
                    "MiniportSynchronousOidRequest",
                    "returned NDIS_STATUS_PENDING",
                );
                let mut g = lock(&self.inner);
                if let Some(f) = g.inflight.iter_mut().find(|f| f.id == id) {
                    f.completed = Some(n::NDIS_STATUS_FAILURE);
                }
            }
        } else {
            if f.completed.is_some() {
                drop(g);
                ndis.checks.violation(
                    Kind::Oid,
                    "NdisMOidRequestComplete",
                    format!("OID {:#010x} completed although the handler returned {:#010x}, not PENDING", req.oid, st as u32),
                );
                g = lock(&self.inner);
            }
            if let Some(f) = g.inflight.iter_mut().find(|f| f.id == id) {
                f.completed = Some(st);
            }
            if path == OidPath::Normal {
                g.busy = false;
            }
            drop(g);
            self.cv.notify_all();
            return Ok(OidTicket { id: id | (1 << 63) });
        }
        Ok(OidTicket { id })
    }

    /// Waits for a started request and validates what the driver wrote.
    pub(crate) fn wait(&self, ndis: &Ndis, t: OidTicket) -> Result<OidResult, LifecycleError> {
        let pended = t.id & (1 << 63) == 0;
        let id = t.id & !(1 << 63);
        let deadline = Instant::now() + ndis.cfg.op_timeout;
        let mut g = lock(&self.inner);
        let f = loop {
            match g.inflight.iter().position(|f| f.id == id) {
                None => return Err(LifecycleError::Refused("unknown OID ticket".into())),
                Some(i) if g.inflight[i].completed.is_some() => break g.inflight.remove(i),
                Some(i) => {
                    let now = Instant::now();
                    if now >= deadline {
                        let f = g.inflight.remove(i);
                        let oid = f.oid;
                        let normal = f.path == OidPath::Normal;
                        // The driver may still write the buffer: keep it alive.
                        g.abandoned.push(f);
                        if normal {
                            g.busy = false;
                        }
                        drop(g);
                        self.cv.notify_all();
                        ndis.checks.violation(
                            Kind::Oid,
                            "MiniportOidRequest",
                            format!("OID {oid:#010x} pended and was never completed"),
                        );
                        return Err(LifecycleError::Timeout("OID request"));
                    }
                    g = self
                        .cv
                        .wait_timeout(g, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        };
        let status = f.completed.unwrap_or(n::NDIS_STATUS_FAILURE);
        if status == n::NDIS_STATUS_SUCCESS
            && f.kind == OidKind::Set
            && matches!(
                f.oid,
                n::OID_GEN_CURRENT_PACKET_FILTER
                    | n::OID_802_3_MULTICAST_LIST
                    | n::OID_GEN_CURRENT_LOOKAHEAD
            )
        {
            g.addressing.retain(|(o, _)| *o != f.oid);
            g.addressing.push((f.oid, f.input.clone()));
        }
        drop(g);
        self.cv.notify_all();
        Ok(self.validate(ndis, f, status, pended))
    }

    fn validate(
        &self,
        ndis: &Ndis,
        f: InFlight,
        status: n::NDIS_STATUS,
        pended: bool,
    ) -> OidResult {
        const API: &str = "MiniportOidRequest";
        let b = f.block;
        let len = b.len as usize;
        if b.buf[len..].iter().any(|&c| c != CANARY) {
            ndis.checks.violation(
                Kind::Oid,
                API,
                format!(
                    "OID {:#010x}: wrote past the end of the {len}-byte InformationBuffer",
                    f.oid
                ),
            );
        }
        let (written, read, needed) = match f.kind {
            OidKind::Query | OidKind::QueryStatistics => {
                // SAFETY: the query view matches the request type this block was built with.
                let q = unsafe { b.req.DATA.QUERY_INFORMATION };
                (q.BytesWritten, 0, q.BytesNeeded)
            }
            OidKind::Set => {
                // SAFETY: the set view matches the request type.
                let s = unsafe { b.req.DATA.SET_INFORMATION };
                (0, s.BytesRead, s.BytesNeeded)
            }
            OidKind::Method(_) => {
                // SAFETY: the method view matches the request type.
                let m = unsafe { b.req.DATA.METHOD_INFORMATION };
                (m.BytesWritten, m.BytesRead, m.BytesNeeded)
            }
        };
        let inlen = f.input.len();
        let cap = match f.kind {
            OidKind::Method(_) => {
                // SAFETY: the method view matches the request type.
                let m = unsafe { b.req.DATA.METHOD_INFORMATION };
                m.OutputBufferLength as usize
            }
            _ => len,
        };
        if written as usize > cap {
            ndis.checks.violation(
                Kind::Oid,
                API,
                format!(
                    "OID {:#010x}: BytesWritten {written} > output buffer length {cap}",
                    f.oid
                ),
            );
        }
        if read as usize > inlen.max(if f.kind == OidKind::Set { len } else { 0 })
            && f.kind != OidKind::Query
        {
            ndis.checks.violation(
                Kind::Oid,
                API,
                format!(
                    "OID {:#010x}: BytesRead {read} > input length {inlen}",
                    f.oid
                ),
            );
        }
        let offered = match f.kind {
            OidKind::Set => inlen,
            _ => cap,
        };
        if (status == n::NDIS_STATUS_BUFFER_TOO_SHORT || status == n::NDIS_STATUS_INVALID_LENGTH)
            && needed as usize <= offered
        {
            ndis.checks.violation(
                Kind::Oid,
                API,
                format!(
                    "OID {:#010x}: status {:#010x} but BytesNeeded {needed} is not larger than the {offered} bytes offered",
                    f.oid, status as u32
                ),
            );
        }
        if status == n::NDIS_STATUS_PENDING {
            ndis.checks.violation(
                Kind::Oid,
                "NdisMOidRequestComplete",
                "completed with NDIS_STATUS_PENDING",
            );
        }
        let data = b.buf[..(written as usize).min(len)].to_vec();
        OidResult {
            status,
            bytes_written: written,
            bytes_read: read,
            bytes_needed: needed,
            data,
            pended,
            supported_revision: b.req.SupportedRevision,
        }
    }

    /// Issues a request and waits for it.
    pub(crate) fn request(
        &self,
        ndis: &Arc<Ndis>,
        a: &Adapter,
        req: &OidRequest,
        path: OidPath,
    ) -> Result<OidResult, LifecycleError> {
        let t = self.start(ndis, a, req, path)?;
        self.wait(ndis, t)
    }

    /// `MiniportCancelOidRequest` for a pending request.
    pub(crate) fn cancel(&self, ndis: &Ndis, a: &Adapter, t: OidTicket) {
        let id = t.id & !(1 << 63);
        let (rid, direct) = {
            let g = lock(&self.inner);
            let Some(f) = g
                .inflight
                .iter()
                .find(|f| f.id == id && f.completed.is_none())
            else {
                return;
            };
            (f.block.req.RequestId, f.path == OidPath::Direct)
        };
        let d = a.driver();
        let h = if direct {
            d.chars.CancelDirectOidRequestHandler
        } else {
            d.chars.CancelOidRequestHandler
        };
        let Some(h) = h else { return };
        let c = a.context();
        ndis.call_driver(Handler::CancelOidRequest, a.handle(), || {
            // SAFETY: the driver's cancel handler with its context and the request's id.
            unsafe { h(c, rid) }
        });
    }

    fn complete(
        &self,
        ndis: &Ndis,
        req: n::PNDIS_OID_REQUEST,
        status: n::NDIS_STATUS,
        direct: bool,
        api: &'static str,
    ) {
        let mut g = lock(&self.inner);
        let want =
            |f: &InFlight| std::ptr::eq(&f.block.req, req) && (f.path == OidPath::Direct) == direct;
        if !g.inflight.iter().any(want) {
            let other = g
                .inflight
                .iter()
                .find(|f| std::ptr::eq(&f.block.req, req) && f.completed.is_none())
                .map(|f| f.path);
            if let Some(path) = other {
                drop(g);
                ndis.checks.violation(
                    Kind::Oid,
                    api,
                    format!(
                        "{req:p} is a pending {path:?}-path request: the wrong completion function"
                    ),
                );
                // Complete it anyway so the caller is not left waiting.
                g = lock(&self.inner);
                if let Some(f) = g
                    .inflight
                    .iter_mut()
                    .find(|f| std::ptr::eq(&f.block.req, req))
                {
                    f.completed = Some(status);
                }
                if path == OidPath::Normal {
                    g.busy = false;
                }
                drop(g);
                self.cv.notify_all();
                return;
            }
        }
        match g.inflight.iter_mut().find(|f| want(f)) {
            Some(f) if f.completed.is_none() => {
                f.completed = Some(status);
                if !direct {
                    // The next request may go down as soon as this one completed.
                    g.busy = false;
                }
            }
            Some(_) => {
                drop(g);
                ndis.checks
                    .violation(Kind::Oid, api, "request completed twice");
                return;
            }
            None => {
                drop(g);
                ndis.checks.violation(
                    Kind::Oid,
                    api,
                    format!("{req:p} is not a pending OID request of this adapter"),
                );
                return;
            }
        }
        drop(g);
        self.cv.notify_all();
    }

    /// At Halt: no request may still be pending.
    pub(crate) fn check_idle(&self, ndis: &Ndis, api: &'static str) {
        let g = lock(&self.inner);
        let pending: Vec<u32> = g
            .inflight
            .iter()
            .filter(|f| f.completed.is_none())
            .map(|f| f.oid)
            .collect();
        drop(g);
        if !pending.is_empty() {
            ndis.checks.violation(
                Kind::Oid,
                api,
                format!("OID request(s) {pending:#x?} still pending"),
            );
        }
    }

    /// After an addressing reset NDIS re-issues the protocols' addressing sets.
    pub(crate) fn replay_addressing(&self, ndis: &Arc<Ndis>, a: &Adapter) {
        let sets = lock(&self.inner).addressing.clone();
        for (oid, data) in sets {
            match self.request(ndis, a, &OidRequest::set(oid, data), OidPath::Normal) {
                Ok(r) if r.ok() => {}
                Ok(r) => ndis.checks.warning(
                    Kind::Oid,
                    "addressing reset",
                    format!(
                        "replayed OID {oid:#010x} failed with {:#010x}",
                        r.status as u32
                    ),
                ),
                Err(e) => ndis.checks.warning(
                    Kind::Oid,
                    "addressing reset",
                    format!("replayed OID {oid:#010x}: {e}"),
                ),
            }
        }
    }
}

fn complete_export(
    handle: n::NDIS_HANDLE,
    req: n::PNDIS_OID_REQUEST,
    status: n::NDIS_STATUS,
    direct: bool,
    api: &'static str,
) {
    checks::irql_at_most(n::DISPATCH_LEVEL, api);
    if let Some((ndis, a)) = handles::adapter(handle, api) {
        a.oid.complete(&ndis, req, status, direct, api);
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMOidRequestComplete(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    OidRequest: n::PNDIS_OID_REQUEST,
    Status: n::NDIS_STATUS,
) {
    guard("NdisMOidRequestComplete", (), || {
        complete_export(
            MiniportAdapterHandle,
            OidRequest,
            Status,
            false,
            "NdisMOidRequestComplete",
        )
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMDirectOidRequestComplete(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    OidRequest: n::PNDIS_OID_REQUEST,
    Status: n::NDIS_STATUS,
) {
    guard("NdisMDirectOidRequestComplete", (), || {
        complete_export(
            MiniportAdapterHandle,
            OidRequest,
            Status,
            true,
            "NdisMDirectOidRequestComplete",
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The bind sequence

/// What a bind step must return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Anything (recorded only).
    Any,
    /// `NDIS_STATUS_SUCCESS`.
    Success,
    /// Success or `NDIS_STATUS_NOT_SUPPORTED`.
    SuccessOrNotSupported,
}

/// One OID of a bind sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindStep {
    /// The request.
    pub req: OidRequest,
    /// What counts as passing.
    pub expect: Expect,
}

/// The answers to a bind sequence.
#[derive(Clone, Debug, Default)]
pub struct BindReport {
    /// Each step with its result.
    pub results: Vec<(BindStep, OidResult)>,
}

impl BindReport {
    /// The result of the first step with `oid`.
    pub fn get(&self, oid: n::NDIS_OID) -> Option<&OidResult> {
        self.results
            .iter()
            .find(|(s, _)| s.req.oid == oid)
            .map(|(_, r)| r)
    }

    /// Steps whose result did not meet the expectation.
    pub fn failures(&self) -> Vec<(n::NDIS_OID, n::NDIS_STATUS)> {
        self.results
            .iter()
            .filter(|(s, r)| match s.expect {
                Expect::Any => false,
                Expect::Success => !r.ok(),
                Expect::SuccessOrNotSupported => {
                    !r.ok() && r.status != n::NDIS_STATUS_NOT_SUPPORTED
                }
            })
            .map(|(s, r)| (s.req.oid, r.status))
            .collect()
    }
}

/// The Microsoft default Toeplitz key (40 bytes) used by the RSS parameters step.
pub const DEFAULT_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// An `OID_GEN_RECEIVE_SCALE_PARAMETERS` buffer as TCP/IP sends it: revision 2 (processor
/// numbers in the indirection table), Toeplitz over TCP/IPv4, IPv4, TCP/IPv6, IPv6, a
/// `table_entries`-entry table spread over `cpus` processors, the default key.
pub fn rss_parameters(table_entries: usize, cpus: u32) -> Vec<u8> {
    let hdr = core::mem::size_of::<n::NDIS_RECEIVE_SCALE_PARAMETERS>();
    let table_off = hdr;
    let table_bytes = table_entries * core::mem::size_of::<n::PROCESSOR_NUMBER>();
    let key_off = table_off + table_bytes;
    let p = n::NDIS_RECEIVE_SCALE_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_RSS_PARAMETERS,
            n::NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2,
            n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2,
        ),
        Flags: 0,
        BaseCpuNumber: 0,
        HashInformation: n::NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC(
            n::NDIS_HASH_TCP_IPV4 | n::NDIS_HASH_IPV4 | n::NDIS_HASH_TCP_IPV6 | n::NDIS_HASH_IPV6,
            n::NdisHashFunctionToeplitz,
        ),
        IndirectionTableSize: table_bytes as u16,
        IndirectionTableOffset: table_off as u32,
        HashSecretKeySize: DEFAULT_RSS_KEY.len() as u16,
        HashSecretKeyOffset: key_off as u32,
        ProcessorMasksOffset: 0,
        NumberOfProcessorMasks: 0,
        ProcessorMasksEntrySize: 0,
        DefaultProcessorNumber: n::PROCESSOR_NUMBER::default(),
    };
    let mut v = struct_bytes(&p);
    for i in 0..table_entries {
        v.extend(struct_bytes(&n::PROCESSOR_NUMBER {
            Group: 0,
            Number: (i as u32 % cpus.max(1)) as u8,
            Reserved: 0,
        }));
    }
    v.extend_from_slice(&DEFAULT_RSS_KEY);
    v
}

/// The default bind sequence: the queries and sets Windows's stack makes when TCP/IP binds.
/// `rss` adds the RSS parameters set (when the adapter advertised RSS capabilities).
pub fn default_bind_sequence(rss: Option<(usize, u32)>) -> Vec<BindStep> {
    let q = |oid, len, expect| BindStep {
        req: OidRequest::query(oid, len),
        expect,
    };
    let s = |req, expect| BindStep { req, expect };
    use Expect::*;
    let mut v = vec![
        q(n::OID_GEN_SUPPORTED_LIST, 4096, Success),
        q(n::OID_GEN_HARDWARE_STATUS, 4, SuccessOrNotSupported),
        q(n::OID_GEN_MEDIA_SUPPORTED, 4, Success),
        q(n::OID_GEN_MEDIA_IN_USE, 4, Success),
        q(n::OID_GEN_PHYSICAL_MEDIUM, 4, SuccessOrNotSupported),
        q(n::OID_GEN_MAXIMUM_FRAME_SIZE, 4, Success),
        q(n::OID_GEN_MAXIMUM_TOTAL_SIZE, 4, Success),
        q(n::OID_GEN_MAXIMUM_LOOKAHEAD, 4, SuccessOrNotSupported),
        q(n::OID_GEN_LINK_SPEED, 4, Success),
        q(n::OID_GEN_MEDIA_CONNECT_STATUS, 4, SuccessOrNotSupported),
        q(n::OID_GEN_MAC_OPTIONS, 4, SuccessOrNotSupported),
        q(n::OID_802_3_PERMANENT_ADDRESS, 6, Success),
        q(n::OID_802_3_CURRENT_ADDRESS, 6, Success),
        q(n::OID_802_3_MAXIMUM_LIST_SIZE, 4, Success),
        q(n::OID_GEN_VENDOR_ID, 4, SuccessOrNotSupported),
        q(n::OID_GEN_VENDOR_DESCRIPTION, 256, SuccessOrNotSupported),
        q(n::OID_GEN_VENDOR_DRIVER_VERSION, 4, SuccessOrNotSupported),
        q(
            n::OID_GEN_STATISTICS,
            core::mem::size_of::<n::NDIS_STATISTICS_INFO>() as u32,
            Success,
        ),
        q(
            n::OID_GEN_INTERRUPT_MODERATION,
            core::mem::size_of::<n::NDIS_INTERRUPT_MODERATION_PARAMETERS>() as u32,
            SuccessOrNotSupported,
        ),
        s(
            OidRequest::set_u32(n::OID_GEN_CURRENT_LOOKAHEAD, 1500),
            SuccessOrNotSupported,
        ),
        s(
            OidRequest::set_u32(
                n::OID_GEN_CURRENT_PACKET_FILTER,
                n::NDIS_PACKET_TYPE_DIRECTED
                    | n::NDIS_PACKET_TYPE_MULTICAST
                    | n::NDIS_PACKET_TYPE_BROADCAST,
            ),
            Success,
        ),
        s(
            OidRequest::set(
                n::OID_802_3_MULTICAST_LIST,
                vec![
                    0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
                ],
            ),
            Success,
        ),
        s(
            OidRequest::set_struct(n::OID_OFFLOAD_ENCAPSULATION, &encapsulation_ethernet()),
            Success,
        ),
    ];
    if let Some((entries, cpus)) = rss {
        v.push(s(
            OidRequest::set(
                n::OID_GEN_RECEIVE_SCALE_PARAMETERS,
                rss_parameters(entries, cpus),
            ),
            SuccessOrNotSupported,
        ));
    }
    v
}

/// `OID_OFFLOAD_ENCAPSULATION` as TCP/IP sets it: IPv4 and IPv6 on, 802.3, 14-byte header.
pub fn encapsulation_ethernet() -> n::NDIS_OFFLOAD_ENCAPSULATION {
    let ip = n::NDIS_OFFLOAD_ENCAPSULATION_IP {
        Enabled: n::NDIS_OFFLOAD_SET_ON,
        EncapsulationType: n::NDIS_ENCAPSULATION_IEEE_802_3,
        HeaderSize: 14,
    };
    n::NDIS_OFFLOAD_ENCAPSULATION {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
            n::NDIS_OFFLOAD_ENCAPSULATION_REVISION_1,
            n::NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1,
        ),
        IPv4: ip,
        IPv6: ip,
    }
}

/// Runs a bind sequence.
pub(crate) fn run_bind(
    ndis: &Arc<Ndis>,
    a: &Adapter,
    steps: &[BindStep],
) -> Result<BindReport, LifecycleError> {
    let mut rep = BindReport::default();
    for st in steps {
        let r = a.oid.request(ndis, a, &st.req, OidPath::Normal)?;
        rep.results.push((st.clone(), r));
    }
    Ok(rep)
}
