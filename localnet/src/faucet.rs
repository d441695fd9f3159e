//! The faucet: funds any address on the local network, as `sui start
//! --with-faucet` does, over the same HTTP API (`POST /v2/gas` with
//! `{"FixedAmountRequest": {"recipient": "0x…"}}`, answered with
//! `{"status": "Success", "coins_sent": [{"amount", "id", "transferTxDigest"}]}`),
//! so that the Sui TypeScript SDK's `requestSuiFromFaucetV2` works against it.
//! An `amount` field in the request (MIST) asks for another amount than the
//! default.
//!
//! Its coins belong to an account whose key derives from the network's
//! random seed, funded at genesis (`faucet_balance`); each payment is an
//! ordinary signed transaction (SplitCoins then TransferObjects), so it is
//! logged, checkpointed and replayed after a restart like any other.
//!
//! Not for: anything outside a local network.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sui_crypto::SuiSigner;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{
    Address, Argument, Command, Digest, GasPayment, Input, ProgrammableTransaction, SplitCoins, Transaction,
    TransactionExpiration, TransactionKind, TransferObjects,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::genesis;
use crate::node::Node;

/// MIST a request gets unless it names an amount: 100 SUI.
pub const DEFAULT_AMOUNT: u64 = 100_000_000_000;
/// The most one request may ask for: 100,000 SUI.
pub const MAX_AMOUNT: u64 = 100_000_000_000_000;
/// The gas budget of one payment.
const GAS_BUDGET: u64 = 10_000_000;

/// Why a payment was not made.
#[derive(Debug, thiserror::Error)]
pub enum FaucetError {
    /// The request asked for nothing or too much.
    #[error("the amount must be between 1 and {MAX_AMOUNT} MIST")]
    Amount,
    /// The faucet's coins are spent.
    #[error("the faucet holds no coin of {0} MIST or more")]
    Empty(u64),
    /// The transaction was refused or failed.
    #[error("the payment failed: {0}")]
    Failed(String),
}

/// Pays the faucet's coins out.
pub struct Faucet {
    node: Arc<Node>,
    key: Ed25519PrivateKey,
    /// One payment at a time: each spends the faucet's gas coin.
    lock: tokio::sync::Mutex<()>,
}

impl Faucet {
    /// The faucet of `node`'s network.
    pub fn new(node: Arc<Node>) -> Faucet {
        let key = node.with_ledger(|c| genesis::faucet_key(&c.identity.random_seed));
        Faucet { node, key, lock: tokio::sync::Mutex::new(()) }
    }

    /// The faucet's address.
    pub fn address(&self) -> Address {
        self.key.public_key().derive_address()
    }

    /// Sends `amount` MIST to `to` as a new coin; returns the coin's id and the transaction.
    pub async fn pay(&self, to: Address, amount: u64) -> Result<(Address, Digest), FaucetError> {
        if amount == 0 || amount > MAX_AMOUNT {
            return Err(FaucetError::Amount);
        }
        let _one_at_a_time = self.lock.lock().await;
        let me = self.address();
        let (gas, price) = self
            .node
            .with_ledger(|chain| (chain.objects.coins_of(&me).into_iter().next(), chain.identity.reference_gas_price));
        let gas = match gas {
            Some((r, balance)) if balance >= amount.saturating_add(GAS_BUDGET) => r,
            _ => return Err(FaucetError::Empty(amount)),
        };
        let pure = Input::Pure;
        let transaction = Transaction {
            kind: TransactionKind::ProgrammableTransaction(ProgrammableTransaction {
                inputs: vec![pure(amount.to_le_bytes().to_vec()), pure(to.into_inner().to_vec())],
                commands: vec![
                    Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] }),
                    Command::TransferObjects(TransferObjects {
                        objects: vec![Argument::NestedResult(0, 0)],
                        address: Argument::Input(1),
                    }),
                ],
            }),
            sender: me,
            gas_payment: GasPayment { objects: vec![gas.clone()], owner: me, price, budget: GAS_BUDGET },
            expiration: TransactionExpiration::None,
        };
        let signature = self.key.sign_transaction(&transaction).map_err(|e| FaucetError::Failed(e.to_string()))?;
        let digest =
            self.node.execute(transaction, vec![signature]).await.map_err(|e| FaucetError::Failed(e.to_string()))?;
        self.node.with_ledger(|chain| {
            let record = &chain.txs[&digest];
            if let sui_sdk_types::ExecutionStatus::Failure { error, .. } = record.effects.status() {
                return Err(FaucetError::Failed(format!("{error:?}")));
            }
            record
                .output_objects
                .iter()
                .find(|o| o.owner() == &sui_sdk_types::Owner::Address(to) && o.object_id() != *gas.object_id())
                .map(|o| (o.object_id(), digest))
                .ok_or_else(|| FaucetError::Failed("no coin was created".into()))
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GasRequest {
    fixed_amount_request: FixedAmount,
}

#[derive(Deserialize)]
struct FixedAmount {
    recipient: String,
    amount: Option<u64>,
}

async fn gas(State(faucet): State<Arc<Faucet>>, body: axum::body::Bytes) -> Response {
    let failure =
        |code: StatusCode, msg: String| (code, axum::Json(json!({ "status": { "Failure": msg } }))).into_response();
    let request: GasRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"FixedAmountRequest\": {{\"recipient\": \"0x…\"}}}}: {e}"),
            );
        }
    };
    let recipient: Address = match request.fixed_amount_request.recipient.parse() {
        Ok(a) => a,
        Err(e) => return failure(StatusCode::BAD_REQUEST, format!("recipient is not an address: {e}")),
    };
    let amount = request.fixed_amount_request.amount.unwrap_or(DEFAULT_AMOUNT);
    match faucet.pay(recipient, amount).await {
        Ok((coin, digest)) => {
            tracing::info!(%recipient, amount, %digest, "faucet paid");
            axum::Json(json!({
                "status": "Success",
                "coins_sent": [{ "amount": amount, "id": coin.to_string(), "transferTxDigest": digest.to_string() }],
            }))
            .into_response()
        }
        Err(e @ FaucetError::Amount) => failure(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Serves the faucet on `listener` until `shutdown` fires.
pub async fn serve(faucet: Arc<Faucet>, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/v2/gas", axum::routing::post(gas))
        .route("/health", axum::routing::get(|| async { "ok" }))
        // A page's development key is funded from the browser (docs/web.md).
        .layer(crate::rpc::cors())
        .with_state(faucet);
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
}
