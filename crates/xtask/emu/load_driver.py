#!/usr/bin/env python3
"""Emulated load of netkvmrs.sys in speakeasy-emulator 1.5.11 (run by `cargo xtask test` / `cargo xtask emulate`).

For each scenario (an OS NDIS version, and whether ExAllocatePool2 can be resolved):
  1. DriverEntry runs; the NdisMRegisterMiniportDriver hook decodes NDIS_MINIPORT_DRIVER_CHARACTERISTICS with the
     header values, field offsets and handler list that xtask takes from crates/ndis-sys, and checks the header,
     the NDIS version the driver registers with (the OS version clamped to 6.30/6.80/6.83/6.85), the driver
     version, and that every mandatory handler points into the loaded image.
  2. MiniportInitializeEx is called with no usable hardware resources (AllocatedResources NULL, an empty list,
     a list with only an I/O port and an interrupt) and must return the expected NDIS error status.
  3. The Unload handler must call NdisMDeregisterMiniportDriver with the handle NDIS gave at registration.
Across the run: no unhandled API, no emulator error, no bugcheck, every pool allocation freed with its tag.

usage: load_driver.py CONFIG.json   (written by xtask; see crates/xtask/src/emu.rs for the fields)
Exit code 0 = all scenarios passed.
"""
import json
import struct
import sys

import speakeasy
import speakeasy.binemu as _binemu

# speakeasy sizes the emulated stack from the PE's SizeOfStackCommit (4 KiB from lld-link); a real x64 kernel
# stack is KERNEL_STACK_SIZE = 0x6000, and __chkstk probes below 4 KiB would fault otherwise.
_orig_alloc_stack = _binemu.BinaryEmulator.alloc_stack
_binemu.BinaryEmulator.alloc_stack = lambda self, size: _orig_alloc_stack(self, max(size, 0x6000))

DRIVER_HANDLE = 0xD00D
ADAPTER_HANDLE = 0xAD0000
ERRORS = []


def fail(msg):
    ERRORS.append(msg)
    print("  FAIL", msg)


def ok(msg):
    print("  ok  ", msg)


def expect(cond, msg):
    (ok if cond else fail)(msg)
    return cond


def u32(v):
    return v & 0xFFFFFFFF


