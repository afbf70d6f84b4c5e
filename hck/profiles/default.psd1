# The driver defaults as the INF installs them (hck\keywords.psd1, column Default), plus the
# requirement that RSC is operational. Use it right after Install.ps1:
#     .\Verify.ps1 -ProfilePath .\profiles\default.psd1
# and to return a tuned adapter to the defaults:
#     .\Configure.ps1 -ProfilePath .\profiles\default.psd1
@{
    Description = 'netkvmrs defaults; RSC must be operational'
    Advanced    = @{
        '*PriorityVLANTag'        = '3'
        'VlanID'                  = '0'
        '*JumboPacket'            = '1514'
        '*IPChecksumOffloadIPv4'  = '3'
        '*TCPChecksumOffloadIPv4' = '3'
        '*TCPChecksumOffloadIPv6' = '3'
        '*UDPChecksumOffloadIPv4' = '3'
        '*UDPChecksumOffloadIPv6' = '3'
        '*LsoV2IPv4'              = '1'
        '*LsoV2IPv6'              = '1'
        '*UsoIPv4'                = '1'
        '*UsoIPv6'                = '1'
        '*RscIPv4'                = '1'
        '*RscIPv6'                = '1'
        'SoftwareRsc'             = '1'
        '*RSS'                    = '1'
        '*NumRssQueues'           = '16'
        '*RSSProfile'             = '4'
        'TxCapacity'              = '1024'
        'RxCapacity'              = '1024'
        'MergeableBuffers'        = '1'
        'MinRxBufferPercent'      = '0'
    }
    Operational = @{
        Rsc = $true
    }
}
