//! Prometheus metrics of the node service, served at `/metrics` on
//! `metrics_listen`. `docs/operator.md` says what each one means.
//!
//! Not for: logs (`tracing`).

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Registry, TextEncoder};

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Assignments to this node (quorum, primary, verifier, dispute, pool).
    pub assigned: IntCounter,
    /// Commitments confirmed on chain.
    pub committed: IntCounter,
    /// Reveals confirmed on chain.
    pub revealed: IntCounter,
    /// Requests of this node that went to a dispute.
    pub disputed: IntCounter,
    /// Times this node was slashed.
    pub slashed: IntCounter,
    /// Tasks that failed for good (model not served, model error).
    pub failed: IntCounter,
    /// Requests this node abstained from: their input could not be obtained.
    pub abstained: IntCounter,
    /// Requests this node declined: it could not run them in time.
    pub declined: IntCounter,
    /// Keeper calls made (select_nodes, open_dispute, expire).
    pub keeper_calls: IntCounter,
    /// Time inside the model per request (seconds).
    pub inference_seconds: Histogram,
    /// Tasks being worked on now.
    pub queue_depth: IntGauge,
    /// Seconds between now and the timestamp of the last checkpoint read.
    pub chain_lag_seconds: IntGauge,
    /// 1 when the node may be given new tasks, 0 when not (leaving,
    /// collateral below the class minimum, or fully locked).
    pub eligible: IntGauge,
    /// The node's collateral (MIST).
    pub collateral_mist: IntGauge,
    /// MIST the node's collateral lacks to reach its class's minimum (0 when it does not).
    pub collateral_shortfall_mist: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    // Names are static and unique, so creating and registering cannot fail.
    let c = IntCounter::new(name, help).expect("a valid counter");
    registry.register(Box::new(c.clone())).expect("a unique counter");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("a valid gauge");
    registry.register(Box::new(g.clone())).expect("a unique gauge");
    g
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let inference_seconds = Histogram::with_opts(
            HistogramOpts::new("atoma_node_inference_seconds", "Time inside the model per request")
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0]),
        )
        .expect("a valid histogram");
        registry.register(Box::new(inference_seconds.clone())).expect("a unique histogram");
        Metrics {
            assigned: counter(&registry, "atoma_node_requests_assigned_total", "Assignments to this node"),
            committed: counter(&registry, "atoma_node_requests_committed_total", "Commitments confirmed"),
            revealed: counter(&registry, "atoma_node_requests_revealed_total", "Reveals confirmed"),
            disputed: counter(&registry, "atoma_node_requests_disputed_total", "Requests of this node disputed"),
            slashed: counter(&registry, "atoma_node_slashed_total", "Times this node was slashed"),
            failed: counter(&registry, "atoma_node_tasks_failed_total", "Tasks failed for good"),
            abstained: counter(&registry, "atoma_node_abstained_total", "Requests abstained from (input unobtainable)"),
            declined: counter(&registry, "atoma_node_declined_total", "Requests declined (not runnable in time)"),
            keeper_calls: counter(&registry, "atoma_node_keeper_calls_total", "Keeper calls made"),
            inference_seconds,
            queue_depth: gauge(&registry, "atoma_node_queue_depth", "Tasks being worked on"),
            chain_lag_seconds: gauge(&registry, "atoma_node_chain_lag_seconds", "Age of the last checkpoint read"),
            eligible: gauge(&registry, "atoma_node_eligible", "1 when the node may be given new tasks"),
            collateral_mist: gauge(&registry, "atoma_node_collateral_mist", "The node's collateral"),
            collateral_shortfall_mist: gauge(
                &registry,
                "atoma_node_collateral_shortfall_mist",
                "MIST the collateral lacks to reach the class minimum",
            ),
            registry,
        }
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail.
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding");
        String::from_utf8(buf).unwrap_or_default()
    }
}