class Scenario:
    def __init__(self, cfg, sc):
        self.cfg, self.sc = cfg, sc
        self.calls = []          # API names in call order
        self.logs = []           # DbgPrint output
        self.live = {}           # pool pointer -> (tag, size)
        self.allocs = []         # (api, size, tag)
        self.frees = []
        self.chars = None
        self.driver_object = None
        self.registered = 0
        self.deregistered = []
        self.bugcheck = None

    # ---- hooks ----
    def note(self, api, text):
        self.calls.append(api)
        print(f"    [api] {api}{text}")

    def on_get_version(self, emu, api, orig, argv):
        v = self.sc["os_version"]
        self.note("NdisGetVersion", f"() -> {v:#x}")
        return v

    def on_register(self, emu, api, orig, argv):
        drv, reg, ctx, chars_ptr, phandle = argv[:5]
        self.registered += 1
        self.driver_object = drv
        c = self.cfg["characteristics"]
        raw = emu.mem_read(chars_ptr, c["size_of"])
        typ, rev, size = struct.unpack_from("<BBH", raw, 0)
        f = c["offsets"]
        get8 = lambda name: raw[f[name]]
        handlers = {}
        for name, off in c["handlers"].items():
            handlers[name] = struct.unpack_from("<Q", raw, off)[0]
        self.chars = {
            "header": (typ, rev, size),
            "ndis": (get8("MajorNdisVersion"), get8("MinorNdisVersion")),
            "driver": (get8("MajorDriverVersion"), get8("MinorDriverVersion")),
            "flags": struct.unpack_from("<I", raw, f["Flags"])[0],
            "handlers": handlers,
            "ctx": ctx,
        }
        emu.mem_write(phandle, struct.pack("<Q", DRIVER_HANDLE))
        self.note("NdisMRegisterMiniportDriver",
                  f"(header {typ:#x}/{rev}/{size}, NDIS {self.chars['ndis'][0]}.{self.chars['ndis'][1]}, "
                  f"driver {self.chars['driver'][0]}.{self.chars['driver'][1]}) -> 0")
        return 0

    def on_deregister(self, emu, api, orig, argv):
        self.deregistered.append(argv[0])
        self.note("NdisMDeregisterMiniportDriver", f"({argv[0]:#x})")
        return 0

    def alloc(self, emu, api, size, tag):
        p = emu.mem_map(max(size, 0x10), tag=api)
        self.live[p] = (tag, size)
        self.allocs.append((api, size, tag))
        tag_s = struct.pack("<I", u32(tag)).decode("latin1")
        self.note(api, f"(size {size:#x}, tag '{tag_s}') -> {p:#x}")
        return p

    def on_pool2(self, emu, api, orig, argv):
        flags, size, tag = argv[:3]
        if not flags & 0x40:  # POOL_FLAG_NON_PAGED: driver memory touched at DISPATCH_LEVEL must be non-paged
            fail(f"ExAllocatePool2 flags {flags:#x} lack POOL_FLAG_NON_PAGED")
        return self.alloc(emu, "ExAllocatePool2", size, tag)

    def on_pool_with_tag(self, emu, api, orig, argv):
        pool_type, size, tag = argv[:3]
        if pool_type != 512:  # NonPagedPoolNx
            fail(f"ExAllocatePoolWithTag pool type {pool_type} is not NonPagedPoolNx (512)")
        return self.alloc(emu, "ExAllocatePoolWithTag", size, tag)

    def on_free(self, emu, api, orig, argv):
        p, tag = argv[:2]
        self.note("ExFreePoolWithTag", f"({p:#x}, {u32(tag):#x})")
        if p not in self.live:
            fail(f"ExFreePoolWithTag of {p:#x}, which is not a live allocation (double free?)")
        else:
            want, _ = self.live.pop(p)
            if u32(want) != u32(tag):
                fail(f"ExFreePoolWithTag tag {u32(tag):#x} != allocation tag {u32(want):#x}")
        self.frees.append(p)
        return 0

    def on_routine_address(self, emu, api, orig, argv):
        if self.sc["pool2"]:
            addr = orig(argv)  # speakeasy resolves to a stub that dispatches to our ExAllocatePool2 hook
            self.note("MmGetSystemRoutineAddress", f"({argv[0]}) -> {addr:#x}")
            return addr
        orig(argv)  # only to decode the requested name into argv[0]
        self.note("MmGetSystemRoutineAddress", f"({argv[0]}) -> 0 (routine absent on this OS)")
        return 0

    def on_memset(self, emu, api, orig, argv):
        # speakeasy's memset uses the whole 64-bit register for `int c`; the C ABI defines only the low
        # 32 bits (and memset only the low byte), so compilers may leave garbage above them.
        dest, c, n = argv[:3]
        emu.mem_write(dest, bytes([c & 0xFF]) * n)
        return dest

    def on_dbgprint(self, emu, api, orig, argv):
        rv = orig(argv)  # speakeasy formats the message into argv[0]
        msg = str(argv[0]).rstrip()
        self.logs.append(msg)
        self.note("DbgPrint", f": {msg}")
        return rv

    def on_bugcheck(self, emu, api, orig, argv):
        self.bugcheck = [u32(argv[0])] + list(argv[1:5])
        self.note("KeBugCheckEx", f"({u32(argv[0]):#x}, ...)")
        fail(f"driver bugchecked: code {u32(argv[0]):#x}")
        emu.stop()
        return 0

    # ---- run ----
    def run(self):
        cfg, sc = self.cfg, self.sc
        print(f"== scenario {sc['name']}: OS NDIS {sc['os_version'] >> 16}.{sc['os_version'] & 0xFFFF}, "
              f"ExAllocatePool2 {'available' if sc['pool2'] else 'absent'}")
        se = speakeasy.Speakeasy()
        se.add_api_hook(self.on_dbgprint, "ntoskrnl", "DbgPrint")
        se.add_api_hook(self.on_memset, "ntoskrnl", "memset", argc=3)
        se.add_api_hook(self.on_get_version, "ndis", "NdisGetVersion", argc=0)
        se.add_api_hook(self.on_register, "ndis", "NdisMRegisterMiniportDriver", argc=5)
        se.add_api_hook(self.on_deregister, "ndis", "NdisMDeregisterMiniportDriver", argc=1)
        se.add_api_hook(self.on_pool2, "ntoskrnl", "ExAllocatePool2", argc=3)
        se.add_api_hook(self.on_pool_with_tag, "ntoskrnl", "ExAllocatePoolWithTag", argc=3)
        se.add_api_hook(self.on_free, "ntoskrnl", "ExFreePoolWithTag", argc=2)
        se.add_api_hook(self.on_routine_address, "ntoskrnl", "MmGetSystemRoutineAddress", argc=1)
        se.add_api_hook(self.on_bugcheck, "ntoskrnl", "KeBugCheckEx", argc=5)
        mod = se.load_module(cfg["sys"])
        base, size = mod.get_base(), mod.get_image_size()
        in_image = lambda p: base <= p < base + size

        print("  -- DriverEntry")
        se.run_module(mod, all_entrypoints=False)
        if self.bugcheck:
            return self.finish(se)
        if not expect(self.registered == 1, f"NdisMRegisterMiniportDriver called once ({self.registered})"):
            return self.finish(se)
        c = self.chars
        want = cfg["characteristics"]["header"]
        expect(c["header"] == (want["type"], want["revision"], want["size"]),
               f"header type/revision/size {c['header']} == ndis-sys {tuple(want.values())}")
        expect(list(c["ndis"]) == sc["expect_ndis"],
               f"registered NDIS version {c['ndis']} == expected {tuple(sc['expect_ndis'])}")
        expect(list(c["driver"]) == cfg["driver_version"],
               f"driver version {c['driver']} == crate version {tuple(cfg['driver_version'])}")
        bad = [n for n in cfg["mandatory"] if not in_image(c["handlers"][n])]
        expect(not bad, f"{len(cfg['mandatory'])} mandatory handlers point into the image"
                        + (f" (bad: {bad})" if bad else ""))
        stray = [n for n, p in c["handlers"].items() if p and not in_image(p)]
        expect(not stray, "no handler points outside the image" + (f" (bad: {stray})" if stray else ""))

        init = c["handlers"]["InitializeHandlerEx"]
        p = cfg["init_params"]
        for label, resources in self.resource_variants(se):
            print(f"  -- MiniportInitializeEx, {label}")
            params = se.mem_alloc(p["size"], tag="init_params")
            hdr = struct.pack("<BBH", p["header_type"], p["header_revision"], p["header_size"])
            se.mem_write(params, hdr + b"\0" * (p["size"] - 4))
            se.mem_write(params + p["allocated_resources_offset"], struct.pack("<Q", resources))
            n_before = len(se.get_report().get("entry_points", []))
            se.call(init, [ADAPTER_HANDLE, c["ctx"], params])
            eps = se.get_report().get("entry_points", [])
            ret = self.ret_of(eps, n_before)
            expect(ret == u32(cfg["init_expected_status"]),
                   f"InitializeEx returned {ret if ret is None else hex(ret)} == expected "
                   f"{u32(cfg['init_expected_status']):#x}")
            if self.bugcheck:
                return self.finish(se)

        print("  -- Unload")
        unload = c["handlers"]["UnloadHandler"]
        se.call(unload, [self.driver_object])
        expect(self.deregistered == [DRIVER_HANDLE],
               f"Unload deregistered the driver handle ({[hex(x) for x in self.deregistered]})")
        return self.finish(se)

    def resource_variants(self, se):
        """NDIS_RESOURCE_LIST (CM_PARTIAL_RESOURCE_LIST) buffers without a memory BAR."""
        r = self.cfg["resources"]
        empty = se.mem_alloc(0x100, tag="res_empty")
        se.mem_write(empty, struct.pack("<HHI", 1, 1, 0))
        no_bar = se.mem_alloc(0x100, tag="res_nobar")
        d = r["descriptor_size"]
        port = bytearray(d)
        struct.pack_into("<BBH", port, 0, r["type_port"], 1, 0)
        struct.pack_into("<QI", port, 4, 0xC000, 0x40)  # Start, Length
        irq = bytearray(d)
        struct.pack_into("<BBH", irq, 0, r["type_interrupt"], 1, 0)
        struct.pack_into("<IIQ", irq, 4, 0, 11, 1)  # Level, Vector, Affinity
        se.mem_write(no_bar, struct.pack("<HHI", 1, 1, 2) + bytes(port) + bytes(irq))
        return [("AllocatedResources = NULL", 0), ("empty resource list", empty),
                ("I/O port + interrupt, no memory BAR", no_bar)]

    @staticmethod
    def ret_of(eps, index):
        if len(eps) <= index:
            fail("emulator recorded no run for the call")
            return None
        ep = eps[index]
        err = ep.get("error")
        if err:
            fail(f"emulation error in {ep.get('ep_type')}: {err.get('type')} {err.get('api_name', '')} "
                 f"pc={err.get('pc')} addr={err.get('address')}")
        rv = ep.get("ret_val")
        return int(rv, 16) if isinstance(rv, str) else rv

    def finish(self, se):
        rep = se.get_report()
        eps = rep.get("entry_points", [])
        if eps:
            de = self.ret_of(eps, 0)
            expect(de == 0, f"DriverEntry returned {de if de is None else hex(de)} (STATUS_SUCCESS)")
        for i, ep in enumerate(eps[1:], 1):
            if ep.get("error"):
                self.ret_of(eps, i)
        want_api = "ExAllocatePool2" if self.sc["pool2"] else "ExAllocatePoolWithTag"
        apis = sorted({a[0] for a in self.allocs})
        expect(set(apis) <= {want_api},
               f"{len(self.allocs)} pool allocations, all through {want_api} ({apis})")
        expect(not self.live, f"all {len(self.allocs)} pool allocations freed"
                              + (f" (leaked: {[hex(p) for p in self.live]})" if self.live else ""))
        expect(bool(self.logs), f"driver logged through DbgPrint ({len(self.logs)} lines)")
        print("  calls:", " ".join(self.calls))


def main(path):
    cfg = json.load(open(path))
    for sc in cfg["scenarios"]:
        Scenario(cfg, sc).run()
    n = len(cfg["scenarios"])
    print(f"emulated load: {n} scenarios, {len(ERRORS)} failed checks")
    for e in ERRORS:
        print("  -", e)
    return 1 if ERRORS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
