//! What `atoma` prints for people: amounts in MIST and SUI, times as
//! durations and UTC dates, a request's events in words. JSON output keeps
//! the raw numbers; these are for the lines beside it.

use atoma_protocol::{Event, ObjectId, Round};
use atoma_sdk::http::hex;
use sui_sdk_types::Address;

pub use atoma_sdk::now_ms;

/// MIST with its value in SUI: `1500000000 MIST (1.5 SUI)`.
pub fn mist(amount: u64) -> String {
    format!("{amount} MIST ({} SUI)", sui(amount))
}

/// MIST as SUI, without trailing zeros: `1.5`, `0.001`, `20`.
pub fn sui(mist: u64) -> String {
    let fraction = format!("{:09}", mist % 1_000_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}", mist / 1_000_000_000)
    } else {
        format!("{}.{fraction}", mist / 1_000_000_000)
    }
}

/// A duration in the largest units that read well: `750 ms`, `12.5 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1_000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        60_000..3_600_000 => format!("{} min {} s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{} h {} min", s / 3_600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3_600 % 24),
    }
}

/// A time as a UTC date: `2026-12-05 09:49:21.123 UTC`.
pub fn utc(ms: u64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms as i64) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        None => format!("{ms} ms after the epoch"),
    }
}

/// A time relative to `now`, with its date: `in 12.5 s (2026-… UTC)` or `3 min 2 s ago (…)`.
pub fn when(ms: u64, now: u64) -> String {
    if ms >= now {
        format!("in {} ({})", duration(ms - now), utc(ms))
    } else {
        format!("{} ago ({})", duration(now - ms), utc(ms))
    }
}

fn node(id: &ObjectId) -> String {
    Address::from(*id).to_string()
}

fn nodes(ids: &[ObjectId]) -> String {
    ids.iter().map(node).collect::<Vec<_>>().join(", ")
}

/// One event of a request in words, with deadlines relative to `now`;
/// `None` for events that are not about a request.
pub fn event(e: &Event, now: u64) -> Option<String> {
    Some(match e {
        Event::RequestSubmitted(s) => {
            format!("submitted: fee {}, commit timeout {}", mist(s.fee), duration(s.timeout_ms))
        }
        Event::NodesSelected(s) => format!(
            "selected {} {}(s): {}; commitments due {}",
            s.nodes.len(),
            s.role.name(),
            nodes(&s.nodes),
            when(s.deadline_ms, now)
        ),
        Event::Committed(c) => format!("node {} committed", node(&c.node_id)),
        Event::VerificationDrawn(v) if v.checked => "the coin flip checks this request: verifiers are drawn".into(),
        Event::VerificationDrawn(_) => "the coin flip leaves this request unchecked".into(),
        Event::RevealPhaseStarted(r) => format!(
            "{} round committed: reveals due {}",
            match r.round {
                Round::Main => "the main",
                Round::Dispute => "the dispute",
            },
            when(r.deadline_ms, now)
        ),
        Event::Revealed(r) => format!("node {} revealed output {}", node(&r.node_id), hex(&r.output_digest.0)),
        Event::SecretRevealed(s) if s.checked => {
            format!("secret revealed: the primary is checked by {}", nodes(&s.verifiers))
        }
        Event::SecretRevealed(_) => "secret revealed: the primary is not checked".into(),
        Event::DisputeRaised(d) => {
            format!("dispute: the outputs differ; a quorum of {} fresh node(s) decides", d.quorum_size)
        }
        Event::NodeSlashed(s) => {
            format!("node {} slashed {}: it {}", node(&s.node_id), mist(s.amount), s.reason.describe())
        }
        Event::Abstained(a) => format!(
            "node {} abstained: it could not obtain the input; its seat is refilled while refills are left",
            node(&a.node_id)
        ),
        Event::Declined(d) => format!(
            "node {} declined: it cannot run the model in time; its seat is refilled while refills are left",
            node(&d.node_id)
        ),
        Event::DeadlineExtended(d) => {
            format!("deadline passed: the grace extends it, now {}", when(d.deadline_ms, now))
        }
        Event::RequestFinalized(f) => format!(
            "finalized: output {} by {} node(s), {}, {} to each",
            hex(&f.output_digest.0),
            f.nodes.len(),
            if f.verified { "verified" } else { "unverified" },
            mist(f.reward_per_node)
        ),
        Event::RequestFailed(f) => format!("failed: {}; {} refunded", f.reason.describe(), mist(f.refund)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_read_as_people_write_them() {
        assert_eq!(mist(1_500_000_000), "1500000000 MIST (1.5 SUI)");
        assert_eq!(sui(1_000_000), "0.001");
        assert_eq!(sui(20_000_000_000), "20");
        assert_eq!(duration(750), "750 ms");
        assert_eq!(duration(12_500), "12.5 s");
        assert_eq!(duration(200_000), "3 min 20 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
        assert_eq!(duration(2 * 86_400_000 + 3_600_000), "2 d 1 h");
        assert_eq!(utc(1_796_464_161_123), "2026-12-05 09:49:21.123 UTC");
        assert_eq!(when(10_000, 2_500), format!("in 7.5 s ({})", utc(10_000)));
        assert_eq!(when(2_500, 10_000), format!("7.5 s ago ({})", utc(2_500)));
    }
}
