//! A local network in-process with SDK keys: account 0 is the admin; one
//! class `cpu` (id 0) and one model `tiny`.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use atoma_localnet::genesis::{GenesisConfig, ParamsConfig};
use atoma_localnet::node::TimeSource;
use atoma_localnet::{Localnet, Options};
use atoma_sdk::{Chain, Key};
use sui_sdk_types::Address;

pub const CLASS_MIN: u64 = 10_000_000_000;
pub const TASK_LOCK: u64 = 1_000_000_000;
pub const BALANCE: u64 = 1_000_000_000_000;
pub const WEIGHTS: [u8; 32] = [0xab; 32];

pub fn keys(n: u8) -> Vec<Key> {
    (0..n).map(|i| Key::from_ed25519_bytes([i + 1; 32])).collect()
}

pub fn genesis(keys: &[Key]) -> GenesisConfig {
    GenesisConfig::new(keys[0].address())
        .with_params(ParamsConfig {
            reveal_window_ms: Some(5_000),
            unbonding_delay_ms: Some(60_000),
            ..Default::default()
        })
        .with_accounts(keys.iter().map(|k| k.address()), BALANCE, 3)
        .with_class("cpu", "device=cpu", CLASS_MIN, TASK_LOCK)
        .with_model("tiny", &format!("0x{}", "ab".repeat(32)), "cpu", 1_000)
}

pub struct Net {
    pub net: Localnet,
    pub clock: Option<Arc<AtomicU64>>,
}

impl Net {
    pub async fn start(keys: &[Key], manual_clock: bool) -> Net {
        let (time, clock) = if manual_clock {
            let (t, c) = TimeSource::manual(1_700_000_000_000);
            (t, Some(c))
        } else {
            (TimeSource::System, None)
        };
        let net = Localnet::start(&genesis(keys), Options { time, seed: Some([9; 32]), ..Default::default() })
            .await
            .expect("local network");
        Net { net, clock }
    }

    pub fn package(&self) -> Address {
        self.net.node().with_ledger(|c| c.identity.package)
    }

    pub fn network(&self) -> Address {
        self.net.node().with_ledger(|c| c.identity.network_id)
    }

    pub fn admin_cap(&self) -> Address {
        self.net.node().with_ledger(|c| c.identity.admin_cap_id)
    }

    pub async fn chain(&self, key: &Key) -> Chain {
        Chain::connect(&self.net.url(), self.package(), self.network(), key.clone()).await.expect("connect")
    }

    pub fn advance(&self, ms: u64) {
        self.clock.as_ref().expect("manual clock").fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}
