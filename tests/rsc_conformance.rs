//! RSC conformance suite (issue 8; spec §1 — §1.2 enabling, §1.3 IPsec, §1.4 exceptions 1–8,
//! §1.5 coalescing incl. pure/duplicate/piggy-backed ACKs, window updates, timestamps, timing and
//! arrival order, §1.6 SCU headers, §1.7 checksum info, §1.8 NBL info, §1.9 statistics).
//!
//! One test per rule and host path, named `rsc_<rule>_<path>`: crafted TCP segments from the host
//! namespace (raw socket on the host TAP) through QEMU's virtio-net-pci and the real miniport in
//! ndis-emu; the NBLs it indicates are checked against the spec (`tests/common/rsc`). Paths:
//! `software` (MTU frames, the miniport's software RSC), `host_rsc_ext` (QEMU's coalescer,
//! `guest_rsc_ext=on`), `host_gso` (host GSO super-frames). Rules that do not apply on a path
//! have no test there; `rsc_catalogue_…` checks that and reports their reasons.
//!
//! Tests of one path share one bench per test process (`cargo xtask hck rsc` runs each path's
//! tests in one process and prints the rule table); under nextest each test starts its own.
//! They need root, /dev/net/tun and QEMU: without them they print why and pass — except under
//! `CI`, where they fail.

use netkvm_e2e::rsc;

macro_rules! rsc_tests {
    ($($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                testbed::require_testbed!();
                rsc::run_test(stringify!($name));
            }
        )*

        /// Every test of this file.
        const TESTS: &[&str] = &[$(stringify!($name)),*];
    };
}

