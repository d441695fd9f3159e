//! The gateway's Prometheus metrics (`GET /metrics`).

use prometheus::{Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

use crate::error::ApiError;

pub struct Metrics {
    registry: Registry,
    submitted: IntCounterVec,
    answered: IntCounterVec,
    refused: IntCounterVec,
    fees: IntCounter,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter");
    registry.register(Box::new(c.clone())).expect("a unique counter");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let fees = IntCounter::new("atoma_gateway_fees_mist_total", "Fees paid for submitted requests, in MIST")
            .expect("a valid counter");
        registry.register(Box::new(fees.clone())).expect("a unique counter");
        Metrics {
            submitted: counter_vec(
                &registry,
                "atoma_gateway_submitted_total",
                "Requests submitted on chain",
                &["route"],
            ),
            answered: counter_vec(
                &registry,
                "atoma_gateway_answered_total",
                "Requests answered, by receipt status",
                &["route", "status"],
            ),
            refused: counter_vec(
                &registry,
                "atoma_gateway_errors_total",
                "Requests answered with an error, by code",
                &["route", "code"],
            ),
            fees,
            registry,
        }
    }
}

impl Metrics {
    pub fn submitted(&self, route: &str, fee: u64) {
        self.submitted.with_label_values(&[route]).inc();
        self.fees.inc_by(fee);
    }

    pub fn answered(&self, route: &str, status: &str) {
        self.answered.with_label_values(&[route, status]).inc();
    }

    /// Counts an error answered on `route`, and gives it back.
    pub fn refused(&self, route: &str, e: ApiError) -> ApiError {
        self.refused.with_label_values(&[route, e.code.as_deref().unwrap_or("none")]).inc();
        tracing::info!(route, status = e.status.as_u16(), code = e.code.as_deref().unwrap_or(""), message = %e.message, "answered an error");
        e
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}
