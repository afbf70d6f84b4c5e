//! NET_BUFFER_LIST / NET_BUFFER / MDL DDIs: pools, layouts, data access across MDL boundaries,
//! data-start moves, contexts, clones, and the misuse detectors.

mod common;

use common::{driver, fake, registry, Cfg};
use ndis_emu::{Harness, Kind};
use ndis_sys as n;

fn setup() -> (Harness, std::sync::Arc<common::Shared>) {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    h.initialize().unwrap();
    (h, s)
}

fn nbl_pool(h: n::NDIS_HANDLE, alloc_nb: bool, ctx: u16, data: u32) -> n::NDIS_HANDLE {
    let p = n::NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            n::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: 0,
        fAllocateNetBuffer: n::BOOLEAN::from(alloc_nb),
        ContextSize: ctx,
        PoolTag: u32::from_le_bytes(*b"tpl1"),
        DataSize: data,
    };
    // SAFETY: valid parameters and adapter handle.
    unsafe { n::NdisAllocateNetBufferListPool(h, &p) }
}

fn nb_pool(h: n::NDIS_HANDLE, data: u32) -> n::NDIS_HANDLE {
    let p = n::NET_BUFFER_POOL_PARAMETERS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NET_BUFFER_POOL_PARAMETERS_REVISION_1,
            n::NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
        ),
        PoolTag: u32::from_le_bytes(*b"tpl2"),
        DataSize: data,
    };
    // SAFETY: valid parameters.
    unsafe { n::NdisAllocateNetBufferPool(h, &p) }
}

/// Builds an MDL chain over `bufs` (each buffer one MDL).
fn chain(h: n::NDIS_HANDLE, bufs: &mut [Vec<u8>]) -> Vec<*mut n::MDL> {
    let mut v: Vec<*mut n::MDL> = Vec::new();
    for b in bufs.iter_mut() {
        // SAFETY: the buffer outlives the MDL in every test.
        let m = unsafe { n::NdisAllocateMdl(h, b.as_mut_ptr().cast(), b.len() as u32) };
        assert!(!m.is_null());
        if let Some(&prev) = v.last() {
            // SAFETY: our MDL.
            unsafe { (*prev).Next = m };
        }
        v.push(m);
    }
    v
}

fn free_chain(v: &[*mut n::MDL]) {
    for &m in v {
        // SAFETY: MDLs from NdisAllocateMdl.
        unsafe { n::NdisFreeMdl(m) };
    }
}

#[test]
fn ndis_allocate_mdl_builds_a_mapped_nonpaged_mdl_with_start_va_and_byte_offset() {
    let (h, s) = setup();
    let mut buf = vec![0u8; 9000];
    let va = buf.as_mut_ptr().wrapping_add(100);
    // SAFETY: valid handle and buffer.
    let m = unsafe { n::NdisAllocateMdl(s.adapter(), va.cast(), 5000) };
    // SAFETY: the MDL NDIS built.
    let mdl = unsafe { &*m };
    assert_eq!(mdl.MappedSystemVa, va.cast());
    assert_eq!(mdl.StartVa as usize, va as usize & !0xFFF);
    assert_eq!(mdl.ByteOffset as usize, va as usize & 0xFFF);
    assert_eq!(mdl.ByteCount, 5000);
    assert_ne!(mdl.MdlFlags & n::MDL_SOURCE_IS_NONPAGED_POOL, 0);
    assert_eq!(n::mdl_system_address_if_mapped(mdl), Some(va.cast()));
    let pages = ((va as usize & 0xFFF) + 5000).div_ceil(4096);
    assert_eq!(mdl.Size as usize, 48 + 8 * pages, "header + PFN array");
    // SAFETY: our MDL.
    unsafe { n::NdisFreeMdl(m) };
    drop(h);
}

