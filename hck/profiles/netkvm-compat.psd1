# Behave like virtio-win NetKVM where netkvmrs deliberately differs by default:
#   SoftwareRsc = 0      no software coalescing: RSC is offered only when the host delivers
#                        coalesced frames (GUEST_TSO4/6), so Get-NetAdapterRsc shows
#                        "Capability" on a host without TAP offloads, as with NetKVM;
#   MergeableBuffers = 0 NetKVM's INF default (large receive buffers instead of 4 KiB pages).
# RSC is not required to be operational here: without host offloads it is not.
@{
    Description = 'NetKVM-like: no software RSC, no mergeable buffers'
    Advanced    = @{
        'SoftwareRsc'      = '0'
        'MergeableBuffers' = '0'
    }
}
