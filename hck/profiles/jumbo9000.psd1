# MTU 9000 (*JumboPacket counts the 14-byte Ethernet header). The host bridge and TAP need an
# MTU of at least 9000 too: hck/qemu/net-up.sh --mtu 9000.
@{
    Description = 'MTU 9000'
    Advanced    = @{
        '*JumboPacket' = '9014'
    }
}
