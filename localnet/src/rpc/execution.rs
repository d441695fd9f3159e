//! `TransactionExecutionService`: executes signed transactions.

use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Transaction, UserSignature};
use tonic::{Request, Response, Status};

use super::{Rpc, mask, simulate, transaction_proto};

/// Default read mask of `SimulateTransaction`.
pub const SIMULATE_MASK: &str = "transaction.digest,transaction.transaction,transaction.effects";

/// Default read mask of `ExecuteTransaction`.
pub const EXECUTE_MASK: &str = "digest,effects.status,checkpoint";

#[tonic::async_trait]
impl proto::transaction_execution_service_server::TransactionExecutionService for Rpc {
    async fn execute_transaction(
        &self,
        request: Request<proto::ExecuteTransactionRequest>,
    ) -> Result<Response<proto::ExecuteTransactionResponse>, Status> {
        let request = request.into_inner();
        let transaction =
            request.transaction.as_ref().ok_or_else(|| Status::invalid_argument("transaction is required"))?;
        let transaction = Transaction::try_from(transaction)
            .map_err(|e| Status::invalid_argument(format!("transaction does not decode: {e}")))?;
        let signatures = request
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                UserSignature::try_from(s)
                    .map_err(|e| Status::invalid_argument(format!("signatures[{i}] does not decode: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let digest = self.node.execute(transaction, signatures).await?;
        let m = mask(request.read_mask.as_ref(), EXECUTE_MASK);
        let executed = self.node.with_ledger(|chain| transaction_proto(chain, &digest, &chain.txs[&digest], &m));
        Ok(Response::new(proto::ExecuteTransactionResponse::default().with_transaction(executed)))
    }

    async fn simulate_transaction(
        &self,
        request: Request<proto::SimulateTransactionRequest>,
    ) -> Result<Response<proto::SimulateTransactionResponse>, Status> {
        let request = request.into_inner();
        let now_ms = self.node.time().now_ms();
        let m = mask(request.read_mask.as_ref(), SIMULATE_MASK);
        let response = self.node.with_ledger(|chain| {
            let simulation = simulate::resolve(chain, &request, now_ms)?;
            simulate::answer(chain, simulation, &m, now_ms)
        })?;
        Ok(Response::new(response))
    }
}