rsc_tests! {
    rsc_disabled_by_oid_not_coalesced_software,
    rsc_disabled_by_oid_not_coalesced_host_rsc_ext,
    rsc_ipsec_ah_not_coalesced_software,
    rsc_ipsec_ah_not_coalesced_host_rsc_ext,
    rsc_exception_1_resource_limit_alone_and_counted_software,
    rsc_exception_1_resource_limit_alone_and_counted_host_rsc_ext,
    rsc_exception_2_bad_tcp_checksum_not_coalesced_software,
    rsc_exception_2_bad_tcp_checksum_not_coalesced_host_rsc_ext,
    rsc_exception_2_bad_ipv4_header_checksum_not_coalesced_software,
    rsc_exception_2_bad_ipv4_header_checksum_not_coalesced_host_rsc_ext,
    rsc_exception_3_syn_not_coalesced_software,
    rsc_exception_3_syn_not_coalesced_host_rsc_ext,
    rsc_exception_3_fin_not_coalesced_software,
    rsc_exception_3_fin_not_coalesced_host_rsc_ext,
    rsc_exception_3_rst_not_coalesced_software,
    rsc_exception_3_rst_not_coalesced_host_rsc_ext,
    rsc_exception_3_urg_not_coalesced_software,
    rsc_exception_3_urg_not_coalesced_host_rsc_ext,
    rsc_exception_4_mss_option_not_coalesced_software,
    rsc_exception_4_mss_option_not_coalesced_host_rsc_ext,
    rsc_exception_4_window_scale_option_not_coalesced_software,
    rsc_exception_4_window_scale_option_not_coalesced_host_rsc_ext,
    rsc_exception_4_sack_option_not_coalesced_software,
    rsc_exception_4_sack_option_not_coalesced_host_rsc_ext,
    rsc_exception_5_ipv4_options_not_coalesced_software,
    rsc_exception_5_ipv4_options_not_coalesced_host_rsc_ext,
    rsc_exception_5_ipv6_extension_headers_not_coalesced_software,
    rsc_exception_5_ipv6_extension_headers_not_coalesced_host_rsc_ext,
    rsc_exception_6_ipv4_fragments_not_coalesced_software,
    rsc_exception_6_ipv4_fragments_not_coalesced_host_rsc_ext,
    rsc_exception_6_ipv6_fragment_header_not_coalesced_software,
    rsc_exception_6_ipv6_fragment_header_not_coalesced_host_rsc_ext,
    rsc_exception_7_datagram_length_limit_starts_new_scu_software,
    rsc_exception_7_datagram_length_limit_starts_new_scu_host_rsc_ext,
    rsc_exception_8_ip_ecn_change_starts_new_scu_software,
    rsc_exception_8_ip_ecn_change_starts_new_scu_host_rsc_ext,
    rsc_exception_8_tcp_ece_cwr_change_starts_new_scu_software,
    rsc_exception_8_tcp_ece_cwr_change_starts_new_scu_host_rsc_ext,
    rsc_in_order_data_coalesced_into_one_scu_software,
    rsc_in_order_data_coalesced_into_one_scu_host_rsc_ext,
    rsc_out_of_order_segment_not_coalesced_software,
    rsc_out_of_order_segment_not_coalesced_host_rsc_ext,
    rsc_retransmission_not_coalesced_software,
    rsc_retransmission_not_coalesced_host_rsc_ext,
    rsc_piggybacked_ack_coalesced_with_last_ack_software,
    rsc_piggybacked_ack_coalesced_with_last_ack_host_rsc_ext,
    rsc_cumulative_pure_acks_never_coalesced_software,
    rsc_cumulative_pure_acks_never_coalesced_host_rsc_ext,
    rsc_window_update_absorbed_and_not_counted_software,
    rsc_window_update_absorbed_and_not_counted_host_rsc_ext,
    rsc_duplicate_ack_indicated_alone_dup_ack_count_zero_software,
    rsc_duplicate_ack_indicated_alone_dup_ack_count_zero_host_rsc_ext,
    rsc_dup_ack_with_sack_splits_scu_software,
    rsc_dup_ack_with_sack_splits_scu_host_rsc_ext,
    rsc_timestamps_latest_value_and_delta_software,
    rsc_timestamps_latest_value_and_delta_host_rsc_ext,
    rsc_timestamp_older_tsval_starts_new_scu_software,
    rsc_timestamp_older_tsval_starts_new_scu_host_rsc_ext,
    rsc_timestamp_compared_modulo_2_32_software,
    rsc_timestamp_compared_modulo_2_32_host_rsc_ext,
    rsc_not_held_across_dpcs_software,
    rsc_not_held_across_dpcs_host_rsc_ext,
    rsc_flows_interleaved_coalesced_separately_in_arrival_order_software,
    rsc_flows_interleaved_coalesced_separately_in_arrival_order_host_rsc_ext,
    rsc_scu_ip_length_and_ipv4_header_checksum_valid_software,
    rsc_scu_ip_length_and_ipv4_header_checksum_valid_host_rsc_ext,
    rsc_scu_ipv4_id_of_first_segment_software,
    rsc_scu_ipv4_id_of_first_segment_host_rsc_ext,
    rsc_scu_ttl_is_minimum_software,
    rsc_scu_ttl_is_minimum_host_rsc_ext,
    rsc_scu_seq_of_first_ack_and_window_of_last_software,
    rsc_scu_seq_of_first_ack_and_window_of_last_host_rsc_ext,
    rsc_scu_psh_is_or_of_segments_software,
    rsc_scu_psh_is_or_of_segments_host_rsc_ext,
    rsc_scu_dscp_differs_not_coalesced_software,
    rsc_scu_dscp_differs_not_coalesced_host_rsc_ext,
    rsc_scu_df_differs_not_coalesced_software,
    rsc_scu_df_differs_not_coalesced_host_rsc_ext,
    rsc_scu_ipv6_flow_label_differs_not_coalesced_software,
    rsc_scu_ipv6_flow_label_differs_not_coalesced_host_rsc_ext,
    rsc_scu_ecn_bits_equal_to_segments_software,
    rsc_scu_ecn_bits_equal_to_segments_host_rsc_ext,
    rsc_scu_checksum_info_succeeded_and_value_invalid_software,
    rsc_scu_checksum_info_succeeded_and_value_invalid_host_rsc_ext,
    rsc_coalesced_seg_count_data_segments_and_zero_otherwise_software,
    rsc_coalesced_seg_count_data_segments_and_zero_otherwise_host_rsc_ext,
    rsc_statistics_coalesced_pkts_octets_events_aborts_software,
    rsc_statistics_coalesced_pkts_octets_events_aborts_host_rsc_ext,
    rsc_host_super_frame_indicated_as_scu_host_gso,
    rsc_host_super_frame_keeps_flow_order_with_mtu_segments_host_gso,
    rsc_host_gso_stream_counts_every_wire_segment_host_gso,
}

#[test]
fn rsc_catalogue_every_rule_has_a_test_or_a_reason() {
    let problems = rsc::catalogue(TESTS);
    assert!(
        problems.is_empty(),
        "RSC catalogue:\n  {}",
        problems.join("\n  ")
    );
}