#[test]
fn get_data_buffer_returns_in_place_pointers_and_copies_across_mdl_boundaries() {
    let (h, s) = setup();
    let a = s.adapter();
    let pool = nb_pool(a, 0);
    let mut bufs = vec![
        (0u8..10).collect::<Vec<u8>>(),
        (10u8..30).collect(),
        (30u8..64).collect(),
    ];
    let mdls = chain(a, &mut bufs);
    // Data starts 4 bytes into the first MDL.
    // SAFETY: valid pool and chain.
    let nb = unsafe { n::NdisAllocateNetBuffer(pool, mdls[0], 4, 60) };
    assert!(!nb.is_null());
    // SAFETY: our NB.
    assert_eq!(unsafe { (*nb).current_mdl_offset() }, 4);
    let mut storage = [0u8; 64];
    // 6 bytes are contiguous in the first MDL: pointer in place.
    // SAFETY: valid NB and storage.
    let p = unsafe { n::NdisGetDataBuffer(nb, 6, storage.as_mut_ptr().cast(), 1, 0) };
    assert_eq!(p.cast::<u8>(), bufs[0].as_mut_ptr().wrapping_add(4));
    // 20 bytes cross into the second MDL: copied into the storage.
    // SAFETY: as above.
    let p = unsafe { n::NdisGetDataBuffer(nb, 20, storage.as_mut_ptr().cast(), 1, 0) };
    assert_eq!(p.cast::<u8>(), storage.as_mut_ptr());
    assert_eq!(&storage[..20], &(4u8..24).collect::<Vec<u8>>()[..]);
    // Without storage the same request fails.
    // SAFETY: as above.
    assert!(unsafe { n::NdisGetDataBuffer(nb, 20, std::ptr::null_mut(), 1, 0) }.is_null());
    // More than DataLength: NULL.
    // SAFETY: as above.
    assert!(unsafe { n::NdisGetDataBuffer(nb, 61, storage.as_mut_ptr().cast(), 1, 0) }.is_null());
    // Alignment: in place only when (ptr % 8) == AlignOffset.
    let mis = (bufs[0].as_ptr() as usize + 4) % 8;
    // SAFETY: as above.
    let p = unsafe { n::NdisGetDataBuffer(nb, 4, storage.as_mut_ptr().cast(), 8, mis as u32) };
    assert_eq!(
        p.cast::<u8>(),
        bufs[0].as_mut_ptr().wrapping_add(4),
        "aligned as asked: in place"
    );
    // SAFETY: as above.
    let p = unsafe {
        n::NdisGetDataBuffer(
            nb,
            4,
            storage.as_mut_ptr().cast(),
            8,
            ((mis + 1) % 8) as u32,
        )
    };
    assert_eq!(p.cast::<u8>(), storage.as_mut_ptr(), "misaligned: copied");
    // SAFETY: our NB.
    unsafe { n::NdisFreeNetBuffer(nb) };
    free_chain(&mdls);
    // SAFETY: our pool.
    unsafe { n::NdisFreeNetBufferPool(pool) };
    assert!(h.take_violations().is_empty());
}

