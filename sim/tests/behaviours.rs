//! One suite per behaviour of the harness, several seeds each, against the real server.

mod common;

use common::{assert_passes, assert_passes_scenario, seeds, seeds_for};
use framesim::{Preset, Role, Scenario};
use framesim_server::protocol::Framing;

#[test]
fn small_runs_pass_and_answer_every_request() {
    for seed in seeds_for(Preset::Small, 0..20) {
        let r = assert_passes(Preset::Small, seed);
        assert_eq!(r.counts.requests, 16 * 8, "seed {seed}");
        assert_eq!(r.counts.replies, r.counts.requests, "seed {seed}");
        assert_eq!(r.counts.frames, r.counts.requests, "seed {seed}");
        assert!(
            r.counts.partial_reads > 0,
            "seed {seed}: partial reads were injected"
        );
    }
}

#[test]
fn every_framing_survives_hostile_delivery() {
    for framing in [Framing::Resp, Framing::line(), Framing::length()] {
        for seed in seeds_for(Preset::Hostile, 0..3) {
            let mut s = Scenario::preset(Preset::Hostile, seed);
            s.framing = framing.clone();
            s.clients = 60;
            let r = assert_passes_scenario(s);
            assert!(
                r.counts.short_writes > 0 && r.counts.pendings > 0,
                "{framing} seed {seed}"
            );
            assert_eq!(
                r.stats.frame_timeouts, 3,
                "{framing}: slowloris clients cut off"
            );
            assert_eq!(r.stats.idle_timeouts, 3, "{framing}: idle clients closed");
            assert_eq!(
                r.stats.eof_mid_frame, 3,
                "{framing}: disconnects mid-frame counted"
            );
            assert_eq!(
                r.stats.protocol_errors, 6,
                "{framing}: oversized + malformed"
            );
        }
    }
}

#[test]
fn byte_at_a_time_delivery_with_short_writes() {
    for seed in seeds_for(Preset::Bytewise, 0..5) {
        let r = assert_passes(Preset::Bytewise, seed);
        assert_eq!(
            r.counts.writes, r.counts.bytes,
            "seed {seed}: every chunk is one byte"
        );
        assert!(r.counts.short_writes > 0, "seed {seed}");
    }
}

#[test]
fn a_server_restart_mid_run_loses_no_answer_to_a_live_connection() {
    for seed in seeds_for(Preset::Restart, 0..5) {
        let r = assert_passes(Preset::Restart, seed);
        assert_eq!(r.counts.faults, 1, "seed {seed}: the restart happened");
        assert!(r.counts.connects > 50, "seed {seed}: clients reconnected");
    }
}

#[test]
fn the_seed_drawn_adversarial_sweep_passes() {
    for seed in seeds_for(Preset::Adversarial, 0..300) {
        assert_passes(Preset::Adversarial, seed);
    }
}

#[test]
fn limit_reaching_clients_pass_in_every_framing() {
    // The `limits` preset's seed picks one of its ten framings: ten seeds cover them all.
    let mut framings = std::collections::BTreeSet::new();
    for seed in seeds_for(Preset::Limits, 0..10) {
        let s = Scenario::preset(Preset::Limits, seed);
        framings.insert(format!("{:?}", s.framing));
        let unfinished = s.clients_playing(Role::UnfinishedArgs) as u64;
        let loaders = s.clients_playing(Role::BulkLoader);
        assert!(unfinished > 0 && loaders > 0 && s.clients_playing(Role::AtLimit) > 0);
        let r = assert_passes_scenario(s.clone());
        // Every unfinished request was cut (the counters oracle checks which way).
        let cuts = r.stats.overflows + r.stats.frame_timeouts + r.stats.protocol_errors;
        assert!(cuts >= unfinished, "seed {seed}: {cuts} cuts");
        // The loaders kept their connections for longer than the frame deadline.
        assert!(
            r.virtual_time > s.limits.frame_deadline * 2,
            "seed {seed}: {:?}",
            r.virtual_time
        );
    }
    assert!(framings.len() == 10 || std::env::var("FRAMESIM_SEED").is_ok());
}

#[test]
fn a_thousand_clients_on_many_hosts() {
    for seed in seeds(0..2) {
        let mut s = Scenario::preset(Preset::Default, seed);
        s.clients = 1000;
        s.client_hosts = 20;
        let r = assert_passes_scenario(s);
        assert_eq!(r.counts.requests, 10_000);
        assert_eq!(r.stats.connections_total, 1000);
        assert_eq!(r.stats.connections_open, 0);
    }
}
