# netkvmrs advanced-property keywords, as the hck/ scripts validate them.
#
# GENERATED from crates/netkvm-core/src/params.rs (PARAMS), the table the driver itself
# reads the registry with. Do not edit: regenerate with
#     cargo run -p hck-check --bin hck-keywords -- --write
# hck-check's tests fail while this file and PARAMS differ.
#
# Values are strings because the registry stores them as REG_SZ and
# Set-NetAdapterAdvancedProperty -RegistryValue takes strings. Shown = $false: the INF has no
# Ndi\params entry (the driver still reads the value; set it with New-NetAdapterAdvancedProperty).
@{
    Driver   = 'netkvmrs'
    Keywords = @(
        @{
            Keyword     = '*PriorityVLANTag'
            DisplayName = 'Packet Priority & VLAN'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Packet Priority & VLAN Disabled' },
                @{ Value = '1'; Text = 'Packet Priority Enabled' },
                @{ Value = '2'; Text = 'VLAN Enabled' },
                @{ Value = '3'; Text = 'Packet Priority & VLAN Enabled' }
            )
        },
        @{
            Keyword     = 'VlanID'
            DisplayName = 'VLAN ID'
            Type        = 'dword'
            Shown       = $true
            Optional    = $false
            Default     = '0'
            Min         = 0
            Max         = 4094
            Step        = 1
        },
        @{
            Keyword     = 'NetworkAddress'
            DisplayName = 'Network Address'
            Type        = 'edit'
            Shown       = $true
            Optional    = $true
            Default     = $null
            LimitText   = 12
            UpperCase   = $true
        },
        @{
            Keyword     = '*JumboPacket'
            DisplayName = 'Jumbo Packet'
            Type        = 'dword'
            Shown       = $true
            Optional    = $false
            Default     = '1514'
            Min         = 590
            Max         = 65500
            Step        = 1
        },
        @{
            Keyword     = '*IPChecksumOffloadIPv4'
            DisplayName = 'IPv4 Checksum Offload'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Tx Enabled' },
                @{ Value = '2'; Text = 'Rx Enabled' },
                @{ Value = '3'; Text = 'Rx & Tx Enabled' }
            )
        },
        @{
            Keyword     = '*TCPChecksumOffloadIPv4'
            DisplayName = 'TCP Checksum Offload (IPv4)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Tx Enabled' },
                @{ Value = '2'; Text = 'Rx Enabled' },
                @{ Value = '3'; Text = 'Rx & Tx Enabled' }
            )
        },
        @{
            Keyword     = '*TCPChecksumOffloadIPv6'
            DisplayName = 'TCP Checksum Offload (IPv6)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Tx Enabled' },
                @{ Value = '2'; Text = 'Rx Enabled' },
                @{ Value = '3'; Text = 'Rx & Tx Enabled' }
            )
        },
        @{
            Keyword     = '*UDPChecksumOffloadIPv4'
            DisplayName = 'UDP Checksum Offload (IPv4)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Tx Enabled' },
                @{ Value = '2'; Text = 'Rx Enabled' },
                @{ Value = '3'; Text = 'Rx & Tx Enabled' }
            )
        },
        @{
            Keyword     = '*UDPChecksumOffloadIPv6'
            DisplayName = 'UDP Checksum Offload (IPv6)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '3'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Tx Enabled' },
                @{ Value = '2'; Text = 'Rx Enabled' },
                @{ Value = '3'; Text = 'Rx & Tx Enabled' }
            )
        },
        @{
            Keyword     = '*LsoV1IPv4'
            DisplayName = 'Large Send Offload Version 1 (IPv4)'
            Type        = 'enum'
            Shown       = $false
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*LsoV2IPv4'
            DisplayName = 'Large Send Offload Version 2 (IPv4)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*LsoV2IPv6'
            DisplayName = 'Large Send Offload Version 2 (IPv6)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*UsoIPv4'
            DisplayName = 'UDP Segmentation Offload (IPv4)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*UsoIPv6'
            DisplayName = 'UDP Segmentation Offload (IPv6)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*RscIPv4'
            DisplayName = 'Recv Segment Coalescing (IPv4)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*RscIPv6'
            DisplayName = 'Recv Segment Coalescing (IPv6)'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = 'SoftwareRsc'
            DisplayName = 'Software Recv Segment Coalescing'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*RSS'
            DisplayName = 'Receive Side Scaling'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = '*NumRssQueues'
            DisplayName = 'Maximum Number of RSS Queues'
            Type        = 'int'
            Shown       = $true
            Optional    = $false
            Default     = '16'
            Min         = 1
            Max         = 64
            Step        = 1
        },
        @{
            Keyword     = '*RSSProfile'
            DisplayName = 'RSS load balancing profile'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '4'
            Choices     = @(
                @{ Value = '1'; Text = 'ClosestProcessor' },
                @{ Value = '2'; Text = 'ClosestProcessorStatic' },
                @{ Value = '3'; Text = 'NUMAScaling' },
                @{ Value = '4'; Text = 'NUMAScalingStatic' },
                @{ Value = '5'; Text = 'ConservativeScaling' }
            )
        },
        @{
            Keyword     = 'TxCapacity'
            DisplayName = 'Max Transmit Buffers'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1024'
            Choices     = @(
                @{ Value = '16'; Text = '16' },
                @{ Value = '32'; Text = '32' },
                @{ Value = '64'; Text = '64' },
                @{ Value = '128'; Text = '128' },
                @{ Value = '256'; Text = '256' },
                @{ Value = '512'; Text = '512' },
                @{ Value = '1024'; Text = '1024' }
            )
        },
        @{
            Keyword     = 'RxCapacity'
            DisplayName = 'Max Receive Buffers'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1024'
            Choices     = @(
                @{ Value = '16'; Text = '16' },
                @{ Value = '32'; Text = '32' },
                @{ Value = '64'; Text = '64' },
                @{ Value = '128'; Text = '128' },
                @{ Value = '256'; Text = '256' },
                @{ Value = '512'; Text = '512' },
                @{ Value = '1024'; Text = '1024' },
                @{ Value = '2048'; Text = '2048' },
                @{ Value = '4096'; Text = '4096' }
            )
        },
        @{
            Keyword     = 'MergeableBuffers'
            DisplayName = 'Mergeable Rx Buffers'
            Type        = 'enum'
            Shown       = $true
            Optional    = $false
            Default     = '1'
            Choices     = @(
                @{ Value = '0'; Text = 'Disabled' },
                @{ Value = '1'; Text = 'Enabled' }
            )
        },
        @{
            Keyword     = 'MinRxBufferPercent'
            DisplayName = 'Min Free Rx Buffers (%)'
            Type        = 'int'
            Shown       = $true
            Optional    = $false
            Default     = '0'
            Min         = 0
            Max         = 100
            Step        = 1
        },
        @{
            Keyword     = 'NumberOfHandledRXPacketsInDPC'
            DisplayName = 'Rx Packets per DPC'
            Type        = 'int'
            Shown       = $false
            Optional    = $false
            Default     = '1000'
            Min         = 1
            Max         = 10000
            Step        = 1
        }
    )
}