#[test]
fn advance_and_retreat_move_the_data_start_across_mdls() {
    let (h, s) = setup();
    let a = s.adapter();
    let pool = nb_pool(a, 0);
    let mut bufs = vec![vec![1u8; 16], vec![2u8; 16]];
    let mdls = chain(a, &mut bufs);
    // SAFETY: valid pool and chain.
    let nb = unsafe { n::NdisAllocateNetBuffer(pool, mdls[0], 8, 24) };
    // SAFETY: our NB.
    unsafe { n::NdisAdvanceNetBufferDataStart(nb, 10, n::FALSE, None) };
    // SAFETY: our NB.
    let b = unsafe { &*nb };
    assert_eq!((b.data_offset(), b.data_length()), (18, 14));
    assert_eq!((b.current_mdl(), b.current_mdl_offset()), (mdls[1], 2));
    // SAFETY: our NB; 18 bytes of unused space are available.
    let got = unsafe { n::NdisRetreatNetBufferDataStart(nb, 18, 0, None) };
    assert_eq!(got, n::NDIS_STATUS_SUCCESS);
    // SAFETY: our NB.
    let b = unsafe { &*nb };
    assert_eq!((b.data_offset(), b.data_length()), (0, 32));
    assert_eq!((b.current_mdl(), b.current_mdl_offset()), (mdls[0], 0));
    // Retreating further needs a new MDL, which NDIS allocates and frees again on advance.
    // SAFETY: our NB.
    let got = unsafe { n::NdisRetreatNetBufferDataStart(nb, 14, 2, None) };
    assert_eq!(got, n::NDIS_STATUS_SUCCESS);
    // SAFETY: our NB.
    let b = unsafe { &*nb };
    assert_eq!(b.data_length(), 46);
    assert_ne!(b.first_mdl(), mdls[0]);
    // SAFETY: our NB.
    unsafe { n::NdisAdvanceNetBufferDataStart(nb, 14, n::TRUE, None) };
    // SAFETY: our NB.
    let b = unsafe { &*nb };
    assert_eq!(
        (b.first_mdl(), b.data_offset(), b.data_length()),
        (mdls[0], 0, 32)
    );
    // SAFETY: our NB, pool, chain.
    unsafe { n::NdisFreeNetBuffer(nb) };
    free_chain(&mdls);
    // SAFETY: our pool.
    unsafe { n::NdisFreeNetBufferPool(pool) };
    assert!(h.take_violations().is_empty());
}

#[test]
fn nbl_contexts_grow_into_backfill_and_must_be_freed_before_the_nbl() {
    let (h, s) = setup();
    h.quiet(true);
    let a = s.adapter();
    let pool = nbl_pool(a, false, 32, 0);
    // SAFETY: valid pool; 16 bytes of context used, 16 of backfill.
    let nbl = unsafe { n::NdisAllocateNetBufferList(pool, 16, 16) };
    // SAFETY: our NBL.
    let ctx = unsafe { (*nbl).Context };
    // SAFETY: NDIS's context header.
    let hdr = unsafe { &*ctx };
    assert_eq!((hdr.Size, hdr.Offset), (32, 16));
    // 16 more bytes fit the backfill: same block, offset moves down.
    // SAFETY: our NBL.
    let got = unsafe { n::NdisAllocateNetBufferListContext(nbl, 16, 0, 0) };
    assert_eq!(got, n::NDIS_STATUS_SUCCESS);
    // SAFETY: our NBL.
    assert_eq!(unsafe { (*nbl).Context }, ctx);
    // SAFETY: NDIS's context header.
    assert_eq!(unsafe { (*ctx).Offset }, 0);
    // 32 more: a new block is pushed.
    // SAFETY: our NBL.
    let got = unsafe { n::NdisAllocateNetBufferListContext(nbl, 32, 16, 0) };
    assert_eq!(got, n::NDIS_STATUS_SUCCESS);
    // SAFETY: our NBL.
    assert_ne!(unsafe { (*nbl).Context }, ctx);
    // SAFETY: our NBL.
    unsafe { n::NdisFreeNetBufferListContext(nbl, 32) };
    // SAFETY: our NBL.
    assert_eq!(unsafe { (*nbl).Context }, ctx, "the pushed block is gone");
    // Free the NBL without freeing the first 16: NDIS reports the unbalanced context.
    // SAFETY: our NBL.
    unsafe { n::NdisFreeNetBufferList(nbl) };
    let v = h.expect_violation(Kind::Nbl);
    assert!(v.message.contains("context not restored"), "{v}");
    // SAFETY: our pool.
    unsafe { n::NdisFreeNetBufferListPool(pool) };
}

#[test]
fn context_sizes_must_be_multiples_of_memory_allocation_alignment() {
    let (h, s) = setup();
    h.quiet(true);
    let pool = nbl_pool(s.adapter(), false, 0, 0);
    // SAFETY: valid pool.
    assert!(unsafe { n::NdisAllocateNetBufferList(pool, 12, 0) }.is_null());
    h.expect_violation(Kind::BadParameter);
    // SAFETY: our pool.
    unsafe { n::NdisFreeNetBufferListPool(pool) };
}

#[test]
fn double_free_of_an_nbl_and_freeing_a_pool_with_live_nbls_are_detected() {
    let (h, s) = setup();
    h.quiet(true);
    let pool = nbl_pool(s.adapter(), true, 0, 0);
    // SAFETY: valid pool.
    let nbl =
        unsafe { n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, 0) };
    // SAFETY: valid pool.
    let live =
        unsafe { n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, 0) };
    assert!(!nbl.is_null() && !live.is_null());
    // SAFETY: our NBL, freed once …
    unsafe { n::NdisFreeNetBufferList(nbl) };
    assert!(h.take_violations().is_empty());
    // … and once more (the freed block sits poisoned in the emulator's quarantine).
    // SAFETY: deliberately wrong, but the memory is still mapped; the emulator reads the pool
    // handle word and recognises the poison.
    unsafe { n::NdisFreeNetBufferList(nbl) };
    let v = h.expect_violation(Kind::Nbl);
    assert!(v.message.contains("double free"), "{v}");
    // SAFETY: our pool with one live NBL.
    unsafe { n::NdisFreeNetBufferListPool(pool) };
    let v = h.expect_violation(Kind::Leak);
    assert!(v.message.contains("1 NET_BUFFER_LIST"), "{v}");
}

#[test]
fn an_nbl_freed_with_a_net_buffer_still_attached_is_a_violation() {
    let (h, s) = setup();
    h.quiet(true);
    let a = s.adapter();
    let lpool = nbl_pool(a, false, 0, 0);
    let bpool = nb_pool(a, 256);
    // SAFETY: valid pools.
    let nbl = unsafe { n::NdisAllocateNetBufferList(lpool, 0, 0) };
    // SAFETY: valid pool with DataSize.
    let nb = unsafe { n::NdisAllocateNetBufferMdlAndData(bpool) };
    // SAFETY: our NB: one MDL over 256 bytes of NDIS data.
    assert_eq!(unsafe { (*nb).data_length() }, 256);
    // SAFETY: our NBL.
    unsafe { (*nbl).set_first_nb(nb) };
    // SAFETY: our NBL (with the NB still attached: a bug).
    unsafe { n::NdisFreeNetBufferList(nbl) };
    h.expect_violation(Kind::Nbl);
    // SAFETY: our NB and pools.
    unsafe { n::NdisFreeNetBuffer(nb) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferPool(bpool) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferListPool(lpool) };
}

#[test]
fn clones_share_the_data_and_count_on_the_parent() {
    let (h, s) = setup();
    let a = s.adapter();
    let pool = nbl_pool(a, false, 0, 0);
    let nbpool = nb_pool(a, 0);
    let mut bufs = vec![vec![7u8; 100], vec![8u8; 50]];
    let mdls = chain(a, &mut bufs);
    // SAFETY: valid pools and chain.
    let orig = unsafe { n::NdisAllocateNetBufferList(pool, 0, 0) };
    // SAFETY: as above.
    let nb = unsafe { n::NdisAllocateNetBuffer(nbpool, mdls[0], 10, 140) };
    // SAFETY: our NBL.
    unsafe { (*orig).set_first_nb(nb) };
    for flags in [0, n::NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS] {
        // SAFETY: valid original and pools.
        let c = unsafe { n::NdisAllocateCloneNetBufferList(orig, pool, nbpool, flags) };
        assert!(!c.is_null());
        // SAFETY: the original.
        assert_eq!(unsafe { (*orig).ChildRefCount }, 1);
        // SAFETY: the clone and its NB.
        let cnb = unsafe { (*c).first_nb() };
        let mut st = vec![0u8; 140];
        // SAFETY: clone NB and storage.
        let p = unsafe { n::NdisGetDataBuffer(cnb, 140, st.as_mut_ptr().cast(), 1, 0) };
        // SAFETY: NDIS returned 140 readable bytes.
        let data = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), 140) };
        let mut want = vec![7u8; 90];
        want.extend(vec![8u8; 50]);
        assert_eq!(data, &want[..]);
        // SAFETY: the clone.
        unsafe { n::NdisFreeCloneNetBufferList(c, 0) };
        // SAFETY: the original.
        assert_eq!(unsafe { (*orig).ChildRefCount }, 0);
    }
    // SAFETY: our NBL/NB.
    unsafe { (*orig).set_first_nb(std::ptr::null_mut()) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBuffer(nb) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferList(orig) };
    free_chain(&mdls);
    // SAFETY: our pools.
    unsafe { n::NdisFreeNetBufferPool(nbpool) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferListPool(pool) };
    assert!(h.take_violations().is_empty());
}

#[test]
fn copy_between_net_buffers_and_physical_page_count() {
    let (h, s) = setup();
    let a = s.adapter();
    let pool = nb_pool(a, 0);
    let mut src_bufs = vec![(0u8..100).collect::<Vec<u8>>(), (100u8..200).collect()];
    let mut dst_bufs = vec![vec![0u8; 30], vec![0u8; 200]];
    let sm = chain(a, &mut src_bufs);
    let dm = chain(a, &mut dst_bufs);
    // SAFETY: valid pool and chains.
    let src = unsafe { n::NdisAllocateNetBuffer(pool, sm[0], 0, 200) };
    // SAFETY: as above.
    let dst = unsafe { n::NdisAllocateNetBuffer(pool, dm[0], 0, 230) };
    let mut copied = 0u32;
    // SAFETY: valid NBs.
    let st = unsafe { n::NdisCopyFromNetBufferToNetBuffer(dst, 5, 150, src, 20, &mut copied) };
    assert_eq!((st, copied), (n::NDIS_STATUS_SUCCESS, 150));
    let mut flat = dst_bufs[0].clone();
    flat.extend_from_slice(&dst_bufs[1]);
    assert_eq!(&flat[5..155], &(20u8..170).collect::<Vec<u8>>()[..]);
    // SAFETY: valid NB.
    let pages = unsafe { n::NdisQueryNetBufferPhysicalCount(src) };
    let expect: u32 = src_bufs
        .iter()
        .map(|b| ((b.as_ptr() as usize % 4096) + b.len()).div_ceil(4096) as u32)
        .sum();
    assert_eq!(pages, expect);
    // SAFETY: our objects.
    unsafe { n::NdisFreeNetBuffer(src) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBuffer(dst) };
    free_chain(&sm);
    free_chain(&dm);
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferPool(pool) };
    assert!(h.take_violations().is_empty());
}

#[test]
fn nbl_structure_offsets_are_the_windows_x64_ones() {
    // What a driver reads through raw offsets must match what the emulator writes through the
    // typed fields: NdisPoolHandle at 32, FirstNetBuffer at 8, NB DataLength at 24.
    let (h, s) = setup();
    let pool = nbl_pool(s.adapter(), true, 0, 0);
    // SAFETY: valid pool; NDIS allocates the data (DataSize 0: no MDL) with DataLength 60.
    let nbl = unsafe {
        n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, 60)
    };
    let base = nbl.cast::<u8>();
    // SAFETY: pointer-sized fields of a live NBL at their x64 offsets (inside the 368 bytes).
    let pool_at_32 = unsafe { base.wrapping_add(32).cast::<usize>().read() };
    // SAFETY: as above.
    let nb_at_8 = unsafe { base.wrapping_add(8).cast::<usize>().read() };
    assert_eq!(pool_at_32, pool as usize);
    // SAFETY: our NBL.
    assert_eq!(nb_at_8, unsafe { (*nbl).first_nb() } as usize);
    // SAFETY: the NB's DataLength at offset 24.
    let len = unsafe { (nb_at_8 as *const u8).wrapping_add(24).cast::<u32>().read() };
    assert_eq!(len, 60);
    // SAFETY: our objects.
    unsafe { n::NdisFreeNetBufferList(nbl) };
    // SAFETY: as above.
    unsafe { n::NdisFreeNetBufferListPool(pool) };
    assert!(h.take_violations().is_empty());
}
